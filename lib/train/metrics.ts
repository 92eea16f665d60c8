/** The per-epoch record fit() reports and writes to metrics.jsonl (snake_case: the file contract). */
export interface EpochMetrics {
  /** 1-based epoch number. */
  epoch: number;
  /** LR of the first batch of the epoch. */
  lr: number;
  /** LR of the last batch of the epoch. */
  lr_end: number;
  /** Mean cross-entropy over the epoch's training examples (each example weighted equally). */
  train_loss: number;
  train_acc: number;
  val_loss: number | null;
  val_acc: number | null;
  /** Training and evaluation time of the epoch. */
  seconds: number;
  /** Training throughput of the epoch. */
  images_per_second: number;
  /** Index of the SGDR cycle the epoch belongs to (0 for schedules without restarts). */
  cycle: number;
  /** True when a cycle ends with this epoch (a snapshot was taken). */
  cycle_end: boolean;
  /** Weight decay used this epoch, when normalized weight decay sets it. */
  weight_decay?: number;
  /** Snapshot ensemble (weighted mean softmax of the last cycle snapshots; ensemble_size members with weight > 0), at cycle ends. */
  ensemble_val_loss?: number;
  ensemble_val_acc?: number;
  ensemble_size?: number;
  /** How the snapshots were combined ('last': equal weights; 'weighted'; 'greedy'), and each one's cycle (1-based) and weight. */
  ensemble_method?: 'last' | 'weighted' | 'greedy';
  ensemble_members?: Array<{ cycle: number; weight: number }>;
  /** SWA: the averaged model (BatchNorm recomputed) on the validation set, where it was evaluated; models averaged. */
  swa_val_loss?: number;
  swa_val_acc?: number;
  swa_size?: number;
  /** With skipNonFinite: batches of the epoch whose non-finite loss skipped their update. */
  skipped_batches?: number;
}

/** Mean cross-entropy and accuracy of averaged class probabilities (row-major [n, classes]). */
export function ensembleMetrics(
  probabilities: Float32Array[],
  labels: Int32Array,
  classes: number,
): { loss: number; acc: number } {
  const n = labels.length;
  let loss = 0;
  let correct = 0;
  const mean = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    mean.fill(0);
    for (const p of probabilities) for (let c = 0; c < classes; c++) mean[c]! += p[i * classes + c]!;
    let best = 0;
    for (let c = 1; c < classes; c++) if (mean[c]! > mean[best]!) best = c;
    if (best === labels[i]) correct++;
    // Clamped so one confidently wrong example gives a large, finite loss.
    loss -= Math.log(Math.max(mean[labels[i]!]! / probabilities.length, 1e-12));
  }
  return { loss: n ? loss / n : 0, acc: n ? correct / n : 0 };
}
