/**
 * `sgdr lr-find`: the LR range test (lib/train/lr-find.ts) on a model and data set as `sgdr train`
 * would build them. Writes DIR/lr-find.json ({lr, loss, suggested_lr, method, ...}) and the figure
 * as DIR/lr-find.png and DIR/lr-find.svg, shows progress, and prints the `sgdr train` command that
 * uses the suggestion as the peak LR of SGDR.
 */
import * as fs from 'fs';
import { openData } from '../data';
import { outputFolderProblem } from '../folders';
import { resnet } from '../nn/resnet';
import { archList, isResNetArch, type ResNetArch } from '../nn/archs';
import { setNumThreads, type DeviceSpec } from '../device';
import { lrFind, LR_FIND_DEFAULTS, LR_SUGGESTIONS, type LrSuggestion } from '../train/lr-find';
import { SUGGESTION_NAMES } from '../train/lr-find-figure';
import { lrFindEnding, writeLrFindFiles } from '../train/lr-find-file';
import { optimizerFor, stemFor, type OptimizerConfig, type RunConfig } from '../train/run';
import { capThreads, flagValue, formatFlags, parseCommandFlags, UsageError } from './args';
import type { FlagSpecs, ParsedFlags } from './args';
import type { Command } from './main';
import { runtimeFlags } from './runtime-flags';
import { optimizerFromFlags, pickFlags, stemFromFlags, trainingFlagSpecs } from './training-flags';

const d = LR_FIND_DEFAULTS;

/** The flags of sgdr lr-find: the model and data as sgdr train takes them, and the sweep's. */
export const flagSpecs: FlagSpecs = {
  ...pickFlags(trainingFlagSpecs, 'data', 'arch', 'stem'),
  ...runtimeFlags('lr-find', 'batch-size'),
  'start-lr': { kind: 'number', help: 'first LR of the sweep', default: d.startLr },
  'end-lr': { kind: 'number', help: 'last LR of the sweep', default: d.endLr },
  iterations: { kind: 'integer', help: 'steps of the exponential sweep', default: d.iterations, min: 2 },
  beta: { kind: 'number', help: 'smoothing of the loss, debiased EMA', default: d.beta },
  'diverge-factor': {
    kind: 'number',
    help: 'stop when the smoothed loss exceeds this × its best',
    default: d.divergeFactor,
  },
  suggestion: {
    kind: 'string',
    help: `how the LR is suggested: ${LR_SUGGESTIONS.join(' | ')} (steepest: steepest descent; minimum: the minimum's LR / 10)`,
    default: d.suggestion,
  },
  ...pickFlags(trainingFlagSpecs, 'optimizer', 'momentum', 'weight-decay', 'nesterov', 'seed', 'limit-train'),
  ...pickFlags(trainingFlagSpecs, 'augment', 'image-size'),
  ...runtimeFlags('lr-find', 'device', 'threads', 'workers'),
  out: { kind: 'string', help: 'folder for lr-find.json, lr-find.png and lr-find.svg (required)' },
  json: { kind: 'boolean', help: 'print lr-find.json to stdout at the end' },
};

/** What an lr-find run uses: the flags checked, with the table's defaults filled in. */
export interface LrFindSettings {
  out: string;
  data: string;
  arch: ResNetArch;
  stem: NonNullable<RunConfig['stem']>;
  batchSize: number;
  startLr: number;
  endLr: number;
  iterations: number;
  beta: number;
  divergeFactor: number;
  suggestion: LrSuggestion;
  optimizer: OptimizerConfig;
  seed: number;
  limitTrain?: number;
  augment?: boolean;
  imageSize?: number;
  device: string;
  threads?: number;
  workers?: number;
}

