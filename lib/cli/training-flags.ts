/**
 * The flags that say what `sgdr train` trains (the data, the model, the optimizer, the seed), one
 * table shared with `sgdr lr-find`, whose range test runs on the model and data that train would
 * build. Each command picks the rows it takes, in its own order (pickFlags).
 */
import { DEFAULT_STEM } from '../nn/resnet';
import { archList } from '../nn/archs';
import type { OptimizerConfig, RunConfig } from '../train/run';
import { DEFAULT_SGD_MOMENTUM } from '../train/run';
import { flagDefault, UsageError, type FlagSpecs, type ParsedFlags } from './args';

export const trainingFlagSpecs: FlagSpecs = {
  data: {
    kind: 'string',
    help: 'fashion-mnist | fashion-mnist:DIR | mnist:DIR | cifar10:DIR | image-folder:DIR',
    default: 'fashion-mnist',
  },
  arch: { kind: 'string', help: archList(' | '), default: 'resnet18' },
  stem: {
    kind: 'string',
    help: "imagenet (torchvision's 7×7 conv1 + max-pool) | cifar (3×3 conv1, no max-pool) | auto (cifar for images of 32 px or less)",
    default: DEFAULT_STEM,
  },
  optimizer: { kind: 'string', help: 'sgd | adamw | adam', default: 'sgd' },
  momentum: { kind: 'number', help: 'SGD momentum', default: DEFAULT_SGD_MOMENTUM, min: 0 },
  'weight-decay': { kind: 'number', help: 'weight decay (default 5e-4 for sgd, 0.01 for adamw)', min: 0 },
  nesterov: { kind: 'boolean', help: 'Nesterov momentum' },
  seed: { kind: 'integer', help: 'seed of the weights, batch order and augmentation', default: 0 },
  'limit-train': {
    kind: 'integer',
    help: 'class-balanced subset of the training set',
    defaultText: 'all',
    min: 1,
  },
  augment: { kind: 'boolean', help: 'random crop/flip augmentation of the training set (default on; --no-augment)' },
  'image-size': {
    kind: 'integer',
    help: 'input size',
    defaultText: 'native for 28/32 px data, 224 for image folders',
    min: 1,
  },
};

/** The rows `names` of `specs`, in that order (a name not in the table is a programming error). */
export function pickFlags(specs: FlagSpecs, ...names: string[]): FlagSpecs {
  return Object.fromEntries(
    names.map((name) => {
      if (!specs[name]) throw new Error(`pickFlags: no flag --${name}`);
      return [name, specs[name]];
    }),
  );
}

/** --stem, checked. */
export function stemFromFlags(flags: ParsedFlags): NonNullable<RunConfig['stem']> {
  const stem = (flags.stem as string | undefined) ?? flagDefault<string>(trainingFlagSpecs, 'stem');
  if (!['auto', 'imagenet', 'cifar'].includes(stem))
    throw new UsageError(`--stem must be auto, imagenet or cifar, got '${stem}'`);
  return stem as NonNullable<RunConfig['stem']>;
}

/** --optimizer, --momentum, --weight-decay and --nesterov as a run config's optimizer (checked). */
export function optimizerFromFlags(flags: ParsedFlags): OptimizerConfig {
  const type = (flags.optimizer as string | undefined) ?? flagDefault<string>(trainingFlagSpecs, 'optimizer');
  if (!['sgd', 'adam', 'adamw'].includes(type))
    throw new UsageError(`--optimizer must be sgd, adam or adamw, got '${type}'`);
  return {
    type: type as OptimizerConfig['type'],
    momentum: flags.momentum as number | undefined,
    weightDecay: flags['weight-decay'] as number | undefined,
    nesterov: flags.nesterov as boolean | undefined,
  };
}
