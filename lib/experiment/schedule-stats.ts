/**
 * One schedule's numbers from its runs' metrics rows: per-epoch mean ± std over seeds and smoothed
 * means, the LR, values at the end of each cycle (where the SGDR authors read a warm-restart run:
 * mid-cycle its LR is still high), final and best values, epochs to a target, and the snapshot
 * ensemble and SWA against the single model (snapshot-models.ts).
 */
import { isAdaptiveSchedule, scheduleFromSpec, type Schedule } from '../schedule';
import type { EpochMetrics } from '../train/metrics';
import type { ExperimentConfig } from './config';
import {
  CURVE_METRICS,
  type Band,
  type CurveMetric,
  type CycleEndStats,
  type RunRecord,
  type ScheduleStats,
} from './results';
import { scheduleSpecOf } from './run-config';
import { ensembleSummary, swaSummary } from './snapshot-models';
import { bestEpoch, epochsToTarget, mean, meanStd, rbfSmooth, type MeanStd } from './stats';

const curveOf = (rows: EpochMetrics[], metric: CurveMetric, epochs: number): Array<number | null> => {
  const out: Array<number | null> = new Array(epochs).fill(null);
  for (const r of rows) if (r.epoch >= 1 && r.epoch <= epochs) out[r.epoch - 1] = r[metric] ?? null;
  return out;
};

export const rowAt = (rows: EpochMetrics[], epoch: number): EpochMetrics | undefined =>
  rows.find((r) => r.epoch === epoch);

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

/** The numbers of one schedule from its runs (see ScheduleStats). */
export function scheduleStats(
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
    if (only)
      s.seeds = runs
        .filter((r) => {
          const row = rowAt(r.rows, epoch);
          return row !== undefined && only(row);
        })
        .map((r) => r.seed)
        .sort((a, b) => a - b);
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

  // The ensemble at the last cycle end with one; SWA after the last epoch; each paired with the
  // single model of the same runs. Runs that restart on plateau end their cycles at epochs of
  // their own: each is read at its own last cycle end (one epoch for all would leave out every run
  // that did not restart there).
  const finishedAt = (e: number) =>
    finished.map((r) => rowAt(r.rows, e)).filter((row): row is EpochMetrics => row !== undefined);
  let ensemble: ScheduleStats['ensemble'] = null;
  if (adaptive) {
    const last = [...finished]
      .sort((a, b) => a.seed - b.seed)
      .map((r) => [...r.rows].reverse().find((row) => row.ensemble_val_loss !== undefined))
      .filter((row): row is EpochMetrics => row !== undefined);
    const latest = Math.max(...last.map((row) => row.epoch));
    ensemble = last.length ? ensembleSummary(latest, last, level) : null;
    if (ensemble) ensemble.runEpochs = last.map((row) => row.epoch);
  } else {
    const withEnsemble = [...cycleEnds].reverse().find((c) => c.ensemble_val_loss && c.ensemble_val_loss.n > 0);
    if (withEnsemble) ensemble = ensembleSummary(withEnsemble.epoch, finishedAt(withEnsemble.epoch), level);
  }
  const swa = entry.swa ? swaSummary(entry.swa, E, finishedAt(E), level) : null;

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
