/**
 * `sgdr lr-find`: the LR range test (lib/train/lr-find.ts) on a model and data set as `sgdr train`
 * would build them. Writes DIR/lr-find.json ({lr, loss, suggested_lr, method, ...}) and the figure
 * as DIR/lr-find.png and DIR/lr-find.svg, shows progress, and prints the `sgdr train` command that
 * uses the suggestion as the peak LR of SGDR.
 */
import * as fs from 'fs';
import { openData } from '../data';
import { outputFolderProblem } from '../folders';
import { DEFAULT_STEM, resnet } from '../nn/resnet';
import { archList, isResNetArch } from '../nn/archs';
import { optimizerFor } from '../train/run';
import { setNumThreads, type DeviceSpec } from '../device';
import { lrFind, LR_SUGGESTIONS, type LrSuggestion } from '../train/lr-find';
import { SUGGESTION_NAMES } from '../train/lr-find-figure';
import { lrFindEnding, writeLrFindFiles } from '../train/lr-find-file';
import { capThreads, flagDefault, formatFlags, parseCommandFlags, UsageError, type FlagSpecs } from './args';
import type { Command } from './main';

const flagSpecs: FlagSpecs = {
  data: {
    kind: 'string',
    help: 'fashion-mnist (default) | fashion-mnist:DIR | mnist:DIR | cifar10:DIR | image-folder:DIR',
  },
  arch: { kind: 'string', help: archList(' | '), default: 'resnet18' },
  stem: {
    kind: 'string',
    help: 'imagenet | cifar | auto (cifar for images of 32 px or less); as sgdr train',
    default: DEFAULT_STEM,
  },
  'batch-size': { kind: 'integer', help: 'training batch size (default 64; use the one you will train with)' },
  'start-lr': { kind: 'number', help: 'first LR of the sweep (default 1e-7)' },
  'end-lr': { kind: 'number', help: 'last LR of the sweep (default 10)' },
  iterations: { kind: 'integer', help: 'steps of the exponential sweep (default 100)' },
  beta: { kind: 'number', help: 'smoothing of the loss, debiased EMA (default 0.98)' },
  'diverge-factor': { kind: 'number', help: 'stop when the smoothed loss exceeds this × its best (default 4)' },
  suggestion: {
    kind: 'string',
    help: `how the LR is suggested: ${LR_SUGGESTIONS.join(' | ')} (default steepest: steepest descent; minimum: the minimum's LR / 10)`,
  },
  optimizer: { kind: 'string', help: 'sgd | adamw | adam (default sgd)' },
  momentum: { kind: 'number', help: 'SGD momentum (default 0.9)' },
  'weight-decay': { kind: 'number', help: 'weight decay (default 5e-4 for sgd)' },
  nesterov: { kind: 'boolean', help: 'Nesterov momentum' },
  seed: { kind: 'integer', help: 'seed of the weights and batch order (default 0)' },
  'limit-train': { kind: 'integer', help: 'class-balanced subset of the training set (default: all)' },
  augment: { kind: 'boolean', help: 'random crop/flip augmentation (default on; --no-augment)' },
  'image-size': { kind: 'integer', help: 'input size (default: native for 28/32 px data, 224 for image folders)' },
  device: { kind: 'string', help: 'auto | cpu | cuda | cuda:N (default auto)' },
  threads: { kind: 'integer', help: "LibTorch threads (default: the machine's cores)" },
  workers: { kind: 'integer', help: 'data loader threads (default automatic)' },
  out: { kind: 'string', help: 'folder for lr-find.json, lr-find.png and lr-find.svg (required)' },
  json: { kind: 'boolean', help: 'print lr-find.json to stdout at the end' },
  help: { kind: 'boolean', help: 'show this help' },
};

function help(): string {
  return [
    'usage: sgdr lr-find --data ... --arch ... --out DIR [flags]',
    '',
    "The LR range test (fastai's lr_find): trains batches at an LR growing exponentially from 1e-7 to 10",
    'over 100 steps, smooths the loss (EMA, beta 0.98, debiased) and stops once it exceeds 4x its best.',
    'The model is thrown away afterwards (lrFind() in TS restores weights and optimizer). The suggested',
    'LR is a maximum LR: use it as --lr of `sgdr train --scheduler warm-restarts` (the command is printed).',
    '',
    formatFlags(flagSpecs),
  ].join('\n');
}

const show = (v: number): string => Number(v.toPrecision(3)).toString();

