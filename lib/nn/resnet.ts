/// <reference types="node" preserve="true" />
/**
 * The torchvision-compatible ResNet family. Parameter and buffer names equal torchvision's, so
 * `loadStateDict('resnet18.pth')` takes a file written by PyTorch's torch.save(model.state_dict()),
 * and `saveStateDict()` writes one PyTorch can torch.load.
 */
import * as fs from 'fs';
import { native, type NativeResNet, type NativeStateKey, type NativeStateRecord } from '../binding';
import { resolveDevice, type DeviceSpec } from '../device';
import { withCallerStack } from '../errors';
import {
  orderedDict,
  readTorchFile,
  stateDictEntries,
  withoutPath,
  writeTorchFile,
  type TensorRecord,
} from '../serialization';
import { Tensor } from '../tensor';
import type { Dataset } from '../data/dataset';
import { evaluateModel, predictModel, type InferenceOptions, type ModelEvaluation } from './inference';

export { RESNET_ARCHS, isResNetArch, type ResNetArch } from './archs';
import type { ResNetArch } from './archs';
import { NativeHandle } from '../native-handle';

/**
 * The stem resnet(), runTraining(), experiments and `sgdr train` use when none is given:
 * torchvision's ImageNet stem (7×7/2 conv + max-pool), the network whose state dicts load. The cifar
 * stem keeps 28-32 px images at full resolution through the first stage, which costs about 8× the
 * compute (the same short Fashion-MNIST run: 7 s against 60 s); ask for it with stem: 'cifar' (or
 * 'auto' in a run config: cifar for images of 32 px or less).
 */
export const DEFAULT_STEM = 'imagenet' as const;

export interface ResNetOptions {
  /** Output classes (torchvision's default is 1000). */
  numClasses?: number;
  /** Input channels: 3 for RGB, 1 for grayscale such as Fashion-MNIST. */
  inChannels?: number;
  /** 'imagenet' (7x7/2 conv + max-pool) or 'cifar' (3x3/1 conv, no pool) for 28-32 px images. */
  stem?: 'imagenet' | 'cifar';
  device?: DeviceSpec;
  /** Seeds the weight initialisation: same seed, same initial weights. */
  seed?: number;
}

export interface LoadStateDictOptions {
  /** Require the file's keys to equal the model's (PyTorch's strict=True). Default true. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missing: string[];
  unexpected: string[];
}

export class ResNet extends NativeHandle<NativeResNet> {
  /** @internal */
  readonly native: NativeResNet;
  readonly arch: ResNetArch;

  /** @internal Use resnet(). */
  constructor(arch: string, options: ResNetOptions = {}) {
    super();
    if (typeof arch !== 'string') throw new TypeError('arch must be a string such as "resnet18"');
    this.native = new (native().NativeResNet)({
      arch,
      numClasses: options.numClasses ?? 1000,
      inChannels: options.inChannels ?? 3,
      stem: options.stem ?? DEFAULT_STEM,
      device: resolveDevice(options.device ?? 'cpu'),
      seed: options.seed,
    });
    this.arch = arch as ResNetArch;
  }

  get numClasses(): number {
    return this.native.info().numClasses;
  }

  get inChannels(): number {
    return this.native.info().inChannels;
  }

  get stem(): 'imagenet' | 'cifar' {
    return this.native.info().stem;
  }

  /** Where it lives, as LibTorch names it: 'cpu' or 'cuda:N'. */
  get device(): 'cpu' | `cuda:${number}` {
    return this.native.device() as 'cpu' | `cuda:${number}`;
  }

  get training(): boolean {
    return this.native.isTraining();
  }

  /** Training mode: BatchNorm uses batch statistics and updates its running averages. */
  train(on = true): this {
    this.native.setTraining(on);
    return this;
  }

  /** Evaluation mode: BatchNorm uses its running statistics. */
  eval(): this {
    return this.train(false);
  }

  /** Logits for a batch [N, inChannels, H, W], computed off the JS thread without autograd. */
  forward(input: Tensor): Promise<Tensor> {
    return withCallerStack(async () => {
      if (!(input instanceof Tensor)) throw new TypeError('input must be a Tensor');
      return new Tensor(await this.native.forward(input.native));
    });
  }

