/**
 * libtorch-sgdr: what a training script needs. The rest is behind subpaths, so the root stays
 * small: 'libtorch-sgdr/experiment' (experiments over seeds, statistics, the report),
 * 'libtorch-sgdr/plot' (figures), 'libtorch-sgdr/serialization' (PyTorch's file format in full),
 * 'libtorch-sgdr/bench' (the benchmark against PyTorch).
 */
export { Tensor, type TensorOptions, type DType, type TypedArray, type NestedList } from './tensor';
export {
  resnet,
  ResNet,
  RESNET_ARCHS,
  DEFAULT_STEM,
  isResNetArch,
  type ResNetArch,
  type ResNetOptions,
  type LoadStateDictOptions,
  type LoadStateDictResult,
} from './nn/resnet';
export type { InferenceOptions, ModelEvaluation } from './nn/inference';
export { SGD, Adam, AdamW, Optimizer, type SGDOptions, type AdamOptions, type ParamGroup } from './optim/optimizer';
export {
  CosineAnnealingLR,
  StepLRScheduler,
  LRScheduler,
  type CosineAnnealingOptions,
  type StepLRSchedulerOptions,
} from './optim/lr-scheduler';
export { WarmRestartsDriver } from './optim/warm-restarts-driver';
export { trainStep, evaluate, type EvaluationResult } from './train/step';
export {
  ProcessGroup,
  initProcessGroup,
  distributedEnv,
  launchRanks,
  freePort,
  type ProcessGroupOptions,
  type DistributedEnv,
  type LaunchOptions,
  type LaunchResult,
} from './distributed';
export { DisposedError, DivergenceError, RunFolderInUseError } from './errors';
export {
  resolveDevice,
  isDeviceSpec,
  cudaAvailable,
  setNumThreads,
  getNumThreads,
  manualSeed,
  type DeviceSpec,
} from './device';
// PyTorch's file format: what a training script needs; all of it is 'libtorch-sgdr/serialization'.
export {
  readTorchFile,
  writeTorchFile,
  stateDictEntries,
  TorchFileError,
  type TensorRecord,
  type Dtype,
  type TorchValue,
} from './serialization';
export * from './schedule';
export {
  fit,
  cycleEnds,
  normalizedWeightDecay,
  runFiles,
  clearRunFiles,
  DIVERGED_FILE,
  SWA_FILE,
  type FitOptions,
  type FitResult,
  type FitCallbacks,
  type BatchProgress,
  type DatasetHandle,
  type SwaResult,
  type KeepFiles,
  type DiskUse,
  runDiskUse,
} from './train/fit';
export {
  WeightAverage,
  updateBatchNorm,
  swaLearningRate,
  checkSwaOptions,
  type SwaOptions,
  type BatchLike,
} from './train/swa';
export { EventFileWriter, type SummaryValue, type EventFields } from './train/tensorboard';
export { ensembleMetrics, type EpochMetrics } from './train/metrics';
export {
  ENSEMBLE_METHODS,
  ensembleWeights,
  greedyWeights,
  nllOptimalWeights,
  weightedEnsembleMetrics,
  type EnsembleMethod,
} from './train/ensemble';
export {
  saveCheckpoint,
  loadCheckpoint,
  type Checkpoint,
  type SnapshotInfo,
  type TrainingPosition,
} from './train/checkpoint';
export { runTraining, readRunConfig, type RunConfig, type RunOptions, type OptimizerConfig } from './train/run';
export {
  lrFind,
  lrFindSchedule,
  suggestLr,
  LR_SUGGESTIONS,
  type LrFindOptions,
  type LrFindResult,
  type LrFindStep,
  type LrSuggestion,
} from './train/lr-find';
export { lrFindFigure } from './train/lr-find-figure';
export { modelFromPretrained, type TransferOptions, type TransferReport } from './train/transfer';
export * from './data';
