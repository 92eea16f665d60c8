/**
 * A small PNG decoder (8-bit, non-interlaced: what resvg and Chromium's screenshots write), so
 * tests and checks can look at the pixels of a figure or a rendered report without a dependency.
 * Also a summary of what an image shows, to tell a drawn figure from a blank page.
 */
import { inflateSync } from 'node:zlib';

export interface DecodedPng {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel, row-major. */
  pixels: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

export function decodePng(data: Uint8Array): DecodedPng {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG file (bad signature)');
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  let colorType = -1;
  let palette: Buffer | undefined;
  let transparency: Buffer | undefined;
  const idat: Buffer[] = [];
  for (let pos = 8; pos + 8 <= buf.length;) {
    const length = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const body = buf.subarray(pos + 8, pos + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      bitDepth = body[8]!;
      colorType = body[9]!;
      if (body[12] !== 0) throw new Error('interlaced PNGs are not supported');
    } else if (type === 'PLTE') palette = body;
    else if (type === 'tRNS') transparency = body;
    else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    pos += 12 + length;
  }
  const channels = CHANNELS[colorType];
  if (!width || !height || channels === undefined)
    throw new Error(`unsupported or missing PNG header (colour type ${colorType})`);
  if (bitDepth !== 8) throw new Error(`only 8-bit PNGs are supported, got ${bitDepth}-bit`);
  const raw = inflateSync(Buffer.concat(idat));
  const bpp = channels;
  const stride = width * bpp;
  if (raw.length < height * (stride + 1)) throw new Error('truncated PNG image data');
  const rows = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    for (let i = 0; i < stride; i++) {
      const x = raw[src + i]!;
      const a = i >= bpp ? rows[dst + i - bpp]! : 0;
      const b = y > 0 ? rows[dst - stride + i]! : 0;
      const c = y > 0 && i >= bpp ? rows[dst - stride + i - bpp]! : 0;
      let v: number;
      switch (filter) {
        case 0:
          v = x;
          break;
        case 1:
          v = x + a;
          break;
        case 2:
          v = x + b;
          break;
        case 3:
          v = x + ((a + b) >> 1);
          break;
        case 4:
          v = x + paeth(a, b, c);
          break;
        default:
          throw new Error(`bad PNG filter type ${filter} in row ${y}`);
      }
      rows[dst + i] = v & 0xff;
    }
  }
  const pixels = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const s = p * bpp;
    let r: number,
      g: number,
      b: number,
      a = 255;
    if (colorType === 0 || colorType === 4) {
      r = g = b = rows[s]!;
      if (colorType === 4) a = rows[s + 1]!;
    } else if (colorType === 3) {
      const k = rows[s]!;
      if (!palette) throw new Error('palette PNG without a PLTE chunk');
      [r, g, b] = [palette[3 * k]!, palette[3 * k + 1]!, palette[3 * k + 2]!];
      if (transparency && k < transparency.length) a = transparency[k]!;
    } else {
      [r, g, b] = [rows[s]!, rows[s + 1]!, rows[s + 2]!];
      if (colorType === 6) a = rows[s + 3]!;
    }
    pixels.set([r, g, b, a], p * 4);
  }
  return { width, height, pixels };
}

export interface ImageSummary {
  width: number;
  height: number;
  /** Distinct colours (RGB, alpha ignored). */
  colours: number;
  /** Share of pixels that differ clearly (any channel by > 24) from the most common colour. */
  inked: number;
  /** Share of pixels that are neither near-grey nor near-white: coloured lines and bands. */
  coloured: number;
}

/** What an image holds, roughly: enough to tell a drawn page from a blank one. */
export function summarizeImage(image: DecodedPng): ImageSummary {
  const { pixels, width, height } = image;
  const counts = new Map<number, number>();
  for (let i = 0; i < pixels.length; i += 4) {
    const key = (pixels[i]! << 16) | (pixels[i + 1]! << 8) | pixels[i + 2]!;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let background = 0;
  let most = -1;
  for (const [k, n] of counts) if (n > most) [background, most] = [k, n];
  const [br, bg, bb] = [(background >> 16) & 255, (background >> 8) & 255, background & 255];
  let inked = 0;
  let coloured = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const [r, g, b] = [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!];
    if (Math.abs(r - br) > 24 || Math.abs(g - bg) > 24 || Math.abs(b - bb) > 24) inked++;
    if (Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
  }
  const total = width * height || 1;
  return { width, height, colours: counts.size, inked: inked / total, coloured: coloured / total };
}
