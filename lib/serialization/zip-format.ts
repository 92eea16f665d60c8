/**
 * What the ZIP reader (zip.ts) and writer (zip-write.ts) share: the record signatures and field
 * limits, and CRC-32 (the zip polynomial).
 */
import * as zlib from 'node:zlib';

/** The four-byte signature that starts each record. */
export const SIG = {
  local: 0x04034b50,
  central: 0x02014b50,
  eocd: 0x06054b50,
  zip64Eocd: 0x06064b50,
  zip64Locator: 0x07064b50,
} as const;
/** The end-of-central-directory record without its comment. */
export const EOCD_SIZE = 22;
export const MAX_COMMENT = 0xffff;
export const U16_MAX = 0xffff;
export const U32_MAX = 0xffffffff;

/** A DataView over exactly `buf`'s bytes. */
export function dataView(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

// zlib.crc32 is native but only exists from Node 20.15 / 22.2.

let crcTable: Uint32Array | undefined;
/** Table-driven CRC-32 for Nodes without zlib.crc32 (exported for its test). */
export function crc32Js(data: Uint8Array, crc = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const nativeCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of `data`, continuing from `crc` (0 to start). */
export function crc32(data: Uint8Array, crc = 0): number {
  return nativeCrc32 ? nativeCrc32(data, crc) >>> 0 : crc32Js(data, crc);
}
