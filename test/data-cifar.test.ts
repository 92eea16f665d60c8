// CIFAR-10 binary batches: record layout, class names, folder layouts and size errors.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dataset, openData } from '../lib';
import { tempDir } from './helpers/native';
import { cifarBytes, maxAbsDiff, normalized, pseudoRandomBytes, readEpoch } from './helpers/data';

const MEAN = [0.4914, 0.4822, 0.4465];
const STD = [0.247, 0.2435, 0.2616];

function writeCifar(
  dir: string,
  perBatch: number,
): { train: Uint8Array; trainLabels: number[]; test: Uint8Array; testLabels: number[] } {
  fs.mkdirSync(dir, { recursive: true });
  const train = pseudoRandomBytes(5 * perBatch * 3072, 11);
  const trainLabels = Array.from({ length: 5 * perBatch }, (_, i) => (i * 7) % 10);
  for (let b = 0; b < 5; b++) {
    const s = b * perBatch;
    fs.writeFileSync(
      path.join(dir, `data_batch_${b + 1}.bin`),
      cifarBytes(trainLabels.slice(s, s + perBatch), train.subarray(s * 3072, (s + perBatch) * 3072)),
    );
  }
  const test = pseudoRandomBytes(perBatch * 3072, 12);
  const testLabels = Array.from({ length: perBatch }, (_, i) => (i * 3) % 10);
  fs.writeFileSync(path.join(dir, 'test_batch.bin'), cifarBytes(testLabels, test));
  return { train, trainLabels, test, testLabels };
}

describe('CIFAR-10 batches', () => {
  it('parse to the planar RGB bytes written, across the five train batches, in file order', async () => {
    const root = tempDir('cifar');
    const data = writeCifar(path.join(root, 'cifar-10-batches-bin'), 4);
    fs.writeFileSync(
      path.join(root, 'cifar-10-batches-bin', 'batches.meta.txt'),
      'plane\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n',
    );
    const opened = openData(`cifar10:${root}`, { augment: false }); // the nested folder is found
    expect([opened.train.size, opened.val.size]).toEqual([20, 4]);
    expect([opened.train.channels, opened.train.height, opened.train.width]).toEqual([3, 32, 32]);
    expect(opened.train.classNames.slice(0, 2)).toEqual(['plane', 'car']);
    expect(opened.train.source(6)).toMatch(/data_batch_2\.bin #2$/);
    const loader = opened.train.loader({ batchSize: 20, shuffle: false });
    const epoch = await readEpoch(loader);
    loader.dispose();
    const want = Float32Array.from(data.train, (v, i) => {
      const c = Math.floor(i / 1024) % 3;
      return normalized(v, MEAN[c]!, STD[c]!);
    });
    expect(maxAbsDiff(epoch.images[0]!, want)).toBeLessThan(1e-6);
    expect(epoch.labels[0]!.map(Number)).toEqual(data.trainLabels);
    opened.dispose();
  });

  it('default augmentation: pad-4 random crop + flip, deterministic per (seed, epoch, index)', () => {
    const root = tempDir('cifar-aug');
    const data = writeCifar(root, 2);
    const ds = Dataset.open({ kind: 'cifar10', root, split: 'train' });
    const plain = Dataset.open({ kind: 'cifar10', root, split: 'train', augment: false });
    const a = ds.get(3, { seed: 1, epoch: 0 }).toFloat32Array();
    expect(ds.get(3, { seed: 1, epoch: 0 }).toFloat32Array()).toEqual(a);
    // Across 20 draws the crop moves and sometimes flips: not all equal to the un-augmented sample.
    const base = plain.get(3).toFloat32Array();
    let differ = 0;
    for (let e = 0; e < 20; e++) if (maxAbsDiff(ds.get(3, { seed: 1, epoch: e }).toFloat32Array(), base) > 0) differ++;
    expect(differ).toBeGreaterThan(10);
    // Every augmented pixel is either padding (0 before normalization) or a pixel of the image.
    const allowed = new Set<number>();
    for (let i = 0; i < 3072; i++)
      allowed.add(
        Math.fround(normalized(data.train[3 * 3072 + i]!, MEAN[Math.floor(i / 1024)]!, STD[Math.floor(i / 1024)]!)),
      );
    for (let c = 0; c < 3; c++) allowed.add(Math.fround(normalized(0, MEAN[c]!, STD[c]!)));
    expect([...a].every((v) => allowed.has(v))).toBe(true);
    ds.dispose();
    plain.dispose();
  });

  it('missing batches, wrong file size and a bad meta file are named', () => {
    const root = tempDir('cifar-bad');
    writeCifar(root, 2);
    fs.rmSync(path.join(root, 'data_batch_4.bin'));
    expect(() => Dataset.open({ kind: 'cifar10', root, split: 'train' })).toThrow(
      /cifar10: .* has no data_batch_4\.bin \(expected data_batch_1\.bin \.\.\. data_batch_5\.bin and test_batch\.bin/,
    );
    fs.writeFileSync(path.join(root, 'test_batch.bin'), Buffer.alloc(3073 * 2 + 5));
    expect(() => Dataset.open({ kind: 'cifar10', root, split: 'val' })).toThrow(
      /test_batch\.bin has 6151 bytes, not a positive multiple of 3073/,
    );
    fs.writeFileSync(path.join(root, 'test_batch.bin'), Buffer.alloc(3073));
    fs.writeFileSync(path.join(root, 'batches.meta.txt'), 'a\nb\n');
    expect(() => Dataset.open({ kind: 'cifar10', root, split: 'val' })).toThrow(
      /batches\.meta\.txt lists 2 class names, expected 10/,
    );
    expect(() => Dataset.open({ kind: 'cifar10', root: path.join(root, 'nope'), split: 'val' })).toThrow(
      /cifar10: folder not found/,
    );
  });
});
