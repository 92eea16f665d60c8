// SWA against PyTorch: the same snapshot state dicts and the same batches through our
// WeightAverage + updateBatchNorm and through torch.optim.swa_utils.AveragedModel + update_bn must
// give the same parameters, the same recomputed BatchNorm buffers and the same eval-mode logits.
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  readTorchFile,
  resnet,
  Tensor,
  updateBatchNorm,
  WeightAverage,
  writeTorchFile,
  type TensorRecord,
} from '../lib';
import { tensorRecord } from '../lib/serialization';
import { referenceScript, removeTempDirs, tempDir } from './helpers/native';
import { rng } from './helpers/idx';
import { requireTorchOrSkip, runPython } from './helpers/python';

const hasTorch = requireTorchOrSkip(true);
// Compared with PyTorch to 1e-5: the exact path, no lever that rounds differently (native/perf.h).
process.env.SGDR_EXACT = '1';
afterAll(removeTempDirs);

const BATCHES = 4;
const BATCH = 8;
const SIZE = 32;

/** Three different models: seeded initialisations, every parameter and BN buffer perturbed. */
async function snapshots(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (let k = 0; k < 3; k++) {
    const model = resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'imagenet', seed: 10 + k });
    const rand = rng(100 + k);
    const state = model.stateDict();
    for (const [name, r] of state) {
      if (r.dtype !== 'float32') continue;
      const data = r.data as Float32Array;
      // BN weights around 1 and running stats that update_bn must throw away.
      for (let i = 0; i < data.length; i++)
        data[i] = data[i]! + (rand() - 0.5) * (name.endsWith('running_var') ? 1 : 0.2);
    }
    await model.loadStateDict(state);
    files.push(path.join(dir, `snapshot-${k}.pth`));
    await model.saveStateDict(files[k]!);
    model.dispose();
  }
  return files;
}

function maxAbsDiff(a: TensorRecord, b: TensorRecord): number {
  const x = a.data as ArrayLike<number | bigint>;
  const y = b.data as ArrayLike<number | bigint>;
  expect(x.length).toBe(y.length);
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(Number(x[i]) - Number(y[i])));
  return d;
}

describe.runIf(hasTorch)('WeightAverage + updateBatchNorm equal AveragedModel + update_bn', () => {
  it('ResNet-18, 3 snapshots, 4 batches: every tensor within 1e-5, logits within 1e-4', async () => {
    const dir = tempDir('swa-ref');
    const files = await snapshots(dir);
    const rand = rng(7);
    const images = new Float32Array(BATCHES * BATCH * SIZE * SIZE).map(() => (rand() - 0.5) * 4);
    await writeTorchFile(path.join(dir, 'batches.pth'), {
      images: tensorRecord('float32', [BATCHES, BATCH, 1, SIZE, SIZE], images),
    });
    const averaged = Number((await runPython(referenceScript('swa_update_bn.py'), [dir, ...files])).stdout.trim());
    expect(averaged).toBe(3);

    const model = resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'imagenet' });
    const names = model
      .stateDictKeys()
      .filter((k) => k.kind === 'parameter')
      .map((k) => k.name);
    const avg = new WeightAverage(names);
    for (const f of files) avg.add((await readTorchFile(f)) as Map<string, TensorRecord>);
    expect(avg.count).toBe(3);
    // The averaged model starts from the first snapshot's buffers, as AveragedModel's deepcopy does.
    const start = (await readTorchFile(files[0]!)) as Map<string, TensorRecord>;
    for (const [k, v] of avg.parametersDict()) start.set(k, v);
    await model.loadStateDict(start);
    model.eval(); // update_bn must switch to train mode itself, and back
    const per = BATCH * SIZE * SIZE;
    const batches = Array.from({ length: BATCHES }, (_, b) =>
      Tensor.fromArray(images.slice(b * per, (b + 1) * per), [BATCH, 1, SIZE, SIZE]),
    );
    expect(await updateBatchNorm(model, batches)).toBe(BATCHES);
    expect(model.training).toBe(false);

    const ours = model.stateDict();
    const ref = (await readTorchFile(path.join(dir, 'reference-swa.pth'))) as Map<string, TensorRecord>;
    expect([...ours.keys()]).toEqual([...ref.keys()]);
    let worst = { name: '', diff: 0 };
    for (const [name, r] of ref) {
      const d = maxAbsDiff(ours.get(name)!, r);
      if (d > worst.diff) worst = { name, diff: d };
      if (name.endsWith('num_batches_tracked'))
        expect(Number((ours.get(name)!.data as BigInt64Array)[0])).toBe(BATCHES);
    }
    console.log(`largest difference from PyTorch: ${worst.diff.toExponential(2)} (${worst.name})`);
    expect(worst.diff).toBeLessThanOrEqual(1e-5);

    // The averaged model's predictions (eval mode: the recomputed statistics) match too.
    const logits = await model.forward(batches[0]!);
    const refLogits = ((await readTorchFile(path.join(dir, 'reference-logits.pth'))) as Map<string, TensorRecord>).get(
      'logits',
    )!;
    const ourLogits = logits.toFloat32Array();
    let d = 0;
    for (let i = 0; i < ourLogits.length; i++)
      d = Math.max(d, Math.abs(ourLogits[i]! - (refLogits.data as Float32Array)[i]!));
    expect(d).toBeLessThanOrEqual(1e-4);
    logits.dispose();
    for (const b of batches) b.dispose();
    model.dispose();
  }, 240_000);
});

describe('WeightAverage', () => {
  it('is the running mean (first copied), checks names and shapes, and restores', () => {
    const rec = (v: number[]) => ({ dtype: 'float32', shape: [v.length], data: Float32Array.from(v) }) as TensorRecord;
    const avg = new WeightAverage(['w']);
    avg.add(
      new Map([
        ['w', rec([1, 2])],
        ['buf', rec([9])],
      ]),
    );
    avg.add(new Map([['w', rec([3, 6])]]));
    avg.add(new Map([['w', rec([5, 1])]]));
    expect(Array.from(avg.parametersDict().get('w')!.data as Float32Array)).toEqual([3, 3]);
    expect(() => avg.add(new Map([['x', rec([1, 2])]]))).toThrow(/no parameter 'w'/);
    expect(() => avg.add(new Map([['w', rec([1, 2, 3])]]))).toThrow(/shape \[3\], the average has \[2\]/);
    expect(avg.count).toBe(3);
    const again = WeightAverage.restore(['w'], avg.parametersDict(), 3);
    again.add(new Map([['w', rec([7, 7])]]));
    expect(Array.from(again.parametersDict().get('w')!.data as Float32Array)).toEqual([4, 4]);
  });
});
