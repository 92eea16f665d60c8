// Training longer: a finished (or interrupted) run resumed with more epochs ends exactly where an
// uninterrupted run of that many epochs ends; runs whose past depends on the total are refused.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConstantLR, loadCheckpoint, type EpochMetrics, type FitOptions, type Schedule } from '../lib';
import { runSgdr, smallTrainFlags } from './helpers/cli';
import { writeIdxDataset } from './helpers/idx';
import { fitSmall, withoutTimings } from './helpers/fit-run';
import { tempDir } from './helpers/native';

const data = writeIdxDataset(path.join(tempDir('longer-data'), 'd'), 48, 20);

const run = (outDir: string | undefined, extra: Partial<FitOptions> & { makeSchedule?: () => Schedule } = {}) => {
  const { makeSchedule, ...options } = extra;
  return fitSmall(data, outDir, {
    sgd: { weightDecay: 5e-4 },
    epochs: 7,
    ...(makeSchedule ? { schedule: makeSchedule() } : {}),
    ...options,
  });
};

const stable = withoutTimings;
const readRows = (dir: string) =>
  fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EpochMetrics);

describe('training longer with fit({ resume: true, epochs: N })', () => {
  it('a finished 1-epoch SGDR run extended to 3 equals a 3-epoch run: metrics, snapshots, weights', async () => {
    const straightDir = tempDir('longer-straight');
    const straight = await run(straightDir, { epochs: 3 });
    const dir = tempDir('longer-extended');
    const first = await run(dir, { epochs: 1 });
    expect(first.history).toHaveLength(1);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')).epochs).toBe(1);
    const lines: string[] = [];
    const extended = await run(dir, { epochs: 3, resume: true, log: (l) => lines.push(l) });
    expect(lines).toContain(`resume: ${dir} was set up for 1 epochs, now 3 (1 done)`);
    expect(extended.history).toHaveLength(3);
    expect(stable(extended.history)).toEqual(stable(straight.history));
    expect(stable(readRows(dir))).toEqual(stable(readRows(straightDir)));
    // The cycle ending with epoch 3 is snapshotted as in the straight run, and the ensemble agrees.
    expect(extended.snapshots.map((s) => s.epoch)).toEqual([1, 3]);
    expect(extended.snapshots).toEqual(straight.snapshots);
    expect(extended.best).toEqual(straight.best);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    const straightSummary = JSON.parse(fs.readFileSync(path.join(straightDir, 'summary.json'), 'utf8'));
    expect(summary.epochs).toBe(3);
    expect(summary.config.epochs).toBe(3);
    expect(summary.ensemble).toEqual(straightSummary.ensemble);
    // The same weights, bit for bit, and the same optimizer position.
    const a = await loadCheckpoint(path.join(dir, 'checkpoint.pth'));
    const b = await loadCheckpoint(path.join(straightDir, 'checkpoint.pth'));
    expect(a.position.epoch).toBe(3);
    expect(a.schedule).toEqual(b.schedule);
    const bytes = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    for (const [name, t] of b.model) expect(bytes(a.model.get(name)!.data).equals(bytes(t.data)), name).toBe(true);
  }, 300_000);

  it('an interrupted run resumed with more epochs ends where the longer run ends', async () => {
    const dir = tempDir('longer-interrupted');
    const stopper = new AbortController();
    const stopped = await run(dir, {
      epochs: 3,
      signal: stopper.signal,
      callbacks: {
        onBatchEnd: (p) => {
          if (p.epoch >= 2 && p.batch >= 2) stopper.abort();
        },
      },
    });
    expect(stopped.aborted).toBe(true);
    const extended = await run(dir, { epochs: 4, resume: true });
    const straight = await run(undefined, { epochs: 4 });
    // Mid-epoch resume: as test/train-fit.test.ts asserts it (1e-5 relative on the val loss, 1e-9 on the train loss).
    expect(extended.history).toHaveLength(4);
    expect(
      Math.abs(extended.history[3]!.val_loss! - straight.history[3]!.val_loss!) / straight.history[3]!.val_loss!,
    ).toBeLessThanOrEqual(1e-5);
    for (const e of [1, 3])
      expect(Math.abs(extended.history[e]!.train_loss - straight.history[e]!.train_loss)).toBeLessThan(1e-9);
    expect(extended.history.map((r) => r.cycle_end)).toEqual(straight.history.map((r) => r.cycle_end));
  }, 300_000);

  it('refuses, saying why, when the past depends on the total or cannot be continued', async () => {
    // Normalized weight decay without restarts uses T = the run's length for every epoch.
    const nwd = tempDir('longer-nwd');
    await run(nwd, { epochs: 2, normalizedWeightDecay: 0.05, makeSchedule: () => new ConstantLR({ lr: 0.01 }) });
    await expect(
      run(nwd, {
        epochs: 4,
        resume: true,
        normalizedWeightDecay: 0.05,
        makeSchedule: () => new ConstantLR({ lr: 0.01 }),
      }),
    ).rejects.toThrow(
      `cannot resume ${nwd} with epochs 4: its normalized weight decay used T = 2 epochs for epoch 1 (the run's length, as the schedule has no cycle there); a 4-epoch run would have used T = 4`,
    );
    // With SGDR, T_i is the cycle's length: the same run with warm restarts may go on.
    const nwdSgdr = tempDir('longer-nwd-sgdr');
    await run(nwdSgdr, { epochs: 1, normalizedWeightDecay: 0.05 });
    expect((await run(nwdSgdr, { epochs: 2, resume: true, normalizedWeightDecay: 0.05 })).history).toHaveLength(2);

    // A schedule laid out over the whole run (a one-cycle of the user's own, say) says so in its spec.
    class OverTheRun extends ConstantLR {
      override spec() {
        return { type: 'one-cycle', lr: 0.01, epochs: 2 } as unknown as ReturnType<ConstantLR['spec']>;
      }
    }
    const oneCycle = (): Schedule => new OverTheRun({ lr: 0.01 });
    const oc = tempDir('longer-onecycle');
    await run(oc, { epochs: 2, makeSchedule: oneCycle });
    await expect(run(oc, { epochs: 3, resume: true, makeSchedule: oneCycle })).rejects.toThrow(
      `cannot resume ${oc} with epochs 3: its one-cycle schedule is laid out over the run's 2 epochs, so a 3-epoch run would have had other LRs from the start`,
    );

    // Fewer epochs than trained; a finished run whose checkpoint was not kept.
    await expect(run(nwdSgdr, { epochs: 1, resume: true, normalizedWeightDecay: 0.05 })).rejects.toThrow(
      'it has trained 2 epochs already, more than 1',
    );
    const dropped = tempDir('longer-dropped');
    await run(dropped, { epochs: 1, keep: { checkpoint: false } });
    await expect(run(dropped, { epochs: 2, resume: true })).rejects.toThrow(
      /the run finished and its checkpoint.pth was not kept \(keep.checkpoint false\), so it cannot train longer/,
    );
    expect(readRows(dropped)).toHaveLength(1); // nothing was replaced
  }, 300_000);
});

describe('sgdr train --resume DIR --epochs N', () => {
  it('extends a finished run to the rows of an uninterrupted run of N epochs', async () => {
    const sgdr = (...args: string[]) => runSgdr(args);
    const small = [...smallTrainFlags(data), '--no-augment'];
    const dir = tempDir('cli-longer');
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    expect((await sgdr('train', ...small, '--epochs', '3', '--out', b)).status).toBe(0);
    expect((await sgdr('train', ...small, '--epochs', '1', '--out', a)).status).toBe(0);
    const r = await sgdr('train', '--resume', a, '--epochs', '3');
    expect(r.stderr).toContain(`resume: ${a} was set up for 1 epochs, now 3 (1 done)`);
    expect(r.status).toBe(0);
    expect(stable(readRows(a))).toEqual(stable(readRows(b)));
    expect(JSON.parse(fs.readFileSync(path.join(a, 'run.json'), 'utf8')).epochs).toBe(3);
  }, 300_000);
});
