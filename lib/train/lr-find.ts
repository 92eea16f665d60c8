/**
 * lrFind(): the LR range test (Smith 2017, "Cyclical Learning Rates"), as fastai's `lr_find`.
 *
 * Training batches at an LR that grows exponentially from startLr (1e-7) to endLr (10) over
 * `iterations` (100) steps: lr_i = startLr · (endLr/startLr)^(i/(iterations−1)), so the first batch
 * trains at startLr and the last at endLr exactly. The loss is smoothed as fastai's AvgSmoothLoss:
 * an exponential moving average with beta 0.98, debiased (divided by 1 − beta^i) so the first
 * values are not pulled towards 0. The sweep stops as soon as the smoothed loss exceeds 4 × the
 * best smoothed loss so far (or is not finite). Afterwards the model's weights and BatchNorm
 * statistics, the optimizer's state (momentum, Adam moments) and its LRs are put back as they were:
 * the test changes nothing.
 *
 * The suggested LR is read off the smoothed curve, leaving out its first tenth and last 5 points
 * as fastai does (the start is noise, the end the blow-up):
 *   'steepest' (default): the LR where the smoothed loss falls fastest per unit of log LR, on the
 *     way down to its minimum;
 *   'minimum': the LR of the lowest smoothed loss, divided by 10.
 * Both are rules of thumb for the *maximum* LR of a schedule such as SGDR's eta_max.
 */
import { withCallerStack } from '../errors';
import type { Dataset } from '../data';
import type { ResNet } from '../nn/resnet';
import type { Optimizer } from '../optim/optimizer';
import { trainStep } from './step';

export type LrSuggestion = 'steepest' | 'minimum';
export const LR_SUGGESTIONS: readonly LrSuggestion[] = ['steepest', 'minimum'];

/** The sweep's defaults (fastai's), which `sgdr lr-find --help` prints from here. */
export const LR_FIND_DEFAULTS = {
  startLr: 1e-7,
  endLr: 10,
  iterations: 100,
  beta: 0.98,
  divergeFactor: 4,
  suggestion: 'steepest' as LrSuggestion,
  seed: 0,
};

export interface LrFindOptions {
  model: ResNet;
  optimizer: Optimizer;
  /** Training data; batches come in the order and with the augmentation of its loader. */
  train: Dataset;
  batchSize: number;
  /** Default 1e-7. */
  startLr?: number;
  /** Default 10. */
  endLr?: number;
  /** Steps of the sweep (default 100); more than an epoch's batches continue into the next epochs. */
  iterations?: number;
  /** Smoothing of the loss (default 0.98). */
  beta?: number;
  /** Stop when the smoothed loss exceeds this many times its best (default 4). */
  divergeFactor?: number;
  /** How the LR is suggested (default 'steepest'). */
  suggestion?: LrSuggestion;
  /** Batch order and augmentation (default 0). */
  seed?: number;
  workers?: number;
  /** After every step. */
  onStep?(step: LrFindStep): void;
  /** Stops the sweep after the current step (the model is restored all the same). */
  signal?: AbortSignal;
}

/** The sweep's settings (what a config or the command line may set), without the model and data. */
export type LrSweepSettings = Pick<
  LrFindOptions,
  'startLr' | 'endLr' | 'iterations' | 'beta' | 'divergeFactor' | 'suggestion' | 'seed'
>;

export interface LrFindStep {
  /** 1-based step and the number planned. */
  iteration: number;
  iterations: number;
  lr: number;
  loss: number;
  smoothedLoss: number;
}

export interface LrFindResult {
  /** The LR of every step taken. */
  lr: number[];
  /** The smoothed (debiased EMA) loss after every step: what the suggestion reads. */
  loss: number[];
  /** The raw batch losses. */
  rawLoss: number[];
  suggestedLr: number | null;
  method: LrSuggestion;
  /** Why the sweep ended: all iterations done, the smoothed loss diverged, or the signal. */
  stopped: 'completed' | 'diverged' | 'aborted';
  /** The step the suggestion points at (an index into lr/loss), or null. */
  suggestedIndex: number | null;
  startLr: number;
  endLr: number;
  iterations: number;
  beta: number;
  divergeFactor: number;
}

function positiveNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new RangeError(`${name} must be a finite number > 0, got ${String(value)}`);
  return value;
}

/** The LRs of the sweep: exponential from startLr to endLr, both included. */
export function lrFindSchedule(startLr: number, endLr: number, iterations: number): number[] {
  if (iterations === 1) return [startLr];
  const ratio = endLr / startLr;
  return Array.from({ length: iterations }, (_, i) =>
    i === iterations - 1 ? endLr : startLr * ratio ** (i / (iterations - 1)),
  );
}

/**
 * The suggested LR on the smoothed curve, or null when the window is too short to read (fewer than
 * 2 points). The window leaves out the first tenth of the planned iterations and the last 5 points.
 */
