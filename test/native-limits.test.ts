// Numbers at and past the ends of their types, and a trainer used after close(): each is refused
// with a RangeError or an Error naming it. Before, a JS number outside an integer type's range was
// cast to it (undefined behaviour: on x86 a seed of 1e300 silently became 2^63, and the sanitizer
// build aborts), a shape whose product overflows int64 was compared wrapped, and a closed trainer's
// batchesPerEpoch()/runEpoch()/timeSteps() dereferenced its released loader (a segfault), and a
// progress message dropped because JS was busy was read after it had been deleted (a use after free
// that scripts/sanitize.sh reports; a normal build reads freed memory and goes on).
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { getNumThreads, manualSeed, openData, resnet, setNumThreads, SGD, Tensor } from '../lib';
import { native } from '../lib/binding';
import { writeIdxDataset } from './helpers/idx';
import { tempDir } from './helpers/native';

const data = writeIdxDataset(path.join(tempDir('limits'), 'd'), 24, 8);
const busyData = writeIdxDataset(path.join(tempDir('limits-busy'), 'd'), 64, 8);
// Past 2^53 (where doubles stop being exact) for counts and epochs; past 2^64 for seeds.
const huge = [1e300, 2 ** 64, 2 ** 55, Infinity, NaN];
const hugeSeeds = [1e300, 2 ** 64, Infinity, NaN];

describe('numbers outside their integer type are refused, not cast', () => {
  it('manualSeed', () => {
    for (const v of [...hugeSeeds, -1, 0.5])
      expect(() => manualSeed(v)).toThrow(/seed must be an integer in \[0, 2\^64\)/);
    manualSeed(2 ** 63); // in range: fine
  });

  it('tensor shapes: out-of-range dimensions and products that overflow int64', () => {
    for (const v of huge)
      expect(() => Tensor.fromArray(new Float32Array(0), [v])).toThrow(/shape\[0\] must be a non-negative integer/);
    expect(() => Tensor.fromArray(new Float32Array(0), [2 ** 40, 2 ** 40])).toThrow(
      /has more elements than any data can hold/,
    );
    expect(() => Tensor.fromArray(new Float32Array(1), [2 ** 32, 2 ** 32])).toThrow(RangeError); // wraps to 0 in int64
    // With a 0 the count is 0, but LibTorch refuses sizes whose product overflows anyway.
    expect(() => Tensor.fromArray(new Float32Array(0), [2 ** 40, 2 ** 40, 0])).toThrow(/overflow/);
  });

  it('model sizes', () => {
    for (const v of [1e300, 2 ** 64, Infinity]) {
      expect(() => resnet('resnet18', { numClasses: v })).toThrow(/numClasses must be an integer >= 1/);
      expect(() => resnet('resnet18', { inChannels: v })).toThrow(/inChannels must be an integer >= 1/);
    }
    const model = resnet('resnet18', { numClasses: 2, stem: 'cifar' });
    expect(() => model.native.replaceClassifier(1e300)).toThrow(/numClasses must be an integer >= 1/);
    model.dispose();
  });

  it('dataset samples and loaders: seeds, epochs, batch sizes, start batches', () => {
    const { train, val } = openData(`fashion-mnist:${data}`, { augment: true });
    try {
      for (const v of hugeSeeds)
        expect(() => train.native.get(0, v, 0)).toThrow(/seed must be an integer in \[0, 2\^64\)/);
      for (const v of huge) {
        expect(() => train.native.get(0, 0, v)).toThrow(/epoch must be an integer >= 0/);
        expect(() => train.native.loader({ batchSize: v })).toThrow(RangeError);
      }
      const loader = train.loader({ batchSize: 4, workers: 1 });
      for (const v of huge) expect(() => loader.startEpoch(v)).toThrow(/epoch must be an integer >= 0/);
      for (const v of [1e300, -1e300, Infinity])
        expect(() => loader.startEpoch(0, v)).toThrow(/startBatch must be an integer/);
      expect(() => loader.startEpoch(0, 7)).toThrow(/start batch must be in \[0, 6\], got 7/);
      loader.dispose();
    } finally {
      train.dispose();
      val.dispose();
    }
  });

  it('optimizer state from a file: fractional or out-of-range indices and steps', () => {
    const model = resnet('resnet18', { numClasses: 2, stem: 'cifar' });
    const opt = new (native().NativeOptimizer)(model.native, 'adam', { lr: 1e-3 });
    const record = (shape: number[]) => ({
      dtype: 'float32',
      shape,
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
    });
    const p0 = model.native.stateDictKeys()[0]!.shape;
    const good = opt.exportState() as { kind: string; param_groups: unknown[] };
    const state = (index: number, step: number) => ({
      ...good,
      state: [{ index, step, exp_avg: record(p0), exp_avg_sq: record(p0) }],
    });
    opt.importState(state(0, 3)); // well-formed: accepted
    for (const step of [NaN, 1e300, -1, 2.5])
      expect(() => opt.importState(state(0, step))).toThrow(/step must be an integer >= 0/);
    for (const index of [0.5, 1e300, -1, NaN])
      expect(() => opt.importState(state(index, 1))).toThrow(/optimizer state refers to parameter/);
    model.dispose();
  });
});

