/**
 * The aggregate numbers (results.json) equal a recomputation from the per-run metrics.jsonl files,
 * done here from scratch: read every file, group by schedule and seed, and recompute every mean,
 * std, cycle-end value, best epoch, epochs-to-target, ensemble gain and paired difference.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  aggregate,
  analyzeExperiment,
  tQuantile,
  writeReport,
  type ExperimentConfig,
  type ExperimentResults,
} from '../lib/experiment';
import { SYNTHETIC_CONFIG, writeSyntheticExperiment } from './experiment-helpers';
import { tempDir } from './helpers/native';

type Row = Record<string, number | boolean | null | undefined>;

/** Every metrics.jsonl under runs/, keyed by the schedule label in its run.json and its seed. */
function readRunsFromDisk(outDir: string): Array<{ label: string; seed: number; rows: Row[] }> {
  const out: Array<{ label: string; seed: number; rows: Row[] }> = [];
  const runsDir = path.join(outDir, 'runs');
  for (const schedule of fs.readdirSync(runsDir)) {
    for (const seedDir of fs.readdirSync(path.join(runsDir, schedule))) {
      const dir = path.join(runsDir, schedule, seedDir);
      const runJson = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
      const file = path.join(dir, 'metrics.jsonl');
      const rows = fs.existsSync(file)
        ? fs
            .readFileSync(file, 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Row)
        : [];
      out.push({ label: runJson.schedule.label, seed: runJson.seed, rows });
    }
  }
  return out;
}

const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + (x - avg(xs)) ** 2, 0) / (xs.length - 1));
const close = (actual: number | null | undefined, expected: number, what: string) => {
  expect(actual, what).not.toBeNull();
  expect(Math.abs((actual as number) - expected), `${what}: ${actual} vs ${expected}`).toBeLessThan(
    1e-12 * Math.max(1, Math.abs(expected)),
  );
};

