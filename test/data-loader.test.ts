// The batch loader: order and augmentation are pure functions of (seed, epoch, batch), whatever the
// worker count or timing; resume, dropLast, the class-balanced limit, buffer reuse, disposal, errors.
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Dataset, type DataLoader } from '../lib';
import { tempDir } from './helpers/native';
import { expectSameEpoch, readEpoch, sameFloats, writeIdxDataset, type IdxSplit } from './helpers/data';

const N = 1000;
const PIXELS = 28 * 28;

/** Image i has pixel 0 = i & 255 and pixel 1 = i >> 8 (the rest pseudo-random), so batches reveal indices. */
function taggedSplit(n: number): IdxSplit {
  const images = new Uint8Array(n * PIXELS);
  for (let i = 0; i < n; i++) {
    for (let p = 2; p < PIXELS; p++) images[i * PIXELS + p] = (i * 31 + p * 7) & 255;
    images[i * PIXELS] = i & 255;
    images[i * PIXELS + 1] = i >> 8;
  }
  return { images, labels: Uint8Array.from({ length: n }, (_, i) => (i * 7) % 10) };
}

let root = '';
let plain: Dataset; // augment off: images reveal their index
let augmented: Dataset;

beforeAll(() => {
  root = tempDir('loader');
  writeIdxDataset(root, { train: taggedSplit(N), val: taggedSplit(50) });
  plain = Dataset.open({ kind: 'mnist', root, split: 'train', augment: false, mean: [0], std: [1] });
  augmented = Dataset.open({ kind: 'fashion-mnist', root, split: 'train' });
});

/** The dataset indices of a non-augmented epoch, decoded from the tagged pixels. */
function indicesOf(images: Float32Array[]): number[] {
  const out: number[] = [];
  for (const batch of images) {
    for (let k = 0; k < batch.length / PIXELS; k++) {
      out.push(Math.round(batch[k * PIXELS]! * 255) + 256 * Math.round(batch[k * PIXELS + 1]! * 255));
    }
  }
  return out;
}

async function epochOf(ds: Dataset, epoch: number, options: Parameters<Dataset['loader']>[0], start = 0) {
  const loader = ds.loader(options);
  loader.startEpoch(epoch, start);
  const data = await readEpoch(loader);
  loader.dispose();
  return data;
}

