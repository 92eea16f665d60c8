// StopSignals and the atomic-file bookkeeping, driven directly (no real signals): the first request
// stops after the batch, a second waits for the write in flight, a third removes it and exits;
// temporary files of dead writers are removed, those of live ones kept; write errors name the file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileWriteError, removeStaleTemps, writeViaTemp, writesInFlight } from '../lib/atomic-file';
import { STOP_EXIT_CODES, StopSignals } from '../lib/stop-signals';
import { tempDir } from './helpers/native';

let stops: StopSignals[] = [];
afterEach(() => {
  for (const s of stops) s.dispose();
  stops = [];
});

function make(extra: Partial<ConstructorParameters<typeof StopSignals>[0]> = {}) {
  const lines: string[] = [];
  const exits: number[] = [];
  const stop = new StopSignals({
    log: (l) => lines.push(l.trim()),
    firstMessage: 'stopping after the batch',
    resumeHint: 'Resume with X.',
    exit: (code) => exits.push(code),
    ...extra,
  });
  stops.push(stop);
  return { stop, lines, exits };
}

/** A write that stays in flight until release() is called. */
function slowWrite(file: string) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const done = writeViaTemp(file, async (tmp) => {
    fs.writeFileSync(tmp, 'partial');
    await gate;
    fs.appendFileSync(tmp, ' and complete');
  });
  return { release, done };
}

describe('StopSignals', () => {
  it('exit codes are 128 + the signal number', () => {
    expect(STOP_EXIT_CODES).toMatchObject({ SIGINT: 130, SIGTERM: 143, SIGHUP: 129 });
    for (const reason of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const { stop, lines, exits } = make();
      stop.request(reason);
      expect(stop.signal.aborted).toBe(true);
      expect(stop.exitCode()).toBe(STOP_EXIT_CODES[reason]);
      expect(lines[0]).toMatch(/stopping after the batch/);
      expect(exits).toEqual([]);
    }
  });

  it('a second request waits for the write in flight, then exits; nothing half-written is left', async () => {
    const dir = tempDir('stop-second');
    const file = path.join(dir, 'checkpoint.pth');
    const { stop, lines, exits } = make();
    stop.request('SIGINT');
    const w = slowWrite(file);
    await new Promise((r) => setImmediate(r));
    expect(writesInFlight()).toHaveLength(1);
    stop.request('SIGINT');
    expect(lines[1]).toMatch(
      /SIGINT again: exiting once the file being written is complete \(1 write\(s\) in flight\).*Resume with X/,
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(exits).toEqual([]); // still writing
    w.release();
    await w.done;
    await new Promise((r) => setImmediate(r));
    expect(exits).toEqual([130]);
    expect(fs.readFileSync(file, 'utf8')).toBe('partial and complete');
    expect(fs.readdirSync(dir)).toEqual(['checkpoint.pth']);
  });

  it('a second request with no write in flight exits at once; a third removes the writes in flight', async () => {
    const { stop, exits, lines } = make();
    stop.request('SIGTERM');
    stop.request('SIGINT');
    expect(exits).toEqual([143]); // the first request's signal decides the code
    expect(lines[1]).toMatch(/exiting now, without waiting for the batch/);

    const dir = tempDir('stop-third');
    const second = make();
    second.stop.request('SIGINT');
    const w = slowWrite(path.join(dir, 'best.pth'));
    await new Promise((r) => setImmediate(r));
    second.stop.request('SIGINT');
    second.stop.request('SIGINT');
    expect(second.exits).toEqual([130]);
    expect(second.lines[2]).toMatch(/a third time: exiting now/);
    expect(fs.readdirSync(dir)).toEqual([]); // the temporary file is gone, the old best.pth (none) stays
    w.release();
    await w.done.catch(() => undefined);
  });

  it('a closed output or a gone parent counts once, however often it is reported', () => {
    const { stop, exits } = make();
    stop.request('output-closed');
    stop.request('output-closed');
    stop.request('parent-exited');
    expect(exits).toEqual([]);
    expect(stop.exitCode()).toBe(141);
  });

  it('the second request is passed on (to child processes) and the exit waits for them', async () => {
    let finish!: () => void;
    const children = new Promise<void>((r) => (finish = r));
    const passed: string[] = [];
    const { stop, exits } = make({ onSecond: (r) => passed.push(r), beforeExit: () => children });
    stop.request('SIGINT');
    stop.request('SIGINT');
    expect(passed).toEqual(['SIGINT']);
    await new Promise((r) => setTimeout(r, 20));
    expect(exits).toEqual([]);
    finish();
    await new Promise((r) => setTimeout(r, 20));
    expect(exits).toEqual([130]);
  });
});

describe('atomic files', () => {
  it('removes the temporary files of writers that are gone, keeps those of live ones', () => {
    const dir = tempDir('stale-temps');
    const dead = 'checkpoint.pth.tmp-4194301-abc123';
    const live = `best.pth.tmp-${process.ppid}-def456`;
    const own = `metrics.jsonl.tmp-${process.pid}-0a1b2c`; // not being written by us: a killed run with our PID
    const other = 'notes.tmp-x';
    for (const f of [dead, live, own, other]) fs.writeFileSync(path.join(dir, f), 'x'.repeat(1000));
    const removed = removeStaleTemps(dir);
    expect(removed.files.sort()).toEqual([dead, own].sort());
    expect(removed.bytes).toBe(2000);
    expect(fs.readdirSync(dir).sort()).toEqual([live, other].sort());
  });

  it('a failed write names the file and says when the disk is full', async () => {
    const file = path.join(tempDir('write-error'), 'no-such-folder', 'checkpoint.pth');
    const err = await writeViaTemp(file, (tmp) => fs.promises.writeFile(tmp, 'x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileWriteError);
    expect((err as Error).message).toMatch(
      new RegExp(`^cannot write ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT`),
    );
    const full = new FileWriteError(
      '/runs/a/checkpoint.pth',
      Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }),
    );
    expect(full.message).toBe('cannot write /runs/a/checkpoint.pth: ENOSPC: the disk is full');
    expect(full.diskFull).toBe(true);
  });

  it('a real disk-full write (/dev/full) is a FileWriteError that names the file', async () => {
    if (!fs.existsSync('/dev/full')) return;
    const dir = tempDir('dev-full');
    const file = path.join(dir, 'summary.json');
    // The temporary file is a symlink to /dev/full: every write to it fails with ENOSPC.
    const err = await writeViaTemp(file, async (tmp) => {
      fs.symlinkSync('/dev/full', tmp);
      await fs.promises.writeFile(tmp, 'x'.repeat(10000));
    }).catch((e: unknown) => e);
    expect((err as FileWriteError).diskFull).toBe(true);
    expect((err as Error).message).toBe(`cannot write ${file}: ENOSPC: the disk is full`);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
