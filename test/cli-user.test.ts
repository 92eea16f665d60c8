// The CLI and the TS API agree (issue 14): `sgdr train --help` prints the defaults a run uses (both
// come from one flag table), one stem default everywhere, `sgdr --version`, and a refused run
// leaves no empty runs/train-<time>/ behind.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromFlags, flagSpecs } from '../lib/cli/train';
import { scheduleFlagSpecs, scheduleFromFlags } from '../lib/cli/schedule-flags';
import { DEFAULT_SGD_MOMENTUM } from '../lib/train/run';
import { DEFAULT_STEM, resnet } from '../lib';
import { runCommand } from './helpers/cli';
import { tempDir } from './helpers/native';
import { writeIdxDataset } from './helpers/idx';

const root = path.resolve(__dirname, '..');
const BIN = path.join(root, 'bin/sgdr.js');
const sgdr = (args: string[], cwd = root) =>
  runCommand(process.execPath, [BIN, ...args], { cwd, timeoutMs: 170_000, env: { ...process.env, SGDR_QUIET: '1' } });

/** `--name <kind>   help (default X)` lines of a --help text: flag → X. */
function helpDefaults(help: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of help.split('\n')) {
    const m = line.match(/^ {2}--([a-z0-9-]+)(?: <\w+>)? .*\(default ([^():\s,]+)\)$/); // one-value defaults; "5e-4 for sgd, 0.01 for adamw" is prose
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

describe('sgdr train --help and a run agree', () => {
  it('every default --help prints is the value a run with no flags uses', async () => {
    const r = await sgdr(['train', '--help']);
    expect(r.status).toBe(0);
    const shown = helpDefaults(r.stdout);
    // The three: --help said 0.1 / 10 / 1 while a run used 0.05 / 1 / 2.
    expect(shown).toMatchObject({ lr: '0.05', t0: '1', 't-mult': '2' });
    const config = configFromFlags({});
    const schedule = config.schedule as {
      type: string;
      lr: number;
      t0: number;
      tMult: number;
      etaMin?: number;
      decay?: number;
      warmup?: number;
    };
    const used: Record<string, unknown> = {
      data: config.data,
      arch: config.arch,
      stem: config.stem,
      epochs: config.epochs,
      'batch-size': config.batchSize,
      scheduler: schedule.type,
      lr: schedule.lr,
      t0: schedule.t0,
      't-mult': schedule.tMult,
      // The library's own defaults when a flag is not given: the schedule's etaMin/decay/warmup, SGD's momentum.
      'eta-min': schedule.etaMin ?? 0,
      decay: schedule.decay ?? 1,
      warmup: schedule.warmup ?? 0,
      optimizer: config.optimizer?.type,
      momentum: config.optimizer?.momentum ?? DEFAULT_SGD_MOMENTUM,
      seed: config.seed,
      'ensemble-size': config.ensembleSize ?? 3,
      device: config.device,
      'k-decay': (schedule as { kDecay?: number }).kDecay ?? 1,
      ensemble: config.ensemble ?? 'last',
      'keep-snapshots': config.keep?.snapshots ?? true,
      'swa-cycle': (config.swa as { cycle?: number } | undefined)?.cycle ?? 1,
    };
    for (const [flag, text] of Object.entries(shown)) {
      if (flag === 'gamma') continue; // step/multistep only: checked below
      expect(flag in used, `--${flag} prints a default the test does not check`).toBe(true);
      expect(String(used[flag]), `--${flag}`).toBe(text);
    }
    const step = configFromFlags({ scheduler: 'step', 'step-size': 2 }).schedule as { gamma?: number };
    expect(String(step.gamma ?? 0.1)).toBe(shown.gamma);
  });

  it("sgdr schedule's help defaults are the ones it uses, too", async () => {
    const r = await sgdr(['schedule', '--help']);
    const shown = helpDefaults(r.stdout);
    expect(shown).toMatchObject({ lr: '0.1', t0: '10', 't-mult': '1', scheduler: 'warm-restarts' });
    const s = scheduleFromFlags({}, scheduleFlagSpecs);
    expect(s.lrAt(0)).toBe(Number(shown.lr));
    expect((s.spec() as { t0: number }).t0).toBe(Number(shown.t0));
    expect(
      s
        .cycles(30)
        .map((c) => c.length)
        .slice(0, 3),
    ).toEqual([10, 10, 10]); // T_mult 1
  });

  it('one stem default: imagenet for the CLI, runTraining and resnet() alike', async () => {
    expect(DEFAULT_STEM).toBe('imagenet');
    expect(flagSpecs.stem!.default).toBe(DEFAULT_STEM);
    expect(configFromFlags({}).stem).toBe('imagenet');
    const model = resnet('resnet18', { numClasses: 10, inChannels: 1 });
    expect(model.stem).toBe('imagenet');
    model.dispose();
    // A 28-px data set through the CLI without --stem: the imagenet stem (the CLI used to pick cifar).
    const data = writeIdxDataset(path.join(tempDir('cli-user-data'), 'd'), 20, 10);
    const r = await sgdr([
      'train',
      '--data',
      `fashion-mnist:${data}`,
      '--epochs',
      '1',
      '--batch-size',
      '10',
      '--threads',
      '2',
      '--out',
      path.join(tempDir('cli-user-stem'), 'run'),
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resnet18 \(imagenet stem: 7×7 conv1 \+ max-pool,/);
  });
});

describe('sgdr --version', () => {
  it("prints package.json's version", async () => {
    const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string })
      .version;
    for (const flag of ['--version', '-V']) {
      const r = await sgdr([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
    expect((await sgdr(['--help'])).stdout).toMatch(/sgdr --version/);
  });
});

describe('a refused run leaves no folder behind', () => {
  it.each([
    [['--arch', 'resnet19'], /unknown arch 'resnet19'/],
    [['--data', 'fashion-mnst'], /unknown dataset 'fashion-mnst'/],
    [['--device', 'gpu'], /device 'gpu' is not a valid device/],
  ])('sgdr train %j: one line, exit 1, no runs/train-<time>/', async (flags, message) => {
    const cwd = tempDir('cli-user-cwd');
    const r = await sgdr(['train', ...flags], cwd);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(fs.readdirSync(cwd)).toEqual([]);
  });

  it('a nested --out that did not exist is removed again, and a folder that existed stays', async () => {
    const cwd = tempDir('cli-user-out');
    const r = await sgdr(['train', '--arch', 'resnet19', '--out', 'a/b/c'], cwd);
    expect(r.status).toBe(1);
    expect(fs.readdirSync(cwd)).toEqual([]);
    fs.mkdirSync(path.join(cwd, 'mine'));
    await sgdr(['train', '--arch', 'resnet19', '--out', 'mine'], cwd);
    expect(fs.readdirSync(cwd)).toEqual(['mine']);
  });
});
