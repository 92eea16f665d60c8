/** Small numeric helpers for the native parity tests. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const madeHere: string[] = [];

/**
 * A new temporary folder, removed after this test file's tests (test/setup/remove-temp-dirs.ts), so
 * a run's peak disk use is one file's folders, not the sum of all of them (7 GB).
 * test/setup/temp-root.ts removes whatever is left at the end of the run.
 */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sgdr-${prefix}-`));
  madeHere.push(dir);
  return dir;
}

/** Removes the folders tempDir made in this file (kept with SGDR_KEEP_TEST_TMP=1). */
export function removeTempDirs(): void {
  if (process.env.SGDR_KEEP_TEST_TMP === '1') return;
  for (const d of madeHere.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export function readFloat32(file: string): Float32Array {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export function readInt64(file: string): BigInt64Array {
  const b = fs.readFileSync(file);
  return new BigInt64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** ||a - b|| / ||b|| in float64. */
export function relativeL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    num += d * d;
    den += b[i]! * b[i]!;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

export const REFERENCE_DIR = path.resolve(__dirname, '..', 'reference');
export const referenceScript = (name: string): string => fs.readFileSync(path.join(REFERENCE_DIR, name), 'utf8');
