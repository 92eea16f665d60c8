/// <reference types="node" preserve="true" />
/**
 * fit(): trains a model for a number of epochs with a learning-rate schedule.
 *
 * The batches of an epoch run on the native trainer's own thread; this loop runs between epochs:
 * it gives the native side the LR of every batch (lrAt(e + i/K) of the TS schedule, the exact
 * reference formula), evaluates, takes a snapshot at the end of every SGDR cycle, checkpoints, and
 * awaits the user's callbacks, so a callback can checkpoint or stop the run. A schedule that adapts
 * to the validation loss (restarts on plateau) is given it after every epoch, before the epoch's
 * cycle end is decided and before the checkpoint (whose schedule state then holds it).
 *
 * Why this file is over 400 lines: runFit() is one loop whose state (the training position, the
 * snapshots and their probabilities, the SWA average, the event writer, the resume) every stage of
 * an epoch reads and writes; cut apart, each piece would take and return most of it. What does not
 * share that state lives beside it: fit-options.ts (the contract), run-folder.ts (the folder's
 * files, metrics and summary), fit-events.ts (TensorBoard values), fit-memory.ts (out of memory),
 * checkpoint.ts, swa.ts and ensemble.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { native, type NativeDataset, type NativeEvaluation, type NativeTrainer } from '../binding';
import { describeValue, DivergenceError, withCallerStack } from '../errors';
import { ResNet } from '../nn/resnet';
import { Optimizer } from '../optim/optimizer';
import { isAdaptiveSchedule, type Cycle, type Schedule } from '../schedule';
import { firstNonFiniteTensor, readTorchFile, tensorRecord, writeTorchFile, type TensorRecord } from '../serialization';
import { removeStaleTemps, writeTextAtomic } from '../atomic-file';
import { loadCheckpoint, saveCheckpoint, type SnapshotInfo, type TrainingPosition } from './checkpoint';
import type { EpochMetrics } from './metrics';
import { checkEnsembleMethod, ensembleWeights, weightedEnsembleMetrics } from './ensemble';
import { FgeSchedule } from '../schedule/fge';
import { undoEmptyFoldersOnError } from '../folders';
import { Tensor } from '../tensor';
import { checkSwaOptions, swaAveragesAfter, swaLearningRate, updateBatchNorm, WeightAverage } from './swa';
import { EventFileWriter } from './tensorboard';
import { cycleLength, extensionProblem } from './extend';
import { DEFAULT_OVERLAP, type DatasetHandle, type FitOptions, type FitResult, type SwaResult } from './fit-options';
import {
  CHECKPOINT_FILE,
  claimRunFolder,
  DIVERGED_FILE,
  runDiskUse,
  SWA_FILE,
  writeMetrics,
  writeSummary,
} from './run-folder';
import { batchScalars, cycleEndText, epochScalars } from './fit-events';
import { outOfMemory, probeEvalBatch } from './fit-memory';

export * from './fit-options';
export {
  CHECKPOINT_FILE,
  SWA_FILE,
  DIVERGED_FILE,
  runDiskUse,
  runFiles,
  clearRunFiles,
  claimRunFolder,
  ensureWritable,
} from './run-folder';

const CHECKPOINT = CHECKPOINT_FILE;

function checkPositiveInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    const Kind = typeof value === 'number' ? RangeError : TypeError;
    throw new Kind(`${name} must be an integer >= 1, got ${describeValue(value)}`);
  }
  return value;
}

/** The 1-based epoch numbers that end an SGDR cycle within `epochs`, with their cycles. */
export function cycleEnds(schedule: Schedule, epochs: number): Map<number, Cycle> {
  const ends = new Map<number, Cycle>();
  for (const c of schedule.cycles(epochs)) {
    // A cycle that ends inside epoch k (k-1 < end <= k) is snapshotted when epoch k finishes.
    if (Number.isFinite(c.end) && c.end <= epochs + 1e-9) ends.set(Math.ceil(c.end - 1e-9), c);
  }
  return ends;
}

export function fit(options: FitOptions): Promise<FitResult> {
  return withCallerStack(() => undoEmptyFoldersOnError(options.outDir, () => runFit(options)));
}

/**
 * The objects fit() is given, checked before anything runs, so a missing one is named rather than
 * failing inside as "Cannot read properties of undefined", and an optimizer of another model (whose
 * steps would move that model's weights while this one never changes) is refused.
 */
