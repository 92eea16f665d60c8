/** What fit() writes to TensorBoard: per-batch and per-epoch scalars and the text of a cycle end. */
import type { NativeBatchProgress } from '../binding';
import type { Cycle } from '../schedule';
import type { SnapshotInfo } from './checkpoint';
import type { EpochMetrics } from './metrics';
import type { SummaryValue } from './tensorboard';

export function batchScalars(p: NativeBatchProgress, cycle: number): SummaryValue[] {
  const values: SummaryValue[] = [{ tag: 'batch/loss', scalar: p.loss }];
  // An addon built before batch accuracy was reported has none to give.
  if (typeof p.accuracy === 'number') values.push({ tag: 'batch/accuracy', scalar: p.accuracy });
  values.push({ tag: 'batch/lr', scalar: p.lr }, { tag: 'batch/cycle', scalar: cycle });
  return values;
}

/** Every number of the metrics.jsonl row as epoch/<name> (epoch/epoch included; cycle_end as 0/1). */
export function epochScalars(row: EpochMetrics): SummaryValue[] {
  const values: SummaryValue[] = [];
  for (const [key, value] of Object.entries(row)) {
    if (typeof value === 'number') values.push({ tag: `epoch/${key}`, scalar: value });
    else if (typeof value === 'boolean') values.push({ tag: `epoch/${key}`, scalar: value ? 1 : 0 });
  }
  return values;
}

export function cycleEndText(cycle: Cycle, snapshot: SnapshotInfo, row: EpochMetrics): string {
  const parts = [`cycle ${cycle.index + 1} (T_i = ${+cycle.length.toFixed(6)} epochs) ended with epoch ${row.epoch}`];
  if (row.val_loss !== null)
    parts.push(`val_loss ${row.val_loss.toFixed(4)}, val_acc ${((row.val_acc ?? 0) * 100).toFixed(2)}%`);
  parts.push(snapshot.file ? `snapshot ${snapshot.file}` : 'snapshot weights not kept');
  if (row.ensemble_val_loss !== undefined) {
    parts.push(
      `ensemble of ${row.ensemble_size}: val_loss ${row.ensemble_val_loss.toFixed(4)}, val_acc ${((row.ensemble_val_acc ?? 0) * 100).toFixed(2)}%`,
    );
  }
  return parts.join('; ');
}
