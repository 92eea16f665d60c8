/**
 * From the runs' metrics.jsonl files to the experiment's numbers (results.ts): every schedule's
 * statistics (schedule-stats.ts), the default target val loss, and the paired differences between
 * schedules over the same seeds with a Student-t interval.
 */
import * as path from 'path';
import { readLrFindDocument } from '../train/lr-find-file';
import type { EpochMetrics } from '../train/metrics';
import type { ExperimentConfig } from './config';
import {
  COMPARED_METRICS,
  type ComparedMetric,
  type Comparison,
  type ExperimentResults,
  type RunRecord,
} from './results';
import { LR_FIND_DIR, LR_FIND_FILE, lrFindDone, lrFindJobOf } from './lr-find-job';
import { planRuns, readDivergence, readMetrics, runStatus } from './runs';
import { rowAt, scheduleStats } from './schedule-stats';
import { bestEpoch, defaultBandwidth, mean, pairedDifference } from './stats';

/** The per-seed value of a compared metric for a finished run (undefined if it has none). */
function metricOf(rows: EpochMetrics[], epochs: number, metric: ComparedMetric): number | undefined {
  const last = rowAt(rows, epochs);
  if (!last) return undefined;
  switch (metric) {
    case 'final_val_loss':
      return last.val_loss ?? undefined;
    case 'final_val_acc':
      return last.val_acc ?? undefined;
    case 'final_train_loss':
      return last.train_loss;
    case 'best_val_loss':
      return bestEpoch(
        rows.map((r) => r.epoch),
        rows.map((r) => r.val_loss),
      )?.value;
  }
}

/** The experiment's numbers from run records (pure; analyzeExperiment reads them from disk). */
export function aggregate(config: ExperimentConfig, records: RunRecord[]): ExperimentResults {
  const bandwidth = config.analysis.bandwidth ?? defaultBandwidth(config.epochs);
  const level = config.analysis.level ?? 0.95;
  const byLabel = new Map(config.schedules.map((s) => [s.label, records.filter((r) => r.label === s.label)]));
  const counted = (r: RunRecord) => r.status !== 'diverged';

  // Default target: the worst schedule's best mean val loss, a level every schedule's mean reaches.
  let target: number | null = config.analysis.targetValLoss ?? null;
  const source = target === null ? 'default' : 'config';
  if (target === null) {
    // Schedules whose every run diverged have no curve to reach a target on: left out.
    const live = config.schedules.filter(
      (s) => byLabel.get(s.label)!.some(counted) || byLabel.get(s.label)!.length === 0,
    );
    const bests = live.map((s) => {
      const runs = byLabel.get(s.label)!.filter((r) => r.rows.length > 0 && counted(r));
      const meanCurve = Array.from({ length: config.epochs }, (_, i) =>
        mean(runs.map((r) => rowAt(r.rows, i + 1)?.val_loss)),
      );
      return bestEpoch(
        meanCurve.map((_, i) => i + 1),
        meanCurve,
      )?.value;
    });
    if (bests.length && bests.every((b) => b !== undefined)) target = Math.max(...(bests as number[]));
  }

  const schedules = config.schedules.map((s) =>
    scheduleStats(config, s.label, byLabel.get(s.label)!, bandwidth, target, level),
  );

  const pairs: Array<[string, string]> = [];
  const labels = config.schedules.map((s) => s.label);
  if (config.analysis.baseline) {
    for (const l of labels) if (l !== config.analysis.baseline) pairs.push([l, config.analysis.baseline]);
  } else {
    for (let i = 0; i < labels.length; i++)
      for (let j = i + 1; j < labels.length; j++) pairs.push([labels[i]!, labels[j]!]);
  }
  const comparisons: Comparison[] = [];
  for (const [a, b] of pairs) {
    const ra = byLabel.get(a)!;
    const rb = byLabel.get(b)!;
    for (const metric of COMPARED_METRICS) {
      const seeds = config.seeds.filter((seed) => {
        const x = ra.find((r) => r.seed === seed && counted(r));
        const y = rb.find((r) => r.seed === seed && counted(r));
        return (
          x &&
          y &&
          metricOf(x.rows, config.epochs, metric) !== undefined &&
          metricOf(y.rows, config.epochs, metric) !== undefined
        );
      });
      const va = seeds.map((seed) => metricOf(ra.find((r) => r.seed === seed)!.rows, config.epochs, metric)!);
      const vb = seeds.map((seed) => metricOf(rb.find((r) => r.seed === seed)!.rows, config.epochs, metric)!);
      comparisons.push({ a, b, metric, seeds, difference: pairedDifference(va, vb, level) });
    }
  }

  return {
    name: config.name,
    epochs: config.epochs,
    seeds: config.seeds,
    bandwidth,
    target: { val_loss: target, source },
    level,
    schedules,
    comparisons,
    runs: records.map((r) => ({
      label: r.label,
      seed: r.seed,
      dir: r.dir,
      status: r.status,
      epochs: r.rows.length,
      ...(r.divergence ? { divergence: r.divergence } : {}),
    })),
  };
}

/** Reads every planned run's metrics.jsonl under `outDir` and aggregates them, with the LR range test's record when the config has one. */
export function analyzeExperiment(config: ExperimentConfig, outDir: string): ExperimentResults {
  const records: RunRecord[] = planRuns(config, outDir).map((run) => ({
    label: run.label,
    seed: run.seed,
    rows: readMetrics(run.dir),
    dir: path.relative(outDir, run.dir) || '.',
    status: runStatus(run.dir),
    divergence: readDivergence(run.dir),
  }));
  const results = aggregate(config, records);
  const job = lrFindJobOf(config);
  if (job) {
    // Only the record of this config's sweep: after a change of data, model or sweep it is stale.
    const doc = lrFindDone(outDir, job) ? readLrFindDocument(path.join(outDir, LR_FIND_DIR)) : undefined;
    results.lrFind = doc ? { file: LR_FIND_FILE, ...doc } : null;
  }
  return results;
}
