/**
 * One temporary folder for the whole test run, removed when the run ends.
 *
 * Tests make folders of checkpoints, snapshots and experiment runs (a compare test alone writes
 * over a gigabyte of ResNet weights), and so do the CLI processes and the PyTorch reference scripts
 * they start. Pointing TMPDIR at a folder of the run's own catches all of them, whoever made them
 * and however a test ended, so a run leaves nothing behind: before this, every `npm test` left
 * several gigabytes in /tmp, and CI ran out of disk on its third LibTorch line.
 *
 * The test workers, and every process they spawn, inherit TMPDIR from this process (Node's
 * os.tmpdir() and Python's tempfile both read it). SGDR_KEEP_TEST_TMP=1 keeps the folder for a look.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) total += folderBytes(p);
    else if (entry.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

export default function setup(): () => void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sgdr-test-run-'));
  process.env.TMPDIR = root;
  return () => {
    if (process.env.SGDR_KEEP_TEST_TMP === '1') {
      console.log(`test temp: kept ${root} (SGDR_KEEP_TEST_TMP=1)`);
      return;
    }
    let mb = 0;
    try {
      mb = folderBytes(root) / 2 ** 20;
    } catch {
      // A folder that vanished mid-count is still removed below.
    }
    fs.rmSync(root, { recursive: true, force: true });
    console.log(`test temp: removed ${root} (${mb.toFixed(0)} MB the tests had left in it)`);
  };
}
