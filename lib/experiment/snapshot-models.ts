/**
 * The models a schedule's runs make from their weights along the way, each against the single
 * model of the same runs and epoch: the snapshot ensemble at its last cycle end, and the SWA
 * average after the last epoch. Both are read from the runs' metrics rows of that epoch.
 */
import type { EpochMetrics } from '../train/metrics';
import type { SwaOptions } from '../train/swa';
import type { ScheduleStats, VersusSingle } from './results';
import { mean, meanStd, pairedDifference } from './stats';

/** One row per run (all of the same epoch): the made model's loss and accuracy against the single model's. */
function versusSingle(
  rows: EpochMetrics[],
  loss: (row: EpochMetrics) => number,
  accuracy: (row: EpochMetrics) => number,
  level: number,
): VersusSingle {
  const single = rows.map((r) => r.val_loss);
  const singleAcc = rows.map((r) => r.val_acc);
  const made = rows.map(loss);
  const madeAcc = rows.map(accuracy);
  return {
    val_loss: meanStd(made),
    val_acc: meanStd(madeAcc),
    single_val_loss: meanStd(single),
    single_val_acc: meanStd(singleAcc),
    loss_gain: pairedDifference(single, made, level),
    acc_gain: pairedDifference(madeAcc, singleAcc, level),
  };
}

/** The snapshot ensemble of the runs' rows at one cycle end (rows without an ensemble are left out); null when none has one. */
export function ensembleSummary(epoch: number, rowsAtEpoch: EpochMetrics[], level: number): ScheduleStats['ensemble'] {
  const rows = rowsAtEpoch.filter((row) => row.ensemble_val_loss !== undefined);
  if (rows.length === 0) return null;
  const cycles = [...new Set(rows.flatMap((r) => (r.ensemble_members ?? []).map((m) => m.cycle)))].sort(
    (x, y) => x - y,
  );
  return {
    epoch,
    size: Math.max(0, ...rows.map((r) => r.ensemble_size ?? 0)),
    method: rows.find((r) => r.ensemble_method)?.ensemble_method ?? 'last',
    members: cycles.map((cycle) => ({
      cycle,
      weight: mean(rows.map((r) => r.ensemble_members?.find((m) => m.cycle === cycle)?.weight ?? 0)) ?? 0,
    })),
    ...versusSingle(
      rows,
      (r) => r.ensemble_val_loss!,
      (r) => r.ensemble_val_acc!,
      level,
    ),
  };
}

/** How SWA averaged, in words: 'every cycle end', or every epoch (or cycle of epochs) from a start, with its LR. */
export function swaModeText(o: SwaOptions): string {
  if (o.start === 'cycles') return 'every cycle end';
  const lr =
    o.lr === undefined ? '' : o.lrMax !== undefined ? `, cyclic SWA LR ${o.lrMax}→${o.lr}` : `, SWA LR ${o.lr}`;
  return `every ${o.cycle && o.cycle > 1 ? `${o.cycle} epochs` : 'epoch'} from epoch ${o.start}${lr}`;
}

/** The SWA model of the runs' rows after the last epoch (rows without one are left out); null when none has one. */
export function swaSummary(
  options: SwaOptions,
  epoch: number,
  rowsAtEpoch: EpochMetrics[],
  level: number,
): ScheduleStats['swa'] {
  const rows = rowsAtEpoch.filter((row) => row.swa_val_loss !== undefined);
  if (rows.length === 0) return null;
  return {
    epoch,
    count: Math.max(0, ...rows.map((r) => r.swa_size ?? 0)),
    mode: swaModeText(options),
    ...versusSingle(
      rows,
      (r) => r.swa_val_loss!,
      (r) => r.swa_val_acc!,
      level,
    ),
  };
}