/** The settings the flags describe; every bad value is reported by its flag. */
export function lrFindSettings(flags: ParsedFlags): LrFindSettings {
  const value = <T extends string | number | boolean>(name: string): T => flagValue<T>(flags, flagSpecs, name);
  const out = flags.out as string | undefined;
  if (!out) throw new UsageError('--out DIR is required (it receives lr-find.json, lr-find.png and lr-find.svg)');
  const suggestion = value<string>('suggestion');
  if (!LR_SUGGESTIONS.includes(suggestion as LrSuggestion))
    throw new UsageError(`--suggestion must be ${LR_SUGGESTIONS.join(' or ')}, got '${suggestion}'`);
  for (const name of ['start-lr', 'end-lr', 'diverge-factor'] as const) {
    const v = flags[name] as number | undefined;
    if (v !== undefined && !(v > 0 && Number.isFinite(v)))
      throw new UsageError(`--${name} must be a finite number > 0, got ${v}`);
  }
  const startLr = value<number>('start-lr');
  const endLr = value<number>('end-lr');
  if (endLr <= startLr) throw new UsageError(`--end-lr must be larger than --start-lr (${startLr}), got ${endLr}`);
  const beta = value<number>('beta');
  if (!(beta >= 0 && beta < 1)) throw new UsageError(`--beta must be a number in [0, 1), got ${beta}`);
  const optimizer = optimizerFromFlags(flags);
  const stem = stemFromFlags(flags);
  const arch = value<string>('arch');
  if (!isResNetArch(arch)) throw new UsageError(`--arch must be ${archList()}, got '${arch}'`);
  return {
    out,
    data: value('data'),
    arch,
    stem,
    batchSize: value('batch-size'),
    startLr,
    endLr,
    iterations: value('iterations'),
    beta,
    divergeFactor: value('diverge-factor'),
    suggestion: suggestion as LrSuggestion,
    optimizer,
    seed: value('seed'),
    limitTrain: flags['limit-train'] as number | undefined,
    augment: flags.augment as boolean | undefined,
    imageSize: flags['image-size'] as number | undefined,
    device: value('device'),
    threads: flags.threads as number | undefined,
    workers: flags.workers as number | undefined,
  };
}

function help(): string {
  return [
    'usage: sgdr lr-find --data ... --arch ... --out DIR [flags]',
    '',
    `The LR range test (fastai's lr_find): trains batches at an LR growing exponentially from ${d.startLr} to ${d.endLr}`,
    `over ${d.iterations} steps, smooths the loss (EMA, beta ${d.beta}, debiased) and stops once it exceeds ${d.divergeFactor}x its best.`,
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
  const o = lrFindSettings(flags);
  const { out, arch, batchSize, startLr, endLr } = o;
  const dataName = o.data;
  const problem = outputFolderProblem(out);
  if (problem) throw new UsageError(`--out ${out}: cannot write to the output folder (${problem})`);
  const threads = capThreads(o.threads);
  if (threads !== undefined) setNumThreads(threads);

  const { train, val } = openData(dataName, {
    limitTrain: o.limitTrain,
    limitVal: 1,
    augment: o.augment,
    imageSize: o.imageSize,
  });
  val.dispose();
  const model = resnet(arch, {
    numClasses: train.numClasses,
    inChannels: train.channels,
    stem: stemFor(o.stem, train.height),
    device: o.device as DeviceSpec,
    seed: o.seed,
  });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const tty = Boolean(process.stderr.isTTY) && !process.env.CI;
  try {
    const optimizer = optimizerFor(model, startLr, o.optimizer);
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
      iterations: o.iterations,
      beta: o.beta,
      divergeFactor: o.divergeFactor,
      suggestion: o.suggestion,
      seed: o.seed,
      workers: o.workers,
      onStep: (s) => {
        const line = `lr-find ${s.iteration}/${s.iterations}  lr ${s.lr.toExponential(2)}  loss ${s.loss.toFixed(4)}  smoothed ${s.smoothedLoss.toFixed(4)}`;
        if (tty) process.stderr.write(`\r${line}\x1b[K`);
        else if (s.iteration % 10 === 0 || s.iteration === 1) log(line);
      },
    });
    if (tty) process.stderr.write('\n');
    const jsonFile = await writeLrFindFiles(out, result, {
      extra: { data: dataName, arch, batch_size: batchSize, optimizer: o.optimizer.type },
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
