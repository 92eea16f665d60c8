/**
 * The shape of an experiment's numbers (results.json): per schedule its curves over seeds, cycle
 * ends, final and best values, epochs to a target, snapshot ensemble and SWA against the single
 * model; paired comparisons between schedules; and the runs they came from. aggregate.ts fills it.
 */
import type { LrFindDocument } from '../train/lr-find-file';
import type { EpochMetrics } from '../train/metrics';
import type { Divergence, RunStatus } from './runs';
import type { MeanStd, PairedDifference } from './stats';

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

/** The per-epoch metrics averaged into curves, and the per-run numbers compared between schedules. */
export const CURVE_METRICS = ['train_loss', 'train_acc', 'val_loss', 'val_acc'] as const;
export const COMPARED_METRICS = ['final_val_loss', 'final_val_acc', 'best_val_loss', 'final_train_loss'] as const;
export type CurveMetric = (typeof CURVE_METRICS)[number];
export type ComparedMetric = (typeof COMPARED_METRICS)[number];

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
  /** Restarts on plateau: the seeds whose runs ended this cycle at this epoch. */
  seeds?: number[];
}

/**
 * A model made from a run's weights along the way (a snapshot ensemble, an SWA average) against the
 * single model of the same runs and epoch: gain = single − it for the loss, it − single for
 * accuracy (positive: it is better), paired over seeds.
 */
export interface VersusSingle {
  val_loss: MeanStd;
  val_acc: MeanStd;
  single_val_loss: MeanStd;
  single_val_acc: MeanStd;
  loss_gain: PairedDifference;
  acc_gain: PairedDifference;
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
   * ensemble is better), paired over seeds. For restarts on plateau, whose runs end their cycles
   * at epochs of their own, each run's last cycle end (runEpochs). Null for schedules without
   * cycle snapshots.
   */
  ensemble:
    | ({
        /** The cycle end (for restarts on plateau: the latest of the runs'). */
        epoch: number;
        /** Restarts on plateau: the epoch each finished run's ensemble is from, in seed order. */
        runEpochs?: number[];
        size: number;
        /** How the snapshots were combined: 'last' (equal weights), 'weighted' or 'greedy' (chosen on validation). */
        method: string;
        /** Snapshots the ensemble drew on (its candidates), and each cycle's mean weight over seeds. */
        members: Array<{ cycle: number; weight: number }>;
      } & VersusSingle)
    | null;
  /**
   * The SWA model after the last epoch against the single model of that epoch: gain = single − SWA
   * for the loss, SWA − single for accuracy, paired over seeds. Null for schedules without swa.
   */
  swa:
    | ({
        epoch: number;
        /** Models averaged (the most over seeds; the same for every seed). */
        count: number;
        /** 'cycles' or 'from epoch E' (with the SWA LR when one was set). */
        mode: string;
      } & VersusSingle)
    | null;
  /** Wall-clock seconds of a run (training and evaluation), over finished runs. */
  seconds: MeanStd;
}

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
  /**
   * The LR range test (config.lrFind): its lr-find.json, and that file relative to the experiment
   * folder; null when the config asks for one that has not run (for this config) yet.
   */
  lrFind?: ({ file: string } & LrFindDocument) | null;
  runs: Array<{
    label: string;
    seed: number;
    dir?: string;
    status?: RunStatus;
    epochs: number;
    divergence?: Divergence;
  }>;
}
