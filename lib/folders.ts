/**
 * Output folders made safely. Node's fs.mkdirSync(dir, { recursive: true }) never returns under a
 * parent that exists but refuses new entries with ENOENT (/proc/x): it retries the same mkdir
 * forever. makeFolder creates the missing folders one level at a time, so every failure is thrown.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The errno code and its text: "ENOENT: no such file or directory". */
function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const text = e?.message ? e.message.split(',')[0]!.trim() : String(err);
  return e?.code && !text.startsWith(e.code) ? `${e.code}: ${text}` : text;
}

/**
 * mkdir -p: creates `dir` and its missing parents; an error names the folder that could not be made.
 * Returns the folders it created, outermost first.
 */
export function makeFolder(dir: string): string[] {
  const missing: string[] = [];
  for (let d = path.resolve(dir); ;) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (stat) {
      if (!stat.isDirectory())
        throw Object.assign(new Error(`ENOTDIR: not a directory, ${d}`), { code: 'ENOTDIR', path: d });
      break;
    }
    missing.push(d);
    const parent = path.dirname(d);
    if (parent === d) break;
    d = parent;
  }
  const made: string[] = [];
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d);
      made.push(d);
    } catch (err) {
      // Another process made it in between: fine, if it is a folder.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && fs.statSync(d).isDirectory()) continue;
      throw err;
    }
  }
  return made;
}

/**
 * Why `dir` cannot take output, or undefined when it can: the folder is created and a probe file
 * written and removed there, so a run fails before any work rather than at its first checkpoint.
 * Unless `keep`, the probe leaves nothing behind: folders it had to create are removed again (the
 * run makes them when it starts), so a command refused later for bad input leaves no empty --out.
 */
export function outputFolderProblem(dir: string, options: { keep?: boolean } = {}): string | undefined {
  let made: string[] = [];
  const undo = (): void => {
    for (const d of made.reverse()) {
      try {
        fs.rmdirSync(d); // only if still empty
      } catch {
        /* something was put there meanwhile: leave it */
      }
    }
  };
  try {
    made = makeFolder(dir);
  } catch (err) {
    const at = (err as NodeJS.ErrnoException).path;
    return `${reason(err)}; cannot create the folder${at && path.resolve(at) !== path.resolve(dir) ? ` ${at}` : ''}`;
  }
  const probe = path.join(dir, `.sgdr-write-test-${process.pid}`);
  try {
    fs.writeFileSync(probe, '');
  } catch (err) {
    undo();
    return `${reason(err)}; cannot write a file in it`;
  }
  fs.rmSync(probe, { force: true });
  if (!options.keep) undo();
  return undefined;
}

/** The folders of `dir` and its parents that do not exist yet, outermost first. */
export function missingFolders(dir: string): string[] {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d);) {
    missing.unshift(d);
    const parent = path.dirname(d);
    if (parent === d) break;
    d = parent;
  }
  return missing;
}

/**
 * Runs `work`, which may create the output folder `dir`; when it fails, the folders it created are
 * removed again if they are still empty. A run refused for a bad arch, data set or device after
 * the folder was claimed then leaves no empty `runs/train-<time>/` behind; a run that failed after
 * writing something keeps its folder and files.
 */
export async function undoEmptyFoldersOnError<T>(dir: string | undefined, work: () => Promise<T>): Promise<T> {
  const created = dir ? missingFolders(dir) : [];
  try {
    return await work();
  } catch (err) {
    for (const d of [...created].reverse()) {
      try {
        fs.rmdirSync(d); // only if empty
      } catch {
        break; // not empty (or gone): its parents are not empty either
      }
    }
    throw err;
  }
}