function checkFitObjects(o: FitOptions): void {
  if (!o || typeof o !== 'object') throw new TypeError(`fit() takes an options object, got ${describeValue(o)}`);
  if (!(o.model instanceof ResNet))
    throw new TypeError(`fit(): model must be a ResNet (from resnet()), got ${describeValue(o.model)}`);
  if (!(o.optimizer instanceof Optimizer)) {
    throw new TypeError(
      `fit(): optimizer must be an optimizer built for the model, such as new SGD(model, { lr: 0.05 }), got ${describeValue(o.optimizer)}`,
    );
  }
  if (o.optimizer.model !== o.model) {
    throw new TypeError(
      "fit(): the optimizer was built for another model's parameters, so training would never change this model; " +
        'build it for the model you pass: new SGD(model, ...)',
    );
  }
  if (!o.schedule || typeof (o.schedule as Partial<Schedule>).lrAt !== 'function') {
    throw new TypeError(
      `fit(): schedule must be a schedule such as new WarmRestarts({ lr: 0.05, t0: 1, tMult: 2 }), got ${describeValue(o.schedule)}`,
    );
  }
  for (const [name, data] of [
    ['train', o.train],
    ['val', o.val],
  ] as const) {
    if (data === undefined && name === 'val') continue;
    if (!data || typeof data !== 'object' || !('native' in data)) {
      throw new TypeError(
        `fit(): ${name} must be a data set (from openData() or a Dataset), got ${describeValue(data)}`,
      );
    }
  }
}

/**
 * The model's outputs must cover the data's labels: LibTorch's cross-entropy would otherwise stop
 * the first batch with "Target 8 is out of bounds", naming neither the option nor the data.
 */
function checkClasses(model: ResNet, data: DatasetHandle | undefined, split: string): void {
  if (!data) return;
  const d = data as DatasetHandle & { numClasses?: number; labels?: () => Int32Array };
  let maxLabel = -1;
  if (typeof d.labels === 'function') {
    for (const label of d.labels()) if (label > maxLabel) maxLabel = label;
  } else if (typeof d.numClasses === 'number') {
    maxLabel = d.numClasses - 1;
  }
  if (maxLabel >= model.numClasses) {
    const classes = typeof d.numClasses === 'number' ? `${d.numClasses} classes` : `labels up to ${maxLabel}`;
    throw new RangeError(
      `numClasses: the model has ${model.numClasses} outputs (numClasses: ${model.numClasses}), ` +
        `but the ${split} data has ${classes} (labels 0..${maxLabel}); build it with resnet(arch, { numClasses: ${Math.max(maxLabel + 1, d.numClasses ?? 0)} })`,
    );
  }
}

