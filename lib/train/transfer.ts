/**
 * Transfer learning as in the seed study: start from a PyTorch state dict (e.g. torchvision's
 * ImageNet weights), fit the classifier to the data set's classes, re-initialise the last N modules,
 * and optionally freeze the rest.
 */
import * as fs from 'fs';
import { resnet, type ResNet, type ResNetArch, type ResNetOptions } from '../nn/resnet';
import {
  firstNonFiniteTensor,
  readTorchFile,
  stateDictEntries,
  tensorRecord,
  withoutPath,
  type TensorRecord,
} from '../serialization';
import { isResNetArch, RESNET_ARCH_SPECS } from '../nn/archs';

export interface TransferOptions {
  /** A file written by torch.save(model.state_dict()) for the same architecture. */
  initWeights: string;
  /** The data set's classes: the classifier is replaced when the file's has another size. */
  numClasses: number;
  /** The data set's channels: RGB weights on grayscale data sum conv1 over its input channels. */
  inChannels: number;
  /** Re-initialise the last N modules of model.modules() (PyTorch's order; the seed uses 40). */
  reinitLast?: number;
  /** Freeze everything except the classifier and the re-initialised modules. */
  freeze?: boolean;
  /** The state dict already read (a resumed run's checkpoint); initWeights then only names it. */
  entries?: Map<string, TensorRecord>;
}

export interface TransferReport {
  /** The stem the weights have: 'cifar' (3×3 conv1, no max-pool) or 'imagenet' (7×7 conv1). */
  stem: 'cifar' | 'imagenet';
  replacedClassifier: boolean;
  adaptedInputChannels: boolean;
  reinitialised: string[];
  frozenParameters: number;
  trainableParameters: number;
}

/** Builds a model from pretrained weights; everything it changes is reported. */
export async function modelFromPretrained(
  arch: string,
  options: Omit<ResNetOptions, 'numClasses' | 'inChannels'> & TransferOptions,
): Promise<{ model: ResNet; report: TransferReport }> {
  let entries: Map<string, TensorRecord>;
  if (options.entries) {
    entries = options.entries;
  } else {
    if (!fs.existsSync(options.initWeights)) throw new Error(`--init-weights: file not found: ${options.initWeights}`);
    try {
      entries = stateDictEntries(await readTorchFile(options.initWeights));
    } catch (err) {
      throw new Error(
        `--init-weights: cannot read ${options.initWeights}: ${withoutPath((err as Error).message, options.initWeights)}`,
      );
    }
  }
  // NaN or infinite weights (e.g. a diverged run's file) would only train to NaN: refused up front.
  const bad = firstNonFiniteTensor(entries);
  if (bad !== undefined)
    throw new Error(`--init-weights: ${options.initWeights} holds non-finite values (NaN or Inf), first in '${bad}'`);
  const fcWeight = entries.get('fc.weight');
  const conv1 = entries.get('conv1.weight');
  if (!fcWeight || !conv1)
    throw new Error(`--init-weights: ${options.initWeights} is not a ResNet state dict (no conv1.weight/fc.weight)`);
  // The model is built from these two shapes before the weights are loaded, so they are checked
  // first: a crafted file must not make it build a classifier for a billion classes.
  const shape = (t: TensorRecord): string => `[${t.shape.join(', ')}]`;
  const k = conv1.shape[2];
  if (conv1.shape.length !== 4 || conv1.shape[1]! < 1 || (k !== 3 && k !== 7) || conv1.shape[3] !== k) {
    throw new Error(
      `--init-weights: ${options.initWeights}: conv1.weight has shape ${shape(conv1)}, not the ` +
        '[64, C, 7, 7] (or [64, C, 3, 3]) of a ResNet stem',
    );
  }
  const features = isResNetArch(arch) ? RESNET_ARCH_SPECS[arch].features : undefined;
  if (
    fcWeight.shape.length !== 2 ||
    fcWeight.shape[0]! < 1 ||
    (features !== undefined && fcWeight.shape[1] !== features)
  ) {
    throw new Error(
      `--init-weights: ${options.initWeights}: fc.weight has shape ${shape(fcWeight)}, not the ` +
        `[classes, ${features ?? 'features'}] of a ${arch} classifier`,
    );
  }
  const fileClasses = fcWeight.shape[0]!;
  const fileChannels = conv1.shape[1]!;
  const stem: TransferReport['stem'] = conv1.shape[2] === 3 ? 'cifar' : 'imagenet';
  const adaptedInputChannels = options.inChannels !== fileChannels;
  if (adaptedInputChannels) {
    if (options.inChannels !== 1) {
      throw new Error(
        `--init-weights: the weights take ${fileChannels} input channels, the data has ${options.inChannels}`,
      );
    }
    // Grayscale input into RGB weights: summing over input channels equals feeding the gray image
    // to all three channels.
    entries = new Map(entries);
    entries.set('conv1.weight', sumInputChannels(conv1));
  }
  const { entries: _read, ...resnetOptions } = options;
  const model = resnet(arch as ResNetArch, {
    ...resnetOptions,
    stem: options.stem ?? stem,
    numClasses: fileClasses,
    inChannels: options.inChannels,
  });
  try {
    await model.loadStateDict(entries);
  } catch (err) {
    model.dispose();
    throw new Error(`--init-weights: ${(err as Error).message} (file: ${options.initWeights})`);
  }
  const replacedClassifier = fileClasses !== options.numClasses;
  if (replacedClassifier) model.replaceClassifier(options.numClasses);
  const names = model.moduleNames();
  const n = options.reinitLast ?? 0;
  if (!Number.isInteger(n) || n < 0 || n > names.length - 1) {
    throw new RangeError(`--reinit-last must be an integer in [0, ${names.length - 1}] for ${arch}, got ${n}`);
  }
  const reinitialised = n > 0 ? names.slice(-n) : [];
  model.reinitModules(reinitialised);
  let frozenParameters = 0;
  if (options.freeze) {
    model.setRequiresGrad([''], false);
    const keep = ['fc.', ...reinitialised.filter((m) => m !== '').map((m) => `${m}.`)];
    model.setRequiresGrad(keep, true);
    frozenParameters = model.parameterCount() - model.parameterCount(true);
  }
  return {
    model,
    report: {
      stem: (options.stem ?? stem) as TransferReport['stem'],
      replacedClassifier,
      adaptedInputChannels,
      reinitialised,
      frozenParameters,
      trainableParameters: model.parameterCount(true),
    },
  };
}

function sumInputChannels(w: TensorRecord): TensorRecord {
  const [out, inC, kh, kw] = w.shape as [number, number, number, number];
  const src = w.data as Float32Array;
  const dst = new Float32Array(out * kh * kw);
  for (let o = 0; o < out; o++) {
    for (let c = 0; c < inC; c++) {
      for (let k = 0; k < kh * kw; k++) dst[o * kh * kw + k]! += src[(o * inC + c) * kh * kw + k]!;
    }
  }
  return tensorRecord('float32', [out, 1, kh, kw], dst);
}
