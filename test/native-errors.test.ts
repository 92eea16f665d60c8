// Bad input gets a clear error naming the problem, and the process lives on.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdamW, Dataset, DisposedError, evaluate, resnet, SGD, Tensor, trainStep, type DeviceSpec } from '../lib';
import { writeIdxDataset } from './helpers/idx';
import { tempDir } from './helpers/native';

const batch = (n: number, c = 3, s = 32) => Tensor.fromArray(new Float32Array(n * c * s * s).fill(0.1), [n, c, s, s]);
const labels = (...v: number[]) => Tensor.fromArray(BigInt64Array.from(v.map(BigInt)), [v.length]);

describe('errors are clear and never abort the process', () => {
  const model = resnet('resnet18', { numClasses: 10, stem: 'cifar' });

  it('wrong input shape', async () => {
    await expect(model.forward(batch(2, 1))).rejects.toThrow(
      /input must have shape \[N, 3, H, W\], got \[2, 1, 32, 32\]/,
    );
    await expect(model.forward(Tensor.fromArray(new Float32Array(6), [2, 3]))).rejects.toThrow(RangeError);
    await expect(model.forward('x' as unknown as Tensor)).rejects.toThrow(TypeError);
  });

  it('the error stack points at the caller', async () => {
    const err = (await model.forward(batch(1, 2)).catch((e: Error) => e)) as Error;
    expect(err.stack).toContain('native-errors.test.ts');
  });

  it('unknown arch, bad numClasses/stem/device', () => {
    // @ts-expect-error: ResNetArch is strict, so the literal does not compile; the native check still names it
    expect(() => resnet('resnet19')).toThrow(/unknown arch 'resnet19'/);
    expect(() => resnet('resnet18', { numClasses: 0 })).toThrow(/numClasses must be an integer >= 1/);
    expect(() => resnet('resnet18', { stem: 'tiny' as 'cifar' })).toThrow(/stem must be 'imagenet' or 'cifar'/);
    expect(() => resnet('resnet18', { device: 'tpu' as DeviceSpec })).toThrow(/device 'tpu' is not a valid device/);
  });

  it("device 'cuda' without CUDA says so; 'auto' falls back to the CPU", () => {
    expect(() => resnet('resnet18', { device: 'cuda' })).toThrow(/CUDA is not available/);
    const m = resnet('resnet18', { device: 'auto' });
    expect(m.device).toBe('cpu');
    m.dispose();
  });

  it('missing, corrupt and foreign weights files', async () => {
    const dir = tempDir('errors');
    await expect(model.loadStateDict(path.join(dir, 'nope.pth'))).rejects.toThrow(
      /weights file not found: .*nope\.pth/,
    );
    const corrupt = path.join(dir, 'corrupt.pth');
    fs.writeFileSync(corrupt, Buffer.from('PK\u0003\u0004 definitely not a zip archive'));
    await expect(model.loadStateDict(corrupt)).rejects.toThrow(/cannot read weights file .*corrupt\.pth/);
    // A failed load changes nothing: every entry is compared with a copy taken before it. The files
    // below share entries of the same shape with the model (resnet50's bn1 and layer1 biases; the
    // 5-class cifar resnet18 has every entry but fc's), so a load that copied entry by entry until
    // the first mismatch would change some of them.
    const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    const snapshot = () =>
      new Map([...model.stateDict()].map(([k, v]) => [k, Buffer.from(bytes(v.data as ArrayBufferView))]));
    const unchanged = (before: Map<string, Buffer>) => {
      const after = snapshot();
      expect([...after.keys()]).toEqual([...before.keys()]);
      for (const [k, v] of before) expect(after.get(k)!.equals(v), k).toBe(true);
    };
    const other = resnet('resnet50', { numClasses: 10, seed: 7 });
    const otherFile = path.join(dir, 'resnet50.pth');
    await other.saveStateDict(otherFile);
    other.dispose();
    let before = snapshot();
    await expect(model.loadStateDict(otherFile)).rejects.toThrow(
      /error\(s\) loading state dict into resnet18: .*(size mismatch|unexpected key)/,
    );
    unchanged(before);
    const mismatch = resnet('resnet18', { numClasses: 5, stem: 'cifar', seed: 7 });
    const mismatchFile = path.join(dir, 'r18-5.pth');
    await mismatch.saveStateDict(mismatchFile);
    before = snapshot();
    await expect(model.loadStateDict(mismatchFile)).rejects.toThrow(
      /size mismatch for fc\.weight: copying a param with shape \[5, 512\] from checkpoint, the shape in current model is \[10, 512\]/,
    );
    unchanged(before);
    const partial = new Map(mismatch.stateDict());
    partial.delete('fc.weight');
    partial.delete('fc.bias');
    await expect(model.loadStateDict(partial)).rejects.toThrow(/missing key\(s\): "fc.weight", "fc.bias"/);
    expect(await model.loadStateDict(partial, { strict: false })).toEqual({
      missing: ['fc.weight', 'fc.bias'],
      unexpected: [],
    });
    mismatch.dispose();
  });

  it('NaN/negative LR, negative momentum, bad betas, nesterov without momentum', () => {
    expect(() => new SGD(model, { lr: NaN })).toThrow(/lr must be a finite number >= 0, got nan/i);
    expect(() => new SGD(model, { lr: -0.1 })).toThrow(RangeError);
    expect(() => new SGD(model, { lr: 0.1, momentum: -0.9 })).toThrow(
      /momentum must be a finite number >= 0, got -0.9/,
    );
    expect(() => new SGD(model, { lr: 0.1, nesterov: true })).toThrow(/nesterov momentum requires momentum > 0/);
    expect(() => new AdamW(model, { betas: [1.5, 0.9] })).toThrow(/betas\[0\] must be in \[0, 1\)/);
    expect(() => new SGD(model, { lr: 0.1, weightDecay: -1 })).toThrow(/weightDecay/);
    const opt = new SGD(model, { lr: 0.1 });
    expect(() => opt.setLr(NaN)).toThrow(/lr must be a finite number >= 0/);
    expect(() => opt.setLr(Infinity)).toThrow(RangeError);
    expect(opt.lr).toBe(0.1);
  });

  it('bad targets and disposed tensors', async () => {
    const opt = new SGD(model, { lr: 0.01 });
    await expect(trainStep(model, opt, batch(2), labels(1, 10))).rejects.toThrow(
      /target class indices must be in \[0, 10\), found 10/,
    );
    await expect(trainStep(model, opt, batch(2), labels(1))).rejects.toThrow(/target must have shape \[2\]/);
    await expect(evaluate(model, batch(2), Tensor.fromArray(new Float32Array(2), [2]))).rejects.toThrow(/int64/);
    const x = batch(1);
    x.dispose();
    x.dispose(); // idempotent
    expect(x.disposed).toBe(true);
    await expect(model.forward(x)).rejects.toThrow(/disposed/);
  });

  it('every use after dispose() is a DisposedError (instanceof, code ERR_SGDR_DISPOSED)', async () => {
    const isDisposed = (e: unknown, what: RegExp) => {
      expect(e).toBeInstanceOf(DisposedError);
      expect((e as DisposedError).code).toBe('ERR_SGDR_DISPOSED');
      expect((e as Error).message).toMatch(what);
    };
    const x = batch(1);
    x.dispose();
    isDisposed(await model.forward(x).catch((e: unknown) => e), /input is a disposed Tensor/);
    try {
      x.toArray();
      expect.unreachable();
    } catch (e) {
      isDisposed(e, /Tensor is disposed/);
    }
    const m = resnet('resnet18', { numClasses: 10, stem: 'cifar' });
    expect(m.disposed).toBe(false);
    m.dispose();
    expect(m.disposed).toBe(true);
    isDisposed(await m.forward(batch(1)).catch((e: unknown) => e), /model is disposed/);
    try {
      m.stateDict();
      expect.unreachable();
    } catch (e) {
      isDisposed(e, /model is disposed/);
    }
    const ds = Dataset.open({
      kind: 'fashion-mnist',
      root: writeIdxDataset(tempDir('disposed'), 8, 4),
      split: 'train',
    });
    const loader = ds.loader({ batchSize: 4 });
    ds.dispose();
    try {
      ds.get(0);
      expect.unreachable();
    } catch (e) {
      isDisposed(e, /dataset is disposed/);
    }
    loader.dispose();
    isDisposed(await loader.next().catch((e: unknown) => e), /data loader is disposed/);
  });

  it('bad tensor data', () => {
    expect(() => Tensor.fromArray(new Float32Array(5), [2, 3])).toThrow(
      /data has 5 elements but shape \[2, 3\] needs 6/,
    );
    expect(() => Tensor.fromArray(new Float32Array(4), [2, -2])).toThrow(/shape\[1\] must be a non-negative integer/);
    expect(() => Tensor.fromArray([1, 2] as unknown as Float32Array, [2])).toThrow(TypeError);
  });

  it('the process is still alive and the model still works after all of that', async () => {
    model.eval();
    const y = await model.forward(batch(2));
    expect(y.shape).toEqual([2, 10]);
    expect(Array.from(y.toFloat32Array()).every(Number.isFinite)).toBe(true);
  });
});
