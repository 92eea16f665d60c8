/**
 * Hostile files, made here rather than downloaded: torch.save archives whose pickles say what we
 * want (any size, stride, offset), zip entries with a deflate stream of our own, and deflate/gzip
 * bombs of gigabytes of zeros written in a few megabytes without ever holding the gigabytes.
 */
import { pickle, PyGlobal, PyPersistent, PyReduce } from '../../lib/serialization/pickle-writer';
import { orderedDict, torchTuple } from '../../lib/serialization';
import * as zlib from 'node:zlib';
import { crc32, crc32Js } from '../../lib/serialization/zip-format';
import { buildZip } from '../../lib/serialization/zip-write';

export interface CraftedTensor {
  /** The storage's key and its declared element count (the persistent id's numel). */
  key: string;
  numel: number;
  storage?: string; // torch.FloatStorage by default
  offset: number;
  size: number[];
  stride: number[];
}

/** The pickle of an OrderedDict of name → _rebuild_tensor_v2(storage, offset, size, stride). */
export function statePickle(tensors: Record<string, CraftedTensor>): Uint8Array {
  const rebuild = new PyGlobal('torch._utils', '_rebuild_tensor_v2');
  const od = new PyGlobal('collections', 'OrderedDict');
  const value = new Map<string, PyReduce>();
  for (const [name, t] of Object.entries(tensors)) {
    const pid = torchTuple([
      'storage',
      new PyGlobal('torch', t.storage ?? 'FloatStorage'),
      t.key,
      'cpu',
      t.numel,
    ] as never);
    value.set(
      name,
      new PyReduce(rebuild, [
        new PyPersistent(pid),
        t.offset,
        torchTuple(t.size),
        torchTuple(t.stride),
        false,
        new PyReduce(od, []),
      ]),
    );
  }
  return pickle(orderedDict(value as never), {});
}

/** A stored torch.save zip: `archive/data.pkl` plus `archive/data/<key>` for each storage given. */
export function torchZip(pkl: Uint8Array, storages: Record<string, Uint8Array>): Buffer {
  return Buffer.concat(
    buildZip([
      { name: 'archive/data.pkl', data: pkl },
      { name: 'archive/byteorder', data: new TextEncoder().encode('little') },
      ...Object.entries(storages).map(([key, data]) => ({ name: `archive/data/${key}`, data })),
      { name: 'archive/version', data: new TextEncoder().encode('3\n') },
    ]),
  );
}

export interface RawZipEntry {
  name: string;
  /** 0 stored, 8 deflate: `data` is then the raw deflate stream. */
  method: 0 | 8;
  data: Uint8Array;
  uncompressedSize: number;
  crc: number;
}

/** A zip written field by field (sizes and CRCs as given, so they may lie). 32-bit sizes only. */
export function rawZip(entries: RawZipEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.method, 8);
    local.writeUInt32LE(e.crc >>> 0, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.uncompressedSize, 22);
    local.writeUInt16LE(name.length, 26);
    parts.push(local, name, Buffer.from(e.data));
    const rec = Buffer.alloc(46);
    rec.writeUInt32LE(0x02014b50, 0);
    rec.writeUInt16LE(20, 4);
    rec.writeUInt16LE(20, 6);
    rec.writeUInt16LE(e.method, 10);
    rec.writeUInt32LE(e.crc >>> 0, 16);
    rec.writeUInt32LE(e.data.length, 20);
    rec.writeUInt32LE(e.uncompressedSize, 24);
    rec.writeUInt16LE(name.length, 28);
    rec.writeUInt32LE(offset, 42);
    central.push(rec, name);
    offset += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cd, eocd]);
}

/** LSB-first bit packing as deflate uses it; Huffman codes go in MSB first. */
class BitWriter {
  private out: Buffer;
  private len = 0;
  private acc = 0;
  private nbits = 0;
  constructor(capacity: number) {
    this.out = Buffer.alloc(capacity);
  }
  bits(value: number, n: number): void {
    for (let i = 0; i < n; i++) this.bit((value >>> i) & 1);
  }
  code(code: number, n: number): void {
    for (let i = n - 1; i >= 0; i--) this.bit((code >>> i) & 1);
  }
  /** n zero bits; whole bytes are skipped (the buffer is zero-filled). */
  zeroBits(n: number): void {
    for (; n > 0 && this.nbits !== 0; n--) this.bit(0);
    const bytes = Math.floor(n / 8);
    this.len += bytes;
    for (let i = 0; i < n % 8; i++) this.bit(0);
  }
  private bit(b: number): void {
    this.acc |= b << this.nbits;
    if (++this.nbits === 8) {
      if (this.len >= this.out.length) throw new Error('BitWriter: capacity exceeded');
      this.out[this.len++] = this.acc;
      this.acc = 0;
      this.nbits = 0;
    }
  }
  finish(): Buffer {
    if (this.nbits > 0) this.out[this.len++] = this.acc;
    return this.out.subarray(0, this.len);
  }
}

/**
 * A raw deflate stream of `prefix` then `zeros` zero bytes, at deflate's limit of about 1032:1
 * (what zlib -9 reaches on zeros): the prefix in a fixed-Huffman block, then one dynamic block
 * whose literal/length code holds only literal 0 (2 bits), end-of-block (2 bits) and length 258
 * (1 bit), with a 1-bit distance code for distance 1; each 258 zeros then cost 2 bits. A 3 GiB
 * record is 3 MB of this, written without ever holding the gigabytes.
 */
