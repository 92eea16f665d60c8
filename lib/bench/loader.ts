/**
 * The data loader's rate against the model's consumption: W1's CIFAR-format loader (reported with
 * W1) and W3, the JPEG image-folder loader with both decoders.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { native, type NativeDataLoader, type NativeDataset } from '../binding';
import { commonFields } from './fields';
import { benchNative } from './native';
import type { BenchOptions } from './options';
import { ips, Ours, tempDir, type Json } from './ours';
import { median, round } from './stats';

/** Images per second a loader delivers (the consumer only takes batches and lets them go). */
export async function loaderRate(
  dataset: NativeDataset,
  batchSize: number,
  workers: number,
  batches: number,
): Promise<{ ips: number; workers: number }> {
  const loader: NativeDataLoader = dataset.loader({ batchSize, shuffle: true, seed: 0, workers, prefetch: 8 });
  try {
    loader.startEpoch(0);
    const first = await loader.next(); // threads started, first batch ready
    first?.images.dispose();
    first?.labels.dispose();
    const total = Math.min(batches, loader.batchesPerEpoch() - 1);
    let images = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < total; i++) {
      const b = await loader.next();
      if (!b) break;
      images += b.images.shape()[0]!;
      b.images.dispose();
      b.labels.dispose();
    }
    return { ips: images / (Number(process.hrtime.bigint() - t0) / 1e9), workers: loader.options().workers };
  } finally {
    loader.dispose();
  }
}

/** A CIFAR-10 binary folder of random bytes (10,000 training images) with W1's augmentation, opened. */
export function cifarLoaderData(o: BenchOptions): { ds: NativeDataset; dispose(): void } {
  const dir = tempDir('cifar');
  const record = 1 + 3 * 32 * 32,
    n = 10_000;
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (const name of [
    'data_batch_1.bin',
    'data_batch_2.bin',
    'data_batch_3.bin',
    'data_batch_4.bin',
    'data_batch_5.bin',
    'test_batch.bin',
  ]) {
    const buf = Buffer.alloc(name.startsWith('data_batch_1') ? record * n : record);
    for (let i = 0; i < buf.length; i++) buf[i] = i % record === 0 ? rand() % 10 : rand();
    fs.writeFileSync(path.join(dir, name), buf);
  }
  try {
    const ds = new (native().NativeDataset)({
      kind: 'cifar10',
      root: dir,
      split: 'train',
      augment: true,
      imageSize: o.imageSize === 32 ? 0 : o.imageSize,
    });
    return { ds, dispose: () => ds.dispose() };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true }); // the data is in memory once opened
  }
}

export async function cifarLoaderVsModel(o: BenchOptions, modelIps: number): Promise<Json> {
  const data = cifarLoaderData(o);
  try {
    const r = await loaderRate(data.ds, o.batchSize, o.workers, 100);
    return {
      data: 'cifar10 format (random bytes), RandomCrop(32, padding=4) + RandomHorizontalFlip + Normalize',
      workers: r.workers,
      images_per_second: round(r.ips),
      model_images_per_second: round(modelIps),
      ratio_to_model: round(r.ips / modelIps),
    };
  } finally {
    data.dispose();
  }
}

/** W3: the JPEG image-folder loader alone (decode + RandomResizedCrop + flip + normalize) against the model's consumption. */
export async function loaderWorkload(o: BenchOptions): Promise<Json> {
  let dir = o.data;
  let made: string | undefined;
  if (!dir) {
    made = dir = tempDir('jpeg');
    o.log?.(`writing synthetic JPEGs (500x375, quality 90) to ${dir}`);
    benchNative().writeJpegFolder(dir, { classes: 10, perClass: 64, width: 500, height: 375, seed: 0, quality: 90 });
  }
  try {
    // Both decoders, alternating round by round: the exact one (torchvision's pixels, the default)
    // and fastDecode (reduced DCT decoding of the crop's window, PIL's Image.draft).
    const open = (fastDecode: boolean) =>
      new (native().NativeDataset)({
        kind: 'image-folder',
        root: dir!,
        split: 'train',
        augment: true,
        imageSize: o.imageSize,
        fastDecode,
      });
    const exact = open(false);
    const fast = open(true);
    const rates: number[] = [];
    const fastRates: number[] = [];
    let workers = 0;
    try {
      const batches = Math.max(4, Math.floor(exact.info().size / o.batchSize) - 1);
      for (let r = 0; r < o.rounds; r++) {
        for (const [ds, into, name] of [
          [exact, rates, 'exact'],
          [fast, fastRates, 'fastDecode'],
        ] as const) {
          const x = await loaderRate(ds, o.batchSize, o.workers, batches);
          into.push(x.ips);
          workers = x.workers;
          o.log?.(`round ${r + 1}/${o.rounds}: loader (${name}) ${x.ips.toFixed(1)} img/s (${x.workers} threads)`);
        }
      }
    } finally {
      exact.dispose();
      fast.dispose();
    }
    // The model's consumption: our training rate for the same arch, batch and image size.
    const model = new Ours({ ...o }, Math.max(o.steps, o.warmup, 1));
    let modelIps: number;
    try {
      await model.train(Math.max(1, o.warmup), 0);
      const m: number[] = [];
      for (let r = 0; r < Math.min(3, o.rounds); r++) m.push(ips(await model.train(o.steps, r + 1)));
      modelIps = median(m);
    } finally {
      model.close();
    }
    const loaderIps = median(rates);
    const fastIps = median(fastRates);
    return {
      ...commonFields(o),
      images_per_second: round(loaderIps),
      data: o.data ?? 'synthetic JPEGs 500x375 q90 (10 classes x 64)',
      transform: `decode + RandomResizedCrop(${o.imageSize}) + RandomHorizontalFlip + Normalize`,
      loader_workers: workers,
      loader_rounds: rates.map((v) => round(v)),
      model_images_per_second: round(modelIps),
      ratio_to_model: round(loaderIps / modelIps),
      fast_decode: {
        images_per_second: round(fastIps),
        loader_rounds: fastRates.map((v) => round(v)),
        ratio_to_model: round(fastIps / modelIps),
        speedup: round(fastIps / loaderIps),
      },
      load_average: os.loadavg().map((v) => round(v, 3)),
    };
  } finally {
    if (made) fs.rmSync(made, { recursive: true, force: true });
  }
}
