/**
 * The performance levers compute what the plain LibTorch path computes: the fused SGD bit for bit,
 * the convolution-as-matmul to rounding, and the caching allocator changes nothing but where memory
 * comes from, and the loader's buffer pool nothing but where batches are written. Each is compared
 * with the lever off, in the same process, and each comparison checks the lever's use counter
 * (leverUses(): how many times it took its own path), so "on equals off" cannot pass because the
 * lever never ran.
 */
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Dataset, resnet, SGD, Tensor, trainStep } from '../lib';
import { expectSameEpoch, idxSplit, readEpoch, writeIdxDataset } from './helpers/data';
import { tempDir } from './helpers/native';
import { benchNative, type Levers } from '../lib/bench/native';

const defaults: Levers = {
  fusedSgd: true,
  convAsMatmul: true,
  cachingAllocator: true,
  channelsLastInput: true,
  loaderBufferPool: true,
};
afterEach(() => {
  benchNative().setLevers(defaults);
});

function batch(n: number, size: number): { x: Tensor; y: Tensor } {
  const x = Tensor.fromArray(
    new Float32Array(n * 3 * size * size).map((_, i) => Math.sin(i * 0.731)),
    [n, 3, size, size],
  );
  const y = Tensor.fromArray(
    new BigInt64Array(n).map((_, i) => BigInt((i * 7) % 10)),
    [n],
    { dtype: 'int64' },
  );
  return { x, y };
}

/** How many times each lever took its own path while `work` ran. */
async function counting<T>(work: () => Promise<T>): Promise<{ result: T; uses: Record<keyof Levers, number> }> {
  const before = benchNative().leverUses();
  const result = await work();
  const after = benchNative().leverUses();
  const uses = Object.fromEntries(
    Object.keys(before).map((k) => [k, after[k as keyof Levers] - before[k as keyof Levers]]),
  );
  return { result, uses: uses as Record<keyof Levers, number> };
}

/** Parameters after `steps` SGD steps with the given levers, the losses, and the levers' uses. */
async function train(levers: Partial<Levers>, options: ConstructorParameters<typeof SGD>[1], steps = 3, size = 32) {
  const { result, uses } = await counting(() => trainWith(levers, options, steps, size));
  return { ...result, uses };
}

async function trainWith(
  levers: Partial<Levers>,
  options: ConstructorParameters<typeof SGD>[1],
  steps: number,
  size: number,
) {
  benchNative().setLevers({ ...defaults, ...levers });
  const model = resnet('resnet18', { numClasses: 10, seed: 0 });
  const optimizer = new SGD(model, options);
  const { x, y } = batch(8, size);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push((await trainStep(model, optimizer, x, y)).loss);
  const params = model.native
    .stateDict()
    .filter((r) => r.dtype === 'float32')
    .map((r) => r.data as Float32Array);
  model.dispose();
  return { losses, params };
}

function relativeL2(a: Float32Array[], b: Float32Array[]): number {
  let num = 0,
    den = 0;
  for (let k = 0; k < a.length; k++)
    for (let i = 0; i < a[k]!.length; i++) {
      num += (a[k]![i]! - b[k]![i]!) ** 2;
      den += b[k]![i]! ** 2;
    }
  return Math.sqrt(num / den);
}

function differing(a: Float32Array[], b: Float32Array[]): number {
  let n = 0;
  for (let k = 0; k < a.length; k++) for (let i = 0; i < a[k]!.length; i++) if (!Object.is(a[k]![i], b[k]![i])) n++;
  return n;
}

