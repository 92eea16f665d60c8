/** Small synthetic datasets written in the formats the native loader reads. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { DataLoader } from '../../lib';

/** Deterministic pseudo-random bytes (an LCG), so fixtures are the same on every run. */
export function pseudoRandomBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** An IDX file of unsigned bytes: magic 0x0000080N, big-endian dims, data. */
export function idxBytes(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(0x800 + dims.length, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

export interface IdxSplit {
  images: Uint8Array; // [n, side, side]
  labels: Uint8Array;
}

/** Writes train-/t10k- image and label files into dir (gzipped when gz). */
export function writeIdxDataset(dir: string, splits: { train: IdxSplit; val: IdxSplit }, side = 28, gz = false): void {
  fs.mkdirSync(dir, { recursive: true });
  const write = (name: string, bytes: Buffer) =>
    fs.writeFileSync(path.join(dir, gz ? `${name}.gz` : name), gz ? zlib.gzipSync(bytes) : bytes);
  for (const [prefix, split] of [
    ['train', splits.train],
    ['t10k', splits.val],
  ] as const) {
    const n = split.labels.length;
    write(`${prefix}-images-idx3-ubyte`, idxBytes([n, side, side], split.images));
    write(`${prefix}-labels-idx1-ubyte`, idxBytes([n], split.labels));
  }
}

/** n images of side x side with labels i % classes (or the given labels). */
export function idxSplit(n: number, seed: number, side = 28, labels?: number[]): IdxSplit {
  return {
    images: pseudoRandomBytes(n * side * side, seed),
    labels: Uint8Array.from(labels ?? Array.from({ length: n }, (_, i) => i % 10)),
  };
}

/** CIFAR-10 records: label byte + 3072 planar RGB bytes each. */
export function cifarBytes(labels: number[], pixels: Uint8Array): Buffer {
  const out = Buffer.alloc(labels.length * 3073);
  labels.forEach((l, i) => {
    out[i * 3073] = l;
    out.set(pixels.subarray(i * 3072, (i + 1) * 3072), i * 3073 + 1);
  });
  return out;
}

/** (v / 255 - mean) / std in float32, as ToTensor + Normalize. */
export function normalized(v: number, mean: number, std: number): number {
  const f = Math.fround;
  return f(f(f(v) / f(255)) - f(mean)) / f(std);
}

export interface EpochData {
  images: Float32Array[];
  labels: bigint[][];
  indices: number[];
}

/** Reads the rest of the current epoch into plain arrays (freeing the tensors). */
export async function readEpoch(loader: DataLoader): Promise<EpochData> {
  const out: EpochData = { images: [], labels: [], indices: [] };
  for await (const b of loader) {
    out.images.push(b.images.toFloat32Array());
    out.labels.push(Array.from(b.labels.toArray() as BigInt64Array));
    out.indices.push(b.index);
    b.dispose();
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Bitwise equality of float arrays (vitest's deep equality is slow on large typed arrays). */
export function sameFloats(a: Float32Array[], b: Float32Array[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) =>
      Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
        Buffer.from(b[i]!.buffer, b[i]!.byteOffset, b[i]!.byteLength),
      ),
    )
  );
}

/** Asserts two epochs are identical: batch indices, labels and every image bit. */
export function expectSameEpoch(
  a: EpochData,
  b: EpochData,
  expectFn: (v: unknown) => { toEqual(x: unknown): void; toBe(x: unknown): void },
): void {
  expectFn(a.indices).toEqual(b.indices);
  expectFn(a.labels).toEqual(b.labels);
  expectFn(sameFloats(a.images, b.images)).toBe(true);
}