async function runFit(o: FitOptions): Promise<FitResult> {
  checkFitObjects(o);
  checkClasses(o.model, o.train, 'training');
  checkClasses(o.model, o.val, 'validation');
  const epochs = checkPositiveInt(o.epochs, 'epochs');
  const batchSize = checkPositiveInt(o.batchSize, 'batchSize');
  const ensembleSize =
    o.ensembleSize !== undefined
      ? checkPositiveInt(o.ensembleSize, 'ensembleSize')
      : // FGE averages every model it collects (fge.py's predictions_sum).
        o.schedule instanceof FgeSchedule
        ? Math.max(1, cycleEnds(o.schedule, epochs).size)
        : 3;
  const ensembleMethod = checkEnsembleMethod(o.ensemble ?? 'last');
  const seed = o.seed ?? 0;
  if (typeof seed !== 'number') throw new TypeError(`seed must be an integer >= 0, got ${describeValue(seed)}`);
  if (!Number.isInteger(seed) || seed < 0)
    throw new RangeError(`seed must be an integer >= 0, got ${describeValue(seed)}`);
  if (o.resume && !o.outDir) throw new TypeError('resume needs outDir');
  const group = o.processGroup;
  // Every rank reads a resumed run from readDir; only rank 0 writes (outDir is unset on the others).
  // What decides the course of training (what is evaluated, and how) reads readDir, so every rank
  // makes the same collective calls in the same order.
  const readDir = o.outDir;
  const outDir = group && !group.isMain ? undefined : o.outDir;
  const log = o.log ?? (() => {});
  if (o.syncBatchNorm && !group) log('syncBatchNorm: one process, so its batch is the global batch: plain BatchNorm');
  if (outDir) {
    claimRunFolder(outDir, { resume: o.resume, overwrite: o.overwrite });
    // Temporary files of writes that a kill interrupted (SIGKILL, power loss) go now.
    const stale = removeStaleTemps(outDir);
    if (stale.files.length) {
      log(
        `removed ${stale.files.length} temporary file(s) of interrupted writes from ${outDir} (${(stale.bytes / 2 ** 20).toFixed(1)} MB)`,
      );
    }
    // A resumed run that diverged before is tried again from its last finite checkpoint.
    fs.rmSync(path.join(outDir, DIVERGED_FILE), { force: true });
  }
  const skipNonFinite = Boolean(o.skipNonFinite);
  const config = {
    ...(o.config ?? {}),
    epochs,
    batchSize,
    seed,
    schedule: o.schedule.spec(),
    ...(o.normalizedWeightDecay !== undefined ? { normalizedWeightDecay: o.normalizedWeightDecay } : {}),
    ...(skipNonFinite ? { skipNonFinite: true } : {}),
    ...(o.swa ? { swa: o.swa } : {}),
    ...(o.ensemble && o.ensemble !== 'last' ? { ensemble: o.ensemble } : {}),
    // Sharding follows the world size: a run resumes on as many ranks as it started with.
    ...(group ? { worldSize: group.worldSize } : {}),
    ...(group && o.syncBatchNorm ? { syncBatchNorm: true } : {}),
  };

  // A batch larger than its data set is the whole data set: the same computation, and no attempt
  // to allocate for 1e8 images. The config keeps the value asked for (resume compares it).
  const trainBatch = Math.min(batchSize, Math.max(1, o.train.size));
  if (trainBatch < batchSize)
    log(`batch size ${batchSize} is larger than the training set (${o.train.size}): batches of ${trainBatch}`);
  const askedEval = o.evalBatchSize === undefined ? undefined : checkPositiveInt(o.evalBatchSize, 'evalBatchSize');
  const evalBatch = o.val ? Math.min(askedEval ?? trainBatch, Math.max(1, o.val.size)) : askedEval;
  if (o.val && askedEval !== undefined && evalBatch! < askedEval)
    log(`eval batch size ${askedEval} is larger than the validation set (${o.val.size}): batches of ${evalBatch}`);
  if (o.val && evalBatch! > trainBatch) await probeEvalBatch(o.model, o.val, evalBatch!);

  const trainer: NativeTrainer = new (native().NativeTrainer)(o.model.native, o.optimizer.native, {
    train: o.train.native,
    val: o.val?.native,
    batchSize: trainBatch,
    evalBatchSize: evalBatch,
    seed,
    shuffle: o.shuffle ?? true,
    workers: o.workers,
    ...(group
      ? { processGroup: group.native, overlap: o.overlap ?? DEFAULT_OVERLAP, syncBatchNorm: o.syncBatchNorm ?? false }
      : {}),
  });
  const batches = trainer.batchesPerEpoch();
  // The AdamW paper's decoupled decay per step is eta_t·lambda (eta_t the schedule multiplier);
  // LibTorch's AdamW applies lr·weight_decay with lr = alpha·eta_t, so lambda is divided by the peak
  // LR alpha. SGD and Adam take it as their (coupled, L2) weight decay as it is.
  const decayScale = o.optimizer.native.kind() === 'adamw' ? ((o.schedule.spec() as { lr?: number }).lr ?? 1) : 1;
  // Restarts on plateau are decided epoch by epoch: their cycle ends are read again after each observation.
  const adaptive = isAdaptiveSchedule(o.schedule) ? o.schedule : undefined;
  if (adaptive && !o.val) throw new TypeError(`${o.schedule.name}: restarts on plateau need validation data (val)`);
  if (adaptive && !o.resume && adaptive.valLosses.length > 0) {
    throw new RangeError(
      `${o.schedule.name} has already observed ${adaptive.valLosses.length} epoch(s): give fit() a fresh schedule (or resume)`,
    );
  }
  let ends = cycleEnds(o.schedule, epochs);
  const swaOptions = o.swa ? checkSwaOptions(o.swa, epochs) : undefined;
  if (swaOptions?.start === 'cycles' && ends.size === 0) {
    throw new RangeError(
      `swa 'cycles' averages at cycle ends, and ${o.schedule.name} has none within ${epochs} epochs: use a warm-restarts schedule or an SWA start epoch`,
    );
  }
  const parameterNames = o.model
    .stateDictKeys()
    .filter((k) => k.kind === 'parameter')
    .map((k) => k.name);
  let swa = swaOptions ? new WeightAverage(parameterNames) : undefined;
  /** The SWA evaluation of the current average, once made (cleared whenever a model is added). */
  let swaEvaluated: { val: NativeEvaluation | null; count: number; saved: boolean } | undefined;
  let position: TrainingPosition = {
    epoch: 0,
    batch: 0,
    partial: null,
    history: [],
    snapshots: [],
    best: null,
    config,
  };
  const snapshotProbs: Float32Array[] = [];
  /** The 1-based cycle numbers of snapshotProbs' members. */
  const snapshotCycles: number[] = [];
  let valLabels: Int32Array | undefined;
  let classes = 0;

  // Opened once the run is known to train (below), so a refused run, or a finished one resumed,
  // leaves no event file behind.
  let events: EventFileWriter | undefined;
  // The event files serve the user's view of the run, not its results: a failed write there (a
  // full disk, a folder gone) is said once and ends the logging, not the training.
  const logEvents = (work: () => void): void => {
    try {
      work();
    } catch (err) {
      log(`tensorboard: ${(err as Error).message.split('\n')[0]}; no more event records for this run`);
      events = undefined;
    }
  };
  const abortListener = () => trainer.abort();
  o.signal?.addEventListener('abort', abortListener);
  const result = (): FitResult => ({
    history: position.history,
    snapshots: position.snapshots,
    best: position.best,
    aborted: false,
    ...(skipNonFinite ? { skippedBatches: position.history.reduce((a, r) => a + (r.skipped_batches ?? 0), 0) } : {}),
  });
  // Divergence: recorded in the run folder (so an experiment reports the run as diverged) and thrown.
  const diverged = async (err: DivergenceError): Promise<never> => {
    if (outDir) {
      await writeTextAtomic(
        path.join(outDir, DIVERGED_FILE),
        JSON.stringify({
          epoch: err.epoch,
          batch: err.batch,
          loss: Number.isFinite(err.loss) ? err.loss : String(err.loss),
          message: err.message,
        }) + '\n',
      );
    }
    throw err;
  };
  try {
    if (
      o.resume &&
      readDir &&
      !fs.existsSync(path.join(readDir, CHECKPOINT)) &&
      fs.existsSync(path.join(readDir, 'summary.json'))
    ) {
      // A finished run whose checkpoint was not kept cannot go on: starting again would replace it.
      throw new Error(
        `cannot resume ${readDir}: the run finished and its ${CHECKPOINT} was not kept (keep.checkpoint false), ` +
          'so it cannot train longer; start a new run (its other files stay as they are)',
      );
    }
    if (o.resume && readDir && fs.existsSync(path.join(readDir, CHECKPOINT))) {
      const ckpt = await loadCheckpoint(path.join(readDir, CHECKPOINT));
      const differs = (k: string) =>
        JSON.stringify(ckpt.position.config[k]) !== JSON.stringify(config[k as keyof typeof config]);
      // Another number of epochs: training longer (or ending sooner) than the run was set up for.
      if (differs('epochs')) {
        const problem = extensionProblem(o.schedule, {
          from: Number(ckpt.position.config.epochs),
          to: epochs,
          done: ckpt.position.epoch,
          normalizedWeightDecay: o.normalizedWeightDecay,
          batchSize,
          trainSize: o.train.size,
        });
        if (problem) throw new Error(`cannot resume ${readDir} with epochs ${epochs}: ${problem}`);
      }
      const mismatch = Object.keys(config).find((k) => k !== 'epochs' && differs(k));
      if (mismatch) {
        throw new Error(
          `cannot resume ${readDir}: its '${mismatch}' was ${JSON.stringify(ckpt.position.config[mismatch])}, now ${JSON.stringify(config[mismatch as keyof typeof config])}`,
        );
      }
      if (differs('epochs')) {
        log(
          `resume: ${readDir} was set up for ${String(ckpt.position.config.epochs)} epochs, now ${epochs} (${ckpt.position.epoch} done)`,
        );
        ckpt.position.config = { ...ckpt.position.config, epochs };
        // The run is unfinished again until its new last epoch: its old summary no longer holds.
        if (outDir) fs.rmSync(path.join(outDir, 'summary.json'), { force: true });
      }
      const file = path.join(readDir, CHECKPOINT);
      const restore = async (what: string, work: () => unknown): Promise<void> => {
        try {
          await work();
        } catch (err) {
          throw new Error(
            `cannot resume ${readDir}: ${file}: its ${what} does not fit this run: ${(err as Error).message.split('\n')[0]}`,
          );
        }
      };
      await restore('model', () => o.model.loadStateDict(ckpt.model));
      await restore('optimizer state', () => o.optimizer.loadStateDict(ckpt.optimizer));
      await restore('schedule state', () => o.schedule.restore(ckpt.schedule));
      position = ckpt.position;
      if (swaOptions && position.swa && position.swa.count > 0) {
        const saved = ckpt.swaAverage;
        if (!saved)
          throw new Error(
            `cannot resume ${readDir}: ${file} records ${position.swa.count} SWA model(s) but holds no SWA average`,
          );
        await restore('SWA average', () => {
          swa = WeightAverage.restore(parameterNames, saved, position.swa!.count);
        });
      }
      // The ensemble so far, from the snapshots' validation probabilities. A missing file is made
      // again from the snapshot's weights when they are there, and otherwise left out (said so).
      let reloaded = false;
      // Only rank 0 reports the ensemble, so only it reloads the snapshots' probabilities.
      for (const s of position.snapshots.slice(-ensembleSize)) {
        if (!outDir) break;
        if (!s.probabilities) continue;
        const file = path.join(outDir, s.probabilities);
        if (!fs.existsSync(file)) {
          const weights = s.file ? path.join(outDir, s.file) : undefined;
          if (!weights || !fs.existsSync(weights) || !o.val) {
            log(
              `resume: ${file} is missing${s.file ? ` and so is ${s.file}` : ''}: the snapshot ensemble leaves cycle ${s.cycle + 1} out`,
            );
            continue;
          }
          await o.model.loadStateDict(weights);
          reloaded = true;
          const again = await trainer.evaluate({ probabilities: true });
          await writeTorchFile(file, {
            probabilities: tensorRecord(
              'float32',
              [again.labels!.length, again.probabilities!.length / again.labels!.length],
              again.probabilities!,
            ),
            labels: tensorRecord('int32', [again.labels!.length], again.labels!),
          });
          log(`resume: ${s.probabilities} was missing; made again from ${s.file}`);
        }
        let saved: Map<string, TensorRecord>;
        try {
          saved = (await readTorchFile(file)) as Map<string, TensorRecord>;
        } catch (err) {
          throw new Error(`cannot resume ${readDir}: ${file}: ${(err as Error).message}`);
        }
        const probs = saved instanceof Map ? saved.get('probabilities') : undefined;
        const labels = saved instanceof Map ? saved.get('labels') : undefined;
        if (!probs || !labels || probs.shape.length !== 2 || labels.shape[0] !== probs.shape[0]) {
          throw new Error(
            `cannot resume ${readDir}: ${file} is not a validation probabilities file of this run (delete it to leave cycle ${s.cycle + 1} out of the ensemble)`,
          );
        }
        snapshotProbs.push(probs.data as Float32Array);
        snapshotCycles.push(s.cycle + 1);
        valLabels = labels.data as Int32Array;
        classes = probs.shape[1]!;
      }
      if (reloaded) await o.model.loadStateDict(ckpt.model);
      if (adaptive) ends = cycleEnds(o.schedule, epochs);
    }
    // Batches an interrupted run trained after its last checkpoint are in its event file too:
    // TensorBoard drops them (steps >= this one) when it reads this START.
    if (outDir && o.tensorboard !== false && position.epoch < epochs) {
      logEvents(() => {
        events = new EventFileWriter(outDir);
        if (position.epoch > 0 || position.batch > 0)
          events.sessionStart(position.epoch * batches + position.batch + 1);
      });
    }
    await o.callbacks?.onTrainBegin?.();
    for (let e = position.epoch; e < epochs; e++) {
      if (o.signal?.aborted) return await stop(e, 0);
      await o.callbacks?.onEpochBegin?.(e + 1);
      const weightDecay =
        o.normalizedWeightDecay === undefined
          ? undefined
          : normalizedWeightDecay(
              o.normalizedWeightDecay,
              batchSize,
              o.train.size,
              cycleLength(o.schedule, e, epochs),
            ) / decayScale;
      if (weightDecay !== undefined) o.optimizer.setWeightDecay(weightDecay);
      const lrs = new Float64Array(batches);
      for (let i = 0; i < batches; i++)
        lrs[i] = (swaOptions && swaLearningRate(swaOptions, e, i, batches)) ?? o.schedule.lrAt(e + i / batches);
      const startBatch = position.batch;
      const onBatch = o.callbacks?.onBatchEnd;
      const epochRun = trainer.runEpoch(
        { epoch: e, lrs, startBatch, progressEvery: o.progressEvery, skipNonFinite },
        onBatch || events
          ? (p) => {
              if (events)
                logEvents(() =>
                  events!.add(
                    e * batches + p.batch,
                    batchScalars(p, o.schedule.cycleIndexAt(e + (p.batch - 1) / batches)),
                  ),
                );
              onBatch?.({ ...p, epoch: e + 1 });
            }
          : undefined,
      );
      // runEpoch clears the trainer's stop flag as it starts: a stop requested while this epoch was
      // being set up (the awaits above) is passed on again, or it would wait for the next epoch.
      if (o.signal?.aborted) trainer.abort();
      const r = await epochRun.catch((err: unknown) => {
        throw outOfMemory(err, `training batch of ${trainBatch} images (epoch ${e + 1})`, 'batchSize (--batch-size)');
      });
      // Nothing is saved from a diverged state: the last checkpoint (of a finite epoch) stays as it is.
      if (!skipNonFinite && r.nonFiniteBatch >= 0)
        await diverged(new DivergenceError(e + 1, r.nonFiniteBatch + 1, r.nonFiniteLoss));
      const prior = position.partial ?? { lossSum: 0, correct: 0, count: 0, seconds: 0 };
      const sums = {
        lossSum: prior.lossSum + r.loss * r.count,
        correct: prior.correct + r.correct,
        count: prior.count + r.count,
        seconds: prior.seconds + r.seconds,
        ...(skipNonFinite ? { skipped: (prior.skipped ?? 0) + r.skipped } : {}),
      };
      if (skipNonFinite && !r.aborted && sums.count === 0 && (sums.skipped ?? 0) > 0) {
        await diverged(
          new DivergenceError(
            e + 1,
            r.nonFiniteBatch + 1,
            r.nonFiniteLoss,
            `training diverged: every batch of epoch ${e + 1} had a non-finite loss (first: batch ${r.nonFiniteBatch + 1}, ${String(r.nonFiniteLoss)}); skipping cannot recover`,
          ),
        );
      }
      if (r.aborted) {
        position = { ...position, epoch: e, batch: startBatch + r.batches, partial: sums };
        return await stop(e, startBatch + r.batches);
      }
      const evalStart = Date.now();
      // An adaptive schedule's cycle end is only known after this evaluation: keep its probabilities.
      const val = o.val
        ? await trainer
            .evaluate({ probabilities: Boolean((adaptive || ends.get(e + 1)) && readDir) })
            .catch((err: unknown) => {
              throw outOfMemory(
                err,
                `validation batch of ${evalBatch} images (epoch ${e + 1})`,
                'evalBatchSize (--eval-batch-size)',
              );
            })
        : null;
      // A finite loss can still leave non-finite weights (an overflowing step, e.g. at lr 1e300) in
      // the last batch: caught here, before anything is saved from them.
      const state = outDir ? o.model.stateDict() : undefined;
      const badTensor = state ? firstNonFiniteTensor(state) : undefined;
      if (badTensor !== undefined || (val && !Number.isFinite(val.loss))) {
        const what =
          badTensor !== undefined
            ? `the weights are no longer finite (first: ${badTensor})`
            : `non-finite validation loss (${String(val!.loss)})`;
        await diverged(
          new DivergenceError(
            e + 1,
            batches,
            val?.loss ?? NaN,
            `training diverged: ${what} after epoch ${e + 1}, batch ${batches}`,
          ),
        );
      }
      if (adaptive && val) {
        adaptive.observe(e + 1, val.loss);
        ends = cycleEnds(o.schedule, epochs);
      }
      const cycle = ends.get(e + 1);
      const row: EpochMetrics = {
        epoch: e + 1,
        lr: lrs[0]!,
        lr_end: lrs[batches - 1]!,
        train_loss: sums.count ? sums.lossSum / sums.count : NaN,
        train_acc: sums.count ? sums.correct / sums.count : NaN,
        val_loss: val ? val.loss : null,
        val_acc: val ? val.correct / val.count : null,
        seconds: sums.seconds + (Date.now() - evalStart) / 1000,
        images_per_second: sums.seconds ? sums.count / sums.seconds : 0,
        cycle: o.schedule.cycleIndexAt(e + 0.5 / batches),
        cycle_end: Boolean(cycle),
        ...(weightDecay !== undefined ? { weight_decay: weightDecay } : {}),
        ...(skipNonFinite ? { skipped_batches: sums.skipped ?? 0 } : {}),
      };
      let snapshot: SnapshotInfo | undefined;
      if (cycle && outDir) {
        snapshot = { cycle: cycle.index, epoch: e + 1, file: `snapshot-cycle-${cycle.index + 1}.pth` };
        if (o.keep?.snapshots === false) delete snapshot.file;
        else await o.model.saveStateDict(path.join(outDir, snapshot.file!));
        if (val?.probabilities && val.labels) {
          snapshot.probabilities = `snapshot-cycle-${cycle.index + 1}.val-probabilities.pth`;
          classes = val.probabilities.length / val.labels.length;
          valLabels = val.labels;
          await writeTorchFile(path.join(outDir, snapshot.probabilities), {
            probabilities: tensorRecord('float32', [val.labels.length, classes], val.probabilities),
            labels: tensorRecord('int32', [val.labels.length], val.labels),
          });
          snapshotProbs.push(val.probabilities);
          snapshotCycles.push(cycle.index + 1);
          if (snapshotProbs.length > ensembleSize) {
            snapshotProbs.shift();
            snapshotCycles.shift();
          }
          const weights = ensembleWeights(ensembleMethod, snapshotProbs, valLabels, classes);
          const ens = weightedEnsembleMetrics(snapshotProbs, weights, valLabels, classes);
          const total = weights.reduce((a, w) => a + w, 0);
          row.ensemble_val_loss = ens.loss;
          row.ensemble_val_acc = ens.acc;
          row.ensemble_size = weights.filter((w) => w > 0).length;
          row.ensemble_method = ensembleMethod;
          row.ensemble_members = snapshotCycles.map((c, i) => ({
            cycle: c,
            weight: Number((weights[i]! / total).toFixed(6)),
          }));
        }
        position.snapshots.push(snapshot);
      }
      if (val && outDir && (!position.best || val.loss < position.best.val_loss)) {
        position.best = { epoch: e + 1, val_loss: val.loss };
        if (o.keep?.best !== false) await o.model.saveStateDict(path.join(outDir, 'best.pth'));
      }
      const averaged = Boolean(
        swa && swaOptions && (swaOptions.start === 'cycles' ? cycle : swaAveragesAfter(swaOptions, e + 1)),
      );
      if (averaged) {
        swa!.add(state ?? o.model.stateDict());
        position = { ...position, swa: { count: swa!.count, epochs: [...(position.swa?.epochs ?? []), e + 1] } };
        swaEvaluated = undefined;
      }
      // Where models are averaged at a cycle end, and at the last epoch, the average is evaluated (a
      // pass over the training data for BatchNorm, then validation): SWA's curve beside the single
      // model's, and its final value in the last row. The last epoch's is also swa.pth.
      if (swa && swa.count > 0 && ((averaged && cycle) || e + 1 === epochs)) {
        const evaluated = await evaluateSwa(
          e,
          state,
          e + 1 === epochs && outDir ? path.join(outDir, SWA_FILE) : undefined,
        );
        if (evaluated.val) {
          row.swa_val_loss = evaluated.val.loss;
          row.swa_val_acc = evaluated.val.correct / evaluated.val.count;
        }
        row.swa_size = swa.count;
      }
      position = { ...position, epoch: e + 1, batch: 0, partial: null, history: [...position.history, row] };
      if (outDir) {
        await writeMetrics(outDir, position.history);
        if (events) {
          // At the step of the epoch's last batch: one step axis (batches trained) for everything,
          // so a resumed run's SessionLog START also drops an epoch logged after the last checkpoint.
          const step = (e + 1) * batches;
          const writer = events;
          logEvents(() => {
            writer.add(step, epochScalars(row));
            if (cycle && snapshot) writer.add(step, [{ tag: 'cycle_end', text: cycleEndText(cycle, snapshot, row) }]);
            writer.flush();
          });
        }
        await checkpoint(outDir, state);
      }
      await o.callbacks?.onEpochEnd?.(row);
      if (cycle && snapshot) await o.callbacks?.onCycleEnd?.(cycle, snapshot, row);
    }
    const done = result();
    if (swa) done.swa = swa.count > 0 ? await finishSwa(epochs - 1) : null;
    if (outDir) {
      if (events) logEvents(() => events!.flush());
      // Counted without the checkpoint that is about to go: the summary says what stays. It is
      // written before the checkpoint is deleted, so a kill in between leaves a finished run.
      const dropCheckpoint = o.keep?.checkpoint === false;
      done.disk = runDiskUse(outDir, dropCheckpoint ? [CHECKPOINT] : []);
      await writeSummary(outDir, done, config);
      if (dropCheckpoint) await fs.promises.rm(path.join(outDir, CHECKPOINT), { force: true });
    }
    await o.callbacks?.onTrainEnd?.(done);
    return done;
  } finally {
    o.signal?.removeEventListener('abort', abortListener);
    trainer.close();
    if (events) logEvents(() => events!.close());
  }

  /** checkpoint.pth at `position`: model, optimizer, schedule state, and the SWA average so far. */
  async function checkpoint(dir: string, state?: Parameters<typeof saveCheckpoint>[5]): Promise<void> {
    const average = swa && swa.count > 0 ? swa.parametersDict() : undefined;
    await saveCheckpoint(
      path.join(dir, CHECKPOINT),
      o.model,
      o.optimizer,
      o.schedule.state(),
      position,
      state,
      average,
    );
  }

  async function stop(epoch: number, batch: number): Promise<FitResult> {
    position = { ...position, epoch, batch };
    if (events) logEvents(() => events!.flush());
    if (outDir) {
      await checkpoint(outDir);
    }
    return { ...result(), aborted: true };
  }

  /**
   * Evaluates the SWA average: loads it into the model (the training weights and statistics are
   * put back after), recomputes BatchNorm by one pass over the training data of 0-based epoch
   * `epoch` (its batches and train transform), validates, and saves it to `saveTo` when given.
   */
  async function evaluateSwa(
    epoch: number,
    training?: Map<string, TensorRecord>,
    saveTo?: string,
  ): Promise<{ val: NativeEvaluation | null; count: number; saved: boolean }> {
    const current = training ?? o.model.stateDict();
    const averaged = swa!.parametersDict();
    for (const [name, record] of current) if (!averaged.has(name)) averaged.set(name, record);
    await o.model.loadStateDict(averaged);
    try {
      const loader = (o.train.native as NativeDataset).loader({
        batchSize: trainBatch,
        shuffle: o.shuffle ?? true,
        seed,
        workers: o.workers,
      });
      try {
        loader.startEpoch(epoch, 0);
        await updateBatchNorm(
          o.model,
          (async function* () {
            for (let b = await loader.next(); b; b = await loader.next()) {
              const images = new Tensor(b.images);
              const labels = new Tensor(b.labels);
              yield {
                images,
                dispose: () => {
                  images.dispose();
                  labels.dispose();
                },
              };
            }
          })(),
        );
      } finally {
        loader.dispose();
      }
      const val = o.val ? await trainer.evaluate({ probabilities: false }) : null;
      if (saveTo) await o.model.saveStateDict(saveTo);
      swaEvaluated = { val, count: swa!.count, saved: Boolean(saveTo) };
      return swaEvaluated;
    } finally {
      await o.model.loadStateDict(current);
    }
  }

  /** The run's SWA model: evaluated (again only if models were added since), saved as swa.pth. */
  async function finishSwa(epoch: number): Promise<SwaResult> {
    const file = outDir ? path.join(outDir, SWA_FILE) : undefined;
    const evaluated =
      swaEvaluated && swaEvaluated.count === swa!.count && (swaEvaluated.saved || !file)
        ? swaEvaluated
        : await evaluateSwa(epoch, undefined, file);
    return {
      count: swa!.count,
      epochs: position.swa?.epochs ?? [],
      val_loss: evaluated.val ? evaluated.val.loss : null,
      val_acc: evaluated.val ? evaluated.val.correct / evaluated.val.count : null,
      ...(file ? { file: SWA_FILE } : {}),
    };
  }
}

/** w_norm · sqrt(b / (B · T)) (Loshchilov & Hutter, Decoupled Weight Decay Regularization). */
export function normalizedWeightDecay(wNorm: number, batchSize: number, trainSize: number, epochs: number): number {
  if (!Number.isFinite(wNorm) || wNorm < 0)
    throw new RangeError(`normalizedWeightDecay must be a finite number >= 0, got ${wNorm}`);
  return wNorm * Math.sqrt(batchSize / (trainSize * epochs));
}
