/**
 * `sgdr train`: one training run. Writes metrics.jsonl, summary.json, checkpoints and cycle
 * snapshots into --out; `--resume DIR` continues an interrupted run from its last checkpoint and
 * ends where the uninterrupted run would have. Ctrl-C stops after the current batch, with a
 * checkpoint of the exact position.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FileWriteError } from '../atomic-file';
import { DivergenceError, RunFolderInUseError } from '../errors';
import { launchedByNpm, StopSignals } from '../stop-signals';
import { CHECKPOINT_FILE } from '../train/fit';
import { ENSEMBLE_METHODS, type EnsembleMethod } from '../train/ensemble';
import type { SwaOptions } from '../train/swa';
import { outputFolderProblem } from '../folders';
import type { ScheduleSpec } from '../schedule';
import type { DiskUse, KeepFiles } from '../train/fit';
import { readRunConfig, runTraining, type RunConfig } from '../train/run';
import { capThreads, flagValue, formatFlags, parseCommandFlags, UsageError, withDefaults } from './args';
import type { FlagSpecs, ParsedFlags } from './args';
import type { Command } from './main';
import { EpochProgress, formatDuration } from './progress';
import { runtimeFlags } from './runtime-flags';
import { distributedStart } from './train-distributed';
import { DEFAULT_DIST_TIMEOUT_SECONDS } from '../distributed/options';
import { DEFAULT_OVERLAP } from '../train/fit-options';
import { scheduleFlagSpecs, scheduleFromFlags } from './schedule-flags';
import { optimizerFromFlags, pickFlags, stemFromFlags, trainingFlagSpecs } from './training-flags';

/** The flags of sgdr train, with the defaults that a run uses and --help prints. */
export const flagSpecs: FlagSpecs = {
  ...pickFlags(trainingFlagSpecs, 'data', 'arch', 'stem'),
  epochs: { kind: 'integer', help: 'epochs to train', default: 6, min: 1 },
  ...runtimeFlags('train', 'batch-size'),
  'eval-batch-size': { kind: 'integer', help: 'validation batch size', defaultText: 'the training batch size', min: 1 },
  // A training run's schedule defaults: SGDR with T_0 = 1, T_mult = 2 from lr 0.05 (the seed study's).
  ...withDefaults(scheduleFlagSpecs, { lr: 0.05, t0: 1, 't-mult': 2 }),
  ...pickFlags(trainingFlagSpecs, 'optimizer', 'momentum', 'weight-decay'),
  'normalized-weight-decay': {
    kind: 'number',
    help: 'w_norm of the AdamW paper: weight decay = w_norm·sqrt(b/(B·T_i)) per cycle',
    min: 0,
  },
  ...pickFlags(trainingFlagSpecs, 'nesterov', 'seed', 'limit-train'),
  'limit-val': { kind: 'integer', help: 'class-balanced subset of the validation set', defaultText: 'all', min: 1 },
  ...pickFlags(trainingFlagSpecs, 'augment', 'image-size'),
  'fast-decode': {
    kind: 'boolean',
    help: "image folders: decode JPEGs reduced to the input size (PIL's Image.draft); faster, not torchvision-exact",
  },
  'init-weights': { kind: 'string', help: 'start from a torch.save(model.state_dict()) file (transfer learning)' },
  'reinit-last': {
    kind: 'integer',
    help: 'with --init-weights: re-initialise the last N modules (the seed study uses 40)',
    min: 0,
  },
  freeze: { kind: 'boolean', help: 'with --init-weights: train only the classifier and the re-initialised modules' },
  'ensemble-size': {
    kind: 'integer',
    help: 'the snapshot ensemble draws on the last M cycle snapshots (default 3; fge: all)',
    min: 1,
  },
  ensemble: {
    kind: 'string',
    help: 'last (equal weights) | weighted (validation-NLL-optimal weights) | greedy (Caruana selection on validation)',
    default: 'last',
  },
  'keep-snapshots': {
    kind: 'boolean',
    help: "keep the cycle snapshots' weights (--no-keep-snapshots keeps only their validation probabilities)",
    default: true,
  },
  swa: {
    kind: 'string',
    help: 'cycles: SWA, averaging the weights at every cycle end (swa.pth, swa_val_loss in summary.json)',
  },
  'swa-start': {
    kind: 'integer',
    help: 'SWA from this 1-based epoch: the weights averaged at the end of every epoch (or --swa-cycle epochs) from it',
  },
  'swa-lr': {
    kind: 'number',
    help: 'with --swa-start: the constant SWA LR from that epoch on (the low end with --swa-lr-max)',
  },
  'swa-lr-max': {
    kind: 'number',
    help: 'with --swa-lr: a cyclic SWA LR, linear from this down to --swa-lr over each SWA cycle',
  },
  'swa-cycle': {
    kind: 'integer',
    help: 'with --swa-start: epochs per SWA cycle, averaged at its end',
    default: 1,
    min: 1,
  },
  ...runtimeFlags('train', 'device', 'threads', 'workers'),
  nproc: {
    kind: 'integer',
    help: 'data-parallel: start N local ranks on c10d (torchrun conventions; --batch-size is per rank)',
    min: 1,
  },
  'dist-backend': { kind: 'string', help: 'gloo (CPU) | nccl (CUDA)', defaultText: 'nccl on cuda, else gloo' },
  overlap: {
    kind: 'boolean',
    help: 'data-parallel: all-reduce gradient buckets while backward runs (--no-overlap: after it)',
    default: DEFAULT_OVERLAP,
  },
  'sync-bn': {
    kind: 'boolean',
    help: "data-parallel: BatchNorm normalises with the global batch's statistics (SyncBatchNorm), not each rank's",
  },
  'dist-timeout': {
    kind: 'number',
    help: 'seconds a rank may wait for the others before the job fails, naming the lost rank',
    default: DEFAULT_DIST_TIMEOUT_SECONDS,
  },
  out: { kind: 'string', help: 'run folder', defaultText: 'runs/train-<time>' },
  resume: {
    kind: 'string',
    help: 'continue the run in this folder from its last checkpoint (with --epochs N: train it longer, to N epochs)',
  },
  overwrite: { kind: 'boolean', help: "reuse an --out that holds another run (deletes that run's files only)" },
  keep: {
    kind: 'string',
    help: 'weight files to keep: all (default) | none | a list of checkpoint,best,snapshots (snapshot probabilities stay; checkpoint goes once the run ends)',
  },
  tensorboard: { kind: 'boolean', help: 'TensorBoard event files in --out (default on; --no-tensorboard)' },
  'skip-nonfinite': {
    kind: 'boolean',
    help: 'skip (do not apply) batches with a NaN/Inf loss instead of stopping; counted in metrics.jsonl',
  },
  json: { kind: 'boolean', help: 'print the summary as JSON at the end' },
};