describe('batch loader', () => {
  it('same seed: identical batches across runs, worker counts and prefetch depths', async () => {
    const reference = await epochOf(augmented, 3, { batchSize: 64, seed: 42, workers: 1, prefetch: 1 });
    expect(reference.indices).toEqual(Array.from({ length: 16 }, (_, i) => i));
    for (const [workers, prefetch] of [
      [1, 4],
      [2, 2],
      [4, 8],
      [0, 4],
    ]) {
      const again = await epochOf(augmented, 3, { batchSize: 64, seed: 42, workers, prefetch });
      expectSameEpoch(again, reference, expect);
    }
  });

  it('each epoch is a permutation; epochs and seeds differ; shuffle:false is file order', async () => {
    const e0 = indicesOf((await epochOf(plain, 0, { batchSize: 100, seed: 5 })).images);
    const e1 = indicesOf((await epochOf(plain, 1, { batchSize: 100, seed: 5 })).images);
    const s6 = indicesOf((await epochOf(plain, 0, { batchSize: 100, seed: 6 })).images);
    const sorted = Array.from({ length: N }, (_, i) => i);
    expect([...e0].sort((a, b) => a - b)).toEqual(sorted);
    expect([...e1].sort((a, b) => a - b)).toEqual(sorted);
    expect(e0).not.toEqual(sorted);
    expect(e1).not.toEqual(e0);
    expect(s6).not.toEqual(e0);
    const ordered = await epochOf(plain, 7, { batchSize: 100, shuffle: false });
    expect(indicesOf(ordered.images)).toEqual(sorted);
    expect(ordered.labels.flat().map(Number)).toEqual(Array.from(plain.labels()));
  });

  it('augmentation of a sample is a pure function of (seed, epoch, index): loader == dataset.get', async () => {
    const seed = 9;
    const order = indicesOf((await epochOf(plain, 2, { batchSize: 50, seed })).images); // same order, augment or not
    const aug = await epochOf(augmented, 2, { batchSize: 50, seed, workers: 3 });
    for (const k of [0, 1, 77, 499, 999]) {
      const batch = aug.images[Math.floor(k / 50)]!;
      const fromLoader = batch.subarray((k % 50) * PIXELS, ((k % 50) + 1) * PIXELS);
      const t = augmented.get(order[k]!, { seed, epoch: 2 });
      expect(Array.from(t.toFloat32Array())).toEqual(Array.from(fromLoader));
      t.dispose();
    }
  });

  it('resuming at (epoch, startBatch) gives exactly the remaining batches', async () => {
    const full = await epochOf(augmented, 4, { batchSize: 64, seed: 1 });
    const resumed = await epochOf(augmented, 4, { batchSize: 64, seed: 1, workers: 3 }, 5);
    expectSameEpoch(
      resumed,
      { indices: full.indices.slice(5), images: full.images.slice(5), labels: full.labels.slice(5) },
      expect,
    );
    const atEnd = await epochOf(augmented, 4, { batchSize: 64, seed: 1 }, 16);
    expect(atEnd.indices).toEqual([]);
  });

  it('dropLast drops the short last batch; without it the last batch is short', async () => {
    const keep = augmented.loader({ batchSize: 64 });
    const drop = augmented.loader({ batchSize: 64, dropLast: true });
    expect([keep.batchesPerEpoch, drop.batchesPerEpoch]).toEqual([16, 15]);
    const k = await readEpoch(keep);
    const d = await readEpoch(drop);
    expect(k.labels.map((l) => l.length)).toEqual([...new Array(15).fill(64), 40]);
    expect(d.labels.map((l) => l.length)).toEqual(new Array(15).fill(64));
    keep.dispose();
    drop.dispose();
  });

  it('batches held by the consumer are never overwritten (buffer reuse waits for release)', async () => {
    const loader = augmented.loader({ batchSize: 32, seed: 3, prefetch: 2, workers: 2 });
    const held = [];
    for await (const b of loader) held.push(b); // keep every tensor alive, copy nothing yet
    const copies = await epochOf(augmented, 0, { batchSize: 32, seed: 3 });
    expect(
      sameFloats(
        held.map((b) => b.images.toFloat32Array()),
        copies.images,
      ),
    ).toBe(true);
    held.forEach((b) => b.dispose());
    // After release the buffers are reused and the next epoch is still right.
    loader.startEpoch(1);
    const second = await readEpoch(loader);
    expectSameEpoch(second, await epochOf(augmented, 1, { batchSize: 32, seed: 3 }), expect);
    loader.dispose();
  });

  it('limit: a class-balanced subset, first examples of each class in file order, file order kept', () => {
    // Unbalanced labels: class 0 x40, class 1 x3, class 2 x20, classes 3-9 x5 each (N = 98).
    const labels = [...new Array(40).fill(0), ...new Array(3).fill(1), ...new Array(20).fill(2)];
    for (let c = 3; c < 10; c++) labels.push(...new Array(5).fill(c));
    const shuffled = labels
      .map((l, i) => ({ l, k: (i * 37) % labels.length }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.l);
    const dir = path.join(root, 'unbalanced');
    writeIdxDataset(dir, {
      train: { images: new Uint8Array(shuffled.length * PIXELS), labels: Uint8Array.from(shuffled) },
      val: { images: new Uint8Array(PIXELS), labels: Uint8Array.from([0]) },
    });
    for (const limit of [10, 25, 47, 60, 97, 98, 500]) {
      const ds = Dataset.open({ kind: 'mnist', root: dir, split: 'train', limit });
      const rows = Array.from({ length: ds.size }, (_, i) => Number(/#(\d+)$/.exec(ds.source(i))![1]));
      expect(ds.size).toBe(Math.min(limit, shuffled.length));
      expect(rows).toEqual([...rows].sort((a, b) => a - b)); // file order
      const counts = new Array(10).fill(0);
      for (const r of rows) counts[shuffled[r]!]++;
      const available = [40, 3, 20, 5, 5, 5, 5, 5, 5, 5];
      const notExhausted = counts.filter((c, i) => c < available[i]!);
      const max = Math.max(...counts);
      // Classes still holding examples are within 1 of the largest count; exhausted classes gave all.
      expect(notExhausted.every((c) => c >= max - 1)).toBe(true);
      counts.forEach((c, i) => expect(c <= available[i]!).toBe(true));
      // Each class contributes its first examples in file order.
      for (let c = 0; c < 10; c++) {
        const firsts = shuffled
          .map((l, i) => (l === c ? i : -1))
          .filter((i) => i >= 0)
          .slice(0, counts[c]);
        expect(rows.filter((r) => shuffled[r] === c)).toEqual(firsts);
      }
      ds.dispose();
    }
    const ten = Dataset.open({ kind: 'mnist', root: dir, split: 'train', limit: 10 });
    expect([...ten.labels()].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    ten.dispose();
  });

  it('errors: batch size, workers, start batch, unknown kind, bad split, bad statistics, concurrent next()', async () => {
    expect(() => plain.loader({ batchSize: 0 })).toThrow(RangeError);
    expect(() => plain.loader({ batchSize: 0 })).toThrow(/batch size must be an integer >= 1, got 0/);
    expect(() => plain.loader({ batchSize: 2.5 })).toThrow(/batch size must be an integer >= 1/);
    expect(() => plain.loader({} as { batchSize: number })).toThrow(/batchSize must be a number/);
    expect(() => plain.loader({ batchSize: 4, workers: -1 })).toThrow(/workers must be an integer >= 0/);
    expect(() => plain.loader({ batchSize: 4, prefetch: 0 })).toThrow(/prefetch must be an integer >= 1/);
    const loader = plain.loader({ batchSize: 100 });
    expect(() => loader.startEpoch(0, 11)).toThrow(/start batch must be in \[0, 10\], got 11/);
    expect(() => loader.startEpoch(-1)).toThrow(/epoch must be an integer >= 0/);
    const pending = loader.next(); // the native call happens now, so the checks below are not racy
    expect(() => loader.startEpoch(1)).toThrow(/startEpoch\(\) called while a next\(\) is pending/);
    await expect(loader.next()).rejects.toThrow(/next\(\) called while a next\(\) is pending/);
    (await pending)!.dispose();
    loader.dispose();
    expect(() => Dataset.open({ kind: 'svhn' as 'mnist', root, split: 'train' })).toThrow(
      /unknown dataset kind 'svhn'/,
    );
    expect(() => Dataset.open({ kind: 'mnist', root, split: 'test' as 'val' })).toThrow(
      /split must be 'train' or 'val', got 'test'/,
    );
    expect(() => Dataset.open({ kind: 'mnist', root, split: 'train', mean: [0.1, 0.2] })).toThrow(
      /mean must have 1 or 1 values/,
    );
    expect(() => Dataset.open({ kind: 'cifar10', root: '', split: 'train' })).toThrow(/cifar10 needs a folder/);
    expect(() => Dataset.open({ kind: 'mnist', root, split: 'train', std: [0] })).toThrow(/std values must be > 0/);
  });

  it('disposing mid-epoch joins the threads without hanging; a pending next() settles; the dataset outlives its handle', async () => {
    const ds = Dataset.open({ kind: 'fashion-mnist', root, split: 'train' });
    const loaders: DataLoader[] = [];
    for (let i = 0; i < 5; i++) {
      const l = ds.loader({ batchSize: 10, workers: 4, prefetch: 8 });
      (await l.next())!.dispose();
      loaders.push(l);
    }
    ds.dispose(); // loaders keep the data alive
    const l0 = loaders[0]!;
    expect((await l0.next())!.index).toBe(1);
    const pending = l0.next();
    l0.dispose();
    const settled = await pending.then(
      (b) => (b ? 'batch' : 'end'),
      (e: Error) => e.message,
    );
    expect(['batch', 'end', 'the data loader is closed']).toContain(settled);
    await expect(l0.next()).rejects.toThrow(/data loader is disposed/);
    l0.dispose(); // idempotent
    for (const l of loaders.slice(1)) l.dispose();
    expect(() => ds.get(0)).toThrow(/dataset is disposed/);
  });

  it('throughput on 28 px data with augmentation (printed, not asserted)', async () => {
    const loader = augmented.loader({ batchSize: 128, seed: 0 });
    const t0 = performance.now();
    let n = 0;
    for (let e = 0; e < 5; e++) {
      for await (const b of loader.epoch(e)) {
        n += b.images.shape[0]!;
        b.dispose();
      }
    }
    const s = (performance.now() - t0) / 1000;
    console.log(
      `loader, synthetic 28x28 IDX (1000 x 5 epochs, crop+flip, ${loader.options.workers} workers, batch 128): ${Math.round(n / s)} images/s`,
    );
    loader.dispose();
  });
});
