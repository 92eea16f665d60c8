/**
 * Crafted torch files that would make the reader allocate far more than the file holds: stride-0
 * and overlapping views, views past their storage, storages whose declared size disagrees with
 * their data, zip bombs, and pickles that build gigabytes of objects from megabytes of opcodes.
 * Each must be refused with a TorchFileError that says why, before the memory is taken.
 */
import { describe, expect, it } from 'vitest';
import { readTorch, TorchFileError, torchTuple } from '../lib/serialization';
import { pickle, PyGlobal, PyPersistent, PyReduce } from '../lib/serialization/pickle-writer';
import { INFLATE_FLOOR, INFLATE_RATIO } from '../lib/serialization/zip';
import { crc32 } from '../lib/serialization/zip-format';
import { buildZip } from '../lib/serialization/zip-write';
import { PICKLE_HEAP_BUDGET } from '../lib/serialization/pickle-budget';
import { crc32Zeros, deflateZeros, rawZip, statePickle, torchZip } from './helpers/crafted';
import * as zlib from 'node:zlib';

function readError(buf: Uint8Array): TorchFileError {
  try {
    readTorch(buf);
  } catch (e) {
    if (e instanceof TorchFileError) return e;
    throw new Error(`expected a TorchFileError, got ${String(e)}`);
  }
  throw new Error('expected readTorch to fail');
}

/** Runs f and reports how much the process's external memory (ArrayBuffers) grew at most. */
function externalGrowth(f: () => void): number {
  const before = process.memoryUsage().arrayBuffers;
  f();
  return process.memoryUsage().arrayBuffers - before;
}

const floats = (n: number): Uint8Array => new Uint8Array(Float32Array.from({ length: n }, (_, i) => i).buffer);

describe('tensor views are bounded by their storage', () => {
  it('refuses a stride-0 tensor that claims far more elements than its storage holds', () => {
    // 1 float of storage viewed as 10^9 x 10^9 elements: the 1.4 KB file that grew RSS to 21 GB.
    const f = torchZip(
      statePickle({ 'conv1.weight': { key: '0', numel: 1, offset: 0, size: [1e9, 1e9], stride: [0, 0] } }),
      { '0': floats(1) },
    );
    expect(f.length).toBeLessThan(2000);
    let e: TorchFileError | undefined;
    const grew = externalGrowth(() => (e = readError(f)));
    expect(e!.message).toMatch(
      /shape \[1000000000, 1000000000\], stride \[0, 0\]\) has at least 1000000000 elements but its storage holds only 1: its strides overlap \(e\.g\. stride 0\)/,
    );
    expect(grew).toBeLessThan(16 * 2 ** 20);
  });

  it('still reads a small expanded (stride-0) buffer, repeating its value', () => {
    const f = torchZip(statePickle({ b: { key: '0', numel: 1, offset: 0, size: [4, 5], stride: [0, 0] } }), {
      '0': new Uint8Array(new Float32Array([2.5]).buffer),
    });
    const v = readTorch(f) as Map<string, { shape: number[]; data: Float32Array }>;
    expect(v.get('b')!.shape).toEqual([4, 5]);
    expect(Array.from(v.get('b')!.data)).toEqual(new Array(20).fill(2.5));
  });

  it('refuses views that reach past their storage, without overflowing', () => {
    const one = (offset: number, size: number[], stride: number[], numel = 8) =>
      readError(torchZip(statePickle({ w: { key: '0', numel, offset, size, stride } }), { '0': floats(numel) }))
        .message;
    expect(one(0, [3], [2 ** 52])).toMatch(/reaches past its storage of 8 elements/);
    expect(one(0, [2 ** 40, 2 ** 40], [2 ** 13, 2 ** 13])).toMatch(/reaches past its storage/);
    expect(one(8, [1], [1])).toMatch(/starts past its storage of 8 elements/);
    expect(one(7, [2], [1])).toMatch(/reaches past/);
    expect(one(0, [-1], [1])).toMatch(/tensor size -1 is invalid/);
    expect(one(0, [2], [-1])).toMatch(/tensor stride -1 is invalid/);
    expect(one(0, [2.5], [1])).toMatch(/tensor size 2.5 is invalid/);
    expect(one(-1, [2], [1])).toMatch(/storage offset -1 is invalid/);
    expect(one(0, [2, 2], [1])).toMatch(/2 sizes but 1 strides/);
    // An empty view checks nothing else, as in torch.
    const empty = readTorch(
      torchZip(statePickle({ w: { key: '0', numel: 8, offset: 100, size: [0, 5], stride: [9, 9] } }), {
        '0': floats(8),
      }),
    );
    expect((empty as Map<string, { data: Float32Array }>).get('w')!.data.length).toBe(0);
  });

  it("checks a storage's declared size against its record before reading it", () => {
    const f = torchZip(statePickle({ w: { key: '0', numel: 1000, offset: 0, size: [10], stride: [1] } }), {
      '0': floats(10),
    });
    expect(readError(f).message).toMatch(
      /storage 0 declares 1000 float32 elements \(4000 bytes\) but its record archive\/data\/0 holds 40 bytes/,
    );
    const g = torchZip(statePickle({ w: { key: '0', numel: 5, offset: 0, size: [5], stride: [1] } }), {
      '0': floats(10),
    });
    expect(readError(g).message).toMatch(/declares 5 float32 elements \(20 bytes\) but its record .* holds 40 bytes/);
  });

  it('bounds the copies of overlapping views of one storage (a transposed view rebuilt 2000 times)', () => {
    // 64 KiB of storage; each transposed view is a 64 KiB copy, so 2000 of them are 128 MiB of
    // copies from a 200 KB file: more than twice the storage + 64 MiB.
    const n = 128;
    const tensors: Record<string, Parameters<typeof statePickle>[0][string]> = {};
    for (let i = 0; i < 2000; i++)
      tensors[`t${i}`] = { key: '0', numel: n * n, offset: 0, size: [n, n], stride: [1, n] };
    const f = torchZip(statePickle(tensors), { '0': floats(n * n) });
    expect(readError(f).message).toMatch(
      /the file's tensors would need 64\.\d MiB of copies, more than the 64\.1 MiB allowed/,
    );
  });
});