/** Flags that may differ on --resume: speed, what is written, and --epochs (train longer, when the schedule allows it). */
const RESUME_FLAGS = new Set([
  'resume',
  'device',
  'threads',
  'workers',
  'json',
  'keep',
  'tensorboard',
  'epochs',
  'nproc',
  'dist-backend',
  'dist-timeout',
  'overlap',
]);

const KEEP_NAMES = ['checkpoint', 'best', 'snapshots'] as const;

/** --keep all | none | checkpoint,best,snapshots (any of them): the weight files a run keeps. */
export function keepFromFlag(value: string): KeepFiles {
  const v = value.trim();
  if (v === 'all') return { checkpoint: true, best: true, snapshots: true };
  if (v === 'none') return { checkpoint: false, best: false, snapshots: false };
  const names = v
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  const bad = names.find((n) => !(KEEP_NAMES as readonly string[]).includes(n));
  if (bad !== undefined || names.length === 0) {
    throw new UsageError(
      `--keep takes all, none or a comma-separated list of ${KEEP_NAMES.join(', ')}, got '${value}'`,
    );
  }
  return Object.fromEntries(KEEP_NAMES.map((n) => [n, names.includes(n)])) as KeepFiles;
}

/** The run config the flags describe; every bad value is reported by its flag. */
export function configFromFlags(flags: ParsedFlags): RunConfig {
  // The flag table's defaults where the run takes one value; the others stay undefined, for the library.
  const value = <T extends string | number | boolean>(name: string): T => flagValue<T>(flags, flagSpecs, name);
  const scheduleFlags: ParsedFlags = { ...flags, lr: value('lr') };
  if (['warm-restarts', 'plateau-restarts'].includes(value<string>('scheduler'))) {
    scheduleFlags.t0 = value('t0');
    scheduleFlags['t-mult'] = value('t-mult');
  }
  const scheduleSpec = scheduleFromFlags(scheduleFlags, flagSpecs).spec();
  const optimizer = optimizerFromFlags(flags);
  const stem = stemFromFlags(flags);
  if ((flags['reinit-last'] !== undefined || flags.freeze) && !flags['init-weights']) {
    throw new UsageError('--reinit-last and --freeze need --init-weights');
  }
  const epochs = value<number>('epochs');
  const swa = swaFromFlags(flags, epochs);
  if (flags.ensemble !== undefined && !(ENSEMBLE_METHODS as readonly string[]).includes(flags.ensemble as string)) {
    throw new UsageError(`--ensemble must be one of ${ENSEMBLE_METHODS.join(', ')}, got '${String(flags.ensemble)}'`);
  }
  if (flags['init-weights'] && !fs.existsSync(flags['init-weights'] as string)) {
    throw new UsageError(`--init-weights: file not found: ${String(flags['init-weights'])}`);
  }
  const given = <T>(name: string): T | undefined => flags[name] as T | undefined;
  return {
    data: value<string>('data'),
    arch: value<string>('arch'),
    stem,
    epochs,
    batchSize: value<number>('batch-size'),
    evalBatchSize: given('eval-batch-size'),
    schedule: scheduleSpec as ScheduleSpec,
    optimizer: { ...optimizer, normalizedWeightDecay: given('normalized-weight-decay') },
    seed: value<number>('seed'),
    limitTrain: given('limit-train'),
    limitVal: given('limit-val'),
    augment: given('augment'),
    imageSize: given('image-size'),
    fastDecode: given('fast-decode'),
    initWeights: given('init-weights'),
    ...(flags['skip-nonfinite'] ? { skipNonFinite: true } : {}),
    ...(flags['sync-bn'] ? { syncBatchNorm: true } : {}),
    ...(flags.keep !== undefined ? { keep: keepFromFlag(flags.keep as string) } : {}),
    ...(flags.tensorboard !== undefined ? { tensorboard: flags.tensorboard as boolean } : {}),
    reinitLast: given('reinit-last'),
    freeze: given('freeze'),
    ensembleSize: given('ensemble-size'),
    ...(flags.ensemble !== undefined ? { ensemble: flags.ensemble as EnsembleMethod } : {}),
    ...(flags['keep-snapshots'] === false ? { keep: { snapshots: false } } : {}),
    ...(swa ? { swa } : {}),
    device: value<string>('device'),
    threads: given('threads'),
    workers: given('workers'),
  };
}

