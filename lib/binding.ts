/**
 * Loads the native addon and describes its raw surface. Nothing else: the typed, user-facing
 * classes (Tensor, ResNet, optimizers, schedulers) wrap these in their own files.
 */
import type { ProcessGroupOptions } from './distributed/options';
import type { BenchBinding, SyntheticSpec, TimedSteps } from './bench/native';
import type { DataLoaderOptions, ResolvedLoaderOptions } from './data/loader';
import type { DataSpec } from './data/spec';
import { DisposedError } from './errors';
import * as fs from 'fs';
import * as path from 'path';

export type DType =
  'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';
export type TypedArray =
  Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface NativeTensor {
  shape(): number[];
  dtype(): DType;
  device(): string;
  toArray(dtype?: DType): TypedArray;
  to(device: string): NativeTensor;
  dispose(): void;
  isDisposed(): boolean;
}

export interface NativeStateRecord {
  name: string;
  dtype: DType;
  shape: number[];
  data: TypedArray;
}
export interface NativeStateKey {
  name: string;
  dtype: DType;
  shape: number[];
  kind: 'parameter' | 'buffer';
  requiresGrad: boolean;
}

export interface NativeResNetOptions {
  arch: string;
  numClasses: number;
  inChannels: number;
  stem: 'imagenet' | 'cifar';
  device: string;
  seed?: number;
}

export interface NativeResNet {
  isDisposed(): boolean;
  forward(input: NativeTensor): Promise<NativeTensor>;
  setTraining(training: boolean): void;
  isTraining(): boolean;
  parameterCount(trainableOnly?: boolean): number;
  stateDictKeys(): NativeStateKey[];
  stateDict(): NativeStateRecord[];
  loadStateDict(records: NativeStateRecord[], strict: boolean): { missing: string[]; unexpected: string[] };
  to(device: string): string;
  device(): string;
  info(): { arch: string; numClasses: number; inChannels: number; stem: 'imagenet' | 'cifar'; device: string };
  replaceClassifier(numClasses: number): void;
  moduleNames(): string[];
  reinitModules(names: string[]): void;
  setRequiresGrad(prefixes: string[], value: boolean): number;
  /** Every BatchNorm's running mean 0, var 1, num_batches_tracked 0; returns how many BatchNorms there are. */
  resetBatchNormStats(): number;
  /** Every BatchNorm's momentum (null: PyTorch's None, the cumulative average); returns the previous one. */
  setBatchNormMomentum(momentum: number | null): number | null;
  dispose(): void;
}

export interface NativeOptimizerOptions {
  lr?: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
  betas?: [number, number];
  eps?: number;
  amsgrad?: boolean;
}

export interface NativeOptimizer {
  getLr(group?: number): number;
  setLr(lr: number, group?: number): void;
  groupCount(): number;
  kind(): 'sgd' | 'adam' | 'adamw';
  zeroGrad(): void;
  setWeightDecay(weightDecay: number): void;
  exportState(): unknown;
  importState(state: unknown): void;
}

export interface NativeLRScheduler {
  step(): number[];
  setEpoch(t: number): number[];
  epoch(): number;
  lrs(): number[];
  lrsAt(t: number): number[];
  reset(options: { tMax?: number; etaMin?: number; baseLrs?: number[] }): number[];
}

export interface NativeEpochResult {
  loss: number;
  correct: number;
  count: number;
  batches: number;
  seconds: number;
  imagesPerSecond: number;
  aborted: boolean;
  /** 0-based index of the first batch with a NaN or infinite loss (-1: none), and that loss. */
  nonFiniteBatch: number;
  nonFiniteLoss: number;
  /** With skipNonFinite: batches whose update was not applied (left out of the sums). */
  skipped: number;
}

export interface NativeBatchProgress {
  batch: number;
  batches: number;
  loss: number;
  /** The batch's accuracy (correct / images of this batch). */
  accuracy: number;
  lr: number;
  imagesPerSecond: number;
}

export interface NativeEvaluation {
  loss: number;
  correct: number;
  count: number;
  probabilities?: Float32Array;
  labels?: Int32Array;
}

