/** What fit() takes and gives back: its options, callbacks and result (lib/train/fit.ts runs it). */
import type { NativeBatchProgress } from '../binding';
import type { ResNet } from '../nn/resnet';
import type { Optimizer } from '../optim/optimizer';
import type { Cycle, Schedule } from '../schedule';
import type { ProcessGroup } from '../distributed/process-group';
import type { SnapshotInfo } from './checkpoint';
import type { EpochMetrics } from './metrics';
import type { EnsembleMethod } from './ensemble';
import type { SwaOptions } from './swa';

/** Data-parallel gradient buckets are all-reduced while backward runs unless FitOptions.overlap says otherwise. */
export const DEFAULT_OVERLAP = true;

/** What fit() needs of a dataset: the native handle the loader reads. */
export interface DatasetHandle {
  readonly native: unknown;
  /** Examples in the (limited) data set. */
  readonly size: number;
}

export interface BatchProgress extends NativeBatchProgress {
  /** 1-based epoch. */
  epoch: number;
}

export interface FitCallbacks {
  onTrainBegin?(): void | Promise<void>;
  onEpochBegin?(epoch: number): void | Promise<void>;
  /** Per-batch progress; may skip batches when the JS thread is busy. Not awaited. */
  onBatchEnd?(progress: BatchProgress): void;
  onEpochEnd?(metrics: EpochMetrics): void | Promise<void>;
  /** After the snapshot of a finished SGDR cycle has been saved and evaluated. */
  onCycleEnd?(cycle: Cycle, snapshot: SnapshotInfo, metrics: EpochMetrics): void | Promise<void>;
  onTrainEnd?(result: FitResult): void | Promise<void>;
}