/** --swa cycles | --swa-start E [--swa-lr X [--swa-lr-max Y] [--swa-cycle C]], checked flag by flag. */
function swaFromFlags(flags: ParsedFlags, epochs: number): SwaOptions | undefined {
  const start = flags['swa-start'] as number | undefined;
  const dependent = ['swa-lr', 'swa-lr-max', 'swa-cycle'].filter((f) => flags[f] !== undefined);
  if (flags.swa !== undefined) {
    if (flags.swa !== 'cycles')
      throw new UsageError(
        `--swa must be 'cycles' (average at every cycle end; for every epoch from E use --swa-start E), got '${String(flags.swa)}'`,
      );
    if (start !== undefined)
      throw new UsageError('--swa cycles and --swa-start are two ways to choose the averaging points: give one');
    if (dependent.length)
      throw new UsageError(`--${dependent[0]} needs --swa-start (--swa cycles keeps the schedule's LR)`);
    return { start: 'cycles' };
  }
  if (start === undefined) {
    if (dependent.length) throw new UsageError(`--${dependent[0]} needs --swa-start`);
    return undefined;
  }
  if (start < 1 || start > epochs)
    throw new UsageError(`--swa-start must be an epoch from 1 to --epochs (${epochs}), got ${start}`);
  const lr = flags['swa-lr'] as number | undefined;
  const lrMax = flags['swa-lr-max'] as number | undefined;
  const cycle = flags['swa-cycle'] as number | undefined;
  if (lr !== undefined && !(lr > 0)) throw new UsageError(`--swa-lr must be > 0, got ${lr}`);
  if (lrMax !== undefined && lr === undefined)
    throw new UsageError('--swa-lr-max needs --swa-lr (the LR at the end of each SWA cycle)');
  if (lrMax !== undefined && !(lrMax >= lr!))
    throw new UsageError(`--swa-lr-max must be >= --swa-lr (${lr}), got ${lrMax}`);
  return {
    start,
    ...(lr !== undefined ? { lr } : {}),
    ...(lrMax !== undefined ? { lrMax } : {}),
    ...(cycle !== undefined ? { cycle } : {}),
  };
}

