// `sgdr train` stopped from outside, end to end: SIGTERM exits 143 and SIGHUP 129, each with a
// checkpoint; a second Ctrl-C leaves no temporary file; `npm run sgdr` passes SIGTERM on instead of
// orphaning the training; and --resume survives a moved --init-weights file, a deleted snapshot
// probabilities file and temporary files of killed writes, ending where an uninterrupted run ends.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resnet } from '../lib';
import { runCommand } from './helpers/cli';
import { writeIdxDataset } from './helpers/idx';
import { tempDir } from './helpers/native';

const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'bin/sgdr.js');
const env = { ...process.env, SGDR_QUIET: '1' };
const data = writeIdxDataset(path.join(tempDir('signals-data'), 'd'), 256, 32, { gzip: true });
// 16 batches an epoch: long enough to be interrupted mid-epoch, short enough for CI.
const small = [
  '--data',
  `fashion-mnist:${data}`,
  '--batch-size',
  '16',
  '--image-size',
  '12',
  '--threads',
  '1',
  '--workers',
  '1',
];

interface Started {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(file: string, args: string[]): Started {
  const child = spawn(file, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stderr: () => stderr, exit };
}

async function waitFor(test: () => boolean, what: string, ms = 120_000): Promise<void> {
  const until = Date.now() + ms;
  while (!test()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const tempFiles = (dir: string) => fs.readdirSync(dir).filter((f) => f.includes('.tmp-'));
const rows = (dir: string) =>
  fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
/** The numbers of a metrics row (its timings differ from run to run). */
const numbers = (r: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'seconds' && k !== 'images_per_second'));

/** Trains until the first epoch is done, then sends `signal` (once, or `times` times in a row). */
async function interrupt(
  out: string,
  signal: NodeJS.Signals,
  times = 1,
  extra: string[] = [],
): Promise<{ code: number | null; stderr: string }> {
  const run = start(process.execPath, [
    bin,
    'train',
    ...small,
    '--epochs',
    '3',
    '--t0',
    '1',
    '--t-mult',
    '1',
    '--out',
    out,
    ...extra,
  ]);
  await waitFor(() => /epoch 1\/3 +train_loss/.test(run.stderr()), 'epoch 1');
  for (let i = 0; i < times; i++) {
    run.child.kill(signal);
    await new Promise((r) => setTimeout(r, 30));
  }
  const { code } = await run.exit;
  return { code, stderr: run.stderr() };
}

describe('sgdr train, stopped from outside', () => {
  it('SIGTERM exits 143 and SIGHUP 129, each after a checkpoint of the exact position', async () => {
    for (const [signal, code] of [
      ['SIGTERM', 143],
      ['SIGHUP', 129],
    ] as const) {
      const out = path.join(tempDir(`signals-${signal}`), 'run');
      const r = await interrupt(out, signal);
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toMatch(new RegExp(`${signal}.*: stopping after the current batch`));
      expect(r.stderr).toMatch(
        new RegExp(`continue with: sgdr train --resume ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
      );
      expect(fs.existsSync(path.join(out, 'checkpoint.pth'))).toBe(true);
      expect(tempFiles(out)).toEqual([]);
    }
  });

  it('a second Ctrl-C exits at once with 130 and leaves no temporary file; --resume finishes the run', async () => {
    const out = path.join(tempDir('signals-twice'), 'run');
    const r = await interrupt(out, 'SIGINT', 2);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/SIGINT again: exiting/);
    expect(tempFiles(out)).toEqual([]);
    const again = await runCommand(process.execPath, [bin, 'train', '--resume', out], { cwd: root, env });
    expect(again.status, again.stderr).toBe(0);
    expect(rows(out).map((x) => x.epoch)).toEqual([1, 2, 3]);
  });

  it('SIGTERM to `npm run sgdr` reaches the training: it checkpoints and exits, no orphan', async () => {
    const out = path.join(tempDir('signals-npm'), 'run');
    const npm = start('npm', ['run', '--silent', 'sgdr', '--', 'train', ...small, '--epochs', '3', '--out', out]);
    await waitFor(() => /epoch 1\/3 +train_loss/.test(npm.stderr()), 'epoch 1');
    npm.child.kill('SIGTERM');
    await npm.exit;
    // The training process is found by its --out in /proc; it must be gone soon after npm.
    const training = () =>
      fs
        .readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(out);
          } catch {
            return false;
          }
        });
    await waitFor(() => training().length === 0, 'the training process to exit', 60_000);
    expect(fs.existsSync(path.join(out, 'checkpoint.pth'))).toBe(true);
    expect(tempFiles(out)).toEqual([]);
  });

  it('--resume: a moved --init-weights file, a deleted snapshot probabilities file and stale temporary files', async () => {
    const dir = tempDir('signals-resume');
    const weights = path.join(dir, 'pretrained.pth');
    const model = resnet('resnet18', { numClasses: 10, inChannels: 3, stem: 'imagenet', seed: 3 });
    await model.saveStateDict(weights);
    model.dispose();
    // A small LR: at 0.05 these random 'pretrained' weights train chaotically, and rounding grows.
    const transfer = ['--init-weights', weights, '--reinit-last', '2', '--ensemble-size', '3', '--lr', '0.005'];

    const out = path.join(dir, 'interrupted');
    const r = await interrupt(out, 'SIGINT', 1, transfer);
    expect(r.code, r.stderr).toBe(130);
    expect(rows(out).length).toBeLessThan(3);
    // The 7×7 stem of the ImageNet weights is the one used and the one reported.
    expect(r.stderr).toMatch(/imagenet stem: 7×7 conv1/);
    // Two copies of the stopped run: one resumed as it is, one after all that can go wrong has.
    const untouched = path.join(dir, 'untouched');
    fs.cpSync(out, untouched, { recursive: true });
    const bare = path.join(dir, 'bare');
    fs.cpSync(out, bare, { recursive: true });
    const first = await runCommand(process.execPath, [bin, 'train', '--resume', untouched], { cwd: root, env });
    expect(first.status, first.stderr).toBe(0);

    fs.renameSync(weights, path.join(dir, 'moved.pth'));
    fs.rmSync(path.join(out, 'snapshot-cycle-1.val-probabilities.pth'));
    const stale = 'checkpoint.pth.tmp-4194302-0123abcd';
    fs.writeFileSync(path.join(out, stale), Buffer.alloc(1 << 20));
    const again = await runCommand(process.execPath, [bin, 'train', '--resume', out], { cwd: root, env });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/removed 1 temporary file\(s\) of interrupted writes .*\(1\.0 MB\)/);
    expect(again.stderr).toMatch(
      /resume: the model's shape and weights from .*checkpoint\.pth \(the original --init-weights .*pretrained\.pth is not read\)/,
    );
    expect(again.stderr).toMatch(
      /resume: snapshot-cycle-1\.val-probabilities\.pth was missing; made again from snapshot-cycle-1\.pth/,
    );
    expect(tempFiles(out)).toEqual([]);
    // None of it changed a number: the remade probabilities are the lost ones, ensemble included.
    expect(rows(out).map(numbers)).toEqual(rows(untouched).map(numbers));
    expect(rows(out).map((x) => x.epoch)).toEqual([1, 2, 3]);

    // Probabilities and weights both gone: the ensemble leaves that cycle out, and says so.
    fs.rmSync(path.join(bare, 'snapshot-cycle-1.val-probabilities.pth'));
    fs.rmSync(path.join(bare, 'snapshot-cycle-1.pth'));
    const left = await runCommand(process.execPath, [bin, 'train', '--resume', bare], { cwd: root, env });
    expect(left.status, left.stderr).toBe(0);
    expect(left.stderr).toMatch(
      /resume: .*snapshot-cycle-1\.val-probabilities\.pth is missing and so is snapshot-cycle-1\.pth: the snapshot ensemble leaves cycle 1 out/,
    );
    expect(rows(bare)[2].ensemble_size).toBe(rows(untouched)[2].ensemble_size - 1);
  });

  it('sgdr compare: SIGTERM twice ends the workers after their writes, exit 143, nothing left running', async () => {
    const dir = tempDir('signals-compare');
    const config = {
      name: 'signals',
      data: { source: `fashion-mnist:${data}`, augment: false, imageSize: 12 },
      model: { arch: 'resnet18', stem: 'cifar' },
      epochs: 3,
      batchSize: 16,
      seeds: [0, 1],
      schedules: [{ label: 'SGDR', type: 'warm-restarts', lr: 0.05, t0: 1, tMult: 1 }],
    };
    const file = path.join(dir, 'experiment.json');
    fs.writeFileSync(file, JSON.stringify(config));
    const out = path.join(dir, 'exp');
    const run = start(process.execPath, [
      bin,
      'compare',
      '--config',
      file,
      '--out',
      out,
      '--jobs',
      '2',
      '--threads',
      '1',
    ]);
    await waitFor(() => /epoch 1\/3 /.test(run.stderr()), 'epoch 1 of a run');
    run.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 50));
    run.child.kill('SIGTERM');
    const { code } = await run.exit;
    expect(code, run.stderr()).toBe(143);
    expect(run.stderr()).toMatch(/SIGTERM again: exiting once the file being written is complete/);
    // No worker outlives it, and no run folder holds a half-written file.
    const alive = fs
      .readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(out);
        } catch {
          return false;
        }
      });
    expect(alive).toEqual([]);
    for (const seed of [0, 1]) {
      const runDir = path.join(out, 'runs', 'sgdr', `seed-${seed}`);
      if (fs.existsSync(runDir)) expect(tempFiles(runDir)).toEqual([]);
    }
    const again = await runCommand(
      process.execPath,
      [bin, 'compare', '--config', file, '--out', out, '--threads', '1'],
      { cwd: root, env },
    );
    expect(again.status, again.stderr).toBe(0);
  });
});
