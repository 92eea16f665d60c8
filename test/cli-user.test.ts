// The CLI and the TS API agree (issue 14): one stem default everywhere, `sgdr --version`, and a
// refused run leaves no empty runs/train-<time>/ behind. That --help prints the defaults a run
// uses is test/cli-flag-defaults.test.ts, for every command.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatFlags } from '../lib/cli/args';
import { configFromFlags, flagSpecs } from '../lib/cli/train';
import { DEFAULT_STEM, resnet } from '../lib';
import { runCommand } from './helpers/cli';
import { tempDir } from './helpers/native';
import { writeIdxDataset } from './helpers/idx';

const root = path.resolve(__dirname, '..');
const BIN = path.join(root, 'bin/sgdr.js');
const sgdr = (args: string[], cwd = root) =>
  runCommand(process.execPath, [BIN, ...args], { cwd, timeoutMs: 170_000, env: { ...process.env, SGDR_QUIET: '1' } });

describe('sgdr train --help through the binary', () => {
  it("prints the flag table's defaults (test/cli-flag-defaults.test.ts checks them against a run)", async () => {
    const r = await sgdr(['train', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(formatFlags(flagSpecs));
    expect(r.stdout).toMatch(/--lr <number> +.*\(default 0\.05\)/);
  });
});

describe('one stem default', () => {
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