async function run(argv: string[]): Promise<number> {
  const flags = parseCommandFlags(argv, flagSpecs, help);
  if (!flags) return 0;
  const out = flags.out as string | undefined;
  if (!out) throw new UsageError('--out DIR is required (it receives lr-find.json, lr-find.png and lr-find.svg)');
  const problem = outputFolderProblem(out);
  if (problem) throw new UsageError(`--out ${out}: cannot write to the output folder (${problem})`);
  const suggestion = (flags.suggestion as string | undefined) ?? 'steepest';
  if (!LR_SUGGESTIONS.includes(suggestion as LrSuggestion))
    throw new UsageError(`--suggestion must be ${LR_SUGGESTIONS.join(' or ')}, got '${suggestion}'`);
  for (const name of ['start-lr', 'end-lr', 'diverge-factor'] as const) {
    const v = flags[name] as number | undefined;
    if (v !== undefined && !(v > 0 && Number.isFinite(v)))
      throw new UsageError(`--${name} must be a finite number > 0, got ${v}`);
  }
  const startLr = (flags['start-lr'] as number | undefined) ?? 1e-7;
  const endLr = (flags['end-lr'] as number | undefined) ?? 10;
  if (endLr <= startLr) throw new UsageError(`--end-lr must be larger than --start-lr (${startLr}), got ${endLr}`);
  const beta = flags.beta as number | undefined;
  if (beta !== undefined && !(beta >= 0 && beta < 1))
    throw new UsageError(`--beta must be a number in [0, 1), got ${beta}`);
  for (const name of ['iterations', 'batch-size', 'limit-train', 'image-size'] as const) {
    const v = flags[name] as number | undefined;
    const min = name === 'iterations' ? 2 : 1;
    if (v !== undefined && v < min) throw new UsageError(`--${name} must be >= ${min}, got ${v}`);
  }
  const optimizerType = (flags.optimizer as string | undefined) ?? 'sgd';
  if (!['sgd', 'adam', 'adamw'].includes(optimizerType))
    throw new UsageError(`--optimizer must be sgd, adam or adamw, got '${optimizerType}'`);
  const stem = (flags.stem as string | undefined) ?? flagDefault<string>(flagSpecs, 'stem');
  if (!['auto', 'imagenet', 'cifar'].includes(stem))
    throw new UsageError(`--stem must be auto, imagenet or cifar, got '${stem}'`);
  const threads = capThreads(flags.threads as number | undefined);
  if (threads !== undefined) setNumThreads(threads);

  const dataName = (flags.data as string | undefined) ?? 'fashion-mnist';
  const arch = (flags.arch as string | undefined) ?? flagDefault<string>(flagSpecs, 'arch');
  if (!isResNetArch(arch)) throw new UsageError(`--arch must be ${archList()}, got '${arch}'`);
  const batchSize = (flags['batch-size'] as number | undefined) ?? 64;
  const { train, val } = openData(dataName, {
    limitTrain: flags['limit-train'] as number | undefined,
    limitVal: 1,
    augment: flags.augment as boolean | undefined,
    imageSize: flags['image-size'] as number | undefined,
  });
  val.dispose();
  const model = resnet(arch, {
    numClasses: train.numClasses,
    inChannels: train.channels,
    stem: stem === 'auto' ? (train.height <= 32 ? 'cifar' : 'imagenet') : (stem as 'cifar' | 'imagenet'),
    device: ((flags.device as string | undefined) ?? 'auto') as DeviceSpec,
    seed: (flags.seed as number | undefined) ?? 0,
  });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const tty = Boolean(process.stderr.isTTY) && !process.env.CI;
  try {
    const optimizer = optimizerFor(model, startLr, {
      type: optimizerType as 'sgd' | 'adam' | 'adamw',
      momentum: flags.momentum as number | undefined,
      weightDecay: flags['weight-decay'] as number | undefined,
      nesterov: flags.nesterov as boolean | undefined,
    });
    log(
      `lr-find: ${arch} on ${model.device}, ${train.size} training images, batch ${batchSize}; LR ${startLr} → ${endLr}`,
    );
    const result = await lrFind({
      model,
      optimizer,
      train,
      batchSize,
      startLr,
      endLr,
      iterations: flags.iterations as number | undefined,
      beta,
      divergeFactor: flags['diverge-factor'] as number | undefined,
      suggestion: suggestion as LrSuggestion,
      seed: (flags.seed as number | undefined) ?? 0,
      workers: flags.workers as number | undefined,
      onStep: (s) => {
        const line = `lr-find ${s.iteration}/${s.iterations}  lr ${s.lr.toExponential(2)}  loss ${s.loss.toFixed(4)}  smoothed ${s.smoothedLoss.toFixed(4)}`;
        if (tty) process.stderr.write(`\r${line}\x1b[K`);
        else if (s.iteration % 10 === 0 || s.iteration === 1) log(line);
      },
    });
    if (tty) process.stderr.write('\n');
    const jsonFile = await writeLrFindFiles(out, result, {
      extra: { data: dataName, arch, batch_size: batchSize, optimizer: optimizerType },
      title: `LR range test: ${arch} on ${dataName.split(':')[0]}, batch ${batchSize}`,
    });
    const why = lrFindEnding(result);
    log(`lr-find: ${why}; wrote ${jsonFile}, lr-find.png, lr-find.svg in ${out}`);
    if (result.suggestedLr === null) {
      log('lr-find: too few steps to suggest an LR (raise --iterations, or lower --start-lr)');
    } else {
      log(`suggested LR ${show(result.suggestedLr)} (${SUGGESTION_NAMES[result.method]}); as the peak LR of SGDR:`);
      log(
        `  sgdr train --data ${dataName} --arch ${arch} --batch-size ${batchSize} --scheduler warm-restarts --lr ${show(result.suggestedLr)}`,
      );
    }
    if (flags.json) process.stdout.write(fs.readFileSync(jsonFile, 'utf8'));
    return 0;
  } finally {
    model.dispose();
    train.dispose();
  }
}

export const command: Command = {
  summary: "LR range test (fastai's lr_find): sweep, figure and a suggested max LR for --lr",
  run,
};
