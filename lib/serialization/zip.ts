/**
 * The subset of ZIP that torch.save archives use: a flat list of entries, stored (method 0) by
 * PyTorch's miniz writer, deflated (method 8) by anyone who re-zips them, zip64 records once the
 * archive passes 4 GiB: reading, on an in-memory buffer, with views (no copies) for stored entries.
 * Writing is zip-write.ts; the signatures and CRC-32 they share, zip-format.ts.
 */
import * as zlib from 'node:zlib';
import { corrupt, truncated, TorchFileError } from './errors';
import { crc32, dataView, EOCD_SIZE, MAX_COMMENT, SIG, U16_MAX, U32_MAX } from './zip-format';

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * How far a deflated entry may expand. PyTorch stores its entries uncompressed; deflated ones come
 * from re-zipping, where tensor data compresses little (about 1.1:1 for trained weights) and only
 * small entries (zero biases, counters) compress much. A zip bomb declares its size honestly (a
 * 3 MB stream of zeros inflates to 3 GiB), so the declared size is not enough: an entry may inflate
 * to at most INFLATE_FLOOR + INFLATE_RATIO × its compressed size, and all the deflated entries of
 * an archive together to at most INFLATE_FLOOR + INFLATE_RATIO × the archive's size.
 */
export const INFLATE_FLOOR = 64 * 2 ** 20;
export const INFLATE_RATIO = 16;

export function inflateLimit(compressedBytes: number): number {
  return INFLATE_FLOOR + INFLATE_RATIO * compressedBytes;
}

const MIB = (n: number): string => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 3 : 1)} MiB`;

/** The bytes all the deflated entries of one archive may inflate to, together. */
export class InflateBudget {
  private used = 0;
  readonly limit: number;
  constructor(archiveBytes: number) {
    this.limit = inflateLimit(archiveBytes);
  }
  take(entry: ZipEntry): void {
    if (this.used + entry.uncompressedSize > this.limit) {
      throw new TorchFileError(
        `zip entry ${entry.name} would bring the archive's inflated entries to ${MIB(this.used + entry.uncompressedSize)}, ` +
          `more than the ${MIB(this.limit)} this reader inflates from an archive of this size ` +
          `(${INFLATE_RATIO}x its size + ${MIB(INFLATE_FLOOR)}, a guard against zip bombs); PyTorch writes entries ` +
          'uncompressed: re-save the file with torch.save instead of re-zipping it',
      );
    }
    this.used += entry.uncompressedSize;
  }
}

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate; anything else is rejected when the entry is read. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  localHeaderOffset: number;
}

export function looksLikeZip(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;
}

/** A 64-bit little-endian field as a JS number; sizes beyond 2^53 cannot be real. */
function u64(dv: DataView, at: number, what: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`zip ${what} ${v} is impossibly large`);
  return Number(v);
}

function findEndOfCentralDirectory(buf: Uint8Array, dv: DataView): number {
  const lowest = Math.max(0, buf.length - EOCD_SIZE - MAX_COMMENT);
  for (let at = buf.length - EOCD_SIZE; at >= lowest; at--) {
    if (buf[at] === 0x50 && buf[at + 1] === 0x4b && dv.getUint32(at, true) === SIG.eocd) {
      // The comment length must account exactly for the rest of the file; this rejects a stray
      // signature inside the comment or inside stored data.
      if (at + EOCD_SIZE + dv.getUint16(at + 20, true) === buf.length) return at;
    }
  }
  throw truncated('zip end-of-central-directory record not found (file cut short?)');
}

