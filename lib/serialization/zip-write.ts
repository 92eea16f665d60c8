/**
 * Writing the subset of ZIP that torch.save archives use: stored entries, aligned as PyTorch aligns
 * them, zip64 records past 4 GiB, returned as a list of chunks so multi-gigabyte archives never need
 * one contiguous buffer.
 */
import { crc32, dataView, EOCD_SIZE, SIG, U16_MAX, U32_MAX } from './zip-format';

export interface ZipWriteEntry {
  name: string;
  /** The entry's bytes, possibly in several chunks (written back to back, never copied). */
  data: Uint8Array | Uint8Array[];
}

export interface ZipWriteOptions {
  /** Entry data starts at a multiple of this (PyTorch: 64, so storages can be mmapped). */
  align?: number;
  /** Emit zip64 records even for small archives (for testing readers). */
  forceZip64?: boolean;
}

// DOS date 1980-01-01 00:00 (what PyTorch writes): deterministic output.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

/**
 * Lays out a stored (uncompressed) archive and returns its chunks in order. Like PyTorch's
 * writer it pads each local header with an extra field tagged "FB" filled with 'Z' so the data
 * starts aligned.
 */
export function buildZip(entries: readonly ZipWriteEntry[], options: ZipWriteOptions = {}): Uint8Array[] {
  const align = options.align ?? 64;
  const force64 = options.forceZip64 === true;
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const seen = new Set<string>();

  for (const entry of entries) {
    if (seen.has(entry.name)) throw new Error(`duplicate zip entry name ${entry.name}`);
    seen.add(entry.name);
    const parts = Array.isArray(entry.data) ? entry.data : [entry.data];
    let size = 0;
    let crc = 0;
    for (const part of parts) {
      size += part.byteLength;
      crc = crc32(part, crc);
    }
    const name = encoder.encode(entry.name);
    const big = force64 || size >= U32_MAX || offset >= U32_MAX;
    const zip64Local = big ? 4 + 16 : 0; // uncompressed + compressed sizes
    const headerBase = offset + 30 + name.length + zip64Local + 4;
    const pad = align > 1 ? (align - (headerBase % align)) % align : 0;
    const extraLen = zip64Local + 4 + pad;

    const local = new Uint8Array(30 + name.length + extraLen);
    const lv = dataView(local);
    lv.setUint32(0, SIG.local, true);
    lv.setUint16(4, big ? 45 : 20, true); // version needed
    lv.setUint16(6, 0, true); // flags
    lv.setUint16(8, 0, true); // stored
    lv.setUint16(10, DOS_TIME, true);
    lv.setUint16(12, DOS_DATE, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, big ? U32_MAX : size, true);
    lv.setUint32(22, big ? U32_MAX : size, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, extraLen, true);
    local.set(name, 30);
    let e = 30 + name.length;
    if (big) {
      lv.setUint16(e, 0x0001, true);
      lv.setUint16(e + 2, 16, true);
      lv.setBigUint64(e + 4, BigInt(size), true);
      lv.setBigUint64(e + 12, BigInt(size), true);
      e += 20;
    }
    local[e] = 0x46; // 'F'
    local[e + 1] = 0x42; // 'B'
    lv.setUint16(e + 2, pad, true);
    local.fill(0x5a, e + 4, e + 4 + pad); // 'Z'
    chunks.push(local);
    for (const part of parts) if (part.byteLength > 0) chunks.push(part);

    // Central directory record; zip64 extra carries the saturated fields.
    const sizes64 = force64 || size >= U32_MAX;
    const offset64 = force64 || offset >= U32_MAX;
    const cExtraBody = (sizes64 ? 16 : 0) + (offset64 ? 8 : 0);
    const cExtra = cExtraBody > 0 ? 4 + cExtraBody : 0;
    const rec = new Uint8Array(46 + name.length + cExtra);
    const cv = dataView(rec);
    cv.setUint32(0, SIG.central, true);
    cv.setUint16(4, cExtra > 0 ? 45 : 20, true); // version made by (MS-DOS attributes)
    cv.setUint16(6, cExtra > 0 ? 45 : 20, true); // version needed
    cv.setUint16(8, 0, true);
    cv.setUint16(10, 0, true);
    cv.setUint16(12, DOS_TIME, true);
    cv.setUint16(14, DOS_DATE, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, sizes64 ? U32_MAX : size, true);
    cv.setUint32(24, sizes64 ? U32_MAX : size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, cExtra, true);
    cv.setUint32(42, offset64 ? U32_MAX : offset, true);
    rec.set(name, 46);
    if (cExtra > 0) {
      let c = 46 + name.length;
      cv.setUint16(c, 0x0001, true);
      cv.setUint16(c + 2, cExtraBody, true);
      c += 4;
      if (sizes64) {
        cv.setBigUint64(c, BigInt(size), true);
        cv.setBigUint64(c + 8, BigInt(size), true);
        c += 16;
      }
      if (offset64) cv.setBigUint64(c, BigInt(offset), true);
    }
    central.push(rec);
    offset += local.length + size;
  }

  const cdOffset = offset;
  let cdSize = 0;
  for (const rec of central) {
    chunks.push(rec);
    cdSize += rec.length;
  }
  const count = entries.length;
  const need64 = force64 || count >= U16_MAX || cdSize >= U32_MAX || cdOffset >= U32_MAX;
  if (need64) {
    const rec = new Uint8Array(56 + 20);
    const v = dataView(rec);
    v.setUint32(0, SIG.zip64Eocd, true);
    v.setBigUint64(4, 44n, true); // size of the rest of this record
    v.setUint16(12, 45, true);
    v.setUint16(14, 45, true);
    v.setUint32(16, 0, true); // this disk
    v.setUint32(20, 0, true); // disk with the central directory
    v.setBigUint64(24, BigInt(count), true);
    v.setBigUint64(32, BigInt(count), true);
    v.setBigUint64(40, BigInt(cdSize), true);
    v.setBigUint64(48, BigInt(cdOffset), true);
    v.setUint32(56, SIG.zip64Locator, true);
    v.setUint32(60, 0, true);
    v.setBigUint64(64, BigInt(cdOffset + cdSize), true);
    v.setUint32(72, 1, true); // total disks
    chunks.push(rec);
  }
  const eocd = new Uint8Array(EOCD_SIZE);
  const ev = dataView(eocd);
  ev.setUint32(0, SIG.eocd, true);
  ev.setUint16(8, need64 ? U16_MAX : count, true);
  ev.setUint16(10, need64 ? U16_MAX : count, true);
  ev.setUint32(12, need64 ? U32_MAX : cdSize, true);
  ev.setUint32(16, need64 ? U32_MAX : cdOffset, true);
  chunks.push(eocd);
  return chunks;
}
