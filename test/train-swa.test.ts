// SWA inside fit(): averaging at the cycle ends or every epoch from a start epoch (with the SWA LR
// applied), swa.pth (the mean of the averaged weights, BatchNorm recomputed, loadable by
// torch.load(weights_only=True)), summary.json's swa_val_loss / swa_val_acc, exact resume; and the
// SWA LR formulas.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTorchFile, swaLearningRate, WarmRestarts, type FitOptions, type TensorRecord } from '../lib';
import { fitSmall } from './helpers/fit-run';
import { removeTempDirs, tempDir } from './helpers/native';
import { writeIdxDataset } from './helpers/idx';
import { requireTorchOrSkip, runPython } from './helpers/python';

const hasTorch = requireTorchOrSkip();
afterAll(removeTempDirs);
const data = writeIdxDataset(path.join(tempDir('swa-data'), 'd'), 96, 40);

/** ResNet-18 (imagenet stem) on 96 images of 28 px, batch 16: 6 batches an epoch. */
const run = (outDir: string | undefined, extra: Partial<FitOptions> = {}) =>
  fitSmall(data, outDir, { sgd: { weightDecay: 5e-4 }, ...extra });

const load = async (file: string) => (await readTorchFile(file)) as Map<string, TensorRecord>;

describe('fit() with SWA', () => {
  it("swa 'cycles': averages the cycle-end weights; swa.pth, swa_val_* and the snapshots beside it", async () => {
    const dir = tempDir('swa-cycles');
    const r = await run(dir, { swa: { start: 'cycles' } });
    expect(r.swa).toMatchObject({ count: 2, epochs: [1, 3], file: 'swa.pth' });
    expect(r.history.map((h) => h.swa_size)).toEqual([1, undefined, 2, 2]);
    for (const f of ['swa.pth', 'snapshot-cycle-1.pth', 'snapshot-cycle-2.pth'])
      expect(fs.existsSync(path.join(dir, f))).toBe(true);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(summary.swa_val_loss).toBeGreaterThan(0);
    expect(summary.swa_val_acc).toBeGreaterThanOrEqual(0);
    expect(summary.swa_val_loss).toBe(r.swa!.val_loss);

    // The parameters are the mean of the two snapshots'; the BN statistics are recomputed over one
    // epoch (6 batches), not averaged.
    const swa = await load(path.join(dir, 'swa.pth'));
    const [a, b] = [
      await load(path.join(dir, 'snapshot-cycle-1.pth')),
      await load(path.join(dir, 'snapshot-cycle-2.pth')),
    ];
    expect([...swa.keys()]).toEqual([...a.keys()]);
    let worst = 0;
    for (const name of ['conv1.weight', 'layer3.1.bn2.weight', 'fc.bias']) {
      const x = swa.get(name)!.data as Float32Array;
      for (let i = 0; i < x.length; i++) {
        const mean = ((a.get(name)!.data as Float32Array)[i]! + (b.get(name)!.data as Float32Array)[i]!) / 2;
        worst = Math.max(worst, Math.abs(x[i]! - mean));
      }
    }
    expect(worst).toBeLessThan(1e-6);
    expect(Number((swa.get('bn1.num_batches_tracked')!.data as BigInt64Array)[0])).toBe(6);
    expect(Array.from(swa.get('bn1.running_mean')!.data as Float32Array)).not.toEqual(
      Array.from(b.get('bn1.running_mean')!.data as Float32Array),
    );

    if (hasTorch) {
      const out = await runPython(
        'import sys, torch\n' +
          'sd = torch.load(sys.argv[1], weights_only=True)\n' +
          'snap = torch.load(sys.argv[2], weights_only=True)\n' +
          'assert list(sd) == list(snap), "keys differ from a snapshot"\n' +
          'print(type(sd).__name__, len(sd), int(sd["bn1.num_batches_tracked"]))\n',
        [path.join(dir, 'swa.pth'), path.join(dir, 'snapshot-cycle-1.pth')],
      );
      expect(out.stdout.trim()).toBe(`OrderedDict ${swa.size} 6`);
    }
  }, 240_000);

  it('swa from epoch 3 with lr 0.01: that LR from epoch 3 on, epochs 3 and 4 averaged; resumes exactly', async () => {
    const swa = { start: 3, lr: 0.01 };
    const dir = tempDir('swa-start');
    const straight = await run(dir, { swa });
    expect(straight.history.map((h) => [h.lr, h.lr_end]).slice(2)).toEqual([
      [0.01, 0.01],
      [0.01, 0.01],
    ]);
    expect(straight.history[1]!.lr).toBeCloseTo(0.05, 12); // epoch 2: the restart at the peak, untouched
    expect(straight.swa).toMatchObject({ count: 2, epochs: [3, 4] });
    expect(straight.history[3]!.swa_val_loss).toBe(straight.swa!.val_loss);

    const resumedDir = tempDir('swa-resume');
    const controller = new AbortController();
    const first = await run(resumedDir, {
      swa,
      signal: controller.signal,
      callbacks: {
        onEpochEnd: (m) => {
          if (m.epoch === 3) controller.abort();
        },
      },
    });
    expect(first.aborted).toBe(true);
    const resumed = await run(resumedDir, { swa, resume: true });
    expect(resumed.swa).toMatchObject({ count: 2, epochs: [3, 4] });
    expect(Math.abs(resumed.swa!.val_loss! - straight.swa!.val_loss!) / straight.swa!.val_loss!).toBeLessThanOrEqual(
      1e-5,
    );
    const x = (await load(path.join(dir, 'swa.pth'))).get('layer4.1.conv2.weight')!.data as Float32Array;
    const y = (await load(path.join(resumedDir, 'swa.pth'))).get('layer4.1.conv2.weight')!.data as Float32Array;
    let d = 0;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
    expect(d).toBeLessThan(1e-5);
    // Resuming under other SWA settings is refused.
    await expect(run(resumedDir, { swa: { start: 2, lr: 0.01 }, resume: true })).rejects.toThrow(
      /cannot resume .*'swa'/,
    );
  }, 300_000);

  it('rejects bad SWA options naming the field', async () => {
    await expect(run(undefined, { swa: { start: 9 } })).rejects.toThrow(
      /swa.start must be 'cycles' or an epoch from 1 to epochs \(4\), got 9/,
    );
    await expect(run(undefined, { swa: { start: 2, lr: -1 } })).rejects.toThrow(
      /swa.lr must be a finite number > 0, got -1/,
    );
    await expect(run(undefined, { swa: { start: 'cycles', lr: 0.1 } })).rejects.toThrow(/swa.lr needs a start epoch/);
    await expect(
      run(undefined, { swa: { start: 'cycles' }, schedule: new WarmRestarts({ lr: 0.05, t0: 10 }) }),
    ).rejects.toThrow(/swa 'cycles' averages at cycle ends, and .* has none within 4 epochs/);
  });
});

