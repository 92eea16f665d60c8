// Disk use: the run summary (summary.json's `disk` and the CLI's last lines) says what the run
// folder takes, and which weight files are kept is set from the CLI (--keep) and the experiment config.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseExperimentConfig, planRuns, runConfigFor } from '../lib/experiment';
import { checkRunFolder, prepareRunFolder } from '../lib/experiment/runs';
import { runSgdr, smallTrainFlags } from './helpers/cli';
import { writeIdxDataset } from './helpers/idx';
import { tempDir } from './helpers/native';

const sgdr = (...args: string[]) => runSgdr(args);
const data = writeIdxDataset(path.join(tempDir('disk-data'), 'd'), 32, 16);
const small = [...smallTrainFlags(data), '--epochs', '3', '--no-augment'];

/** The files of the folder and their sizes, as the disk has them (summary.json left out). */
function sizesOnDisk(dir: string): Record<string, number> {
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .filter((f) => f !== 'summary.json')
      .map((f) => [f, fs.statSync(path.join(dir, f)).size]),
  );
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 2 : 1);

describe('disk use in the run summary', () => {
  it('summary.json has every file and its size; the CLI prints the total and the large files', async () => {
    const out = path.join(tempDir('disk-all'), 'run');
    const r = await sgdr('train', ...small, '--out', out);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    const onDisk = sizesOnDisk(out);
    expect(summary.disk.files).toEqual(onDisk);
    expect(summary.disk.bytes).toBe(Object.values(onDisk).reduce((a, b) => a + b, 0));
    // Largest first.
    const sizes = Object.values(summary.disk.files as Record<string, number>);
    expect([...sizes].sort((a, b) => b - a)).toEqual(sizes);
    expect(Object.keys(onDisk)).toEqual(
      expect.arrayContaining([
        'checkpoint.pth',
        'best.pth',
        'snapshot-cycle-1.pth',
        'snapshot-cycle-2.pth',
        'metrics.jsonl',
        'run.json',
      ]),
    );
    expect(Object.keys(onDisk).some((f) => f.startsWith('events.out.tfevents.'))).toBe(true);
    const snapshots = onDisk['snapshot-cycle-1.pth']! + onDisk['snapshot-cycle-2.pth']!;
    const other = summary.disk.bytes - onDisk['checkpoint.pth']! - onDisk['best.pth']! - snapshots;
    expect(r.stderr).toContain(
      `${mb(summary.disk.bytes)} MiB on disk: checkpoint.pth ${mb(onDisk['checkpoint.pth']!)} MiB, best.pth ${mb(onDisk['best.pth']!)} MiB, ` +
        `2 snapshots ${mb(snapshots)} MiB, other files ${mb(other)} MiB (--keep none keeps only the numbers)`,
    );
  }, 300_000);

  it('--keep none keeps the numbers (metrics, snapshot probabilities, events) and no weights; the summary counts what stays', async () => {
    const out = path.join(tempDir('disk-none'), 'run');
    const r = await sgdr('train', ...small, '--out', out, '--keep', 'none', '--no-tensorboard');
    expect(r.status, r.stderr).toBe(0);
    const files = fs.readdirSync(out).sort();
    expect(files).toEqual([
      'metrics.jsonl',
      'run.json',
      'snapshot-cycle-1.val-probabilities.pth',
      'snapshot-cycle-2.val-probabilities.pth',
      'summary.json',
    ]);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.disk.files).toEqual(sizesOnDisk(out));
    expect(summary.snapshots.map((s: { file?: string }) => s.file)).toEqual([undefined, undefined]);
    expect(r.stderr).toMatch(/MiB on disk: other files [\d.]+ MiB/);
    // What is kept does not change the results: --resume may change it.
    expect(JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8')).keep).toEqual({
      checkpoint: false,
      best: false,
      snapshots: false,
    });
  }, 300_000);

  it('--keep takes a list; a bad value is one line naming it, before anything is written', async () => {
    const out = path.join(tempDir('disk-list'), 'run');
    const r = await sgdr('train', ...small, '--out', out, '--keep', 'best,checkpoint');
    expect(r.status, r.stderr).toBe(0);
    const files = fs.readdirSync(out);
    expect(files).toEqual(
      expect.arrayContaining(['best.pth', 'checkpoint.pth', 'snapshot-cycle-1.val-probabilities.pth']),
    );
    expect(files).not.toContain('snapshot-cycle-1.pth');
    const bad = path.join(tempDir('disk-bad'), 'run');
    for (const value of ['bogus', 'best,weights', '']) {
      const b = await sgdr('train', ...small, '--out', bad, '--keep', value);
      expect(b.status).toBe(1);
      expect(b.stderr.trim()).toBe(
        `sgdr train: --keep takes all, none or a comma-separated list of checkpoint, best, snapshots, got '${value}'`,
      );
    }
    expect(fs.existsSync(bad)).toBe(false);
  }, 300_000);

  it('keep and tensorboard in an experiment config (JSON or YAML) reach every run; sgdr compare honours them', async () => {
    const config = {
      name: 'keep',
      data: { source: `fashion-mnist:${data}`, augment: false },
      model: { arch: 'resnet18', stem: 'cifar' },
      epochs: 1,
      batchSize: 16,
      seeds: [0],
      keep: { checkpoint: false, best: false, snapshots: false },
      tensorboard: false,
      schedules: [{ label: 'SGDR', type: 'warm-restarts', lr: 0.05, t0: 1, tMult: 1 }],
    };
    const parsed = parseExperimentConfig(config);
    const run = runConfigFor(parsed, parsed.schedules[0]!, 0);
    expect(run.keep).toEqual(config.keep);
    expect(run.tensorboard).toBe(false);
    expect(() => parseExperimentConfig({ ...config, keep: { weights: false } })).toThrow(
      'keep.weights: unknown key (known here: checkpoint, best, snapshots)',
    );
    expect(() => parseExperimentConfig({ ...config, tensorboard: 'yes' })).toThrow(
      'tensorboard: must be true or false, got string "yes"',
    );
    const dir = tempDir('disk-compare');
    const file = path.join(dir, 'exp.yaml');
    fs.writeFileSync(file, stringify(config));
    const r = await runSgdr(['compare', '--config', file, '--out', path.join(dir, 'out'), '--threads', '2'], {
      timeoutMs: 300_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const runDir = path.join(dir, 'out', 'runs', 'sgdr', 'seed-0');
    expect(fs.readdirSync(runDir).sort()).toEqual([
      'metrics.jsonl',
      'run.json',
      'snapshot-cycle-1.val-probabilities.pth',
      'summary.json',
    ]);
    // A started experiment may change what its runs keep and log, not what they train.
    const [planned] = planRuns(parsed, path.join(dir, 'again'));
    prepareRunFolder(planned!);
    const relaxed = parseExperimentConfig({ ...config, keep: { best: true }, tensorboard: true });
    expect(() => checkRunFolder(planRuns(relaxed, path.join(dir, 'again'))[0]!)).not.toThrow();
    const other = parseExperimentConfig({ ...config, batchSize: 8 });
    expect(() => checkRunFolder(planRuns(other, path.join(dir, 'again'))[0]!)).toThrow(
      /was trained with a different 'batchSize'/,
    );
  }, 300_000);
});