/** Lists the entries of the archive from its central directory (zip64 aware). */
export function readZipDirectory(buf: Uint8Array): ZipEntry[] {
  const dv = dataView(buf);
  const eocd = findEndOfCentralDirectory(buf, dv);
  let count = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true);
  let cdOffset = dv.getUint32(eocd + 16, true);

  if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== SIG.zip64Locator) {
      throw corrupt('zip needs a zip64 end-of-central-directory locator but has none');
    }
    const rec = u64(dv, loc + 8, 'zip64 record offset');
    if (rec + 56 > loc || dv.getUint32(rec, true) !== SIG.zip64Eocd) {
      throw corrupt('zip64 end-of-central-directory record is missing or misplaced');
    }
    count = u64(dv, rec + 32, 'entry count');
    cdSize = u64(dv, rec + 40, 'central directory size');
    cdOffset = u64(dv, rec + 48, 'central directory offset');
  }
  if (cdOffset + cdSize > buf.length) throw truncated('zip central directory lies past the end of the file');
  // Each record takes at least 46 bytes, so the directory's size bounds the count it may claim.
  if (count > Math.floor(cdSize / 46)) {
    throw corrupt(
      `zip directory claims ${count} entries but its ${cdSize} bytes hold at most ${Math.floor(cdSize / 46)}`,
    );
  }

  const entries: ZipEntry[] = [];
  const decoder = new TextDecoder('utf-8');
  let p = cdOffset;
  const end = cdOffset + cdSize;
  for (let i = 0; i < count; i++) {
    if (p + 46 > end || dv.getUint32(p, true) !== SIG.central) {
      throw corrupt(`zip central directory entry ${i} is damaged`);
    }
    const method = dv.getUint16(p + 10, true);
    const crc = dv.getUint32(p + 16, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let uncompressedSize = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localHeaderOffset = dv.getUint32(p + 42, true);
    const nameStart = p + 46;
    const extraStart = nameStart + nameLen;
    const next = extraStart + extraLen + commentLen;
    if (next > end) throw corrupt(`zip central directory entry ${i} overruns the directory`);
    const name = decoder.decode(buf.subarray(nameStart, extraStart));

    // zip64 extended information: only the fields saturated in the fixed header are present,
    // in this order.
    if (uncompressedSize === U32_MAX || compressedSize === U32_MAX || localHeaderOffset === U32_MAX) {
      let q = extraStart;
      const extraEnd = extraStart + extraLen;
      let found = false;
      while (q + 4 <= extraEnd) {
        const id = dv.getUint16(q, true);
        const size = dv.getUint16(q + 2, true);
        const body = q + 4;
        if (body + size > extraEnd) break;
        if (id === 0x0001) {
          let f = body;
          const take = (): number => {
            if (f + 8 > body + size) throw corrupt(`zip64 extra field of ${name} is too short`);
            const v = u64(dv, f, 'zip64 field');
            f += 8;
            return v;
          };
          if (uncompressedSize === U32_MAX) uncompressedSize = take();
          if (compressedSize === U32_MAX) compressedSize = take();
          if (localHeaderOffset === U32_MAX) localHeaderOffset = take();
          found = true;
          break;
        }
        q = body + size;
      }
      if (!found) throw corrupt(`zip entry ${name} needs a zip64 extra field but has none`);
    }
    entries.push({ name, method, compressedSize, uncompressedSize, crc32: crc, localHeaderOffset });
    p = next;
  }
  return entries;
}

/**
 * The bytes of one entry: a view into `buf` when stored, a fresh buffer when deflated. Sizes come
 * from the central directory because PyTorch's writer leaves them zero in the local header (it
 * uses data descriptors).
 */
export function readZipEntry(buf: Uint8Array, entry: ZipEntry, verifyCrc = true, budget?: InflateBudget): Uint8Array {
  const dv = dataView(buf);
  const h = entry.localHeaderOffset;
  if (h + 30 > buf.length) throw truncated(`zip entry ${entry.name} starts past the end of the file`);
  if (dv.getUint32(h, true) !== SIG.local) throw corrupt(`zip local header of ${entry.name} is damaged`);
  const start = h + 30 + dv.getUint16(h + 26, true) + dv.getUint16(h + 28, true);
  const stop = start + entry.compressedSize;
  if (stop > buf.length) throw truncated(`zip entry ${entry.name} runs past the end of the file`);
  const raw = buf.subarray(start, stop);
  let data: Uint8Array;
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.uncompressedSize) {
      throw corrupt(`stored zip entry ${entry.name} has different compressed and uncompressed sizes`);
    }
    data = raw;
  } else if (entry.method === 8) {
    // Checked before inflating anything: the declared size against the compressed size, then
    // against what the archive's other entries already took.
    if (entry.uncompressedSize > inflateLimit(entry.compressedSize)) {
      throw new TorchFileError(
        `zip entry ${entry.name} declares ${entry.uncompressedSize} bytes inflated from ${entry.compressedSize} ` +
          `compressed (${(entry.uncompressedSize / Math.max(1, entry.compressedSize)).toFixed(0)}:1), more than the ` +
          `${INFLATE_RATIO}x + ${MIB(INFLATE_FLOOR)} this reader inflates (a guard against zip bombs; real weights ` +
          'compress about 1.1:1); PyTorch writes entries uncompressed: re-save the file with torch.save instead of re-zipping it',
      );
    }
    budget?.take(entry);
    try {
      // Capped at the declared size, so a corrupt entry cannot inflate past it.
      data = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.uncompressedSize) });
    } catch (e) {
      throw corrupt(`cannot inflate zip entry ${entry.name}: ${(e as Error).message}`);
    }
    if (data.length !== entry.uncompressedSize) {
      throw corrupt(`zip entry ${entry.name} inflated to ${data.length} bytes, expected ${entry.uncompressedSize}`);
    }
  } else {
    throw new TorchFileError(`zip entry ${entry.name} uses unsupported compression method ${entry.method}`);
  }
  if (verifyCrc && crc32(data) !== entry.crc32) throw corrupt(`zip entry ${entry.name} fails its CRC-32 check`);
  return data;
}
