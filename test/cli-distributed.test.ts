/**
 * `sgdr train --nproc N`: local ranks on c10d/Gloo launched by the CLI itself, on real
 * Fashion-MNIST (a class-balanced subset at 12 px): it learns like one process with the same global
 * batch, writes one run folder, resumes exactly, and a killed rank ends the whole job.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSgdr } from './helpers/cli';
import { withoutTimings } from './helpers/fit-run';
import type { EpochMetrics } from '../lib';

const FASHION = '/usr/share/datasets/fashion-mnist';
const SGDR = path.join(__dirname, '..', 'bin', 'sgdr.js');
const flags = (batch: number) => [
  'train',
  '--data',
  'fashion-mnist',
  '--limit-train',
  '1200',
  '--limit-val',
  '400',
  '--image-size',
  '12',
  '--stem',
  'cifar',
  '--epochs',
  '3',
  '--batch-size',
  String(batch),
  '--no-tensorboard',
];
const rows = (dir: string) =>
  fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EpochMetrics);

let tmp: string;
let twoRanks: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sgdr-cli-dist-'));
  twoRanks = path.join(tmp, 'two');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!fs.existsSync(FASHION) && !process.env.CI)('sgdr train --nproc', () => {
  it('2 ranks learn like 1 process with the same global batch, and only rank 0 writes', async () => {
    const two = await runSgdr([...flags(16), '--nproc', '2', '--out', twoRanks], { timeoutMs: 600_000 });
    expect(two.status, two.stderr).toBe(0);
    expect(two.stderr).toMatch(/data-parallel on 2 local ranks/);
    // One thread, like each rank: the comparison is of what is learned; 2 OpenMP threads crawl on a loaded 2-core machine.
    const one = await runSgdr([...flags(32), '--threads', '1', '--out', path.join(tmp, 'one')], { timeoutMs: 600_000 });
    expect(one.status, one.stderr).toBe(0);
    const r2 = rows(twoRanks);
    const r1 = rows(path.join(tmp, 'one'));
    expect(r2).toHaveLength(3);
    const summary = JSON.parse(fs.readFileSync(path.join(twoRanks, 'summary.json'), 'utf8')) as Record<string, unknown>;
    expect(summary.world_size).toBe(2);
    const acc2 = r2[2]!.val_acc!;
    const acc1 = r1[2]!.val_acc!;
    expect(acc2).toBeGreaterThan(0.55); // chance is 0.10
    expect(Math.abs(acc2 - acc1)).toBeLessThan(0.1);
    // One line of progress per epoch end, from rank 0 alone.
    expect(two.stderr.match(/done in /g)).toHaveLength(1);
  }, 900_000);

  it('a distributed run killed after its first epoch and resumed ends where the uninterrupted run ends', async () => {
    const dir = path.join(tmp, 'killed');
    // Its own process group, so the launcher and its ranks can be killed at once, like a crashed job.
    const job = spawn(process.execPath, [SGDR, ...flags(16), '--nproc', '2', '--out', dir], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, SGDR_QUIET: '1' },
    });
    const exited = new Promise((resolve) => job.on('exit', resolve));
    const t0 = Date.now();
    while (!(fs.existsSync(path.join(dir, 'metrics.jsonl')) && rows(dir).length >= 1)) {
      if (Date.now() - t0 > 300_000) throw new Error('the first epoch did not finish');
      await new Promise((r) => setTimeout(r, 100));
    }
    process.kill(-job.pid!, 'SIGKILL');
    await exited;
    expect(rows(dir).length).toBeLessThan(3);
    const resumed = await runSgdr(['train', '--resume', dir, '--nproc', '2'], { timeoutMs: 600_000 });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(withoutTimings(rows(dir))).toEqual(withoutTimings(rows(twoRanks)));
  }, 900_000);

  it('a rank killed with SIGKILL ends the job (--sync-bn: collectives inside every forward too): the launcher names it, stops the others and exits non-zero', async () => {
    const dir = path.join(tmp, 'lost');
    const job = spawn(
      process.execPath,
      [SGDR, ...flags(16), '--epochs', '50', '--nproc', '2', '--sync-bn', '--out', dir],
      {
        env: { ...process.env, SGDR_QUIET: '1' },
      },
    );
    let stderr = '';
    job.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => job.on('exit', (code) => resolve(code)));
    // The ranks are the launcher's children; rank 1 is the second.
    const t0 = Date.now();
    let ranks: number[] = [];
    while (ranks.length < 2 || !fs.existsSync(path.join(dir, 'run.json'))) {
      if (Date.now() - t0 > 120_000) throw new Error(`the ranks did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
      ranks = childrenOf(job.pid!);
    }
    // The run records SyncBatchNorm, so --resume would train with it again.
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'))).toMatchObject({ syncBatchNorm: true });
    await new Promise((r) => setTimeout(r, 1000));
    const killedAt = Date.now();
    process.kill(ranks[1]!, 'SIGKILL');
    const code = await exited;
    expect(code).not.toBe(0);
    expect(Date.now() - killedAt).toBeLessThan(60_000);
    expect(stderr).toMatch(/rank 1 of 2 was killed by SIGKILL; stopping the other 1 rank/);
    // No orphans: both ranks are gone.
    for (const pid of ranks) expect(alive(pid), `pid ${pid}`).toBe(false);
  }, 300_000);
});

/** The pids whose parent is `pid`, oldest first (from /proc). */
function childrenOf(pid: number): number[] {
  const out: Array<[number, number]> = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push([Number(fields[19]), Number(entry)]);
    } catch {
      /* gone */
    }
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, p]) => p);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
