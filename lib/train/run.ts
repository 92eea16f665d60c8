/// <reference types="node" preserve="true" />
/**
 * One training run from a plain JSON config: the data set, the model (fresh or from pretrained
 * weights), the optimizer and the schedule, then fit(). `sgdr train` and experiments both go through
 * here, and the config is saved with the run so `--resume` can rebuild exactly the same run.
 */
import type { ProcessGroup } from '../distributed/process-group';
import * as fs from 'fs';
import * as path from 'path';
import { openData, type DataOptions } from '../data';
import { setNumThreads } from '../device';
import { DEFAULT_STEM, resnet, type ResNet, type ResNetArch } from '../nn/resnet';
import type { DeviceSpec } from '../device';
import { Adam, AdamW, SGD, type Optimizer } from '../optim/optimizer';
import { scheduleFromSpec, type ScheduleSpec } from '../schedule';
import { writeTextAtomicSync } from '../atomic-file';
import { undoEmptyFoldersOnError } from '../folders';
import { loadCheckpoint } from './checkpoint';
import { CHECKPOINT_FILE, claimRunFolder, fit, type FitCallbacks, type FitResult, type KeepFiles } from './fit';
import { modelFromPretrained, type TransferReport } from './transfer';
import type { TensorRecord } from '../serialization';
import type { EnsembleMethod } from './ensemble';
import type { SwaOptions } from './swa';

export interface OptimizerConfig {
  type?: 'sgd' | 'adam' | 'adamw';
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
  /** The AdamW paper's normalized weight decay (replaces weightDecay epoch by epoch). */
  normalizedWeightDecay?: number;
  betas?: [number, number];
  eps?: number;
}

export interface RunConfig extends DataOptions {
  /** 'fashion-mnist' | 'fashion-mnist:DIR' | 'mnist:DIR' | 'cifar10:DIR' | 'image-folder:DIR' | DIR */
  data: string;
  arch: string;
  /**
   * 'imagenet' (default, DEFAULT_STEM: torchvision's network, as resnet() builds it), 'cifar', or
   * 'auto': the cifar stem for images of 32 px or less, else imagenet.
   */
  stem?: 'auto' | 'imagenet' | 'cifar';
  epochs: number;
  batchSize: number;
  evalBatchSize?: number;
  schedule: ScheduleSpec;
  optimizer?: OptimizerConfig;
  seed?: number;
  device?: string;
  threads?: number;
  workers?: number;
  ensembleSize?: number;
  /** How the snapshot ensemble combines its snapshots (see FitOptions.ensemble); default 'last'. */
  ensemble?: EnsembleMethod;
  /** Stochastic Weight Averaging (see FitOptions.swa). */
  swa?: SwaOptions;
  /** Weight files to keep (see FitOptions.keep); default all. */
  keep?: KeepFiles;
  /** TensorBoard event files in the run folder (see FitOptions.tensorboard); default true. */
  tensorboard?: boolean;
  initWeights?: string;
  reinitLast?: number;
  freeze?: boolean;
  /** Skip (do not apply) batches with a non-finite loss instead of stopping (see FitOptions.skipNonFinite). */
  skipNonFinite?: boolean;
  /** Data-parallel runs: BatchNorm with the global batch's statistics (see FitOptions.syncBatchNorm). */
  syncBatchNorm?: boolean;
}

export interface RunOptions {
  outDir?: string;
  resume?: boolean;
  /** Reuse an outDir that holds another run: its files (see runFiles) are deleted first. */
  overwrite?: boolean;
  signal?: AbortSignal;
  callbacks?: FitCallbacks;
  /** One-line messages about the set-up (model, data, transfer). */
  log?: (line: string) => void;
  /** Data-parallel over this group (see FitOptions.processGroup): only rank 0 writes outDir. */
  processGroup?: ProcessGroup;
  /** With processGroup: all-reduce gradient buckets while backward runs (default true). */
  overlap?: boolean;
}

export const RUN_CONFIG_FILE = 'run.json';
/** SGD's momentum when the config gives none (sgd train --help prints it from here). */
export const DEFAULT_SGD_MOMENTUM = 0.9;

