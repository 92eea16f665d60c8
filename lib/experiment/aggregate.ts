/**
 * From the runs' metrics.jsonl files to the experiment's numbers: per schedule and epoch the mean
 * and standard deviation over seeds; values at the end of each SGDR cycle (where the authors say
 * SGDR should be read: mid-cycle the LR is still high); best epoch; epochs to a target val loss;
 * Gaussian-smoothed mean curves; the snapshot ensemble's gain over its single model; and paired
 * differences between schedules over the same seeds with a Student-t interval.
 */
import * as path from 'path';
import { isAdaptiveSchedule, scheduleFromSpec, type Schedule } from '../schedule';
import type { EpochMetrics } from '../train/metrics';
import { scheduleSpecOf, type ExperimentConfig } from './config';
import { planRuns, readDivergence, readMetrics, runStatus, type Divergence, type RunStatus } from './runs';
import {
  bestEpoch,
  defaultBandwidth,
  epochsToTarget,
  mean,
  meanStd,
  pairedDifference,
  rbfSmooth,
  type MeanStd,
  type PairedDifference,
} from './stats';

/** One run's metrics, as read from its folder (or made up in a test). */
export interface RunRecord {
  label: string;
  seed: number;
  rows: EpochMetrics[];
  /** Folder relative to the experiment folder. */
  dir?: string;
  status?: RunStatus;
  /** Where a diverged run (status 'diverged') stopped. */
  divergence?: Divergence;
}

/** Mean and standard deviation per epoch. */
export interface Band {
  mean: number[];
  std: number[];
}

export const CURVE_METRICS = ['train_loss', 'train_acc', 'val_loss', 'val_acc'] as const;
export type CurveMetric = (typeof CURVE_METRICS)[number];

export interface CycleEndStats {
  /** 0-based cycle index. */
  cycle: number;
  /** 1-based epoch the cycle ends with. */
  epoch: number;
  train_loss: MeanStd;
  val_loss: MeanStd;
  val_acc: MeanStd;
  /** The snapshot ensemble at this cycle end (absent without validation or snapshots). */
  ensemble_val_loss?: MeanStd;
  ensemble_val_acc?: MeanStd;
  /** The SWA model at this cycle end (runs with swa that averaged here). */
  swa_val_loss?: MeanStd;
  swa_val_acc?: MeanStd;
}

export interface ScheduleStats {
  label: string;
  /** The schedule spec trained with (defaults filled in). */
  spec: Record<string, unknown>;
  /** Seeds with at least one epoch of metrics. */
  seeds: number[];
  /** Runs that finished all epochs. */
  finished: number;
  /** Runs that diverged (a non-finite loss): left out of every mean ± std. */
  diverged: number;
  /** Epochs 1…E of the per-epoch curves and the number of runs that reached each. */
  epochs: number[];
  n: number[];
  /** The LR of the first batch of each epoch (identical across seeds). */
  lr: number[];
  curves: Record<CurveMetric, Band>;
  /** Mean curves smoothed with a Gaussian kernel of `bandwidth` epochs (results.bandwidth). */
  smoothed: Record<CurveMetric, number[]>;
  /**
   * Values at the end of every cycle within the run (for step decay: none). For restarts on plateau
   * the runs restart where their own validation loss plateaued: one entry per (cycle, epoch) that
   * some run ended a cycle at, over the runs that did (n says how many).
   */
  cycleEnds: CycleEndStats[];
  /** Restarts on plateau: the validation losses of the run with the lowest seed, which drew its LR (for the LR figure). */
  valLossHistory?: { seed: number; val_loss: number[] };
  /** Values after the last epoch, over the runs that finished. */
  final: { epoch: number } & Record<CurveMetric, MeanStd>;
  /** Per run: the lowest val loss and its epoch; summarised over runs. */
  best: {
    val_loss: MeanStd;
    epoch: MeanStd;
    /** The epoch at which the mean curve is lowest. */
    meanCurveEpoch: number | null;
    meanCurveValue: number | null;
    perRun: Array<{ seed: number; epoch: number; val_loss: number }>;
  };
  /** Epochs until val loss first reaches results.target, over the runs that reach it. */
  toTarget: { epochs: MeanStd; reached: number; of: number; perRun: Array<{ seed: number; epoch: number | null }> };
  /**
   * The snapshot ensemble at the last cycle end with one, against the single model of that epoch:
   * gain = single − ensemble for the loss and ensemble − single for accuracy (positive = the
   * ensemble is better), paired over seeds. Null for schedules without cycle snapshots.
   */
  ensemble: {
    epoch: number;
    size: number;
    /** How the snapshots were combined: 'last' (equal weights), 'weighted' or 'greedy' (chosen on validation). */
    method: string;
    /** Snapshots the ensemble drew on (its candidates), and each cycle's mean weight over seeds. */
    members: Array<{ cycle: number; weight: number }>;
    val_loss: MeanStd;
    val_acc: MeanStd;
    single_val_loss: MeanStd;
    single_val_acc: MeanStd;
    loss_gain: PairedDifference;
    acc_gain: PairedDifference;
  } | null;
  /**
   * The SWA model after the last epoch against the single model of that epoch: gain = single − SWA
   * for the loss, SWA − single for accuracy, paired over seeds. Null for schedules without swa.
   */
  swa: {
    epoch: number;
    /** Models averaged (the most over seeds; the same for every seed). */
    count: number;
    /** 'cycles' or 'from epoch E' (with the SWA LR when one was set). */
    mode: string;
    val_loss: MeanStd;
    val_acc: MeanStd;
    single_val_loss: MeanStd;
    single_val_acc: MeanStd;
    loss_gain: PairedDifference;
    acc_gain: PairedDifference;
  } | null;
  /** Wall-clock seconds of a run (training and evaluation), over finished runs. */
  seconds: MeanStd;
}