describe('performance levers', () => {
  it.each([
    [{ lr: 0.05, momentum: 0.9, weightDecay: 5e-4 }],
    [{ lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: true }],
    [{ lr: 0.1, momentum: 0.5, dampening: 0.3 }],
    [{ lr: 0.1 }],
  ])('fused SGD equals LibTorch SGD::step bit for bit (%j)', async (options) => {
    const plain = await train({ fusedSgd: false, convAsMatmul: false }, options);
    const fused = await train({ fusedSgd: true, convAsMatmul: false }, options);
    expect(fused.uses.fusedSgd).toBe(3); // every step went through the fused pass
    expect(plain.uses.fusedSgd).toBe(0);
    expect(fused.losses).toEqual(plain.losses);
    expect(differing(fused.params, plain.params)).toBe(0);
  });

  it('convolutions with a 1x1 output as matmul: the same forward and gradients, to rounding', async () => {
    // Forward (train mode, batch statistics) and the gradient of one step (lr 1, no momentum: the
    // parameters move by exactly the gradient). Several steps would not do: training amplifies
    // rounding differences chaotically, as it does between any two convolution algorithms.
    const { x, y } = batch(8, 32);
    const run = async (on: boolean) => {
      benchNative().setLevers({ ...defaults, convAsMatmul: on });
      const model = resnet('resnet18', { numClasses: 10, seed: 0 });
      const initial = model.native
        .stateDict()
        .filter((r) => r.dtype === 'float32')
        .map((r) => (r.data as Float32Array).slice());
      const logits = (await model.forward(x)).toFloat32Array();
      const optimizer = new SGD(model, { lr: 1 });
      const loss = (await trainStep(model, optimizer, x, y)).loss;
      const after = model.native
        .stateDict()
        .filter((r) => r.dtype === 'float32')
        .map((r) => r.data as Float32Array);
      model.dispose();
      return { logits, loss, grads: after.map((a, k) => a.map((v, i) => initial[k]![i]! - v)) };
    };
    const { result: plain, uses: plainUses } = await counting(() => run(false));
    const { result: fast, uses: fastUses } = await counting(() => run(true));
    // ResNet-18's last stage at 32 px: 3x3 convolutions with a 1x1 output (forward and the step's forward).
    expect(fastUses.convAsMatmul).toBeGreaterThan(0);
    expect(plainUses.convAsMatmul).toBe(0);
    expect(relativeL2([fast.logits], [plain.logits])).toBeLessThan(1e-5);
    expect(Math.abs(fast.loss - plain.loss) / plain.loss).toBeLessThan(1e-5);
    let worst = 0;
    for (let k = 0; k < plain.grads.length; k++) {
      if (plain.grads[k]!.some((v) => v !== 0))
        worst = Math.max(worst, relativeL2([fast.grads[k]!], [plain.grads[k]!]));
    }
    expect(worst).toBeLessThan(1e-4);
    // 64 px: the last stage is 2x2, no convolution has a 1x1 output, so nothing changes at all.
    const plain64 = await train({ convAsMatmul: false }, { lr: 0.05, momentum: 0.9 }, 2, 64);
    const fast64 = await train({ convAsMatmul: true }, { lr: 0.05, momentum: 0.9 }, 2, 64);
    expect(fast64.uses.convAsMatmul).toBe(0);
    expect(differing(fast64.params, plain64.params)).toBe(0);
  });

  it('channels_last input: the same forward and gradients, to rounding', async () => {
    const { x, y } = batch(8, 32);
    const run = async (on: boolean) => {
      benchNative().setLevers({ ...defaults, channelsLastInput: on });
      const model = resnet('resnet18', { numClasses: 10, seed: 0 });
      const optimizer = new SGD(model, { lr: 1 });
      const loss = (await trainStep(model, optimizer, x, y)).loss;
      const params = model.native
        .stateDict()
        .filter((r) => r.dtype === 'float32')
        .map((r) => r.data as Float32Array);
      model.dispose();
      return { loss, params };
    };
    const { result: plain, uses: plainUses } = await counting(() => run(false));
    const { result: cl, uses: clUses } = await counting(() => run(true));
    expect(clUses.channelsLastInput).toBe(1); // the one step's batch
    expect(plainUses.channelsLastInput).toBe(0);
    console.log(
      `channels_last input: loss ${cl.loss} vs ${plain.loss}, parameters after a step rel L2 ${relativeL2(cl.params, plain.params)}`,
    );
    expect(Math.abs(cl.loss - plain.loss) / plain.loss).toBeLessThan(1e-5);
    expect(relativeL2(cl.params, plain.params)).toBeLessThan(1e-4);
  });

  it('the caching allocator changes no result and reuses memory', async () => {
    const off = await train({ cachingAllocator: false }, { lr: 0.05, momentum: 0.9 });
    const before = benchNative().cpuCacheStats();
    const on = await train({ cachingAllocator: true }, { lr: 0.05, momentum: 0.9 });
    const after = benchNative().cpuCacheStats();
    expect(differing(on.params, off.params)).toBe(0);
    expect(on.uses.cachingAllocator).toBeGreaterThan(0);
    expect(off.uses.cachingAllocator).toBe(0);
    expect(after.hits - before.hits).toBe(on.uses.cachingAllocator);
    expect(after.cachedBytes).toBeLessThanOrEqual(after.maxCachedBytes);
  });

  it('the loader without its buffer pool delivers the same batches', async () => {
    const dir = tempDir('pool');
    writeIdxDataset(dir, { train: idxSplit(40, 3), val: idxSplit(10, 4) });
    const epoch = async (pool: boolean) => {
      benchNative().setLevers({ ...defaults, loaderBufferPool: pool });
      const ds = Dataset.open({ kind: 'fashion-mnist', root: dir, split: 'train' });
      // 10 batches: more than the pool holds (prefetch + 2), so buffers come back and are reused.
      const loader = ds.loader({ batchSize: 4, seed: 1, workers: 2 });
      loader.startEpoch(2);
      const e = await readEpoch(loader);
      loader.dispose();
      ds.dispose();
      return e;
    };
    const off = await counting(() => epoch(false));
    const on = await counting(() => epoch(true));
    expect(off.uses.loaderBufferPool).toBe(0);
    expect(on.uses.loaderBufferPool).toBeGreaterThan(0);
    expectSameEpoch(off.result, on.result, expect);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('unknown levers and non-boolean values are refused', () => {
    expect(() => benchNative().setLevers({ turbo: true } as unknown as Levers)).toThrow(/unknown lever 'turbo'/);
    expect(() => benchNative().setLevers({ fusedSgd: 'yes' } as unknown as Levers)).toThrow(/must be a boolean/);
  });
});