export interface NativeTrainer {
  runEpoch(
    options: { epoch: number; lrs: Float64Array; startBatch?: number; progressEvery?: number; skipNonFinite?: boolean },
    onProgress?: (p: NativeBatchProgress) => void,
  ): Promise<NativeEpochResult>;
  evaluate(options?: { probabilities?: boolean }): Promise<NativeEvaluation>;
  abort(): void;
  batchesPerEpoch(): number;
  close(): void;
  /** The benchmark's pure C++ step loop over resident batches (lib/bench; not used in training). */
  timeSteps(options: { steps: number; train?: boolean; batches?: number }): Promise<TimedSteps>;
}

export interface NativeTrainerOptions {
  train: unknown;
  val?: unknown;
  batchSize: number;
  evalBatchSize?: number;
  seed?: number;
  shuffle?: boolean;
  workers?: number;
  prefetch?: number;
  /** Data-parallel training over this group (batchSize is then per rank). */
  processGroup?: NativeProcessGroup;
  /** All-reduce gradient buckets while backward runs (default true). */
  overlap?: boolean;
  /** BatchNorm normalises with the global batch's statistics (SyncBatchNorm; default false). */
  syncBatchNorm?: boolean;
}

/** A c10d process group (native/binding/process_group_wrap.cc). */
export interface NativeProcessGroup {
  rank(): number;
  worldSize(): number;
  backend(): string;
  allReduce(tensor: NativeTensor): Promise<void>;
  broadcast(tensor: NativeTensor, root?: number): Promise<void>;
  barrier(): Promise<void>;
  markFinished(): void;
  close(): void;
}

/**
 * A dataset spec as the native layer reads it: the library's DataSpec as it is (lib/data/spec.ts
 * says what each field means), or the benchmark's in-memory random images.
 */
export type NativeDataSpec = DataSpec | SyntheticSpec;

/** The random crop an augmenting image folder takes for one sample (full-size image pixels). */
export interface SampleCrop {
  x: number;
  y: number;
  w: number;
  h: number;
  flip: boolean;
  /** The DCT scale the JPEG is decoded at: 1, or 2, 4, 8 with fastDecode. */
  scale: number;
}

export interface NativeDatasetInfo {
  kind: NativeDataSpec['kind'];
  root: string;
  split: 'train' | 'val';
  size: number;
  numClasses: number;
  channels: number;
  height: number;
  width: number;
  /** Whether samples get random transforms (train split with augment on). */
  augment: boolean;
  /** Whether JPEGs are decoded reduced (DataSpec.fastDecode). */
  fastDecode: boolean;
  classNames: string[];
}

/** The loader options as the native layer reads them: the library's DataLoaderOptions as they are. */
export type NativeLoaderOptions = DataLoaderOptions;

export interface NativeBatch {
  images: NativeTensor;
  labels: NativeTensor;
  index: number;
}

export interface NativeDataLoader {
  startEpoch(epoch: number, startBatch?: number): void;
  next(): Promise<NativeBatch | null>;
  batchesPerEpoch(): number;
  options(): ResolvedLoaderOptions;
  dispose(): void;
  isDisposed(): boolean;
}

export interface NativeDataset {
  info(): NativeDatasetInfo;
  labels(): Int32Array;
  source(index: number): string;
  get(index: number, seed?: number, epoch?: number): NativeTensor;
  crop(index: number, seed?: number, epoch?: number): SampleCrop | null;
  loader(options: NativeLoaderOptions): NativeDataLoader;
  dispose(): void;
  isDisposed(): boolean;
}

export interface NativeBinding {
  NativeTensor: { fromArray(data: TypedArray, shape: number[], dtype?: DType, device?: string): NativeTensor };
  NativeResNet: new (options: NativeResNetOptions) => NativeResNet;
  NativeOptimizer: new (
    model: NativeResNet,
    kind: string,
    options: NativeOptimizerOptions,
    groups?: Array<NativeOptimizerOptions & { prefixes: string[] }>,
  ) => NativeOptimizer;
  NativeLRScheduler: new (
    optimizer: NativeOptimizer,
    options: { type: 'cosine'; tMax: number; etaMin?: number } | { type: 'step'; stepSize: number; gamma?: number },
  ) => NativeLRScheduler;
  NativeTrainer: new (model: NativeResNet, optimizer: NativeOptimizer, options: NativeTrainerOptions) => NativeTrainer;
  NativeDataset: new (spec: NativeDataSpec) => NativeDataset;
  NativeProcessGroup: {
    connect(options: ProcessGroupOptions): Promise<NativeProcessGroup>;
    backends(): { gloo: boolean; nccl: boolean };
  };
  NativeDataLoader: new (dataset: NativeDataset, options: NativeLoaderOptions) => NativeDataLoader;
  trainStep(
    model: NativeResNet,
    optimizer: NativeOptimizer,
    input: NativeTensor,
    target: NativeTensor,
    options?: { processGroup?: NativeProcessGroup; syncBatchNorm?: boolean },
  ): Promise<{ loss: number }>;
  evaluate(
    model: NativeResNet,
    input: NativeTensor,
    target: NativeTensor,
  ): Promise<{ loss: number; correct: number; count: number }>;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  cudaAvailable(): boolean;
  cudaDeviceCount(): number;
  manualSeed(seed: number): void;
  /** Ends the process now: no exit handlers, no destructors (safe while a trainer thread runs). */
  exitNow(code: number): never;
  /** The library's error classes, for the errors native code throws (called once, at load). */
  setErrorClasses(classes: { DisposedError: new (message: string) => Error }): void;
  libtorchVersion: string;
  /** The benchmark's and the soak test's probes and switches (lib/bench/native.ts describes them). */
  bench: BenchBinding;
}

