/**
 * Crafted IDX files: the header is read (and inflated) first and checked before the data is
 * inflated or allocated, so a 4 MB gzip of 4 GiB of zeros, or a header claiming 2^32 x 2^32
 * images, ends in an error naming the file instead of gigabytes of memory (8.6 GB peak before,
 * then "size mismatch", or only std::bad_alloc under a memory limit).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Dataset } from '../lib';
import { tempDir } from './helpers/native';
import { idxBytes } from './helpers/data';
import { gzipZeros, idxHeader } from './helpers/crafted';

const IMAGES = 'train-images-idx3-ubyte';
const LABELS = 'train-labels-idx1-ubyte';

/** A folder with the given train files (name → bytes); returns a function that opens it. */
function folder(files: Record<string, Uint8Array>): { dir: string; open: () => Dataset } {
  const dir = tempDir('idx-hostile');
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), bytes);
  return { dir, open: () => Dataset.open({ kind: 'fashion-mnist', root: dir, split: 'train' }) };
}

/** Runs f, which must throw; returns the message, the time taken and the RSS growth. */
function failure(f: () => unknown): { message: string; ms: number; rssGrowth: number } {
  const rss = process.memoryUsage().rss;
  const t0 = performance.now();
  try {
    f();
  } catch (e) {
    return { message: (e as Error).message, ms: performance.now() - t0, rssGrowth: process.memoryUsage().rss - rss };
  }
  throw new Error('expected an error');
}

const labels = (n: number) => idxBytes([n], new Uint8Array(n));

describe('crafted IDX files', () => {
  it('refuses a 4 MB gzip that inflates to 4 GiB before inflating it', () => {
    const n = Math.floor((4 * 2 ** 30) / 784);
    const gz = gzipZeros(idxHeader([n, 28, 28]), n * 784);
    expect(gz.length).toBeLessThan(4.5e6);
    // Warm up (the first open initialises LibTorch), so the growth measured is the reader's.
    const warm = folder({ [IMAGES]: idxBytes([2, 28, 28], new Uint8Array(2 * 784)), [LABELS]: labels(2) }).open();
    warm.dispose();
    const { open } = folder({ [`${IMAGES}.gz`]: gz, [LABELS]: labels(2) });
    const r = failure(open);
    expect(r.message).toMatch(
      new RegExp(
        `${IMAGES}\\.gz: the IDX header says ${n}x28x28 \\(${n * 784} bytes of data\\), more than a gzip file of ${gz.length} bytes may inflate to here \\(16x its size \\+ 64 MiB, a guard against decompression bombs`,
      ),
    );
    expect(r.ms).toBeLessThan(2000);
    expect(r.rssGrowth).toBeLessThan(64 * 2 ** 20);
  });

  it('refuses headers that claim implausible sizes, raw or gzipped, without allocating them', () => {
    const raw = folder({ [IMAGES]: idxHeader([0xffffffff, 0xffffffff, 0xffffffff]), [LABELS]: labels(2) });
    expect(failure(raw.open).message).toMatch(
      /train-images-idx3-ubyte: the IDX header says 4294967295x4294967295x4294967295, 4294967295 images, more than this loader holds \(at most 16777216\)/,
    );
    const side = folder({ [IMAGES]: idxHeader([1, 65535, 65535]), [LABELS]: labels(1) });
    expect(failure(side.open).message).toMatch(
      /train-images-idx3-ubyte: the IDX header says images of 65535x65535 pixels, more than this loader takes \(at most 1024x1024\)/,
    );
    const square = folder({ [IMAGES]: idxHeader([1, 28, 29]), [LABELS]: labels(1) });
    expect(failure(square.open).message).toMatch(/train-images-idx3-ubyte: images of 28x29 are not square/);
    // A gzip whose header claims 1000 x 28 x 28 over a few bytes: a size mismatch, no 784 kB first.
    const short = folder({
      [`${IMAGES}.gz`]: zlib.gzipSync(Buffer.concat([idxHeader([1000, 28, 28]), Buffer.alloc(10)])),
      [LABELS]: labels(1000),
    });
    expect(failure(short.open).message).toMatch(
      /train-images-idx3-ubyte\.gz: size mismatch: the IDX header says 1000x28x28 \(784000 bytes of data\) but the file has 10/,
    );
    const labelsHuge = folder({
      [IMAGES]: idxBytes([1, 28, 28], new Uint8Array(784)),
      [`${LABELS}.gz`]: zlib.gzipSync(idxHeader([0x7fffffff])),
    });
    expect(failure(labelsHuge.open).message).toMatch(
      /train-labels-idx1-ubyte\.gz: the IDX header says 2147483647, 2147483647 labels, more than this loader holds/,
    );
  });

  it('checks a gzip past the data it declares: trailing data, and a cut-off trailer', () => {
    const body = Buffer.concat([idxHeader([2, 28, 28]), Buffer.alloc(2 * 784, 7)]);
    const extra = folder({
      [`${IMAGES}.gz`]: zlib.gzipSync(Buffer.concat([body, Buffer.from([1, 2, 3])])),
      [LABELS]: labels(2),
    });
    expect(failure(extra.open).message).toMatch(
      /train-images-idx3-ubyte\.gz: size mismatch: the IDX header says 2x28x28 \(1568 bytes of data\) but the file has more/,
    );
    const gz = zlib.gzipSync(body);
    const cut = folder({ [`${IMAGES}.gz`]: gz.subarray(0, gz.length - 4), [LABELS]: labels(2) });
    expect(failure(cut.open).message).toMatch(/train-images-idx3-ubyte\.gz is a truncated gzip file/);
    // Two gzip members and zero padding still read as one file.
    const half = body.length / 2;
    const two = folder({
      [`${IMAGES}.gz`]: Buffer.concat([
        zlib.gzipSync(body.subarray(0, half)),
        zlib.gzipSync(body.subarray(half)),
        Buffer.alloc(16),
      ]),
      [LABELS]: labels(2),
    });
    const ds = two.open();
    expect(ds.size).toBe(2);
    ds.dispose();
  });

  it('names the images file when it holds 0 images', () => {
    const { open } = folder({ [IMAGES]: idxHeader([0, 28, 28]), [LABELS]: labels(0) });
    expect(failure(open).message).toMatch(
      /fashion-mnist: .*train-images-idx3-ubyte holds 0 images \(its IDX header says 0x28x28\)/,
    );
  });

  it('names the labels file for a label out of range', () => {
    const { open } = folder({
      [IMAGES]: idxBytes([3, 28, 28], new Uint8Array(3 * 784)),
      [LABELS]: idxBytes([3], Uint8Array.from([1, 2, 200])),
    });
    expect(failure(open).message).toMatch(/train-labels-idx1-ubyte #2: label 200 is not a class index in \[0, 10\)/);
  });
});
