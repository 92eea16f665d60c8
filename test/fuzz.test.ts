/**
 * scripts/fuzz.js itself: a short pass of every parser ends with no failure and prints its counts,
 * and an input that crashes the child, hangs it, or throws an error that betrays a bug (made so by
 * SGDR_FUZZ_SELFTEST) is counted as a failure, saved, and the run goes on after it. The long
 * passes (10,000 inputs per parser) are run by hand; CI runs 500 per parser (.ci/run).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from './helpers/cli';
import { tempDir } from './helpers/native';

const root = path.resolve(__dirname, '..');
const fuzz = (args: string[], env: Record<string, string> = {}) =>
  runCommand(process.execPath, [path.join(root, 'scripts/fuzz.js'), ...args], {
    cwd: root,
    timeoutMs: 170_000,
    env: { ...process.env, ...env },
  });

describe('scripts/fuzz.js', () => {
  it('runs every parser and prints inputs, successes, clean errors, failures and the slowest input', async () => {
    const save = tempDir('fuzz-save');
    const r = await fuzz(['--count', '40', '--seed', '7', '--save', save]);
    console.log(r.stdout.trim());
    expect(r.status, r.stdout + r.stderr).toBe(0);
    for (const p of ['idx', 'jpeg', 'png', 'zip', 'pickle', 'legacy', 'checkpoint']) {
      expect(r.stdout).toMatch(
        new RegExp(`fuzz: ${p} +40 inputs +\\d+ successes +\\d+ clean errors +0 failures +slowest \\d+ ms`),
      );
    }
    expect(r.stdout).toMatch(/fuzz: 280 inputs in \d+ s, 0 failures/);
    expect(fs.readdirSync(save)).toEqual([]);
  });

  for (const kind of ['crash', 'hang', 'unclean'] as const) {
    it(`counts and saves an input that ends in a ${kind}, and goes on after it`, async () => {
      const save = tempDir(`fuzz-${kind}`);
      const r = await fuzz(['--count', '8', '--seed', '1', '--parser', 'zip', '--timeout-ms', '3000', '--save', save], {
        SGDR_FUZZ_SELFTEST: kind,
      });
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/fuzz: zip +8 inputs .* 1 failures/);
      expect(r.stdout).toMatch(
        kind === 'crash'
          ? /zip #3 crash: crash: the child ended with signal SIGABRT/
          : kind === 'hang'
            ? /zip #3 hang: hang: no result after 3000 ms/
            : /zip #3 unclean error: TypeError: Cannot read properties of undefined/,
      );
      expect(fs.readdirSync(save).sort()).toEqual(['zip-seed1-3.bin', 'zip-seed1-3.txt']);
      expect(fs.readFileSync(path.join(save, 'zip-seed1-3.txt'), 'utf8')).toMatch(
        /reproduce: node scripts\/fuzz\.js --parser zip --seed 1 --only 3/,
      );
    });
  }
});