let cached: NativeBinding | undefined;

/** Where the addon is: $SGDR_ADDON_PATH, else the cmake-js build of this package. */
export function addonPath(): string {
  if (process.env.SGDR_ADDON_PATH) return path.resolve(process.env.SGDR_ADDON_PATH);
  return path.resolve(__dirname, '..', 'build', 'Release', 'sgdr_native.node');
}

/** What scripts/build-native.js recorded next to the addon: the LibTorch it was built against. */
export interface BuiltLibTorch {
  /** How the locator found it: 'system package', 'LIBTORCH', 'python (/path/to/python)', ... */
  source: string;
  version?: string;
  libDir: string;
  cuda: boolean;
  cudaVersion?: string;
  cxx11Abi: number;
  /** The Python whose torch is this LibTorch (a pip wheel's, or Debian's python3-torch), when there is one. */
  python?: string;
}

/** The record of the LibTorch the addon at addonPath() was built against; undefined for a build that wrote none (node-gyp). */
export function builtLibTorch(): BuiltLibTorch | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(path.dirname(addonPath()), 'libtorch.json'), 'utf8')) as BuiltLibTorch;
  } catch {
    return undefined;
  }
}

/** The Python whose PyTorch matches the built addon's LibTorch (the reference to compare against), else /usr/bin/python3. */
export function referencePython(): string {
  return process.env.SGDR_REFERENCE_PYTHON || builtLibTorch()?.python || '/usr/bin/python3';
}

/** The native addon, loaded on first use (so pure-TS features never need it). */
/** The addon if this process has loaded it already; never loads it. */
export function loadedNative(): NativeBinding | undefined {
  return cached;
}

/**
 * The command that builds the addon where this copy of the package stands: inside a user's
 * node_modules the package's own scripts cannot be run by name, but `npm rebuild libtorch-sgdr`
 * reruns its install script; in a checkout of the repository it is `npm run build:native`.
 */
export function buildCommand(packageRoot = path.resolve(__dirname, '..')): string {
  const installed = packageRoot.split(path.sep).includes('node_modules');
  return installed ? 'npm rebuild libtorch-sgdr' : 'npm run build:native';
}

export function native(): NativeBinding {
  if (cached) return cached;
  const file = addonPath();
  if (!fs.existsSync(file)) {
    if (process.env.SGDR_ADDON_PATH) {
      throw new Error(
        `libtorch-sgdr: SGDR_ADDON_PATH names ${file}, which does not exist; unset it to use this package's own build`,
      );
    }
    const root = path.resolve(__dirname, '..');
    const where = buildCommand(root) === 'npm run build:native' ? `in ${root}` : 'in your project';
    throw new Error(
      `libtorch-sgdr: the native addon is not built (${file} is missing); run '${buildCommand(root)}' ${where} ` +
        '(it compiles against LibTorch: 2-6 minutes)',
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a .node file, found at run time
  const addon = require(file) as NativeBinding;
  // An addon built from an older checkout (a pull without a rebuild) lacks what this library calls.
  if (typeof addon.setErrorClasses !== 'function') {
    throw new Error(
      `libtorch-sgdr: the native addon ${file} is older than this library; rebuild it (npm run build:native)`,
    );
  }
  addon.setErrorClasses({ DisposedError });
  cached = addon;
  return cached;
}
