/** libtorch-sgdr: the public surface. */
export { Tensor, type TensorOptions, type DType, type TypedArray, type NestedList } from './tensor';
export { resnet, ResNet, RESNET_ARCHS, type ResNetArch, type ResNetOptions, type LoadStateDictOptions, type LoadStateDictResult } from './nn/resnet';
export type { InferenceOptions, ModelEvaluation } from './nn/inference';
export { SGD, Adam, AdamW, Optimizer, type SGDOptions, type AdamOptions, type ParamGroup } from './optim/optimizer';
export { CosineAnnealingLR, StepLRScheduler, LRScheduler, type CosineAnnealingOptions, type StepLRSchedulerOptions } from './optim/lr-scheduler';
export { WarmRestartsDriver } from './optim/warm-restarts-driver';
export { trainStep, evaluate, type EvaluationResult } from './train/step';
export { DivergenceError, RunFolderInUseError } from './errors';
export { resolveDevice, cudaAvailable, setNumThreads, getNumThreads, manualSeed, type DeviceSpec } from './device';
export * from './serialization';
export * from './schedule';
export { fit, cycleEnds, normalizedWeightDecay, runFiles, clearRunFiles, DIVERGED_FILE, type FitOptions, type FitResult, type FitCallbacks, type BatchProgress, type DatasetHandle } from './train/fit';
export { ensembleMetrics, type EpochMetrics } from './train/metrics';
export { saveCheckpoint, loadCheckpoint, type Checkpoint, type SnapshotInfo, type TrainingPosition } from './train/checkpoint';
export { runTraining, readRunConfig, type RunConfig, type RunOptions, type OptimizerConfig } from './train/run';
export { modelFromPretrained, type TransferOptions, type TransferReport } from './train/transfer';
export * from './data';
export * from './experiment';
