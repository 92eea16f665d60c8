/** libtorch-sgdr: the public surface. */
export { Tensor, type TensorOptions, type DType, type TypedArray } from './tensor';
export { resnet, ResNet, RESNET_ARCHS, type ResNetArch, type ResNetOptions, type LoadStateDictOptions, type LoadStateDictResult } from './nn/resnet';
export { SGD, Adam, AdamW, Optimizer, type SGDOptions, type AdamOptions, type ParamGroup } from './optim/optimizer';
export { CosineAnnealingLR, StepLRScheduler, LRScheduler, type CosineAnnealingOptions, type StepLROptions } from './optim/lr-scheduler';
export { trainStep, evaluate, type EvaluationResult } from './train/step';
export { resolveDevice, cudaAvailable, setNumThreads, getNumThreads, manualSeed, type DeviceSpec } from './device';
export * from './serialization';
export * from './schedule';
export * from './data';