/** Settings that only affect speed; a resumed run may change them. */
const RUNTIME_ONLY: ReadonlyArray<keyof RunConfig> = ['device', 'threads', 'workers'];
/** Settings of what is written, not of what is trained: saved in run.json, free to change on resume. */
export const OUTPUT_ONLY: ReadonlyArray<keyof RunConfig> = ['keep', 'tensorboard'];

/** The stem a config's `stem` means for images `height` px high ('auto': cifar for 32 px or less). */
export function stemFor(stem: RunConfig['stem'], height: number): 'imagenet' | 'cifar' {
  return stem === 'auto' ? (height <= 32 ? 'cifar' : 'imagenet') : (stem ?? DEFAULT_STEM);
}

/** The optimizer a config's `optimizer` describes, at `lr` (sgd: momentum 0.9, weight decay 5e-4 by default). */
export function optimizerFor(model: ResNet, lr: number, o: OptimizerConfig = {}): Optimizer {
  const type = o.type ?? 'sgd';
  if (type === 'sgd') {
    return new SGD(model, {
      lr,
      momentum: o.momentum ?? DEFAULT_SGD_MOMENTUM,
      weightDecay: o.weightDecay ?? 5e-4,
      nesterov: o.nesterov,
    });
  }
  if (type === 'adamw') return new AdamW(model, { lr, weightDecay: o.weightDecay, betas: o.betas, eps: o.eps });
  if (type === 'adam') return new Adam(model, { lr, weightDecay: o.weightDecay, betas: o.betas, eps: o.eps });
  throw new RangeError(`--optimizer must be sgd, adam or adamw, got '${String(type)}'`);
}

