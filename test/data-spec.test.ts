// Dataset descriptors: kinds, folders, detection of a plain folder, option checks, clear errors.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataSpecError, DEFAULT_FASHION_MNIST_DIR, parseDataSpec } from '../lib';
import { tempDir } from './helpers/native';

describe('parseDataSpec', () => {
  const dir = tempDir('spec');
  const folder = path.join(dir, 'imgs');
  fs.mkdirSync(path.join(folder, 'train', 'a'), { recursive: true });
  const cifar = path.join(dir, 'cifar');
  fs.mkdirSync(path.join(cifar, 'cifar-10-batches-bin'), { recursive: true });
  const idx = path.join(dir, 'idx');
  fs.mkdirSync(idx);
  fs.writeFileSync(path.join(idx, 'train-images-idx3-ubyte.gz'), '');

  it('kinds with a folder, train and val specs with their limits', () => {
    const s = parseDataSpec(`mnist:${idx}`, { limitTrain: 2000, limitVal: 1000, augment: false });
    expect(s.kind).toBe('mnist');
    expect(s.train).toEqual({ kind: 'mnist', root: idx, split: 'train', limit: 2000, augment: false });
    expect(s.val).toEqual({ kind: 'mnist', root: idx, split: 'val', limit: 1000, augment: false });
    expect(parseDataSpec(`cifar10:${cifar}`).train.kind).toBe('cifar10');
    expect(parseDataSpec(`CIFAR-10:${cifar}`).kind).toBe('cifar10');
    const f = parseDataSpec(`image-folder:${folder}`, {
      imageSize: 160,
      resize: 182,
      mean: 0.5,
      std: [0.2, 0.2, 0.2],
      hflip: false,
    });
    expect(f.train).toEqual({
      kind: 'image-folder',
      root: folder,
      split: 'train',
      imageSize: 160,
      resize: 182,
      mean: [0.5],
      std: [0.2, 0.2, 0.2],
      hflip: false,
    });
    expect(parseDataSpec(`fashion-mnist:${path.relative(process.cwd(), idx)}`).root).toBe(idx); // resolved
  });

  it.runIf(fs.existsSync(DEFAULT_FASHION_MNIST_DIR))("'fashion-mnist' alone means the installed copy", () => {
    expect(parseDataSpec('fashion-mnist').train.root).toBe(DEFAULT_FASHION_MNIST_DIR);
  });

  it('a plain folder is recognised by its layout', () => {
    expect(parseDataSpec(folder).kind).toBe('image-folder');
    expect(parseDataSpec(cifar).kind).toBe('cifar10');
    expect(() => parseDataSpec(idx)).toThrow(/holds IDX files: say fashion-mnist:.* or mnist:/);
    expect(() => parseDataSpec(dir)).toThrow(/cannot tell what dataset .* holds/);
  });

  it('errors name the descriptor, the folder or the option', () => {
    expect(() => parseDataSpec('svhn:/data')).toThrow(
      /unknown dataset kind 'svhn' in 'svhn:\/data' \(expected fashion-mnist, mnist, cifar10, image-folder, or a folder\)/,
    );
    expect(() => parseDataSpec('mnist')).toThrow(/mnist needs a folder: mnist:DIR/);
    expect(() => parseDataSpec(`cifar10:${path.join(dir, 'nope')}`)).toThrow(/cifar10: folder not found: .*nope/);
    expect(() => parseDataSpec(path.join(dir, 'nowhere'))).toThrow(/dataset folder not found: .*nowhere/);
    expect(() => parseDataSpec('')).toThrow(TypeError);
    const err = (() => {
      try {
        parseDataSpec(`mnist:${path.join(dir, 'x')}`);
      } catch (e) {
        return e;
      }
    })() as DataSpecError;
    expect(err).toBeInstanceOf(DataSpecError);
    expect(err.path).toBe(path.join(dir, 'x'));
    expect(() => parseDataSpec(folder, { limitTrain: -1 })).toThrow(/limitTrain must be an integer >= 0, got -1/);
    expect(() => parseDataSpec(folder, { limitVal: 1.5 })).toThrow(/limitVal must be an integer >= 0, got 1.5/);
    expect(() => parseDataSpec(folder, { imageSize: 0 })).toThrow(/imageSize must be an integer >= 1/);
    expect(() => parseDataSpec(folder, { std: [0.2, 0] })).toThrow(/std values must be > 0/);
    expect(() => parseDataSpec(folder, { augment: 'yes' as unknown as boolean })).toThrow(/augment must be a boolean/);
  });
});
