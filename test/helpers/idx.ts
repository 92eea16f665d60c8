/**
 * Small, learnable IDX data sets for training tests: each class is a distinct bar pattern plus
 * noise, written as Fashion-MNIST-style files (raw or gzipped).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { idxBytes as idxFile } from './data';

/** A deterministic pseudo-random generator (mulberry32), so fixtures never change. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeImages(
  n: number,
  seed: number,
  size = 28,
  classes = 10,
): { images: Uint8Array; labels: Uint8Array } {
  const rand = rng(seed);
  const images = new Uint8Array(n * size * size);
  const labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const label = k % classes;
    labels[k] = label;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        // Class c: a bar at a class-specific row band and orientation, plus noise.
        const band = label % 5;
        const on = label < 5 ? Math.floor(y / 5) === band : Math.floor(x / 5) === band;
        images[k * size * size + y * size + x] = Math.min(255, Math.floor((on ? 160 : 30) + rand() * 80));
      }
    }
  }
  return { images, labels };
}

/** Writes train (t10k for val) IDX files into `dir`; returns the folder. */
export function writeIdxDataset(
  dir: string,
  nTrain: number,
  nVal: number,
  options: { gzip?: boolean; size?: number } = {},
): string {
  fs.mkdirSync(dir, { recursive: true });
  const size = options.size ?? 28;
  const write = (name: string, buf: Buffer) =>
    fs.writeFileSync(path.join(dir, options.gzip ? `${name}.gz` : name), options.gzip ? zlib.gzipSync(buf) : buf);
  const train = makeImages(nTrain, 1, size);
  const val = makeImages(nVal, 2, size);
  write('train-images-idx3-ubyte', idxFile([nTrain, size, size], train.images));
  write('train-labels-idx1-ubyte', idxFile([nTrain], train.labels));
  write('t10k-images-idx3-ubyte', idxFile([nVal, size, size], val.images));
  write('t10k-labels-idx1-ubyte', idxFile([nVal], val.labels));
  return dir;
}
