/**
 * PNGs with a tRNS chunk (transparency without an alpha channel), found by the fuzzer's seed
 * corpus: expanding a palette also expanded tRNS into an alpha channel, and the decoder refused
 * the row layout ("unexpected row layout after conversion to RGB"), so every palette PNG with
 * transparency failed to load. PIL's convert('RGB') ignores tRNS: the pixels are the palette's
 * (or the samples') colours.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Dataset } from '../lib';
import { crc32 } from '../lib/serialization/zip-format';
import { tempDir } from './helpers/native';

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A 2 x 2 PNG: `rows` are the raw sample bytes of each row. */
function png(depth: number, color: number, rows: number[][], extra: Buffer[]): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(2, 0);
  ihdr.writeUInt32BE(2, 4);
  ihdr[8] = depth;
  ihdr[9] = color;
  const raw = Buffer.concat(rows.map((r) => Buffer.from([0, ...r])));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...extra,
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The decoded pixels of one image as [r, g, b] per pixel (0..255), no resampling. */
function pixels(bytes: Buffer): number[][] {
  const root = tempDir('trns');
  fs.mkdirSync(path.join(root, 'train', 'a'), { recursive: true });
  fs.writeFileSync(path.join(root, 'train', 'a', 'x.png'), bytes);
  const ds = Dataset.open({
    kind: 'image-folder',
    root,
    split: 'train',
    augment: false,
    imageSize: 2,
    resize: 2,
    mean: [0],
    std: [1],
  });
  const t = ds.get(0);
  const v = t.toFloat32Array(); // [3, 2, 2]
  t.dispose();
  ds.dispose();
  return [0, 1, 2, 3].map((p) => [0, 1, 2].map((c) => Math.round(v[c * 4 + p]! * 255)));
}

describe('PNGs with tRNS', () => {
  it('palette with transparency: the palette colours', () => {
    const palette = chunk('PLTE', Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]));
    const trns = chunk('tRNS', Buffer.from([0, 128, 255]));
    expect(
      pixels(
        png(
          8,
          3,
          [
            [0, 1],
            [2, 3],
          ],
          [palette, trns],
        ),
      ),
    ).toEqual([
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [9, 9, 9],
    ]);
  });

  it('grey and RGB with a transparent colour: the samples', () => {
    expect(
      pixels(
        png(
          8,
          0,
          [
            [0, 100],
            [200, 255],
          ],
          [chunk('tRNS', Buffer.from([0, 100]))],
        ),
      ),
    ).toEqual([
      [0, 0, 0],
      [100, 100, 100],
      [200, 200, 200],
      [255, 255, 255],
    ]);
    const rgb = [
      [1, 2, 3, 4, 5, 6],
      [7, 8, 9, 10, 11, 12],
    ];
    expect(pixels(png(8, 2, rgb, [chunk('tRNS', Buffer.from([0, 1, 0, 2, 0, 3]))]))).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
      [10, 11, 12],
    ]);
  });
});