describe('zip bombs and oversized archives', () => {
  const pkl = statePickle({
    w: { key: '0', numel: (3 * 2 ** 30) / 4, offset: 0, size: [(3 * 2 ** 30) / 4], stride: [1] },
  });

  it('refuses a deflated 3 GiB record in a 3 MB file before inflating it', () => {
    const bomb = deflateZeros(new Uint8Array(0), 3 * 2 ** 30);
    expect(bomb.length).toBeLessThan(3.2e6);
    const f = rawZip([
      { name: 'archive/data.pkl', method: 0, data: pkl, uncompressedSize: pkl.length, crc: crc32(pkl) },
      { name: 'archive/data/0', method: 8, data: bomb, uncompressedSize: 3 * 2 ** 30, crc: crc32Zeros(0, 3 * 2 ** 30) },
    ]);
    let e: TorchFileError | undefined;
    const t0 = performance.now();
    const grew = externalGrowth(() => (e = readError(f)));
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(grew).toBeLessThan(16 * 2 ** 20);
    expect(e!.message).toMatch(
      /zip entry archive\/data\/0 declares 3221225472 bytes inflated from 312\d{4} compressed \(10\d\d:1\), more than the 16x \+ 64\.0 MiB this reader inflates \(a guard against zip bombs/,
    );
  });

  it('refuses deflated entries that each pass but together exceed the archive budget', () => {
    // 40 entries of 60 MiB of zeros (each within its own limit): 2.3 GiB from 2.4 MB.
    const each = 60 * 2 ** 20;
    const stream = deflateZeros(new Uint8Array(0), each);
    const entries = [
      { name: 'archive/data.pkl', method: 0 as const, data: pkl, uncompressedSize: pkl.length, crc: crc32(pkl) },
    ];
    for (let i = 0; i < 40; i++)
      entries.push({
        name: `archive/data/x${i}`,
        method: 8,
        data: stream,
        uncompressedSize: each,
        crc: crc32Zeros(0, each),
      } as never);
    // A pickle that loads all 40 storages.
    const tensors: Record<string, Parameters<typeof statePickle>[0][string]> = {};
    for (let i = 0; i < 40; i++)
      tensors[`t${i}`] = { key: `x${i}`, numel: each / 4, offset: 0, size: [each / 4], stride: [1] };
    const p = statePickle(tensors);
    entries[0] = { name: 'archive/data.pkl', method: 0, data: p, uncompressedSize: p.length, crc: crc32(p) };
    const f = rawZip(entries);
    expect(f.length).toBeLessThan(3e6);
    const e = readError(f);
    expect(e.message).toMatch(
      /zip entry archive\/data\/x\d+ would bring the archive's inflated entries to \d+\.\d MiB, more than the \d+\.\d MiB this reader inflates from an archive of this size/,
    );
    expect(INFLATE_FLOOR + INFLATE_RATIO * f.length).toBeLessThan(40 * each);
  });

  it('still reads a re-zipped (deflated) file of ordinary weights', () => {
    const data = floats(50000);
    const p = statePickle({ w: { key: '0', numel: 50000, offset: 0, size: [50000], stride: [1] } });
    const f = rawZip([
      { name: 'archive/data.pkl', method: 8, data: zlib.deflateRawSync(p), uncompressedSize: p.length, crc: crc32(p) },
      {
        name: 'archive/data/0',
        method: 8,
        data: zlib.deflateRawSync(data),
        uncompressedSize: data.length,
        crc: crc32(data),
      },
    ]);
    const v = readTorch(f) as Map<string, { data: Float32Array }>;
    expect(v.get('w')!.data[49999]).toBe(49999);
  });

  it('refuses a directory that claims more entries than its bytes can hold', () => {
    const f = Buffer.concat(buildZip([{ name: 'archive/data.pkl', data: pickle(1) }]));
    f.writeUInt16LE(60000, f.length - 22 + 8);
    f.writeUInt16LE(60000, f.length - 22 + 10);
    expect(readError(f).message).toMatch(/zip directory claims 60000 entries but its \d+ bytes hold at most 1/);
  });
});

describe('pickles that would build more objects than a state dict has', () => {
  const zipOf = (p: Uint8Array) => Buffer.concat(buildZip([{ name: 'archive/data.pkl', data: p }]));

  it('refuses millions of empty dicts (a 200-byte Map per opcode byte)', () => {
    const n = Math.ceil(PICKLE_HEAP_BUDGET / 200) + 1000;
    const p = Buffer.alloc(n + 3, 0x7d); // EMPTY_DICT ...
    p[0] = 0x80;
    p[1] = 2;
    p[n + 2] = 0x2e; // STOP
    const t0 = performance.now();
    const e = readError(zipOf(p));
    expect(e.message).toMatch(/the pickle \(at offset \d+\) would build more than 64 MiB of Python objects/);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it('refuses a memoized list passed to OrderedDict() again and again', () => {
    // list = [(0, 0)] * 100000 (memoized), then OrderedDict(list) 3000 times: 6 bytes per call.
    const parts: number[] = [0x80, 2, 0x63, ...Buffer.from('collections\nOrderedDict\n'), 0x71, 0, 0x5d, 0x28];
    for (let i = 0; i < 100000; i++) parts.push(0x4b, 0, 0x4b, 0, 0x86);
    parts.push(0x65, 0x71, 1, 0x5d); // APPENDS, memo 1, EMPTY_LIST (the results)
    for (let i = 0; i < 3000; i++) parts.push(0x68, 0, 0x68, 1, 0x85, 0x52, 0x61); // od(list), append
    parts.push(0x2e);
    const e = readError(zipOf(Uint8Array.from(parts)));
    expect(e.message).toMatch(/calling OrderedDict\) would build more than 64 MiB/);
  });

  it('still reads a real-sized pickle', () => {
    const rebuild = new PyGlobal('torch._utils', '_rebuild_tensor_v2');
    const m = new Map<string, unknown>();
    for (let i = 0; i < 5000; i++) {
      const pid = torchTuple(['storage', new PyGlobal('torch', 'FloatStorage'), '0', 'cpu', 4] as never);
      m.set(
        `layer${i}.weight`,
        new PyReduce(rebuild, [new PyPersistent(pid), 0, torchTuple([2, 2]), torchTuple([2, 1]), false]),
      );
    }
    const f = torchZip(pickle(m), { '0': floats(4) });
    expect((readTorch(f) as Map<string, unknown>).size).toBe(5000);
  });
});

describe('legacy (pre-zip) files', () => {
  const MAGIC = 0x1950a86a20f9469cfc6cn;
  function legacy(numel: number, count: bigint, data: Uint8Array): Buffer {
    const pid = torchTuple(['storage', new PyGlobal('torch', 'FloatStorage'), 'k', 'cpu', numel, null] as never);
    const main = pickle(
      new Map([
        [
          'w',
          new PyReduce(new PyGlobal('torch._utils', '_rebuild_tensor_v2'), [
            new PyPersistent(pid),
            0,
            torchTuple([numel]),
            torchTuple([1]),
            false,
          ]),
        ],
      ]),
    );
    const countBytes = Buffer.alloc(8);
    countBytes.writeBigInt64LE(count);
    return Buffer.concat([
      pickle(MAGIC),
      pickle(1001),
      pickle(
        new Map<string, unknown>([
          ['protocol_version', 1001],
          ['little_endian', true],
        ]),
      ),
      main,
      pickle(['k']),
      countBytes,
      data,
    ]);
  }

  it("checks a storage's element count against the one its pickle declares", () => {
    expect((readTorch(legacy(3, 3n, floats(3))) as Map<string, { data: Float32Array }>).get('w')!.data.length).toBe(3);
    expect(readError(legacy(300000000, 3n, floats(3))).message).toMatch(
      /storage k declares 300000000 elements in the pickle but 3 in its data/,
    );
  });
});