describe('swaLearningRate', () => {
  it('constant from the start epoch; cyclic as Izmailov et al. eq. 2 (last batch of each SWA cycle at lr)', () => {
    expect(swaLearningRate({ start: 3, lr: 0.01 }, 1, 5, 10)).toBeUndefined(); // 0-based epoch 1 = epoch 2
    expect(swaLearningRate({ start: 3, lr: 0.01 }, 2, 0, 10)).toBe(0.01);
    expect(swaLearningRate({ start: 3 }, 5, 0, 10)).toBeUndefined();
    const o = { start: 2, lr: 0.001, lrMax: 0.05, cycle: 2 };
    const K = 4;
    // alpha(i) = (1 - s) a1 + s a2, s = (mod(i - 1, c) + 1) / c, i the 1-based iteration, c = 2 epochs x 4 batches.
    for (let e = 1; e < 6; e++) {
      for (let b = 0; b < K; b++) {
        const i = (e - 1) * K + b + 1;
        const s = (((i - 1) % (2 * K)) + 1) / (2 * K);
        expect(swaLearningRate(o, e, b, K)).toBeCloseTo((1 - s) * 0.05 + s * 0.001, 15);
      }
    }
    expect(swaLearningRate(o, 2, 3, K)).toBeCloseTo(0.001, 15); // the end of the first SWA cycle
  });
});
