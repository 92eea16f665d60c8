/**
 * Files written atomically (a temporary file beside the target, then rename), and the bookkeeping
 * that makes interruptions safe:
 *
 * - every temporary file being written is registered, so a second Ctrl-C can wait for the write in
 *   flight (or remove it) instead of leaving an 89 MB `.tmp` behind;
 * - a temporary file left by a killed process (`NAME.tmp-PID-RANDOM`, its PID no longer running) is
 *   removed when the next run starts in that folder;
 * - a failed write names the file, and says so when the disk is full (FileWriteError).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/** A write that failed: the file, the errno code, and the operation that failed. */
export class FileWriteError extends Error {
  override name = 'FileWriteError';
  readonly file: string;
  readonly code: string | undefined;
  constructor(file: string, cause: unknown) {
    const e = cause as NodeJS.ErrnoException;
    const code = e?.code;
    const what =
      code === 'ENOSPC'
        ? 'ENOSPC: the disk is full'
        : code === 'EDQUOT'
          ? 'EDQUOT: the disk quota is exceeded'
          : (e?.message ?? String(cause)).split('\n')[0]!;
    super(`cannot write ${file}: ${what}`);
    this.file = file;
    this.code = code;
  }
  /** The disk (or quota) is full: freeing space and resuming is the fix. */
  get diskFull(): boolean {
    return this.code === 'ENOSPC' || this.code === 'EDQUOT';
  }
}

const TEMP_MARK = '.tmp-';
/** NAME.tmp-PID-RANDOM, as tempPath makes them. */
const TEMP_NAME = /\.tmp-(\d+)-[0-9a-z]+$/;

const inFlight = new Map<string, Promise<void>>();

/** The temporary name beside `file` that this process writes before renaming it over `file`. */
export function tempPath(file: string): string {
  return `${file}${TEMP_MARK}${process.pid}-${randomBytes(6).toString('hex')}`;
}

/**
 * Runs `write(tmp)` with `tmp` registered as in flight, then renames it over `file`. On any error
 * the temporary file is removed and a FileWriteError naming `file` is thrown.
 */
export async function writeViaTemp(file: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = tempPath(file);
  let done!: () => void;
  const key = path.resolve(tmp);
  inFlight.set(
    key,
    new Promise<void>((resolve) => {
      done = resolve;
    }),
  );
  try {
    await write(tmp);
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.unlink(tmp).catch(() => undefined);
    throw err instanceof FileWriteError ? err : new FileWriteError(file, err);
  } finally {
    inFlight.delete(key);
    done();
  }
}

/** A text file (JSON, JSON lines) written atomically. */
export function writeTextAtomic(file: string, text: string): Promise<void> {
  return writeViaTemp(file, (tmp) => fs.promises.writeFile(tmp, text));
}

/** The same, synchronously: for small files written before any async work starts (run.json). */
export function writeTextAtomicSync(file: string, text: string): void {
  const tmp = tempPath(file);
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new FileWriteError(file, err);
  }
}

/** The temporary files being written now. */
export function writesInFlight(): string[] {
  return [...inFlight.keys()];
}

/** Resolves when every write in flight now has finished (renamed or removed). */
export async function writesSettled(): Promise<void> {
  await Promise.all([...inFlight.values()]);
}

/** Removes the temporary files of the writes in flight (for an exit that cannot wait for them). */
export function removeWritesInFlight(): void {
  for (const tmp of inFlight.keys()) fs.rmSync(tmp, { force: true });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files in `dir` whose writer is gone: a process killed mid-write (SIGKILL,
 * power loss) leaves its NAME.tmp-PID-RANDOM. Files of a live process (another run writing into the
 * same folder) are left alone. Returns what was removed.
 */
export function removeStaleTemps(dir: string): { files: string[]; bytes: number } {
  const removed = { files: [] as string[], bytes: 0 };
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m) continue;
    const file = path.join(dir, name);
    const pid = Number(m[1]);
    // Our own PID is stale too unless we are writing it now: in a container every run may get the
    // same PID as the one that was killed.
    if (pid === process.pid ? inFlight.has(path.resolve(file)) : processAlive(pid)) continue;
    try {
      const st = fs.lstatSync(file);
      if (!st.isFile()) continue;
      fs.rmSync(file, { force: true });
      removed.files.push(name);
      removed.bytes += st.size;
    } catch {
      // Gone already, or not ours to remove: either way nothing to do.
    }
  }
  return removed;
}