  /**
   * Loss, accuracy and confusion matrix over a whole data set (in its order, in evaluation mode;
   * the model's mode is restored after). The data set is read as its loader delivers it: open a
   * training split with `augment: false` to evaluate it without random crops.
   */
  evaluate(data: Dataset, options: InferenceOptions = {}): Promise<ModelEvaluation> {
    return withCallerStack(() => evaluateModel(this, data, options));
  }

  /**
   * Class probabilities (softmax of the logits), float32 [N, numClasses] on the CPU, for every
   * example of a data set (in its order) or for a tensor of images [N, C, H, W] / [C, H, W].
   * `.argmax()` of the result gives the predicted classes.
   */
  predict(input: Dataset | Tensor, options: InferenceOptions = {}): Promise<Tensor> {
    return withCallerStack(() => predictModel(this, input, options));
  }

  /** Number of parameters (all, or only those that will be trained). */
  parameterCount(trainableOnly = false): number {
    return this.native.parameterCount(trainableOnly);
  }

  /** Names, shapes and dtypes of the state dict, in PyTorch's order. */
  stateDictKeys(): NativeStateKey[] {
    return this.native.stateDictKeys();
  }

  /** A copy of every parameter and buffer, in PyTorch's state_dict() order. */
  stateDict(): Map<string, TensorRecord> {
    const out = new Map<string, TensorRecord>();
    for (const r of this.native.stateDict())
      out.set(r.name, { dtype: r.dtype, shape: r.shape, data: r.data } as TensorRecord);
    return out;
  }

  /**
   * Loads weights from a file written by torch.save(model.state_dict()) (zip or legacy format,
   * OrderedDict with _metadata, as torchvision publishes them) or by saveStateDict(), or from a map.
   * Nothing is changed unless the whole load succeeds.
   */
  loadStateDict(
    source: string | Map<string, TensorRecord>,
    options: LoadStateDictOptions = {},
  ): Promise<LoadStateDictResult> {
    return withCallerStack(async () => {
      let entries: Map<string, TensorRecord>;
      if (typeof source === 'string') {
        if (!fs.existsSync(source)) throw new Error(`weights file not found: ${source}`);
        let value;
        try {
          value = await readTorchFile(source);
        } catch (err) {
          throw new Error(`cannot read weights file ${source}: ${withoutPath((err as Error).message, source)}`);
        }
        entries = stateDictEntries(value);
      } else if (source instanceof Map) {
        entries = source;
      } else {
        throw new TypeError('loadStateDict takes a file path or a Map of tensor records');
      }
      const records: NativeStateRecord[] = [];
      for (const [name, r] of entries) records.push({ name, dtype: r.dtype, shape: r.shape, data: r.data });
      try {
        return this.native.loadStateDict(records, options.strict ?? true);
      } catch (err) {
        if (typeof source === 'string') (err as Error).message = `${(err as Error).message} (file: ${source})`;
        throw err;
      }
    });
  }

  /** Writes the state dict as a PyTorch-compatible file (torch.load reads it), atomically. */
  saveStateDict(file: string): Promise<void> {
    // Written as collections.OrderedDict, exactly as PyTorch writes a state dict.
    return withCallerStack(() => writeTorchFile(file, orderedDict(this.stateDict())));
  }

  /** Moves parameters and buffers to another device. */
  to(device: DeviceSpec): this {
    this.native.to(resolveDevice(device));
    return this;
  }

  /** Replaces the classifier `fc` with a freshly initialised one for `numClasses` (transfer learning). */
  replaceClassifier(numClasses: number): void {
    this.native.replaceClassifier(numClasses);
  }

  /** Module names in PyTorch's model.modules() order; the root is ''. */
  moduleNames(): string[] {
    return this.native.moduleNames();
  }

  /** Re-runs torchvision's initialisation on the named modules. */
  reinitModules(names: string[]): void {
    this.native.reinitModules(names);
  }

  /** Freezes (false) or unfreezes (true) the parameters whose names start with a prefix; returns how many. */
  setRequiresGrad(prefixes: string[], value: boolean): number {
    return this.native.setRequiresGrad(prefixes, value);
  }
}

/** Builds a ResNet of the torchvision family: resnet('resnet18', { numClasses: 10, inChannels: 1 }). */
export function resnet(arch: ResNetArch, options: ResNetOptions = {}): ResNet {
  return new ResNet(arch, options);
}
