// fit(): cycle snapshots and the snapshot ensemble, exact resume (at an epoch boundary and
// mid-epoch), the event loop staying free, abort, and bad options.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DivergenceError,
  fit,
  loadCheckpoint,
  openData,
  readTorchFile,
  resnet,
  RunFolderInUseError,
  SGD,
  stateDictEntries,
  WarmRestarts,
  type FitOptions,
} from '../lib';
import { fitSmall, withoutTimings } from './helpers/fit-run';
import { tempDir } from './helpers/native';
import { writeIdxDataset } from './helpers/idx';

const data = writeIdxDataset(path.join(tempDir('fit-data'), 'd'), 96, 40);

/** ResNet-18 on 28 px images, batch 16, SGD with Nesterov momentum and weight decay (test/helpers/fit-run.ts). */
const run = (outDir: string | undefined, extra: Partial<FitOptions> = {}) =>
  fitSmall(data, outDir, { sgd: { weightDecay: 5e-4, nesterov: true }, ...extra });

// Timings differ between runs; everything else must not.
const stable = withoutTimings;

describe('fit()', () => {
  let straight: Awaited<ReturnType<typeof run>>;
  let straightDir: string;

  it('T_0=1, T_mult=2 over 4 epochs: cycle snapshots after epochs 1 and 3, ensemble evaluated', async () => {
    straightDir = tempDir('fit-straight');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = Date.now();
    straight = await run(straightDir);
    clearInterval(timer);
    // The batches ran on the native thread: the JS timer kept firing throughout.
    const expectedTicks = (Date.now() - started) / 5;
    console.log(`timer fired ${ticks} times in ${Date.now() - started} ms`);
    expect(ticks).toBeGreaterThan(expectedTicks * 0.3);
    expect(straight.history.map((r) => r.cycle_end)).toEqual([true, false, true, false]);
    expect(straight.snapshots.map((s) => [s.epoch, s.file])).toEqual([
      [1, 'snapshot-cycle-1.pth'],
      [3, 'snapshot-cycle-2.pth'],
    ]);
    for (const s of straight.snapshots) expect(fs.existsSync(path.join(straightDir, s.file!))).toBe(true);
    const third = straight.history[2]!;
    expect(third.ensemble_size).toBe(2);
    expect(third.ensemble_val_loss).toBeGreaterThan(0);
    expect(third.ensemble_val_acc).toBeGreaterThanOrEqual(0);
    const lines = fs
      .readFileSync(path.join(straightDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(4);
    for (const key of ['epoch', 'lr', 'train_loss', 'val_loss', 'val_acc', 'seconds'])
      expect(lines[0]).toHaveProperty(key);
    const summary = JSON.parse(fs.readFileSync(path.join(straightDir, 'summary.json'), 'utf8'));
    expect(summary.final.epoch).toBe(4);
    expect(summary.ensemble.size).toBe(2);
    expect(fs.existsSync(path.join(straightDir, 'best.pth'))).toBe(true);
    // SGDR per batch: epoch 1 starts at the peak, epoch 2 restarts at the peak.
    expect(straight.history[0]!.lr).toBe(0.05);
    expect(straight.history[1]!.lr).toBe(0.05);
    expect(straight.history[2]!.lr).toBeCloseTo(0.025, 12);
  });

  it('stopped after epoch 2 and resumed: the same metrics rows and final val_loss', async () => {
    const dir = tempDir('fit-resume');
    const controller = new AbortController();
    const first = await run(dir, {
      signal: controller.signal,
      callbacks: {
        onEpochEnd: (m) => {
          if (m.epoch === 2) controller.abort();
        },
      },
    });
    expect(first.aborted).toBe(true);
    expect(first.history).toHaveLength(2);
    const resumed = await run(dir, { resume: true });
    expect(resumed.aborted).toBe(false);
    expect(stable(resumed.history)).toEqual(stable(straight.history));
    const a = straight.history[3]!.val_loss!;
    const b = resumed.history[3]!.val_loss!;
    expect(Math.abs(a - b) / a).toBeLessThanOrEqual(1e-5);
  });

  it('stopped mid-epoch and resumed: the same result', async () => {
    const dir = tempDir('fit-resume-mid');
    const controller = new AbortController();
    const first = await run(dir, {
      signal: controller.signal,
      progressEvery: 1,
      callbacks: {
        onBatchEnd: (p) => {
          if (p.epoch === 2 && p.batch >= 3) controller.abort();
        },
      },
    });
    expect(first.aborted).toBe(true);
    const resumed = await run(dir, { resume: true });
    const last = (r: typeof resumed) => r.history[3]!;
    expect(Math.abs(last(resumed).val_loss! - last(straight).val_loss!) / last(straight).val_loss!).toBeLessThanOrEqual(
      1e-5,
    );
    expect(Math.abs(resumed.history[1]!.train_loss - straight.history[1]!.train_loss)).toBeLessThan(1e-9);
  });

  it('keep: finished runs can drop their weight files and keep only the numbers', async () => {
    const dir = tempDir('fit-keep');
    const r = await run(dir, { epochs: 1, keep: { checkpoint: false, best: false, snapshots: false } });
    expect(r.snapshots).toEqual([{ cycle: 0, epoch: 1, probabilities: 'snapshot-cycle-1.val-probabilities.pth' }]);
    const files = fs.readdirSync(dir).sort();
    expect(files.filter((f) => !f.startsWith('events.out.tfevents.'))).toEqual([
      'metrics.jsonl',
      'snapshot-cycle-1.val-probabilities.pth',
      'summary.json',
    ]);
    // TensorBoard's event file is numbers too, and stays.
    expect(files.filter((f) => f.startsWith('events.out.tfevents.'))).toHaveLength(1);
  });

  it('refuses to resume a run under other settings, and rejects bad options', async () => {
    const dir = tempDir('fit-mismatch');
    const controller = new AbortController();
    await run(dir, { signal: controller.signal, callbacks: { onEpochEnd: () => controller.abort() } });
    await expect(run(dir, { resume: true, seed: 4 })).rejects.toThrow(/cannot resume .*'seed' was 3, now 4/);
    await expect(run(undefined, { batchSize: 0 })).rejects.toThrow(/batchSize must be an integer >= 1/);
    await expect(run(undefined, { epochs: 1.5 })).rejects.toThrow(/epochs must be an integer >= 1/);
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, 'not a folder');
    await expect(run(path.join(file, 'out'))).rejects.toThrow(
      /cannot write to the output folder .*a-file\/out: ENOTDIR/,
    );
  });
});

describe('fit(): divergence and run folders', () => {
  /** SGDR for epoch 1, then an LR no network survives. */
  class BlowUp extends WarmRestarts {
    override lrAt(t: number): number {
      return t >= 1 ? 1e6 : super.lrAt(t);
    }
  }
  const finite = (m: Map<string, { data: ArrayLike<number> | BigInt64Array }>) =>
    [...m.values()].every((t) => (t.data instanceof Float32Array ? t.data.every(Number.isFinite) : true));

  it('a non-finite loss in epoch 2 throws a DivergenceError; the epoch-1 checkpoint, best and snapshot stay intact', async () => {
    const dir = tempDir('fit-diverge');
    const err = await run(dir, { schedule: new BlowUp({ lr: 0.05, t0: 1, tMult: 2 }), epochs: 3 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DivergenceError);
    const d = err as DivergenceError;
    expect(d.epoch).toBe(2);
    expect(d.batch).toBeGreaterThanOrEqual(1);
    expect(Number.isFinite(d.loss)).toBe(false);
    expect(d.message).toMatch(new RegExp(`epoch 2, batch ${d.batch}`));
    const ckpt = await loadCheckpoint(path.join(dir, 'checkpoint.pth'));
    expect(ckpt.position.epoch).toBe(1);
    expect(finite(ckpt.model)).toBe(true);
    expect(finite(stateDictEntries(await readTorchFile(path.join(dir, 'best.pth'))))).toBe(true);
    expect(finite(stateDictEntries(await readTorchFile(path.join(dir, 'snapshot-cycle-1.pth'))))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'snapshot-cycle-2.pth'))).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'diverged.json'), 'utf8'))).toMatchObject({
      epoch: 2,
      batch: d.batch,
    });
  });

  it('skipNonFinite: a non-finite batch is not applied; when every batch is, the run cannot recover', async () => {
    const { train, val } = openData(`fashion-mnist:${data}`, { augment: false });
    const model = resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'cifar', seed: 7 });
    const optimizer = new SGD(model, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
    try {
      const state = model.stateDict();
      (state.get('fc.bias')!.data as Float32Array)[0] = NaN;
      await model.loadStateDict(state);
      const params = () =>
        [...model.stateDict()]
          .filter(([k]) => !/running_|num_batches/.test(k))
          .map(([k, t]) => [k, Buffer.from((t.data as Float32Array).buffer.slice(0))] as const);
      const before = params();
      const opts = {
        model,
        optimizer,
        schedule: new WarmRestarts({ lr: 0.05, t0: 1, tMult: 2 }),
        train,
        val,
        epochs: 1,
        batchSize: 16,
      };
      const skipped = await fit({ ...opts, skipNonFinite: true }).catch((e: unknown) => e);
      expect(skipped).toBeInstanceOf(DivergenceError);
      expect((skipped as Error).message).toMatch(/every batch of epoch 1 had a non-finite loss \(first: batch 1/);
      // Not one update was applied: every weight is bit for bit what it was (NaN included).
      const after = params();
      for (let i = 0; i < before.length; i++) expect(after[i]![1].equals(before[i]![1]), before[i]![0]).toBe(true);
      const stopped = await fit(opts).catch((e: unknown) => e);
      expect(stopped).toBeInstanceOf(DivergenceError);
      expect(stopped).toMatchObject({ epoch: 1, batch: 1 });
    } finally {
      model.dispose();
      train.dispose();
      val.dispose();
    }
  });

  it('an outDir holding another run is refused unless resume or overwrite; overwrite keeps unrelated files', async () => {
    const dir = tempDir('fit-overwrite');
    await run(dir, { epochs: 1 });
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    fs.writeFileSync(path.join(dir, 'events.out.tfevents.1.host'), 'tb');
    const err = await run(dir, { epochs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFolderInUseError);
    expect((err as RunFolderInUseError).files).toEqual(
      expect.arrayContaining(['metrics.jsonl', 'checkpoint.pth', 'events.out.tfevents.1.host']),
    );
    const again = await run(dir, { epochs: 1, overwrite: true, keep: { best: false } });
    expect(again.history).toHaveLength(1);
    const files = fs.readdirSync(dir).sort();
    expect(files.filter((f) => !f.startsWith('events.out.tfevents.'))).toEqual([
      'checkpoint.pth',
      'metrics.jsonl',
      'notes.txt',
      'snapshot-cycle-1.pth',
      'snapshot-cycle-1.val-probabilities.pth',
      'summary.json',
    ]);
    // The other run's event file went with it; this run wrote its own.
    const events = files.filter((f) => f.startsWith('events.out.tfevents.'));
    expect(events).toHaveLength(1);
    expect(events[0]).not.toBe('events.out.tfevents.1.host');
  });
});