/** MiB, as `du -h` and `ls -lh` count them. */
const megabytes = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 2 : 1)} MiB`;

/** "213.4 MiB on disk: checkpoint.pth 85.3 MiB, best.pth 42.7 MiB, 2 snapshots 85.4 MiB, other files 0.01 MiB" */
export function diskLine(disk: DiskUse): string {
  const parts: string[] = [];
  let snapshots = 0;
  let snapshotBytes = 0;
  let other = 0;
  for (const [name, bytes] of Object.entries(disk.files)) {
    if (/^snapshot-cycle-\d+\.pth$/.test(name)) {
      snapshots++;
      snapshotBytes += bytes;
    } else if (name === 'checkpoint.pth' || name === 'best.pth') parts.push(`${name} ${megabytes(bytes)}`);
    else other += bytes;
  }
  if (snapshots) parts.push(`${snapshots} snapshot${snapshots > 1 ? 's' : ''} ${megabytes(snapshotBytes)}`);
  parts.push(`other files ${megabytes(other)}`);
  return `${megabytes(disk.bytes)} on disk: ${parts.join(', ')} (--keep none keeps only the numbers)`;
}

function help(): string {
  return [
    'usage: sgdr train [flags]',
    '',
    'Trains a ResNet with SGDR (default: T_0=1, T_mult=2, lr 0.05, per-batch annealing) or another schedule.',
    'Example: sgdr train --data fashion-mnist --arch resnet18 --epochs 7 --limit-train 2048 --limit-val 1000 --out runs/a',
    '',
    formatFlags(flagSpecs),
  ].join('\n');
}

function defaultOutDir(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return path.join('runs', `train-${stamp}`);
}

export const command: Command = {
  summary: 'train a ResNet with SGDR or step decay; checkpoints, cycle snapshots, --resume',
  async run(argv) {
    const flags = parseCommandFlags(argv, flagSpecs, help);
    if (!flags) return 0;
    if (flags.threads !== undefined) flags.threads = capThreads(flags.threads as number);
    let config: RunConfig;
    let outDir: string;
    const resume = flags.resume !== undefined;
    if (resume && flags.overwrite)
      throw new UsageError('--resume continues the run in its folder; --overwrite would delete it');
    if (resume) {
      const extra = Object.keys(flags).filter((f) => !RESUME_FLAGS.has(f));
      if (extra.length)
        throw new UsageError(`--resume continues the run as it was configured; --${extra[0]} cannot change`);
      outDir = flags.resume as string;
      if (!fs.existsSync(outDir)) throw new UsageError(`--resume: folder not found: ${outDir}`);
      config = {
        ...readRunConfig(outDir),
        device: flagValue<string>(flags, flagSpecs, 'device'),
        threads: flags.threads as number | undefined,
        workers: flags.workers as number | undefined,
      };
      // What is written may change on resume; what is trained may not.
      if (flags.keep !== undefined) config.keep = keepFromFlag(flags.keep as string);
      if (flags.tensorboard !== undefined) config.tensorboard = flags.tensorboard as boolean;
      if (flags.epochs !== undefined) config.epochs = flags.epochs as number;
    } else {
      config = configFromFlags(flags);
      outDir = (flags.out as string | undefined) ?? defaultOutDir();
      // Before any data is read or model built: a folder that cannot take the run fails at once.
      const problem = outputFolderProblem(outDir);
      if (problem) throw new UsageError(`--out ${outDir}: cannot write to the output folder (${problem})`);
    }
    // --nproc N starts the ranks (each runs this command again); a rank joins its job here.
    const job = await distributedStart(argv, flags, flagSpecs, config, outDir);
    if (typeof job === 'number') return job;
    const group = job;
    // Rank 0 speaks for the job; the other ranks print only their errors.
    const quiet = group !== undefined && !group.isMain;
    const log = quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
    const progress = new EpochProgress(config.epochs);
    const stop = new StopSignals({
      log,
      firstMessage: 'stopping after the current batch (a checkpoint keeps the exact position)',
      resumeHint: `Continue with: sgdr train --resume ${outDir}`,
      watchParent: launchedByNpm() || process.env.SGDR_LAUNCHER_PID !== undefined,
    });
    const started = Date.now();
    try {
      const result = await runTraining(config, {
        outDir,
        resume,
        overwrite: Boolean(flags.overwrite),
        signal: stop.signal,
        log,
        processGroup: group,
        overlap: flags.overlap as boolean | undefined,
        callbacks: quiet
          ? {}
          : {
              onEpochBegin: () => progress.epochBegin(),
              onBatchEnd: (p) => progress.batch(p),
              onEpochEnd: (m) => progress.epochEnd(m),
            },
      });
      // Every rank reaches the end before any leaves (rank 0 hosts the store the others use).
      await group?.close();
      if (quiet) return 0;
      const last = result.history[result.history.length - 1];
      if (result.aborted) {
        log(
          `stopped at epoch ${result.history.length + 1} with a checkpoint; continue with: sgdr train --resume ${outDir}`,
        );
        return stop.exitCode() || 130;
      }
      log(
        `done in ${formatDuration((Date.now() - started) / 1000)}: ${outDir} (metrics.jsonl, summary.json, ${result.snapshots.length} cycle snapshot(s)` +
          `${result.swa ? `, swa.pth of ${result.swa.count} model(s)` : ''})` +
          (last?.val_acc != null ? `; final val_acc ${(last.val_acc * 100).toFixed(1)}%` : '') +
          (result.swa?.val_acc != null ? `; SWA val_acc ${(result.swa.val_acc * 100).toFixed(1)}%` : '') +
          (result.skippedBatches !== undefined
            ? `; ${result.skippedBatches} batch(es) skipped for a non-finite loss`
            : ''),
      );
      if (result.disk) log(diskLine(result.disk));
      if (flags.json) process.stdout.write(fs.readFileSync(path.join(outDir, 'summary.json'), 'utf8'));
      return 0;
    } catch (err) {
      if (err instanceof RunFolderInUseError) {
        const shown = err.files.length > 3 ? `${err.files.slice(0, 3).join(', ')}, …` : err.files.join(', ');
        throw new UsageError(
          `--out ${outDir} holds another run (${shown}): continue it with --resume ${outDir}, or add --overwrite to replace it`,
        );
      }
      if (err instanceof DivergenceError) {
        throw new Error(
          `${err.message}; stopped with nothing saved from it (${outDir} keeps its last finite checkpoint, if any; --skip-nonfinite skips such batches)`,
        );
      }
      if (err instanceof FileWriteError) {
        const canResume = fs.existsSync(path.join(outDir, CHECKPOINT_FILE));
        throw new Error(
          `${err.message}${err.diskFull ? '; free some space' : ''}` +
            (canResume ? `, then continue from the last checkpoint with: sgdr train --resume ${outDir}` : ''),
        );
      }
      throw err;
    } finally {
      stop.dispose();
    }
  },
};
