// Errors a user meets first (issue 14): each names the option and the bad value, so the reader sees
// what to change, instead of a LibTorch message ("Target 8 is out of bounds"), a TypeError from
// inside the library ("Cannot read properties of undefined") or a run that silently trains nothing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeValue } from '../lib/errors';
import { buildCommand } from '../lib/binding';
import {
  fit,
  isDeviceSpec,
  isResNetArch,
  openData,
  resnet,
  SGD,
  Tensor,
  trainStep,
  WarmRestarts,
  type FitOptions,
} from '../lib';
import { tempDir } from './helpers/native';
import { writeIdxDataset } from './helpers/idx';

const data = writeIdxDataset(path.join(tempDir('user-errors'), 'd'), 40, 20);

/** fit() on 10-class data with everything right except `broken`; returns the error. */
async function fitError(broken: (o: FitOptions) => FitOptions, numClasses = 10): Promise<Error> {
  const { train, val } = openData(`fashion-mnist:${data}`, { augment: false });
  const model = resnet('resnet18', { numClasses, inChannels: 1, seed: 0 });
  const options: FitOptions = {
    model,
    optimizer: new SGD(model, { lr: 0.05 }),
    schedule: new WarmRestarts({ lr: 0.05, t0: 1 }),
    train,
    val,
    epochs: 1,
    batchSize: 8,
  };
  try {
    const err = await fit(broken(options)).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    if (!err) throw new Error('fit() did not fail');
    return err;
  } finally {
    model.dispose();
    train.dispose();
    val.dispose();
  }
}

describe('errors that name the problem', () => {
  it('a string where a number belongs is quoted and called a string', async () => {
    const err = await fitError((o) => ({ ...o, epochs: '2' as unknown as number }));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toBe("epochs must be an integer >= 1, got '2' (a string)");
    const zero = await fitError((o) => ({ ...o, batchSize: 0 }));
    expect(zero).toBeInstanceOf(RangeError);
    expect(zero.message).toBe('batchSize must be an integer >= 1, got 0');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue([1, 2])).toBe('an array of 2');
    expect(describeValue(new Map())).toBe('a Map');
  });

  it('a missing optimizer, model, schedule or data set is named', async () => {
    const noOptimizer = await fitError((o) => ({ ...o, optimizer: undefined as unknown as FitOptions['optimizer'] }));
    expect(noOptimizer.message).toMatch(
      /^fit\(\): optimizer must be an optimizer built for the model, such as new SGD\(model, .*got undefined$/,
    );
    expect(noOptimizer.message).not.toMatch(/Cannot read properties/);
    expect((await fitError((o) => ({ ...o, model: undefined as unknown as FitOptions['model'] }))).message).toMatch(
      /^fit\(\): model must be a ResNet/,
    );
    expect((await fitError((o) => ({ ...o, schedule: 0.05 as unknown as FitOptions['schedule'] }))).message).toMatch(
      /^fit\(\): schedule must be a schedule .*got 0\.05$/,
    );
    expect((await fitError((o) => ({ ...o, train: 'fashion-mnist' as unknown as FitOptions['train'] }))).message).toBe(
      "fit(): train must be a data set (from openData() or a Dataset), got 'fashion-mnist' (a string)",
    );
  });

  it('an SGD built for another model is refused, by fit() and by trainStep()', async () => {
    const other = resnet('resnet18', { numClasses: 10, inChannels: 1, seed: 1 });
    try {
      const err = await fitError((o) => ({ ...o, optimizer: new SGD(other, { lr: 0.05 }) }));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toMatch(
        /the optimizer was built for another model's parameters, so training would never change this model/,
      );
      const model = resnet('resnet18', { numClasses: 10, inChannels: 1, seed: 0 });
      const x = Tensor.fromArray(new Float32Array(2 * 28 * 28), [2, 1, 28, 28]);
      const y = Tensor.fromArray(new BigInt64Array(2), [2]);
      await expect(trainStep(model, new SGD(other, { lr: 0.1 }), x, y)).rejects.toThrow(
        /built for another model's parameters/,
      );
      await expect(trainStep(model, new SGD(model, { lr: 0.1 }), x, y)).resolves.toMatchObject({
        loss: expect.any(Number),
      });
      model.dispose();
    } finally {
      other.dispose();
    }
  });

  it("numClasses smaller than the data's classes names numClasses and the classes, before the first batch", async () => {
    const err = await fitError((o) => o, 5);
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toMatch(
      /^numClasses: the model has 5 outputs \(numClasses: 5\), but the training data has 10 classes \(labels 0\.\.9\); build it with resnet\(arch, \{ numClasses: 10 \}\)$/,
    );
    expect(err.message).not.toMatch(/out of bounds/);
  });

  it('a misspelt dataset kind lists the kinds and suggests the nearest', () => {
    let message = '';
    try {
      openData('fashion-mnst');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(
      /^unknown dataset 'fashion-mnst': not a dataset kind \(fashion-mnist, mnist, cifar10, image-folder; .*\) nor a folder \(.*fashion-mnst does not exist\); did you mean 'fashion-mnist'\?$/,
    );
    expect(() => openData('imagenet')).toThrow(
      /unknown dataset 'imagenet': not a dataset kind \(fashion-mnist, mnist, cifar10, image-folder/,
    );
  });

  it('the missing-addon message gives the command that works where the package stands', () => {
    expect(buildCommand(path.join('/home/u/app/node_modules/libtorch-sgdr'))).toBe('npm rebuild libtorch-sgdr');
    expect(buildCommand(path.resolve(__dirname, '..'))).toBe('npm run build:native');
  });

  it('run-time strings are narrowed with type guards (ResNetArch and DeviceSpec are strict types)', () => {
    expect(RESNETS.filter(isResNetArch)).toEqual(['resnet18', 'resnet152']);
    expect(
      ['auto', 'cpu', 'cuda', 'cuda:0', 'cuda:12', 'gpu', 'cuda:', 'cuda:01', 'cuda:-1', 7].filter(isDeviceSpec),
    ).toEqual(['auto', 'cpu', 'cuda', 'cuda:0', 'cuda:12']);
    // @ts-expect-error: 'resnet19' is not a ResNetArch; this line must not compile (npm run typecheck)
    expect(() => resnet('resnet19')).toThrow(/unknown arch 'resnet19'/);
    // @ts-expect-error: 'gpu' is not a DeviceSpec
    expect(() => resnet('resnet18', { device: 'gpu' })).toThrow(/device 'gpu' is not a valid device/);
    expect(fs.existsSync(data)).toBe(true);
  });
});

const RESNETS: unknown[] = ['resnet18', 'resnet19', 'ResNet18', 'resnet152', 18];