describe('the native trainer', () => {
  it('refuses out-of-range options', () => {
    const { train, val } = openData(`fashion-mnist:${data}`);
    const model = resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'cifar' });
    const opt = new SGD(model, { lr: 0.01 });
    const make = (extra: Record<string, unknown>) =>
      new (native().NativeTrainer)(model.native, opt.native, {
        train: train.native,
        val: val.native,
        batchSize: 8,
        ...extra,
      });
    expect(() => make({ batchSize: 1e300 })).toThrow(/batchSize must be an integer >= 1/);
    expect(() => make({ evalBatchSize: 2 ** 64 })).toThrow(/evalBatchSize must be an integer >= 1/);
    for (const v of [...hugeSeeds, -1])
      expect(() => make({ seed: v })).toThrow(/seed must be an integer in \[0, 2\^64\)/);
    for (const v of [1e10, NaN, -1, 0.5])
      expect(() => make({ workers: v })).toThrow(/workers must be an integer in \[0, 256\]/);
    for (const v of [0, 1e10, NaN])
      expect(() => make({ prefetch: v })).toThrow(/prefetch must be an integer in \[1, 1024\]/);
    const trainer = make({});
    const lrs = new Float64Array(trainer.batchesPerEpoch()).fill(0.01);
    for (const v of huge) expect(() => trainer.runEpoch({ epoch: v, lrs })).toThrow(/epoch must be an integer >= 0/);
    for (const v of [...huge, -1, 4])
      expect(() => trainer.runEpoch({ epoch: 0, lrs, startBatch: v })).toThrow(
        /startBatch must be an integer in \[0, 3\]/,
      );
    expect(() => trainer.runEpoch({ epoch: 0, lrs, progressEvery: NaN })).toThrow(/progressEvery must be a number/);
    trainer.close();
    model.dispose();
    train.dispose();
    val.dispose();
  });

  it('a JS thread too busy for progress messages: they are dropped, the epoch completes', async () => {
    const { train, val } = openData(`fashion-mnist:${busyData}`);
    const model = resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'imagenet' });
    const opt = new SGD(model, { lr: 0.01 });
    // Batch 2: 32 batches, each with a progress message; the queue holds 8. One LibTorch thread, so
    // the spinning JS thread below does not stall an OpenMP team that needs its core.
    const threads = getNumThreads();
    setNumThreads(1);
    const trainer = new (native().NativeTrainer)(model.native, opt.native, {
      train: train.native,
      batchSize: 2,
      workers: 1,
    });
    let heard = 0;
    const done = trainer.runEpoch({ epoch: 0, lrs: new Float64Array(32).fill(0.01) }, () => heard++);
    const until = Date.now() + 4000;
    while (Date.now() < until); // the JS thread blocked while the native thread trains
    const r = await done;
    setNumThreads(threads);
    console.log(`${heard} of 32 progress messages delivered`);
    expect(r.batches).toBe(32);
    expect(heard).toBeLessThan(32);
    trainer.close();
    model.dispose();
    train.dispose();
    val.dispose();
  });

  it('after close(): every method but close() says the trainer is closed, nothing crashes', async () => {
    const { train, val } = openData(`fashion-mnist:${data}`);
    const model = resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'cifar' });
    const opt = new SGD(model, { lr: 0.01 });
    const trainer = new (native().NativeTrainer)(model.native, opt.native, {
      train: train.native,
      val: val.native,
      batchSize: 8,
    });
    const lrs = new Float64Array(trainer.batchesPerEpoch()).fill(0.01);
    const r = await trainer.runEpoch({ epoch: 0, lrs }, () => {});
    expect(r.batches).toBe(3);
    trainer.close();
    trainer.close(); // idempotent
    expect(() => trainer.batchesPerEpoch()).toThrow(/trainer is closed/);
    expect(() => trainer.runEpoch({ epoch: 1, lrs })).toThrow(/trainer is closed/);
    expect(() => trainer.evaluate()).toThrow(/trainer is closed/);
    expect(() => trainer.timeSteps({ steps: 1 })).toThrow(/trainer is closed/);
    model.dispose();
    train.dispose();
    val.dispose();
  });
});