export function deflateZeros(prefix: Uint8Array, zeros: number): Buffer {
  const matches = zeros > 0 ? Math.floor((zeros - 1) / 258) : 0;
  const w = new BitWriter(prefix.length * 2 + Math.ceil(matches / 4) + 1024);
  if (prefix.length > 0 || zeros === 0) {
    w.bits(zeros === 0 ? 1 : 0, 1); // BFINAL
    w.bits(1, 2); // BTYPE 01: fixed Huffman
    for (const b of prefix) {
      if (b < 144) w.code(0x30 + b, 8);
      else w.code(0x190 + (b - 144), 9);
    }
    w.code(0, 7); // end of block (256)
  }
  if (zeros === 0) return w.finish();
  w.bits(1, 1); // BFINAL
  w.bits(2, 2); // BTYPE 10: dynamic Huffman
  w.bits(286 - 257, 5); // HLIT: literal/length codes 0..285
  w.bits(1 - 1, 5); // HDIST: one distance code
  w.bits(18 - 4, 4); // HCLEN: code length codes in the order below, up to symbol 1
  // Code length code lengths, in deflate's order 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1:
  // symbol 18 (a run of zeros) gets 1 bit, symbols 1 and 2 get 2 bits.
  for (const len of [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2]) w.bits(len, 3);
  // Canonical codes: 18 -> 0, 1 -> 10, 2 -> 11.
  const len1 = (): void => w.code(0b10, 2);
  const len2 = (): void => w.code(0b11, 2);
  const zeroRun = (n: number): void => {
    w.code(0, 1);
    w.bits(n - 11, 7);
  };
  len2(); // literal 0: 2 bits
  zeroRun(138);
  zeroRun(117); // literals 1..255 unused
  len2(); // 256 (end of block): 2 bits
  zeroRun(28); // lengths 257..284 unused
  len1(); // 285 (length 258): 1 bit
  len1(); // distance code 0 (distance 1): 1 bit
  // Canonical literal/length codes: 285 -> 0, 0 -> 10, 256 -> 11; distance 0 -> 0.
  w.code(0b10, 2); // literal 0
  w.zeroBits(2 * matches); // each: length 258 (0) + distance 1 (0)
  for (let left = zeros - 1 - 258 * matches; left > 0; left--) w.code(0b10, 2);
  w.code(0b11, 2); // end of block
  return w.finish();
}

/** CRC-32 of the data so far (`crc`) followed by `n` zero bytes, in O(log n) (zlib's crc32_combine idea). */
export function crc32Zeros(crc: number, n: number): number {
  const times = (mat: number[], vec: number): number => {
    let sum = 0;
    for (let i = 0; vec !== 0; i++, vec >>>= 1) if (vec & 1) sum ^= mat[i]!;
    return sum >>> 0;
  };
  // The register update of one zero byte is linear: column i is its image of bit i.
  const step = (reg: number): number => ~crc32Js(new Uint8Array(1), ~reg >>> 0) >>> 0;
  let mat = Array.from({ length: 32 }, (_, i) => step((1 << i) >>> 0));
  let reg = ~crc >>> 0;
  for (let k = n; k > 0; k = Math.floor(k / 2)) {
    if (k % 2 === 1) reg = times(mat, reg);
    const m = mat;
    mat = m.map((col) => times(m, col));
  }
  return ~reg >>> 0;
}

/** A valid gzip file holding `prefix` then `zeros` zero bytes (the deflate bomb, gzipped). */
export function gzipZeros(prefix: Uint8Array, zeros: number): Buffer {
  const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  const body = deflateZeros(prefix, zeros);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32Zeros(crc32(prefix), zeros), 0);
  trailer.writeUInt32LE((prefix.length + zeros) % 2 ** 32, 4);
  return Buffer.concat([header, body, trailer]);
}

/** The big-endian IDX header of unsigned bytes with these dims. */
export function idxHeader(dims: number[]): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h.writeUInt32BE(0x800 + dims.length, 0);
  dims.forEach((d, i) => h.writeUInt32BE(d >>> 0, 4 + 4 * i));
  return h;
}

/** One PNG chunk: length, type, data, CRC-32 of type + data. */
function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * An 8-bit RGB PNG of `width` x `height` filled with `rgb`. `idat` replaces the compressed pixel
 * data (e.g. a deflate bomb, or too little data for the size the header claims).
 */
export function pngBytes(
  width: number,
  height: number,
  rgb: [number, number, number] = [128, 64, 32],
  idat?: Uint8Array,
): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  let data = idat;
  if (!data) {
    const row = Buffer.alloc(1 + 3 * width);
    for (let x = 0; x < width; x++) row.set(rgb, 1 + 3 * x);
    data = zlib.deflateSync(Buffer.concat(Array.from({ length: height }, () => row)));
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', data),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** zlib framing (RFC 1950) around a raw deflate stream; Adler-32 left 0 unless given. */
export function zlibWrap(raw: Uint8Array, adler = 0): Buffer {
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(adler >>> 0, 0);
  return Buffer.concat([Buffer.from([0x78, 0x9c]), raw, tail]);
}
