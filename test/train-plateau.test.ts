// fit() with restarts on plateau: the validation loss drives the restarts, the cycle snapshots
// follow them, and a run stopped after an epoch resumes with the same LRs and restart points.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fit, loadCheckpoint, openData, PlateauRestarts, resnet, SGD, type FitOptions } from '../lib';
import { fitSmall, withoutTimings } from './helpers/fit-run';
import { tempDir } from './helpers/native';
import { writeIdxDataset } from './helpers/idx';

const data = writeIdxDataset(path.join(tempDir('plateau-data'), 'd'), 96, 40);
// A relative threshold of 0.5 counts only a halving of the loss as an improvement: plateaus come
// every patience + 1 epochs or so, so a short run has several data-driven restarts. The peak LR is
// low enough that the validation loss stays near ln(10) and moves smoothly (2.02 1.35 1.06 0.65
// 0.68 1.01: restarts after epochs 2, 4 and 6, each a wide margin from the threshold); at 0.05 it
// swung between 7 and 8000, and whether an epoch halved it was down to rounding.
const options = { lr: 0.005, t0: 20, patience: 1, threshold: 0.5 } as const;

async function run(outDir: string | undefined, extra: Partial<FitOptions> = {}) {
  const schedule = new PlateauRestarts(options);
  const result = await fitSmall(data, outDir, { schedule, epochs: 6, ...extra });
  return { result, schedule };
}

const stable = withoutTimings;

describe('fit() with PlateauRestarts', () => {
  let straight: Awaited<ReturnType<typeof run>>;

  it('restarts where the validation loss plateaued, snapshots those cycle ends, and starts each new cycle at the peak', async () => {
    straight = await run(tempDir('plateau-straight'));
    const { result, schedule } = straight;
    const restarts = schedule.plateauRestarts;
    console.log(
      `val losses ${result.history.map((r) => r.val_loss!.toFixed(4)).join(', ')}; plateau restarts after epochs ${restarts.join(', ')}`,
    );
    expect(restarts.length).toBeGreaterThanOrEqual(2);
    expect(schedule.valLosses).toEqual(result.history.map((r) => r.val_loss));
    // A restart after epoch e: epoch e ends its cycle (snapshot), epoch e + 1 trains at the peak.
    for (const e of restarts) {
      expect(result.history[e - 1]!.cycle_end).toBe(true);
      if (e < 6) expect(result.history[e]!.lr).toBe(options.lr);
    }
    expect(result.history.filter((r) => r.cycle_end).map((r) => r.epoch)).toEqual(restarts.filter((e) => e <= 6));
    expect(result.snapshots.map((s) => s.epoch)).toEqual(restarts.filter((e) => e <= 6));
    expect(result.history.map((r) => r.cycle)).toEqual(
      result.history.map((r) => restarts.filter((e) => e < r.epoch).length),
    );
  });

  it('stopped after epoch 3 and resumed: the same metrics, LRs and restart points', async () => {
    const dir = tempDir('plateau-resume');
    const controller = new AbortController();
    const first = await run(dir, {
      signal: controller.signal,
      callbacks: {
        onEpochEnd: (m) => {
          if (m.epoch === 3) controller.abort();
        },
      },
    });
    expect(first.result.aborted).toBe(true);
    const saved = await loadCheckpoint(path.join(dir, 'checkpoint.pth'));
    expect((saved.schedule as { valLosses?: number[] }).valLosses).toHaveLength(3);
    const resumed = await run(dir, { resume: true });
    expect(stable(resumed.result.history)).toEqual(stable(straight.result.history));
    expect(resumed.schedule.plateauRestarts).toEqual(straight.schedule.plateauRestarts);
    expect(resumed.result.snapshots).toEqual(straight.result.snapshots);
  });

  it('needs validation data', async () => {
    const { train, val } = openData(`fashion-mnist:${data}`);
    const model = resnet('resnet18', { numClasses: 10, inChannels: 1, seed: 1 });
    try {
      await expect(
        fit({
          model,
          optimizer: new SGD(model, { lr: 0.05 }),
          schedule: new PlateauRestarts(options),
          train,
          epochs: 1,
          batchSize: 16,
        }),
      ).rejects.toThrow(/restarts on plateau need validation data/);
    } finally {
      model.dispose();
      train.dispose();
      val.dispose();
    }
  });
});