export function suggestLr(
  lrs: number[],
  losses: number[],
  method: LrSuggestion,
  iterations = lrs.length,
): { lr: number; index: number } | null {
  let lo = Math.floor(iterations / 10);
  let hi = lrs.length - 5;
  if (hi - lo < 2) {
    lo = 0;
    hi = lrs.length;
  }
  if (hi - lo < 2) return null;
  if (method === 'minimum') {
    let best = lo;
    for (let i = lo; i < hi; i++) if (losses[i]! < losses[best]!) best = i;
    return { lr: lrs[best]! / 10, index: best };
  }
  // Steepest descent: the most negative slope d loss / d log(lr) between neighbours, the LR at its
  // left end (fastai's `steep`), looked for only up to the lowest smoothed loss: past it the loss
  // is blowing up, and the dips of a bouncing, diverging loss are not where training works best.
  let lowest = lo;
  for (let i = lo; i < hi; i++) if (losses[i]! < losses[lowest]!) lowest = i;
  let best = -1;
  let slope = Infinity;
  for (let i = lo; i + 1 <= lowest; i++) {
    const g = (losses[i + 1]! - losses[i]!) / (Math.log(lrs[i + 1]!) - Math.log(lrs[i]!));
    if (g < slope) {
      slope = g;
      best = i;
    }
  }
  return best < 0 ? null : { lr: lrs[best]!, index: best };
}

export function lrFind(options: LrFindOptions): Promise<LrFindResult> {
  return withCallerStack(() => runLrFind(options));
}

async function runLrFind(o: LrFindOptions): Promise<LrFindResult> {
  const d = LR_FIND_DEFAULTS;
  const startLr = positiveNumber('startLr', o.startLr ?? d.startLr);
  const endLr = positiveNumber('endLr', o.endLr ?? d.endLr);
  if (endLr <= startLr) throw new RangeError(`endLr must be larger than startLr (${startLr}), got ${endLr}`);
  const iterations = o.iterations ?? d.iterations;
  if (!Number.isInteger(iterations) || iterations < 2)
    throw new RangeError(`iterations must be an integer ≥ 2, got ${String(iterations)}`);
  const beta = o.beta ?? d.beta;
  if (typeof beta !== 'number' || !(beta >= 0 && beta < 1))
    throw new RangeError(`beta must be a number in [0, 1), got ${String(beta)}`);
  const divergeFactor = positiveNumber('divergeFactor', o.divergeFactor ?? d.divergeFactor);
  const method = o.suggestion ?? d.suggestion;
  if (!LR_SUGGESTIONS.includes(method))
    throw new RangeError(`suggestion must be one of ${LR_SUGGESTIONS.join(', ')}, got '${String(method)}'`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
    throw new RangeError(`batchSize must be an integer ≥ 1, got ${String(o.batchSize)}`);

  const { model, optimizer } = o;
  // Everything the sweep changes, to put back: weights and BatchNorm buffers, optimizer state, LRs, mode.
  const weights = model.stateDict();
  const optimizerState = optimizer.stateDict();
  const groupLrs = Array.from({ length: optimizer.groupCount }, (_, g) => optimizer.getLr(g));
  const ratios = groupLrs.map((lr) => (groupLrs[0]! > 0 ? lr / groupLrs[0]! : 1));
  const wasTraining = model.training;

  const schedule = lrFindSchedule(startLr, endLr, iterations);
  const lr: number[] = [];
  const loss: number[] = [];
  const rawLoss: number[] = [];
  let stopped: LrFindResult['stopped'] = 'completed';
  const loader = o.train.loader({
    batchSize: Math.min(o.batchSize, Math.max(1, o.train.size)),
    shuffle: true,
    seed: o.seed ?? d.seed,
    workers: o.workers,
  });
  try {
    model.train(true);
    let average = 0;
    let best = Infinity;
    let epoch = 0;
    sweep: for (;;) {
      loader.startEpoch(epoch++);
      let any = false;
      for await (const batch of loader) {
        any = true;
        const i = lr.length;
        const rate = schedule[i]!;
        ratios.forEach((r, g) => optimizer.setLr(rate * r, g));
        let value: number;
        try {
          value = (await trainStep(model, optimizer, batch.images, batch.labels)).loss;
        } finally {
          batch.dispose();
        }
        // fastai's AvgSmoothLoss: torch.lerp(loss, val, beta) = beta·val + (1 − beta)·loss, then debiased.
        average = beta * average + (1 - beta) * value;
        const smoothed = average / (1 - beta ** (i + 1));
        lr.push(rate);
        rawLoss.push(value);
        loss.push(smoothed);
        if (smoothed < best) best = smoothed;
        o.onStep?.({ iteration: i + 1, iterations, lr: rate, loss: value, smoothedLoss: smoothed });
        if (!Number.isFinite(smoothed) || smoothed > divergeFactor * best) {
          stopped = 'diverged';
          break sweep;
        }
        if (lr.length >= iterations) break sweep;
        if (o.signal?.aborted) {
          stopped = 'aborted';
          break sweep;
        }
      }
      if (!any) throw new RangeError('lrFind: the training set gives no batches');
    }
  } finally {
    loader.dispose();
    await model.loadStateDict(weights);
    optimizer.loadStateDict(optimizerState);
    groupLrs.forEach((v, g) => optimizer.setLr(v, g));
    model.train(wasTraining);
  }
  // The diverged last point is kept in the record (it is what stopped the sweep) but not read.
  const readable = stopped === 'diverged' ? lr.length - 1 : lr.length;
  const pick = suggestLr(lr.slice(0, readable), loss.slice(0, readable), method, iterations);
  return {
    lr,
    loss,
    rawLoss,
    suggestedLr: pick?.lr ?? null,
    suggestedIndex: pick?.index ?? null,
    method,
    stopped,
    startLr,
    endLr,
    iterations,
    beta,
    divergeFactor,
  };
}