export interface FitOptions {
  model: ResNet;
  optimizer: Optimizer;
  schedule: Schedule;
  train: DatasetHandle;
  val?: DatasetHandle;
  epochs: number;
  batchSize: number;
  evalBatchSize?: number;
  /** Batch order and augmentation are pure functions of (seed, epoch): the same for every schedule. */
  seed?: number;
  /** Shuffle the training set each epoch (default true). */
  shuffle?: boolean;
  /** Loader threads (0 = automatic). */
  workers?: number;
  /** Report progress every N batches (default 1). */
  progressEvery?: number;
  signal?: AbortSignal;
  callbacks?: FitCallbacks;
  /** Run folder: metrics.jsonl, summary.json, checkpoint.pth, best.pth and cycle snapshots. */
  outDir?: string;
  /** Continue from outDir/checkpoint.pth. */
  resume?: boolean;
  /**
   * Reuse an outDir that holds files of another run: they (and only they: see runFiles) are deleted
   * first. Without it (and without resume) such an outDir is refused with a RunFolderInUseError.
   */
  overwrite?: boolean;
  /**
   * A batch with a NaN or infinite loss normally stops the run with a DivergenceError (nothing is
   * saved from the diverged weights). With skipNonFinite such a batch's update is not applied
   * instead; the skipped batches are counted in the metrics (skipped_batches). Reading the loss
   * before every step costs a host sync per batch on a GPU.
   */
  skipNonFinite?: boolean;
  /**
   * Weight files to keep (default: all). Experiments that only need the numbers can drop them:
   * `checkpoint: false` deletes checkpoint.pth once the run has finished (it stays while a run can
   * still be resumed), `best: false` skips best.pth, `snapshots: false` keeps only each cycle
   * snapshot's validation probabilities (enough for the ensemble metrics), not its weights.
   */
  keep?: KeepFiles;
  /**
   * TensorBoard event files in outDir (default true), every value at step = batches trained so
   * far: per batch batch/loss, batch/accuracy, batch/lr, batch/cycle; per epoch every number of
   * its metrics.jsonl row as epoch/<name> (at the step of its last batch, e·K), and a text
   * `cycle_end` at each SGDR cycle end.
   */
  tensorboard?: boolean;
  /** Snapshots the snapshot ensemble draws on: the last M cycles (default 3; for an FGE schedule, all). */
  ensembleSize?: number;
  /**
   * How those snapshots are combined (see lib/train/ensemble.ts): 'last' (default) averages them
   * equally; 'weighted' fits the mixture weights that minimise the validation loss; 'greedy' is
   * Caruana's forward selection with replacement on the validation loss.
   */
  ensemble?: EnsembleMethod;
  /**
   * Stochastic Weight Averaging (see SwaOptions): an equal-weight average of the weights at every
   * cycle end (`{ start: 'cycles' }`) or every epoch from a start epoch (`{ start: E, lr }`), its
   * BatchNorm statistics recomputed by a pass over the training data (update_bn), evaluated on the
   * validation set (swa_val_loss / swa_val_acc in the metrics) and saved as swa.pth in outDir.
   */
  swa?: SwaOptions;
  /**
   * The AdamW paper's normalized weight decay: lambda = w_norm · sqrt(b / (B · T_i)), with batch
   * size b, training set size B and T_i the length of the current SGDR cycle (the whole run for
   * schedules without restarts). Overrides the optimizer's weight decay epoch by epoch; for AdamW it
   * is divided by the schedule's peak LR so the decay per step is the paper's eta_t·lambda.
   */
  normalizedWeightDecay?: number;
  /** Settings saved with the run; resuming under different ones is refused. */
  config?: Record<string, unknown>;
  /** One-line notes: stale temporary files removed, a snapshot's missing probabilities remade. */
  log?: (line: string) => void;
  /**
   * Data-parallel training over this c10d process group (lib/distributed), as PyTorch's DDP: every
   * rank calls fit() with the same options; batchSize is per rank (the global batch is batchSize ×
   * worldSize); each rank trains on its DistributedSampler shard of every epoch; rank 0's initial
   * weights are broadcast; gradients are averaged in buckets; the schedule steps once per global
   * step. Only rank 0 writes outDir (metrics, checkpoints, snapshots, events); on resume every rank
   * reads its checkpoint, so outDir must be one folder all ranks see.
   */
  processGroup?: ProcessGroup;
  /** With processGroup: all-reduce gradient buckets while backward runs (default DEFAULT_OVERLAP, true). */
  overlap?: boolean;
  /**
   * With processGroup: every BatchNorm normalises a training batch with the mean and variance of the
   * global batch, over all ranks (torch.nn.SyncBatchNorm), instead of its own shard's (DDP's default).
   * It costs two small all-reduces per BatchNorm and step; it matters when the batch per rank is small.
   * Evaluation and the saved weights are the same either way.
   */
  syncBatchNorm?: boolean;
}

export interface KeepFiles {
  checkpoint?: boolean;
  best?: boolean;
  snapshots?: boolean;
}

export interface SwaResult {
  /** Models averaged, and the 1-based epochs whose weights they are. */
  count: number;
  epochs: number[];
  /** The averaged model (BatchNorm recomputed) on the validation set; null without one. */
  val_loss: number | null;
  val_acc: number | null;
  /** swa.pth in outDir (absent without an outDir). */
  file?: string;
}

export interface FitResult {
  history: EpochMetrics[];
  /** With swa: the averaged model at the end of the run (null when no epoch was averaged yet). */
  swa?: SwaResult | null;
  snapshots: SnapshotInfo[];
  best: { epoch: number; val_loss: number } | null;
  /** True when the signal stopped the run; a checkpoint holds the exact position. */
  aborted: boolean;
  /** With skipNonFinite: batches skipped for a non-finite loss, over the whole run. */
  skippedBatches?: number;
  /** With outDir, on a finished run: what the run folder's files take on disk (as summary.json's `disk`). */
  disk?: DiskUse;
}

/** The run folder's files at the end of a run and their sizes (summary.json itself not counted). */
export interface DiskUse {
  bytes: number;
  /** File name → bytes, largest first. */
  files: Record<string, number>;
}

/** The run folder's files at the end of a run and their sizes (summary.json itself not counted). */
export interface DiskUse {
  bytes: number;
  /** File name → bytes, largest first. */
  files: Record<string, number>;
}