describe('aggregate = recomputation from metrics.jsonl', () => {
  let outDir: string;
  let config: ExperimentConfig;
  let results: ExperimentResults;
  let runs: ReturnType<typeof readRunsFromDisk>;

  beforeAll(() => {
    outDir = tempDir('aggregate');
    // Seed 3 of the step schedule stops after 5 epochs: it counts per epoch, not in finals or pairs.
    config = writeSyntheticExperiment(outDir, SYNTHETIC_CONFIG, (label, seed) =>
      label.startsWith('Step') && seed === 3 ? 5 : Infinity,
    );
    writeReport(config, analyzeExperiment(config, outDir), outDir);
    results = JSON.parse(fs.readFileSync(path.join(outDir, 'results.json'), 'utf8')) as ExperimentResults;
    runs = readRunsFromDisk(outDir);
  });

  it('per-epoch mean and sample std of every metric', () => {
    expect(runs).toHaveLength(12);
    for (const s of results.schedules) {
      const mine = runs.filter((r) => r.label === s.label);
      for (let e = 1; e <= 7; e++) {
        for (const metric of ['train_loss', 'train_acc', 'val_loss', 'val_acc'] as const) {
          const xs = mine
            .map((r) => r.rows.find((row) => row.epoch === e)?.[metric])
            .filter((v): v is number => typeof v === 'number');
          expect(s.n[e - 1]).toBe(xs.length);
          close(s.curves[metric].mean[e - 1], avg(xs), `${s.label} ${metric} mean @${e}`);
          close(s.curves[metric].std[e - 1], sd(xs), `${s.label} ${metric} std @${e}`);
        }
      }
    }
    expect(results.schedules[1]!.n).toEqual([4, 4, 4, 4, 4, 3, 3]);
  });

  it('final and best values over finished runs; epochs to the target', () => {
    const target = results.target.val_loss!;
    // Default target: the worst schedule's lowest mean val loss.
    const bestMeans = results.schedules.map((s) => Math.min(...s.curves.val_loss.mean));
    close(target, Math.max(...bestMeans), 'target');
    for (const s of results.schedules) {
      const finished = runs.filter((r) => r.label === s.label && r.rows.length === 7);
      expect(s.finished).toBe(finished.length);
      const last = finished.map((r) => r.rows[6]!);
      close(s.final.val_loss.mean, avg(last.map((r) => r.val_loss as number)), 'final val_loss');
      close(s.final.val_loss.std, sd(last.map((r) => r.val_loss as number)), 'final val_loss std');
      close(s.final.val_acc.mean, avg(last.map((r) => r.val_acc as number)), 'final val_acc');
      const bests = finished.map((r) => {
        const v = r.rows.map((row) => row.val_loss as number);
        const i = v.indexOf(Math.min(...v));
        return { epoch: i + 1, value: v[i]! };
      });
      close(s.best.val_loss.mean, avg(bests.map((b) => b.value)), 'best val_loss');
      close(s.best.epoch.mean, avg(bests.map((b) => b.epoch)), 'best epoch');
      const hits = finished.map(
        (r) => r.rows.find((row) => (row.val_loss as number) <= target)?.epoch as number | undefined,
      );
      expect(s.toTarget.reached).toBe(hits.filter((h) => h !== undefined).length);
      const reached = hits.filter((h): h is number => h !== undefined);
      if (reached.length) close(s.toTarget.epochs.mean, avg(reached), 'epochs to target');
    }
  });

  it('values at cycle ends, and the snapshot-ensemble gain', () => {
    const sgdr = results.schedules[0]!;
    expect(sgdr.cycleEnds.map((c) => c.epoch)).toEqual([1, 3, 7]);
    const mine = runs.filter((r) => r.label === sgdr.label);
    for (const c of sgdr.cycleEnds) {
      const rows = mine.map((r) => r.rows[c.epoch - 1]!);
      expect(rows.every((r) => r.cycle_end === true)).toBe(true);
      close(c.val_loss.mean, avg(rows.map((r) => r.val_loss as number)), 'cycle-end val_loss');
      close(c.ensemble_val_loss!.mean, avg(rows.map((r) => r.ensemble_val_loss as number)), 'cycle-end ensemble');
    }
    const e = sgdr.ensemble!;
    expect(e.epoch).toBe(7);
    expect(e.size).toBe(3);
    const rows = mine.map((r) => r.rows[6]!);
    const gains = rows.map((r) => (r.val_loss as number) - (r.ensemble_val_loss as number));
    close(e.loss_gain.mean, avg(gains), 'ensemble loss gain');
    const half = (tQuantile(0.975, gains.length - 1) * sd(gains)) / Math.sqrt(gains.length);
    close(e.loss_gain.ci![0], avg(gains) - half, 'gain interval');
    expect(results.schedules[1]!.cycleEnds).toEqual([]);
    expect(results.schedules[1]!.ensemble).toBeNull();
  });

  it('paired differences over the seeds both schedules finished, with a t interval', () => {
    const c = results.comparisons.find(
      (x) => x.a === 'SGDR T0=1, Tmult=2' && x.b === 'Step ×0.1 at 4, 6' && x.metric === 'final_val_loss',
    )!;
    expect(c.seeds).toEqual([0, 1, 2]);
    const d = c.seeds.map((seed) => {
      const a = runs.find((r) => r.label === c.a && r.seed === seed)!.rows[6]!.val_loss as number;
      const b = runs.find((r) => r.label === c.b && r.seed === seed)!.rows[6]!.val_loss as number;
      return a - b;
    });
    close(c.difference.mean, avg(d), 'paired mean');
    const half = (4.302652729749464 * sd(d)) / Math.sqrt(3);
    close(c.difference.ci![0], avg(d) - half, 'ci low');
    close(c.difference.ci![1], avg(d) + half, 'ci high');
    // Without a baseline every pair is compared, on every metric.
    expect(results.comparisons).toHaveLength(3 * 4);
  });

  it('smoothing is of the mean curves, with the bandwidth stated', () => {
    expect(results.bandwidth).toBe(0.5);
    const s = results.schedules[0]!;
    const m = s.curves.val_loss.mean;
    const w = (i: number, j: number) => Math.exp(-((i - j) ** 2) / (2 * 0.25));
    const at = (j: number) => m.reduce((a, v, i) => a + w(i, j) * v, 0) / m.reduce((a, _v, i) => a + w(i, j), 0);
    s.smoothed.val_loss.forEach((v, j) => close(v, at(j), `smoothed @${j + 1}`));
  });

  it('results.csv holds the same per-epoch numbers', () => {
    const [header, ...lines] = fs.readFileSync(path.join(outDir, 'results.csv'), 'utf8').trim().split('\n');
    const cols = header!.split(',');
    expect(lines).toHaveLength(3 * 7);
    const first = lines[0]!.match(/("[^"]*"|[^,]*)(,|$)/g)!.map((c) => c.replace(/,$/, '').replace(/^"|"$/g, ''));
    expect(first[0]).toBe('SGDR T0=1, Tmult=2');
    expect(Number(first[cols.indexOf('val_loss_mean')])).toBe(results.schedules[0]!.curves.val_loss.mean[0]);
    expect(first[cols.indexOf('cycle_end')]).toBe('1');
  });

  it('a baseline turns all pairs into comparisons with the baseline; aggregate() is pure', () => {
    const withBaseline = { ...config, analysis: { baseline: 'Constant', targetValLoss: 0.6 } };
    const r = aggregate(withBaseline, []);
    expect(r.comparisons.map((c) => `${c.a}|${c.b}`)).toContain('SGDR T0=1, Tmult=2|Constant');
    expect(r.comparisons).toHaveLength(2 * 4);
    expect(r.target).toEqual({ val_loss: 0.6, source: 'config' });
    expect(r.schedules[0]!.finished).toBe(0);
  });
});

describe('diverged runs', () => {
  it('are counted as diverged and left out of every mean ± std and comparison', () => {
    const outDir = tempDir('aggregate-diverged');
    // Constant · seed 1 stopped after 3 epochs with a non-finite loss.
    const config = writeSyntheticExperiment(outDir, SYNTHETIC_CONFIG, (label, seed) =>
      label === 'Constant' && seed === 1 ? 3 : Infinity,
    );
    const dir = path.join(outDir, 'runs', 'constant', 'seed-1');
    fs.writeFileSync(
      path.join(dir, 'diverged.json'),
      JSON.stringify({ epoch: 4, batch: 2, loss: 'NaN', message: 'training diverged' }),
    );
    const results = analyzeExperiment(config, outDir);
    const constant = results.schedules.find((s) => s.label === 'Constant')!;
    expect(constant.diverged).toBe(1);
    expect(constant.finished).toBe(3);
    expect(constant.seeds).toEqual([0, 2, 3]);
    // Epoch 1 is the mean over the three other seeds only (the diverged run's finite epochs are out).
    const epoch1 = [0, 2, 3].map(
      (seed) =>
        JSON.parse(
          fs
            .readFileSync(path.join(outDir, 'runs', 'constant', `seed-${seed}`, 'metrics.jsonl'), 'utf8')
            .split('\n')[0]!,
        ).val_loss as number,
    );
    close(constant.curves.val_loss.mean[0], avg(epoch1), 'epoch-1 mean val loss');
    expect(constant.n[0]).toBe(3);
    for (const c of results.comparisons.filter((x) => x.a === 'Constant' || x.b === 'Constant'))
      expect(c.seeds).toEqual([0, 2, 3]);
    expect(results.runs.find((r) => r.label === 'Constant' && r.seed === 1)).toMatchObject({
      status: 'diverged',
      divergence: { epoch: 4, batch: 2 },
    });
    expect(results.schedules.filter((s) => s.label !== 'Constant').every((s) => s.diverged === 0)).toBe(true);
    const html = fs.readFileSync(writeReport(config, results, outDir).html, 'utf8');
    expect(html).toContain('1 diverged, excluded');
    expect(html).toContain('non-finite loss at epoch 4, batch 2');
  });
});
