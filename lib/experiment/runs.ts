/**
 * The runs of an experiment on disk: OUT/runs/<schedule-slug>/seed-<k>/ with run.json (written
 * before training starts), metrics.jsonl (rewritten every epoch), checkpoint.pth, and summary.json
 * (written at the end: its presence means the run finished).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DIVERGED_FILE } from '../train/fit';
import { OUTPUT_ONLY, RUN_CONFIG_FILE, type RunConfig } from '../train/run';
import type { EpochMetrics } from '../train/metrics';
import type { ExperimentConfig } from './config';
import { runConfigFor, slugify } from './run-config';
import { makeFolder } from '../folders';

export const RUNS_DIR = 'runs';
export const METRICS_FILE = 'metrics.jsonl';
export const SUMMARY_FILE = 'summary.json';
export const CHECKPOINT_FILE = 'checkpoint.pth';

export interface PlannedRun {
  /** Position in the plan (seed-major: all schedules of the first seed, then the next seed). */
  index: number;
  /** Schedule label and its index in the config. */
  label: string;
  scheduleIndex: number;
  seed: number;
  /** Run folder, absolute. */
  dir: string;
  /** Run folder relative to the experiment folder (for reports). */
  relDir: string;
  config: RunConfig;
}

/** diverged: training stopped at a non-finite loss (diverged.json); final, like done, but without results. */
export type RunStatus = 'done' | 'diverged' | 'partial' | 'new';

/** Where a diverged run stopped (its diverged.json). */
export interface Divergence {
  epoch: number;
  batch: number;
  /** The loss (a string such as 'NaN' or 'Infinity' when not finite). */
  loss: number | string;
  message: string;
}

/** Every schedule × seed of the config, seed-major so complete pairs exist as early as possible. */
export function planRuns(config: ExperimentConfig, outDir: string): PlannedRun[] {
  const runs: PlannedRun[] = [];
  for (const seed of config.seeds) {
    config.schedules.forEach((entry, scheduleIndex) => {
      const relDir = path.join(RUNS_DIR, slugify(entry.label), `seed-${seed}`);
      runs.push({
        index: runs.length,
        label: entry.label,
        scheduleIndex,
        seed,
        dir: path.resolve(outDir, relDir),
        relDir,
        config: runConfigFor(config, entry, seed),
      });
    });
  }
  return runs;
}

/** Rows of a run's metrics.jsonl (none if absent); a torn last line is ignored. */
export function readMetrics(dir: string): EpochMetrics[] {
  const file = path.join(dir, METRICS_FILE);
  if (!fs.existsSync(file)) return [];
  const rows: EpochMetrics[] = [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      rows.push(JSON.parse(line) as EpochMetrics);
    } catch (err) {
      if (i < lines.length - 1 && lines.slice(i + 1).some((l) => l.trim()))
        throw new Error(`${file}:${i + 1}: not a JSON line: ${(err as Error).message}`);
    }
  });
  return rows;
}

/** The divergence record of a run folder, or undefined when it did not diverge. */
export function readDivergence(dir: string): Divergence | undefined {
  const file = path.join(dir, DIVERGED_FILE);
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Divergence;
  } catch {
    return { epoch: NaN, batch: NaN, loss: 'NaN', message: 'training diverged' };
  }
}

/**
 * done: summary.json exists; diverged: diverged.json exists (training stopped at a non-finite loss);
 * partial: started (run.json, metrics or a checkpoint); new: nothing yet.
 */
export function runStatus(dir: string): RunStatus {
  if (fs.existsSync(path.join(dir, SUMMARY_FILE))) return 'done';
  if (fs.existsSync(path.join(dir, DIVERGED_FILE))) return 'diverged';
  if ([RUN_CONFIG_FILE, METRICS_FILE, CHECKPOINT_FILE].some((f) => fs.existsSync(path.join(dir, f)))) return 'partial';
  return 'new';
}

/** JSON with sorted keys and no undefined values, so two configs compare by content. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .filter(([, x]) => x !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** The first top-level key whose value differs between two run configs, or undefined. */
export function differingKey(a: Record<string, unknown>, b: Record<string, unknown>): string | undefined {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.find((k) => canonicalJson(a[k]) !== canonicalJson(b[k]));
}

/**
 * Checks that a started run folder was started with this run's config; a folder from another
 * experiment must not be silently continued or counted.
 */
export function checkRunFolder(run: PlannedRun): void {
  const file = path.join(run.dir, RUN_CONFIG_FILE);
  if (!fs.existsSync(file)) return;
  let saved: Record<string, unknown>;
  try {
    saved = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message}); delete the run folder to train it again`);
  }
  // Which files a run writes (keep, tensorboard) may change between calls; what it trains may not.
  const trained = (c: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(c).filter(([k]) => !(OUTPUT_ONLY as readonly string[]).includes(k)));
  const key = differingKey(trained(saved), trained(run.config as unknown as Record<string, unknown>));
  if (key !== undefined) {
    throw new Error(
      `${run.relDir} was trained with a different '${key}' (${JSON.stringify(saved[key])}, now ${JSON.stringify((run.config as unknown as Record<string, unknown>)[key])}): ` +
        'use another --out, or delete that run folder to train it again',
    );
  }
}

/** Writes run.json before the run starts, so an interrupted run is recognised and resumed. */
export function prepareRunFolder(run: PlannedRun): void {
  makeFolder(run.dir);
  const file = path.join(run.dir, RUN_CONFIG_FILE);
  if (!fs.existsSync(file)) fs.writeFileSync(file, JSON.stringify(run.config, null, 2) + '\n');
}
