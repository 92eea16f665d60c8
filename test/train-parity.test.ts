// The training loop against PyTorch: same initial weights, same batches (file order, no
// augmentation), SGD + SGDR stepped every batch. On the exact path the weights after 3 epochs are
// bit-identical to PyTorch's (what the README claims); the per-epoch losses agree to rounding (ours
// sums the batch losses in another order).
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fit, openData, resnet, SGD, WarmRestarts } from '../lib';
import { readTorchFile, stateDictEntries } from '../lib/serialization';
import { referenceScript, tempDir } from './helpers/native';
import { writeIdxDataset } from './helpers/idx';
import { requireTorchOrSkip, runPython } from './helpers/python';

const hasTorch = requireTorchOrSkip(true);
// Bit-for-bit comparisons with PyTorch run the exact path: no lever that rounds differently
// (native/perf/levers.h; read when the addon loads).
process.env.SGDR_EXACT = '1';

describe.runIf(hasTorch)('fit() equals a PyTorch training loop', () => {
  it('3 epochs of SGD + SGDR (T_0=1, T_mult=2): bit-identical final weights, per-epoch train loss to 1e-12', async () => {
    const dir = tempDir('parity');
    const data = writeIdxDataset(path.join(dir, 'data'), 200, 100);
    const rows = JSON.parse(
      (await runPython(referenceScript('train_parity.py'), [data, dir, '3', '32', '0.05'])).stdout,
    ) as Array<{ train_loss: number; val_loss: number; val_acc: number }>;
    const { train, val } = openData(`fashion-mnist:${data}`, { augment: false });
    const model = resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'imagenet' });
    await model.loadStateDict(path.join(dir, 'initial.pth'));
    const optimizer = new SGD(model, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
    const result = await fit({
      model,
      optimizer,
      schedule: new WarmRestarts({ lr: 0.05, t0: 1, tMult: 2 }),
      train,
      val,
      epochs: 3,
      batchSize: 32,
      shuffle: false,
    });
    for (let e = 0; e < 3; e++) {
      const ours = result.history[e]!;
      const ref = rows[e]!;
      const err = Math.abs(ours.train_loss - ref.train_loss) / ref.train_loss;
      console.log(
        `epoch ${e + 1}: train_loss ours ${ours.train_loss.toFixed(6)} PyTorch ${ref.train_loss.toFixed(6)} (rel ${err.toExponential(2)}); ` +
          `val_loss ${ours.val_loss!.toFixed(6)} vs ${ref.val_loss.toFixed(6)}`,
      );
      expect(err).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(ours.val_loss! - ref.val_loss) / ref.val_loss).toBeLessThanOrEqual(1e-3);
    }
    expect(result.history[2]!.train_loss).toBeLessThan(result.history[0]!.train_loss); // it learned
    // The weights after the last step, every float of every entry (parameters and BN buffers).
    const theirs = stateDictEntries(await readTorchFile(path.join(dir, 'final.pth')));
    const ours = model.stateDict();
    let differing = 0,
      total = 0;
    for (const [name, record] of ours) {
      const ref = theirs.get(name);
      expect(ref, name).toBeDefined();
      const a = record.data as ArrayLike<number | bigint>,
        b = ref!.data as ArrayLike<number | bigint>;
      expect(a.length, name).toBe(b.length);
      for (let i = 0; i < a.length; i++, total++) if (!Object.is(a[i], b[i])) differing++;
    }
    console.log(`final weights: ${differing} of ${total} values differ from PyTorch's`);
    expect(differing).toBe(0);
    model.dispose();
    train.dispose();
    val.dispose();
  });
});