export const COMPARED_METRICS = ['final_val_loss', 'final_val_acc', 'best_val_loss', 'final_train_loss'] as const;
export type ComparedMetric = (typeof COMPARED_METRICS)[number];

/** a − b over the seeds both schedules finished. */
export interface Comparison {
  a: string;
  b: string;
  metric: ComparedMetric;
  seeds: number[];
  difference: PairedDifference;
}

export interface ExperimentResults {
  name: string;
  epochs: number;
  seeds: number[];
  /** Standard deviation of the Gaussian smoothing kernel, in epochs. */
  bandwidth: number;
  /** Val loss that toTarget counts to, and where it came from. */
  target: { val_loss: number | null; source: 'config' | 'default' };
  /** Confidence level of the paired-difference intervals. */
  level: number;
  schedules: ScheduleStats[];
  comparisons: Comparison[];
  runs: Array<{
    label: string;
    seed: number;
    dir?: string;
    status?: RunStatus;
    epochs: number;
    divergence?: Divergence;
  }>;
}

const curveOf = (rows: EpochMetrics[], metric: CurveMetric, epochs: number): Array<number | null> => {
  const out: Array<number | null> = new Array(epochs).fill(null);
  for (const r of rows) if (r.epoch >= 1 && r.epoch <= epochs) out[r.epoch - 1] = r[metric] ?? null;
  return out;
};

const rowAt = (rows: EpochMetrics[], epoch: number): EpochMetrics | undefined => rows.find((r) => r.epoch === epoch);

/** Cycle ends within `epochs` as fit() snapshots them: a cycle ending inside epoch k is read after epoch k. */
export function cycleEndEpochs(schedule: Schedule, epochs: number): Array<{ cycle: number; epoch: number }> {
  const out: Array<{ cycle: number; epoch: number }> = [];
  for (const c of schedule.cycles(epochs)) {
    if (Number.isFinite(c.end) && c.end <= epochs + 1e-9) out.push({ cycle: c.index, epoch: Math.ceil(c.end - 1e-9) });
  }
  return out;
}

/** Cycle ends as the runs of an adaptive schedule recorded them (cycle_end rows), each (cycle, epoch) once, in order. */
export function observedCycleEnds(runs: RunRecord[], epochs: number): Array<{ cycle: number; epoch: number }> {
  const seen = new Map<string, { cycle: number; epoch: number }>();
  for (const r of runs) {
    for (const row of r.rows) {
      if (row.cycle_end && row.epoch <= epochs)
        seen.set(`${row.cycle}:${row.epoch}`, { cycle: row.cycle ?? 0, epoch: row.epoch });
    }
  }
  return [...seen.values()].sort((a, b) => a.epoch - b.epoch || a.cycle - b.cycle);
}

