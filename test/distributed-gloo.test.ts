/**
 * Data parallelism on c10d's Gloo backend, on loopback: ranks are real processes (the compiled
 * library, test/helpers/dist-rank.cjs) that meet through a TCPStore, as torchrun starts them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ProcessGroup } from '../lib';
import { idxSplit, writeIdxDataset } from './helpers/data';

const WORKER = path.join(__dirname, 'helpers', 'dist-rank.cjs');

interface Rank {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

function startRank(rank: number, world: number, port: number, args: string[]): Rank {
  const child = spawn(process.execPath, [WORKER, ...args], {
    env: {
      ...process.env,
      RANK: String(rank),
      WORLD_SIZE: String(world),
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(port),
    },
  });
  const r: Rank = { child, stdout: '', stderr: '', exit: undefined as never };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (r.stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (r.stderr += d));
  r.exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  return r;
}

const lines = (r: Rank) =>
  r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

async function runJob(world: number, args: string[]): Promise<Rank[]> {
  const port = await freePort();
  const ranks = Array.from({ length: world }, (_, r) => startRank(r, world, port, args));
  const exits = await Promise.all(ranks.map((r) => r.exit));
  exits.forEach((e, r) => expect(e.code, `rank ${r}: ${ranks[r]!.stderr}`).toBe(0));
  return ranks;
}

let data: string;
beforeAll(() => {
  data = fs.mkdtempSync(path.join(os.tmpdir(), 'sgdr-dist-'));
  writeIdxDataset(data, { train: idxSplit(52, 1, 16), val: idxSplit(20, 2, 16) }, 16);
});
afterAll(() => fs.rmSync(data, { recursive: true, force: true }));

describe('data-parallel training on Gloo (2 ranks, loopback)', () => {
  it('this build has the Gloo backend', () => {
    expect(ProcessGroup.backends().gloo).toBe(true);
  });

  it('replicas that start from different weights hold bit-identical parameters and buffers after training', async () => {
    const ranks = await runJob(2, ['fit', data, '2', 'differ']);
    const [a, b] = ranks.map((r) => lines(r).find((l) => 'after' in l)!);
    // Different seeds: the replicas started apart; rank 0's weights were broadcast to rank 1.
    expect(a!.before).not.toBe(b!.before);
    expect(a!.after).toBe(b!.after);
    expect(a!.after).not.toBe(a!.before);
    // 52 training images on 2 ranks: 26 each, no padding; the epoch's count is the global one.
    const metrics = (l: Record<string, unknown>) => {
      const m = l.last as { train_loss: number; train_acc: number; val_loss: number; val_acc: number };
      return [m.train_loss, m.train_acc, m.val_loss, m.val_acc];
    };
    expect(metrics(a!).every(Number.isFinite)).toBe(true);
    // Every rank reports the global numbers (all-reduced training sums, sharded validation).
    expect(metrics(b!)).toEqual(metrics(a!));
  }, 240_000);

  it('with SyncBatchNorm, fit() keeps the replicas bit-identical (its all-reduces interleaved with the gradient buckets)', async () => {
    const ranks = await runJob(2, ['fit', data, '1', 'differ', 'sync']);
    const [a, b] = ranks.map((r) => lines(r).find((l) => 'after' in l)!);
    expect(a!.after).toBe(b!.after);
    expect(a!.after).not.toBe(a!.before);
    const m = a!.last as { train_loss: number; val_acc: number };
    expect(Number.isFinite(m.train_loss) && Number.isFinite(m.val_acc)).toBe(true);
    // And it took effect: the same job with per-replica BatchNorm ends elsewhere.
    const plain = await runJob(2, ['fit', data, '1', 'differ']);
    expect(lines(plain[0]!).find((l) => 'after' in l)!.after).not.toBe(a!.after);
  }, 240_000);

  type GradRun = { loss: number; weights: Record<string, number[]> };
  // One step of 2 ranks x 4 images against 1 process x 8, BatchNorm as `bn` says; the largest
  // difference of the weights after it (SGD with lr 1, no momentum or decay: w1 = w0 - g, so the
  // weights differ by the gradients' difference; with BN in training mode the running statistics too).
  async function gradStep(bn: 'eval' | 'train' | 'sync', single: 'eval' | 'train') {
    const [r0] = await runJob(2, ['grad', data, bn]);
    const [one] = await runJob(1, ['grad', data, single]);
    const dp = lines(r0!)[0]! as GradRun;
    const ref = lines(one!)[0]! as GradRun;
    let worst = 0;
    let worstScaled = 0;
    let entries = 0;
    const worstOf: Record<string, number> = {};
    for (const [name, w] of Object.entries(ref.weights)) {
      const v = dp.weights[name]!;
      let here = 0;
      for (let i = 0; i < w.length; i++) {
        const d = Math.abs(w[i]! - v[i]!);
        here = Math.max(here, d);
        worstScaled = Math.max(worstScaled, d / Math.max(1, Math.abs(w[i]!)));
      }
      worstOf[name] = here;
      worst = Math.max(worst, here);
      entries += w.length;
    }
    // worstScaled: relative where a weight is above 1 in magnitude (float32 sums of 1,152 products
    // taken in another order differ by a few ulps of the result, and the stem's reach ~5).
    return { dp, ref, worst, worstScaled, entries, worstOf };
  }

  it("one step's averaged gradient equals the single-process gradient of the whole batch (BN in eval mode)", async () => {
    const { dp, ref, worst, entries } = await gradStep('eval', 'eval');
    expect(entries).toBeGreaterThan(1_000_000);
    expect(worst).toBeLessThanOrEqual(1e-5);
    // The loss is a float32 mean: rank 0's is the mean of two 4-image means, the reference one mean of
    // 8; near ln(10) one ulp is 2.4e-7, and CI saw the two differ by 2.5 ulps. 5e-6 is 20 ulps.
    expect(dp.loss).toBeCloseTo(ref.loss, 5);
  }, 240_000);

  it('with SyncBatchNorm, a training-mode step equals the single process on the whole batch: gradients and running statistics', async () => {
    const { dp, ref, worstScaled, entries, worstOf } = await gradStep('sync', 'train');
    expect(entries).toBeGreaterThan(1_000_000);
    // The running statistics moved (momentum 0.1 towards the batch's) and agree with the single process's.
    expect(ref.weights['bn1.running_mean']!.some((v) => v !== 0)).toBe(true);
    expect(worstOf['bn1.running_mean']).toBeLessThanOrEqual(1e-6);
    expect(worstOf['layer4.1.bn2.running_var']).toBeLessThanOrEqual(1e-5);
    expect(worstScaled).toBeLessThanOrEqual(1e-5);
    expect(dp.loss).toBeCloseTo(ref.loss, 5);
    // Without it each replica normalises its 4 images alone: the same comparison fails by far.
    const plain = await gradStep('train', 'train');
    expect(plain.worstScaled).toBeGreaterThan(1e-3);
  }, 240_000);

  it('a rank killed with SIGKILL makes the others exit non-zero, naming it, in under 60 s', async () => {
    const port = await freePort();
    const ranks = [0, 1, 2].map((r) => startRank(r, 3, port, ['hang', data]));
    // Wait until training runs on every rank.
    const t0 = Date.now();
    while (!ranks.every((r) => r.stdout.includes('epochBegin'))) {
      if (Date.now() - t0 > 120_000) throw new Error(`ranks did not start: ${ranks.map((r) => r.stderr).join('\n')}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    const killedAt = Date.now();
    ranks[1]!.child.kill('SIGKILL');
    const [e0, e1, e2] = await Promise.all(ranks.map((r) => r.exit));
    expect(e1!.signal).toBe('SIGKILL');
    for (const [r, e] of [
      [0, e0!],
      [2, e2!],
    ] as const) {
      expect(e.code, ranks[r]!.stderr).not.toBe(0);
      expect(ranks[r]!.stderr).toMatch(/lost rank 1\b/);
      expect(e.at - killedAt).toBeLessThan(60_000);
    }
  }, 240_000);

  it('rendezvous errors name the bad value', async () => {
    await expect(
      ProcessGroup.connect({ rank: 2, worldSize: 2, masterAddr: '127.0.0.1', masterPort: 29500 }),
    ).rejects.toThrow(/rank must be an integer in \[0, worldSize - 1 = 1\]/);
    await expect(
      ProcessGroup.connect({ rank: 0, worldSize: 1, masterAddr: '127.0.0.1', masterPort: 70000 }),
    ).rejects.toThrow(/masterPort must be an integer in \[1, 65535\]/);
  });
});
