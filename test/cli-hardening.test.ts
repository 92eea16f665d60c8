/**
 * Hardening of the CLI against inputs that used to hang it, exhaust its memory or fail with a raw
 * error: every input is crafted here, every command must finish well within its timeout.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { boundariesReached } from '../lib/schedule/exact';
import { WarmRestarts } from '../lib/schedule';
import { runCommand } from './helpers/cli';

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'bin/sgdr.js');
const sgdr = (args: string[], timeoutMs = 30_000) => runCommand(process.execPath, [BIN, ...args], { cwd: ROOT, timeoutMs });

describe('sgdr schedule with a tiny T_0', () => {
  it('--t0 1e-300 --json fails at once, naming --t0 (it used to loop forever)', async () => {
    const r = await sgdr(['schedule', '--t0', '1e-300', '--epochs', '3', '--json']);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^sgdr schedule: --t0 1e-300 is too small/);
  });

  it('lists at most 20 restarts in the table and counts the rest, without a list of every cycle', async () => {
    const r = await sgdr(['schedule', '--t0', '1e-6', '--epochs', '3']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(/^# restarts at epochs (0, ){19}0 … and 2999979 more$/);
    const few = await sgdr(['schedule', '--t0', '0.1', '--epochs', '5']);
    expect(few.stdout.trim().split('\n').at(-1)).toMatch(/^# restarts at epochs 0\.1, .*, 2 … and 29 more$/);
  });

  it('--plot with millions of cycles draws a bounded number of points', async () => {
    const file = path.join(require('node:os').tmpdir(), `sgdr-hardening-${process.pid}.svg`);
    const r = await sgdr(['schedule', '--t0', '1e-7', '--epochs', '3', '--plot', file]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    require('node:fs').rmSync(file, { force: true });
  });

  it('finds the cycle of t in logarithmic work whatever the guess', () => {
    // A guess 1e6 cycles off used to walk there one boundary at a time; at 1e300 it never arrived.
    let calls = 0;
    const boundary = (n: number) => (calls++, n * 0.5);
    expect(boundariesReached(1e6, boundary, 0, false)).toBe(2e6);
    expect(calls).toBeLessThan(200);
    calls = 0;
    expect(boundariesReached(3, boundary, 1e300, true)).toBe(6);
    expect(calls).toBeLessThan(3000);
    const s = new WarmRestarts({ lr: 0.1, t0: 1e-300 });
    expect(() => s.lrAt(1)).toThrow(/t0 1e-300 is too small/);
    expect(new WarmRestarts({ lr: 0.1, t0: 1e-9, tMult: 2 }).lrAt(3)).toBeGreaterThanOrEqual(0);
  });
});

describe('a closed stdout (EPIPE)', () => {
  it('`sgdr schedule --json | head -c 10` exits quietly, without a stack trace', async () => {
    const script = `"${process.execPath}" "${BIN}" schedule --epochs 100000 --steps-per-epoch 10 --json | head -c 10; echo " rc=\${PIPESTATUS[0]}" >&2`;
    const r = await runCommand('bash', ['-c', script], { cwd: ROOT, timeoutMs: 60_000 });
    expect(r.stdout).toBe('{"lr":[0.1');
    expect(r.stderr).not.toMatch(/EPIPE|Error|at /);
    expect(r.stderr.trim()).toMatch(/^rc=(0|141)$/);
  });
});
