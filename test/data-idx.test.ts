// Fashion-MNIST / MNIST IDX files, raw and gzipped: exact values, the class-balanced limit, and the
// errors a broken download produces.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Dataset, DEFAULT_FASHION_MNIST_DIR, openData } from '../lib';
import { tempDir } from './helpers/native';
import { idxBytes, idxSplit, maxAbsDiff, normalized, readEpoch, writeIdxDataset } from './helpers/data';

describe('IDX datasets', () => {
  const train = idxSplit(30, 7);
  const val = idxSplit(20, 8);

  it('raw files parse to exactly the bytes written, normalized with the MNIST statistics', async () => {
    const dir = tempDir('idx-raw');
    writeIdxDataset(dir, { train, val });
    const ds = Dataset.open({ kind: 'mnist', root: dir, split: 'val' });
    expect([ds.size, ds.numClasses, ds.channels, ds.height, ds.width]).toEqual([20, 10, 1, 28, 28]);
    expect(ds.classNames[3]).toBe('3 - three');
    expect(Array.from(ds.labels())).toEqual(Array.from(val.labels));
    const loader = ds.loader({ batchSize: 8 }); // val: not shuffled
    const epoch = await readEpoch(loader);
    loader.dispose();
    expect(epoch.images.map((a) => a.length)).toEqual([8 * 784, 8 * 784, 4 * 784]);
    const got = Float32Array.from(epoch.images.flatMap((a) => Array.from(a)));
    const want = Float32Array.from(val.images, (v) => normalized(v, 0.1307, 0.3081));
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
    expect(epoch.labels.flat().map(Number)).toEqual(Array.from(val.labels));
    ds.dispose();
  });

  it('gzipped files give the same values (Fashion-MNIST statistics), augment:false on train', async () => {
    const dir = tempDir('idx-gz');
    writeIdxDataset(dir, { train, val }, 28, true);
    const ds = Dataset.open({ kind: 'fashion-mnist', root: dir, split: 'train', augment: false });
    expect(ds.classNames[0]).toBe('T-shirt/top');
    const loader = ds.loader({ batchSize: 30, shuffle: false });
    const epoch = await readEpoch(loader);
    loader.dispose();
    const want = Float32Array.from(train.images, (v) => normalized(v, 0.286, 0.353));
    expect(maxAbsDiff(epoch.images[0]!, want)).toBeLessThan(1e-6);
    // The single-sample path agrees with the loader.
    const t = ds.get(5);
    expect(t.shape).toEqual([1, 28, 28]);
    expect(maxAbsDiff(t.toFloat32Array(), want.subarray(5 * 784, 6 * 784))).toBe(0);
    t.dispose();
    ds.dispose();
  });

  it('torchvision download layout (DIR/FashionMNIST/raw) is found too', () => {
    const dir = tempDir('idx-tv');
    writeIdxDataset(path.join(dir, 'FashionMNIST', 'raw'), { train, val });
    const data = openData(`fashion-mnist:${dir}`, { limitVal: 10 });
    expect([data.train.size, data.val.size]).toEqual([30, 10]);
    data.dispose();
  });

  it('missing folder or files are named, with the expected file names listed', () => {
    const dir = tempDir('idx-missing');
    expect(() => Dataset.open({ kind: 'mnist', root: path.join(dir, 'nope'), split: 'train' })).toThrow(
      /mnist: folder not found: .*nope/,
    );
    fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), idxBytes([1, 28, 28], new Uint8Array(784)));
    expect(() => Dataset.open({ kind: 'mnist', root: dir, split: 'train' })).toThrow(
      /mnist: .* has no train-labels-idx1-ubyte\[\.gz\] \(expected train-images-idx3-ubyte\[\.gz\], train-labels-idx1-ubyte\[\.gz\], t10k-images/,
    );
  });

  it('bad magic, size mismatch, truncated gzip, count mismatch, label out of range', () => {
    const dir = tempDir('idx-corrupt');
    const labels = idxBytes([2], Uint8Array.from([1, 2]));
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), labels);
    const images = path.join(dir, 'train-images-idx3-ubyte');
    const open = () => Dataset.open({ kind: 'fashion-mnist', root: dir, split: 'train' });

    fs.writeFileSync(images, idxBytes([2, 28, 28, 1], new Uint8Array(2 * 784))); // 4 dims: magic 0x804
    expect(open).toThrow(
      /train-images-idx3-ubyte is not an IDX images file: bad magic number 0x00000804 \(expected 0x00000803\)/,
    );

    fs.writeFileSync(images, idxBytes([2, 28, 28], new Uint8Array(2 * 784 - 10)));
    expect(open).toThrow(
      /train-images-idx3-ubyte: size mismatch: the IDX header says 2x28x28 \(1568 bytes of data\) but the file has 1558/,
    );

    fs.rmSync(images);
    const gz = zlib.gzipSync(idxBytes([2, 28, 28], new Uint8Array(2 * 784).fill(3)));
    fs.writeFileSync(`${images}.gz`, gz.subarray(0, gz.length - 12));
    expect(open).toThrow(/train-images-idx3-ubyte\.gz is a truncated gzip file/);

    fs.writeFileSync(`${images}.gz`, zlib.gzipSync(idxBytes([3, 28, 28], new Uint8Array(3 * 784))));
    expect(open).toThrow(/has 3 images but .*train-labels-idx1-ubyte has 2 labels/);

    fs.writeFileSync(`${images}.gz`, zlib.gzipSync(idxBytes([2, 28, 28], new Uint8Array(2 * 784))));
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idxBytes([2], Uint8Array.from([1, 12])));
    // The label is blamed on the labels file, which holds it.
    expect(open).toThrow(/train-labels-idx1-ubyte #1: label 12 is not a class index in \[0, 10\)/);
  });

  it.runIf(fs.existsSync(DEFAULT_FASHION_MNIST_DIR))(
    'the installed Fashion-MNIST opens: 60000/10000, limitTrain balanced',
    async () => {
      const full = openData('fashion-mnist');
      expect([full.train.size, full.val.size]).toEqual([60000, 10000]);
      const loader = full.train.loader({ batchSize: 256, seed: 0 });
      const t0 = performance.now();
      let n = 0;
      for await (const b of loader) {
        n += b.images.shape[0]!;
        b.dispose();
      }
      const seconds = (performance.now() - t0) / 1000;
      console.log(
        `loader, Fashion-MNIST train (60000, augmented, ${loader.options.workers} workers, batch 256): ` +
          `${Math.round(n / seconds)} images/s`,
      );
      loader.dispose();
      full.dispose();
      const small = openData('fashion-mnist', { limitTrain: 1000, limitVal: 105 });
      expect(small.train.size).toBe(1000);
      const counts = new Array(10).fill(0);
      for (const l of small.train.labels()) counts[l]++;
      expect(counts).toEqual(new Array(10).fill(100));
      const valCounts = new Array(10).fill(0);
      for (const l of small.val.labels()) valCounts[l]++;
      expect(valCounts).toEqual([11, 11, 11, 11, 11, 10, 10, 10, 10, 10]);
      small.dispose();
    },
  );
});