function scheduleStats(
  config: ExperimentConfig,
  label: string,
  records: RunRecord[],
  bandwidth: number,
  target: number | null,
  level: number,
): ScheduleStats {
  const entry = config.schedules.find((s) => s.label === label)!;
  const schedule = scheduleFromSpec(scheduleSpecOf(entry));
  const E = config.epochs;
  const epochs = Array.from({ length: E }, (_, i) => i + 1);
  // Diverged runs count only as diverged: their last finite epochs would bias every mean.
  const diverged = records.filter((r) => r.status === 'diverged').length;
  const runs = records.filter((r) => r.rows.length > 0 && r.status !== 'diverged');
  const finished = runs.filter((r) => r.rows.some((row) => row.epoch === E));

  const curves = {} as Record<CurveMetric, Band>;
  const smoothed = {} as Record<CurveMetric, number[]>;
  for (const m of CURVE_METRICS) {
    const perRun = runs.map((r) => curveOf(r.rows, m, E));
    const stats = epochs.map((_, i) => meanStd(perRun.map((c) => c[i])));
    curves[m] = { mean: stats.map((s) => s.mean), std: stats.map((s) => s.std) };
    smoothed[m] = rbfSmooth(epochs, curves[m].mean, bandwidth);
  }
  const n = epochs.map((e) => runs.filter((r) => r.rows.some((row) => row.epoch === e)).length);
  const lr = epochs.map((e) => mean(runs.map((r) => rowAt(r.rows, e)?.lr)));

  const at = (
    e: number,
    pick: (row: EpochMetrics) => number | null | undefined,
    only?: (row: EpochMetrics) => boolean,
  ): MeanStd =>
    meanStd(
      runs.map((r) => {
        const row = rowAt(r.rows, e);
        return row && (!only || only(row)) ? pick(row) : null;
      }),
    );
  // Restarts on plateau end their cycles where each run's own validation loss says: read from the runs.
  const adaptive = isAdaptiveSchedule(schedule);
  const ends = adaptive ? observedCycleEnds(runs, E) : cycleEndEpochs(schedule, E);
  const cycleEnds: CycleEndStats[] = ends.map(({ cycle, epoch }) => {
    const only = adaptive ? (r: EpochMetrics) => Boolean(r.cycle_end) && r.cycle === cycle : undefined;
    const s: CycleEndStats = {
      cycle,
      epoch,
      train_loss: at(epoch, (r) => r.train_loss, only),
      val_loss: at(epoch, (r) => r.val_loss, only),
      val_acc: at(epoch, (r) => r.val_acc, only),
    };
    const ensLoss = at(epoch, (r) => r.ensemble_val_loss, only);
    if (ensLoss.n > 0) {
      s.ensemble_val_loss = ensLoss;
      s.ensemble_val_acc = at(epoch, (r) => r.ensemble_val_acc, only);
    }
    const swaLoss = at(epoch, (r) => r.swa_val_loss);
    if (swaLoss.n > 0) {
      s.swa_val_loss = swaLoss;
      s.swa_val_acc = at(epoch, (r) => r.swa_val_acc);
    }
    return s;
  });
  const drawn = adaptive ? [...runs].sort((a, b) => a.seed - b.seed)[0] : undefined;
  const valLossHistory = drawn
    ? {
        seed: drawn.seed,
        val_loss: drawn.rows
          .map((r) => r.val_loss)
          .filter((v): v is number => typeof v === 'number' && Number.isFinite(v)),
      }
    : undefined;

  const final = { epoch: E } as ScheduleStats['final'];
  for (const m of CURVE_METRICS) final[m] = meanStd(finished.map((r) => rowAt(r.rows, E)?.[m]));

  const perRunBest = finished
    .map((r) => ({
      seed: r.seed,
      best: bestEpoch(
        r.rows.map((row) => row.epoch),
        r.rows.map((row) => row.val_loss),
      ),
    }))
    .filter((b): b is { seed: number; best: { epoch: number; value: number } } => b.best !== null)
    .map((b) => ({ seed: b.seed, epoch: b.best.epoch, val_loss: b.best.value }));
  const meanBest = bestEpoch(epochs, curves.val_loss.mean);

  const perRunTarget =
    target === null
      ? []
      : finished.map((r) => ({
          seed: r.seed,
          epoch: epochsToTarget(
            r.rows.map((row) => row.epoch),
            r.rows.map((row) => row.val_loss),
            target,
          ),
        }));

  // The ensemble at the last cycle end where every finished run has one.
  let ensemble: ScheduleStats['ensemble'] = null;
  const withEnsemble = [...cycleEnds].reverse().find((c) => c.ensemble_val_loss && c.ensemble_val_loss.n > 0);
  if (withEnsemble) {
    const e = withEnsemble.epoch;
    const pairs = finished
      .map((r) => rowAt(r.rows, e))
      .filter((row): row is EpochMetrics => row?.ensemble_val_loss !== undefined);
    const single = pairs.map((r) => r.val_loss);
    const singleAcc = pairs.map((r) => r.val_acc);
    const ens = pairs.map((r) => r.ensemble_val_loss!);
    const ensAcc = pairs.map((r) => r.ensemble_val_acc!);
    const cycles = [...new Set(pairs.flatMap((r) => (r.ensemble_members ?? []).map((m) => m.cycle)))].sort(
      (x, y) => x - y,
    );
    ensemble = {
      epoch: e,
      size: Math.max(0, ...pairs.map((r) => r.ensemble_size ?? 0)),
      method: pairs.find((r) => r.ensemble_method)?.ensemble_method ?? 'last',
      members: cycles.map((cycle) => ({
        cycle,
        weight: mean(pairs.map((r) => r.ensemble_members?.find((m) => m.cycle === cycle)?.weight ?? 0)) ?? 0,
      })),
      val_loss: meanStd(ens),
      val_acc: meanStd(ensAcc),
      single_val_loss: meanStd(single),
      single_val_acc: meanStd(singleAcc),
      loss_gain: pairedDifference(single, ens, level),
      acc_gain: pairedDifference(ensAcc, singleAcc, level),
    };
  }

  // SWA after the last epoch, paired with the single model of the same runs.
  let swa: ScheduleStats['swa'] = null;
  const swaRows = finished
    .map((r) => rowAt(r.rows, E))
    .filter((row): row is EpochMetrics => row?.swa_val_loss !== undefined);
  if (entry.swa && swaRows.length > 0) {
    const o = entry.swa;
    swa = {
      epoch: E,
      count: Math.max(0, ...swaRows.map((r) => r.swa_size ?? 0)),
      mode:
        o.start === 'cycles'
          ? 'every cycle end'
          : `every ${o.cycle && o.cycle > 1 ? `${o.cycle} epochs` : 'epoch'} from epoch ${o.start}` +
            (o.lr !== undefined
              ? o.lrMax !== undefined
                ? `, cyclic SWA LR ${o.lrMax}→${o.lr}`
                : `, SWA LR ${o.lr}`
              : ''),
      val_loss: meanStd(swaRows.map((r) => r.swa_val_loss!)),
      val_acc: meanStd(swaRows.map((r) => r.swa_val_acc!)),
      single_val_loss: meanStd(swaRows.map((r) => r.val_loss)),
      single_val_acc: meanStd(swaRows.map((r) => r.val_acc)),
      loss_gain: pairedDifference(
        swaRows.map((r) => r.val_loss),
        swaRows.map((r) => r.swa_val_loss!),
        level,
      ),
      acc_gain: pairedDifference(
        swaRows.map((r) => r.swa_val_acc!),
        swaRows.map((r) => r.val_acc),
        level,
      ),
    };
  }

  return {
    label,
    spec: schedule.spec() as unknown as Record<string, unknown>,
    seeds: runs.map((r) => r.seed),
    finished: finished.length,
    diverged,
    epochs,
    n,
    lr,
    curves,
    smoothed,
    cycleEnds,
    ...(valLossHistory ? { valLossHistory } : {}),
    final,
    best: {
      val_loss: meanStd(perRunBest.map((b) => b.val_loss)),
      epoch: meanStd(perRunBest.map((b) => b.epoch)),
      meanCurveEpoch: meanBest?.epoch ?? null,
      meanCurveValue: meanBest?.value ?? null,
      perRun: perRunBest,
    },
    toTarget: {
      epochs: meanStd(perRunTarget.map((t) => t.epoch)),
      reached: perRunTarget.filter((t) => t.epoch !== null).length,
      of: perRunTarget.length,
      perRun: perRunTarget,
    },
    ensemble,
    swa,
    seconds: meanStd(finished.map((r) => r.rows.reduce((a, row) => a + row.seconds, 0))),
  };
}

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

/** Reads every planned run's metrics.jsonl under `outDir` and aggregates them. */
export function analyzeExperiment(config: ExperimentConfig, outDir: string): ExperimentResults {
  const records: RunRecord[] = planRuns(config, outDir).map((run) => ({
    label: run.label,
    seed: run.seed,
    rows: readMetrics(run.dir),
    dir: path.relative(outDir, run.dir) || '.',
    status: runStatus(run.dir),
    divergence: readDivergence(run.dir),
  }));
  return aggregate(config, records);
}