export function readRunConfig(dir: string): RunConfig {
  const file = path.join(dir, RUN_CONFIG_FILE);
  if (!fs.existsSync(file))
    throw new Error(`--resume: ${dir} has no ${RUN_CONFIG_FILE}: not a run folder of sgdr train`);
  let config: unknown;
  try {
    config = JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    // Named, so a truncated or hand-edited run.json is not a bare "Unexpected token".
    throw new Error(`--resume: ${file} is not a valid ${RUN_CONFIG_FILE}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!config || typeof config !== 'object' || Array.isArray(config)) {
    throw new Error(
      `--resume: ${file} is not a valid ${RUN_CONFIG_FILE}: expected an object, got ${JSON.stringify(config)}`,
    );
  }
  return config as RunConfig;
}

export function runTraining(
  config: RunConfig,
  options: RunOptions = {},
): Promise<FitResult & { transfer?: TransferReport }> {
  return undoEmptyFoldersOnError(options.outDir, () => trainRun(config, options));
}

async function trainRun(config: RunConfig, options: RunOptions): Promise<FitResult & { transfer?: TransferReport }> {
  const log = options.log ?? (() => {});
  // Only rank 0 of a data-parallel job writes the run folder.
  const writes = !options.processGroup || options.processGroup.isMain;
  // Refused here, before run.json is written: an outDir with another run's files needs resume or overwrite.
  if (options.outDir && writes)
    claimRunFolder(options.outDir, { resume: options.resume, overwrite: options.overwrite, runConfig: true });
  if (config.threads !== undefined) setNumThreads(config.threads);
  const { train, val } = openData(config.data, config);
  let model: ResNet | undefined;
  let optimizer: Optimizer | undefined;
  try {
    const stem = stemFor(config.stem, train.height);
    let transfer: TransferReport | undefined;
    let stemUsed = stem;
    const checkpoint = options.resume && options.outDir ? path.join(options.outDir, CHECKPOINT_FILE) : undefined;
    // The model from a weights file, shaped for this data, with the run's frozen and re-initialised modules.
    const pretrained = (initWeights: string, entries?: Map<string, TensorRecord>) =>
      modelFromPretrained(config.arch, {
        initWeights,
        ...(entries ? { entries } : {}),
        numClasses: train.numClasses,
        inChannels: train.channels,
        reinitLast: config.reinitLast,
        freeze: config.freeze,
        device: config.device as DeviceSpec | undefined,
        seed: config.seed,
      });
    if (config.initWeights && checkpoint && fs.existsSync(checkpoint)) {
      // Resuming: the checkpoint holds the whole model, so the original --init-weights file is not
      // needed (it may have moved). The model is rebuilt with the same shape (stem and classifier
      // from the checkpoint) and the same frozen/re-initialised modules; fit() then loads the
      // checkpoint's weights into it.
      const built = await pretrained(checkpoint, (await loadCheckpoint(checkpoint)).model);
      model = built.model;
      stemUsed = built.report.stem;
      log(
        `resume: the model's shape and weights from ${checkpoint} (the original --init-weights ${config.initWeights} is not read)`,
      );
    } else if (config.initWeights) {
      const built = await pretrained(config.initWeights);
      model = built.model;
      transfer = built.report;
      stemUsed = transfer.stem;
      log(
        `weights from ${config.initWeights}: ${transfer.replacedClassifier ? 'new classifier, ' : ''}` +
          `${transfer.reinitialised.length} modules re-initialised, ${transfer.trainableParameters.toLocaleString('en')} trainable parameters` +
          (transfer.frozenParameters ? `, ${transfer.frozenParameters.toLocaleString('en')} frozen` : ''),
      );
    } else {
      if (config.reinitLast || config.freeze) throw new RangeError('--reinit-last and --freeze need --init-weights');
      // A config's arch and device are strings from JSON or flags; the native side validates both and
      // names the bad value with the valid ones.
      model = resnet(config.arch as ResNetArch, {
        numClasses: train.numClasses,
        inChannels: train.channels,
        stem,
        device: config.device as DeviceSpec | undefined,
        seed: config.seed ?? 0,
      });
    }
    const schedule = scheduleFromSpec(config.schedule);
    const lr = schedule.lrAt(0) || (config.schedule as { lr: number }).lr;
    const o = config.optimizer ?? {};
    optimizer = optimizerFor(model, lr, o);
    log(
      `${config.arch} (${stemUsed === 'cifar' ? 'cifar stem: 3×3 conv1, no max-pool' : 'imagenet stem: 7×7 conv1 + max-pool'}, ${model.parameterCount().toLocaleString('en')} parameters) on ${model.device}; ` +
        `train ${train.size} × ${train.channels}×${train.height}×${train.width}, val ${val.size}, ${train.numClasses} classes`,
    );
    if (options.outDir && writes) {
      const saved = Object.fromEntries(
        Object.entries(config).filter(([k]) => !RUNTIME_ONLY.includes(k as keyof RunConfig)),
      );
      writeTextAtomicSync(path.join(options.outDir, RUN_CONFIG_FILE), JSON.stringify(saved, null, 2) + '\n');
    }
    // What the run's results depend on: resuming under other values is refused (which files are
    // kept, and whether event files are written, do not matter).
    const identity = Object.fromEntries(
      Object.entries(config).filter(
        ([k]) => !RUNTIME_ONLY.includes(k as keyof RunConfig) && !OUTPUT_ONLY.includes(k as keyof RunConfig),
      ),
    );
    const result = await fit({
      model,
      optimizer,
      schedule,
      train,
      val,
      epochs: config.epochs,
      batchSize: config.batchSize,
      evalBatchSize: config.evalBatchSize,
      seed: config.seed ?? 0,
      workers: config.workers,
      signal: options.signal,
      callbacks: options.callbacks,
      outDir: options.outDir,
      resume: options.resume,
      ensembleSize: config.ensembleSize,
      ensemble: config.ensemble,
      swa: config.swa,
      keep: config.keep,
      tensorboard: config.tensorboard,
      normalizedWeightDecay: o.normalizedWeightDecay,
      config: identity,
      skipNonFinite: config.skipNonFinite,
      log,
      processGroup: options.processGroup,
      overlap: options.overlap,
      syncBatchNorm: config.syncBatchNorm,
    });
    return { ...result, transfer };
  } finally {
    model?.dispose();
    train.dispose();
    val.dispose();
  }
}
