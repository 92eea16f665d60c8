/**
 * Experiment configs: one JSON file that says what to train (data, model, optimizer, epochs), on
 * which seeds, under which schedules, and how to analyse it. Every schedule is trained on every
 * seed with otherwise identical settings, so the runs of one seed differ only by their schedule.
 *
 * {
 *   "name": "SGDR vs step decay",
 *   "data": { "source": "fashion-mnist", "limitTrain": 2048, "limitVal": 1000 },
 *   "model": { "arch": "resnet18", "stem": "imagenet" },
 *   "optimizer": { "type": "sgd", "momentum": 0.9, "weightDecay": 5e-4 },
 *   "epochs": 7, "batchSize": 64,
 *   "seeds": [0, 1, 2],                       (or "runs": 3 for seeds 0, 1, 2)
 *   "schedules": [
 *     { "label": "SGDR T0=1 Tmult=2", "type": "warm-restarts", "lr": 0.05, "t0": 1, "tMult": 2 },
 *     { "label": "Step decay", "type": "multistep", "lr": 0.05, "milestones": [3, 5], "gamma": 0.1 }
 *   ],
 *   "lrFind": true,                           (the LR range test once before the runs; or its settings)
 *   "analysis": { "targetValLoss": 0.5, "bandwidth": 1, "baseline": "Step decay" }
 * }
 *
 * This file is the config's shape. parse-config.ts validates a parsed JSON/YAML value into it
 * (one error naming the key path, `schedules[1].tMult`), read-config.ts reads a file (JSON, or
 * YAML for .yaml/.yml, whose errors also give the key's line), and run-config.ts derives each
 * schedule × seed's RunConfig from it.
 */
import type { DataOptions } from '../data';
import type { KeepFiles } from '../train/fit';
import type { LrSweepSettings } from '../train/lr-find';
import type { OptimizerConfig } from '../train/run';
import type { ScheduleSpec } from '../schedule';
import type { SwaOptions } from '../train/swa';
import type { EnsembleMethod } from '../train/ensemble';

export class ExperimentConfigError extends TypeError {
  override name = 'ExperimentConfigError';
  constructor(
    readonly keyPath: string,
    readonly detail: string,
    readonly file?: string,
    /** 1-based line of the key in a YAML config, when known. */
    readonly line?: number,
  ) {
    super(
      `${file ? `${file}: ` : ''}${keyPath ? `${keyPath}${line ? ` (line ${line})` : ''}: ` : line ? `line ${line}: ` : ''}${detail}`,
    );
  }
}

export interface ExperimentData extends DataOptions {
  /** 'fashion-mnist' | 'fashion-mnist:DIR' | 'mnist:DIR' | 'cifar10:DIR' | 'image-folder:DIR' | DIR */
  source: string;
}

/** The keys of ExperimentData, in the order a config lists them. */
export const DATA_KEYS = [
  'source',
  'limitTrain',
  'limitVal',
  'augment',
  'hflip',
  'pad',
  'imageSize',
  'resize',
  'fastDecode',
  'mean',
  'std',
] as const;

export interface ExperimentModel {
  arch: string;
  stem?: 'auto' | 'imagenet' | 'cifar';
  /** Start every run from these weights (a torch.save(model.state_dict()) file). */
  initWeights?: string;
  /** With initWeights: re-initialise the last N modules (per seed). */
  reinitLast?: number;
  freeze?: boolean;
}

/** One schedule of the comparison: a schedule spec with a label, and optionally its own optimizer settings. */
export type ExperimentSchedule = ScheduleSpec & {
  label: string;
  /** Overrides of the experiment's optimizer for this schedule (e.g. SGDR with AdamW next to SGD). */
  optimizer?: OptimizerConfig;
  /** Stochastic Weight Averaging for this schedule's runs (see SwaOptions): { "start": "cycles" } or { "start": E, "lr": X }. */
  swa?: SwaOptions;
  /** How this schedule's snapshot ensemble combines snapshots (default: the experiment's, else 'last'). */
  ensemble?: EnsembleMethod;
  /** Snapshots this schedule's ensemble draws on (default: the experiment's ensembleSize). */
  ensembleSize?: number;
};

export interface ExperimentAnalysis {
  /** Val loss that "epochs to target" counts to (default: the worst schedule's best mean val loss). */
  targetValLoss?: number;
  /** Standard deviation of the Gaussian smoothing kernel, in epochs (default max(0.5, epochs/40)). */
  bandwidth?: number;
  /** Label of the schedule the others are compared with (default: every pair is compared). */
  baseline?: string;
  /** Confidence level of the paired-difference intervals (default 0.95). */
  level?: number;
}

/**
 * The LR range test of an experiment (lrFind(), as `sgdr lr-find`, whose defaults its settings
 * have): once, before the runs, on the experiment's training data, model and batch size.
 * `"lrFind": true` takes every default.
 */
export interface ExperimentLrFind extends LrSweepSettings {
  /** Seed of the initial weights and batch order (default: the experiment's first seed). */
  seed?: number;
  /** Optimizer settings over the experiment's for the sweep (e.g. the ones of an AdamW schedule). */
  optimizer?: OptimizerConfig;
}

export interface ExperimentConfig {
  name: string;
  description?: string;
  data: ExperimentData;
  model: ExperimentModel;
  optimizer: OptimizerConfig;
  epochs: number;
  batchSize: number;
  evalBatchSize?: number;
  /** Cycle snapshots averaged by the snapshot ensemble (default 3). */
  ensembleSize?: number;
  /** How snapshot ensembles combine their snapshots: 'last' (default), 'weighted' or 'greedy' (see FitOptions.ensemble). */
  ensemble?: EnsembleMethod;
  /** Weight files each run keeps (default all; see FitOptions.keep): false drops them to save disk. */
  keep?: KeepFiles;
  /** TensorBoard event files in every run folder (default true): `tensorboard --logdir OUT` overlays the runs. */
  tensorboard?: boolean;
  seeds: number[];
  schedules: ExperimentSchedule[];
  /** The LR range test, run once before the runs on the same data and model (absent: not run). */
  lrFind?: ExperimentLrFind;
  analysis: ExperimentAnalysis;
  /** Runtime settings (do not change results): device, LibTorch threads and loader threads per run. */
  device?: string;
  threads?: number;
  workers?: number;
}
