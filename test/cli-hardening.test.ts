/**
 * Hardening of the CLI against inputs that used to hang it, exhaust its memory or fail with a raw
 * error: every input is crafted here, every command must finish well within its timeout.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { boundariesReached } from '../lib/schedule/exact';
import { WarmRestarts } from '../lib/schedule';
import { ExperimentConfigError, parseExperimentConfig, readExperimentConfig } from '../lib/experiment';
import { SYNTHETIC_CONFIG } from './experiment-helpers';
import { makeFolder, outputFolderProblem } from '../lib/folders';
import { runCommand } from './helpers/cli';
import { writeIdxDataset } from './helpers/idx';
import { renderPng } from '../lib/plot/png';
import { tempDir } from './helpers/native';

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'bin/sgdr.js');
const sgdr = (args: string[], timeoutMs = 30_000) =>
  runCommand(process.execPath, [BIN, ...args], { cwd: ROOT, timeoutMs });

describe('sgdr schedule with a tiny T_0', () => {
  it('--t0 1e-300 --json fails at once, naming --t0 (it used to loop forever)', async () => {
    const r = await sgdr(['schedule', '--t0', '1e-300', '--epochs', '3', '--json']);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^sgdr schedule: --t0 1e-300 is too small/);
  });

  it('lists at most 20 restarts in the table and counts the rest, without a list of every cycle', async () => {
    const r = await sgdr(['schedule', '--t0', '1e-6', '--epochs', '3']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(/^# restarts at epochs (0, ){19}0 … and 2999979 more$/);
    const few = await sgdr(['schedule', '--t0', '0.1', '--epochs', '5']);
    expect(few.stdout.trim().split('\n').at(-1)).toMatch(/^# restarts at epochs 0\.1, .*, 2 … and 29 more$/);
  });

  it('--plot with millions of cycles draws a bounded number of points', async () => {
    const file = path.join(os.tmpdir(), `sgdr-hardening-${process.pid}.svg`);
    const r = await sgdr(['schedule', '--t0', '1e-7', '--epochs', '3', '--plot', file]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    fs.rmSync(file, { force: true });
  });

  it('finds the cycle of t in logarithmic work whatever the guess', () => {
    // A guess 1e6 cycles off used to walk there one boundary at a time; at 1e300 it never arrived.
    let calls = 0;
    const boundary = (n: number) => (calls++, n * 0.5);
    expect(boundariesReached(1e6, boundary, 0, false)).toBe(2e6);
    expect(calls).toBeLessThan(200);
    calls = 0;
    expect(boundariesReached(3, boundary, 1e300, true)).toBe(6);
    expect(calls).toBeLessThan(3000);
    const s = new WarmRestarts({ lr: 0.1, t0: 1e-300 });
    expect(() => s.lrAt(1)).toThrow(/t0 1e-300 is too small/);
    expect(new WarmRestarts({ lr: 0.1, t0: 1e-9, tMult: 2 }).lrAt(3)).toBeGreaterThanOrEqual(0);
  });
});

describe('a closed stdout (EPIPE)', () => {
  it('`sgdr schedule --json | head -c 10` exits quietly, without a stack trace', async () => {
    const script = `"${process.execPath}" "${BIN}" schedule --epochs 100000 --steps-per-epoch 10 --json | head -c 10; echo " rc=\${PIPESTATUS[0]}" >&2`;
    const r = await runCommand('bash', ['-c', script], { cwd: ROOT, timeoutMs: 60_000 });
    expect(r.stdout).toBe('{"lr":[0.1');
    expect(r.stderr).not.toMatch(/EPIPE|Error|at /);
    expect(r.stderr.trim()).toMatch(/^rc=(0|141)$/);
  });
});

describe('messages that name the file or the value', () => {
  const dir = () => tempDir('hardening');

  it('a compare config saved with a UTF-8 byte-order mark is read', () => {
    const d = dir();
    const file = path.join(d, 'bom.json');
    fs.writeFileSync(file, '\uFEFF' + JSON.stringify(SYNTHETIC_CONFIG));
    try {
      expect(readExperimentConfig(file).schedules.length).toBe(SYNTHETIC_CONFIG.schedules.length);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('a label whose run folder name is over 255 bytes is refused by name, not by ENAMETOOLONG', () => {
    const c = JSON.parse(JSON.stringify(SYNTHETIC_CONFIG));
    const label = 'a'.repeat(256);
    c.schedules[0].label = label;
    expect(() => parseExperimentConfig(c, 'x.json')).toThrow(ExperimentConfigError);
    expect(() => parseExperimentConfig(c, 'x.json')).toThrow(
      `x.json: schedules[0].label: '${label}' makes a run folder name of 256 bytes, over the limit of 255`,
    );
    c.schedules[0].label = 'a'.repeat(255);
    expect(() => parseExperimentConfig(c, 'x.json')).not.toThrow();
  });

  it('sgdr train --resume names a malformed run.json', async () => {
    const d = dir();
    fs.writeFileSync(path.join(d, 'run.json'), '{"data": ');
    try {
      const r = await sgdr(['train', '--resume', d]);
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe(
        `sgdr train: --resume: ${path.join(d, 'run.json')} is not a valid run.json: Unexpected end of JSON input`,
      );
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('output folders that cannot be made, and too many threads', () => {
  const cores = Math.max(
    1,
    typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
  );
  const capped = `--threads 1000 capped at ${cores}, the cores of this machine`;
  const proc = fs.existsSync('/proc/self') ? it : it.skip;

  proc('makeFolder under /proc fails instead of looping (fs.mkdirSync recursive never returns there)', () => {
    expect(() => makeFolder('/proc/sgdr-x/y')).toThrow(/ENOENT/);
    expect(outputFolderProblem('/proc/sgdr-x')).toBe('ENOENT: no such file or directory; cannot create the folder');
    expect(outputFolderProblem('/proc/sgdr-x/y')).toBe(
      'ENOENT: no such file or directory; cannot create the folder /proc/sgdr-x',
    );
  });

  it('makeFolder makes missing parents, accepts an existing folder and refuses a file in the way', () => {
    const d = tempDir('hardening');
    try {
      makeFolder(path.join(d, 'a', 'b', 'c'));
      makeFolder(path.join(d, 'a', 'b'));
      expect(fs.statSync(path.join(d, 'a', 'b', 'c')).isDirectory()).toBe(true);
      expect(outputFolderProblem(path.join(d, 'a'))).toBeUndefined();
      expect(fs.readdirSync(path.join(d, 'a'))).toEqual(['b']); // the probe file is gone
      fs.writeFileSync(path.join(d, 'f'), '');
      expect(outputFolderProblem(path.join(d, 'f', 'x'))).toMatch(
        /^ENOTDIR: not a directory; cannot create the folder/,
      );
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  proc(
    'sgdr train --out /proc/x --threads 1000: the cap in one line, then one line naming --out, at once',
    async () => {
      const r = await sgdr(['train', '--threads', '1000', '--out', '/proc/sgdr-x', '--epochs', '1']);
      expect(r.signal).toBeNull();
      expect(r.status).toBe(1);
      const lines = r.stderr.trim().split('\n');
      if (cores < 1000) expect(lines.shift()).toBe(capped);
      expect(lines).toEqual([
        'sgdr train: --out /proc/sgdr-x: cannot write to the output folder (ENOENT: no such file or directory; cannot create the folder)',
      ]);
    },
  );

  proc('sgdr compare --out /proc/x/y --threads 1000 fails at once, naming --out', async () => {
    const d = tempDir('hardening');
    const file = path.join(d, 'c.json');
    fs.writeFileSync(file, JSON.stringify(SYNTHETIC_CONFIG));
    try {
      const r = await sgdr(['compare', '--config', file, '--threads', '1000', '--out', '/proc/sgdr-x/y']);
      expect(r.signal).toBeNull();
      expect(r.status).toBe(1);
      const lines = r.stderr.trim().split('\n');
      if (cores < 1000) expect(lines.shift()).toBe(capped);
      expect(lines).toEqual([
        'sgdr compare: --out /proc/sgdr-x/y: cannot write to the output folder (ENOENT: no such file or directory; cannot create the folder /proc/sgdr-x)',
      ]);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('sgdr bench --threads 1000 says it caps them', async () => {
    const r = await sgdr(['bench', '--threads', '1000', '--device', 'bogus']);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    if (cores < 1000) expect(lines.shift()).toBe(capped);
    expect(lines).toEqual(["sgdr bench: --device must be cpu, cuda or cuda:N, got 'bogus'"]);
  });
});

describe('batch sizes beyond the data or the memory', () => {
  const data = writeIdxDataset(path.join(tempDir('hardening-batch'), 'd'), 64, 32, { gzip: true });
  const small = [
    'train',
    '--data',
    `fashion-mnist:${data}`,
    '--image-size',
    '12',
    '--stem',
    'cifar',
    '--threads',
    '1',
    '--epochs',
    '1',
  ];

  it('a batch size of 1e8 is the whole data set: said, and trained', async () => {
    const out = tempDir('hardening');
    const r = await sgdr(
      [...small, '--batch-size', '100000000', '--eval-batch-size', '100000000', '--out', out, '--overwrite'],
      120_000,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/batch size 100000000 is larger than the training set \(64\): batches of 64/);
    expect(r.stderr).toMatch(/eval batch size 100000000 is larger than the validation set \(32\): batches of 32/);
  });

  it('a batch that does not fit in memory is one line naming the option, before any epoch for the eval batch', async () => {
    const big = writeIdxDataset(path.join(tempDir('hardening-big'), 'd'), 64, 8192, { gzip: true });
    const out = tempDir('hardening');
    // 8192 validation images of 28 px in one batch: resnet18's first activation alone is 1.6 GB,
    // more than the 3 GB address space this command gets.
    const cmd =
      `ulimit -v 3145728; exec "${process.execPath}" "${BIN}" train --data fashion-mnist:${big} --stem cifar --threads 1 --epochs 1 ` +
      `--batch-size 16 --eval-batch-size 8192 --out ${out} --overwrite`;
    const r = await runCommand('bash', ['-c', cmd], { cwd: ROOT, timeoutMs: 120_000 });
    expect(r.signal).toBeNull();
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /out of memory for a validation batch of 8192 images: lower evalBatchSize \(--eval-batch-size\)/,
    );
    expect(r.stderr).not.toMatch(/epoch 1\/1 +train_loss/); // refused before training, not after an epoch
  });
});

describe('a bad image in the validation set', () => {
  it('is named with its 1-based validation batch, not "batch 0 of epoch 0" of the training set', async () => {
    const root = tempDir('hardening-valimg');
    const png = renderPng(
      '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16" fill="#c84"/></svg>',
    );
    for (const split of ['train', 'val']) {
      for (const cls of ['a', 'b']) {
        fs.mkdirSync(path.join(root, split, cls), { recursive: true });
        for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(root, split, cls, `${i}.png`), png);
      }
    }
    fs.writeFileSync(path.join(root, 'val', 'b', '9_garbage.jpg'), 'not an image');
    const out = tempDir('hardening');
    const r = await sgdr(
      [
        'train',
        '--data',
        `image-folder:${root}`,
        '--image-size',
        '16',
        '--stem',
        'cifar',
        '--threads',
        '1',
        '--epochs',
        '1',
        '--batch-size',
        '4',
        '--out',
        out,
        '--overwrite',
      ],
      120_000,
    );
    expect(r.status).toBe(1);
    // val: a/0-3, b/0-3, b/9_garbage: the garbage image is the 9th, in validation batch 3 of 4 images.
    expect(r.stderr).toMatch(
      /validation batch 3: cannot decode image .*val\/b\/9_garbage\.jpg: not a JPEG or PNG image/,
    );
  });
});
