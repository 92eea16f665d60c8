/**
 * Stochastic Weight Averaging (Izmailov et al. 2018, "Averaging Weights Leads to Wider Optima and
 * Better Generalization"; timgaripov/swa), as PyTorch's torch.optim.swa_utils does it:
 *
 * - WeightAverage is AveragedModel's default: an equal-weight running average of the parameters,
 *   avg ← avg + (w − avg) / (n + 1), the first model copied. Buffers are not averaged.
 * - updateBatchNorm is update_bn: the BatchNorm statistics of the averaged weights recomputed by
 *   one pass over the training data, in train mode without gradients, with momentum None (the
 *   cumulative average of the batch statistics), after which momentum and mode are restored.
 * - swaLearningRate is the SWA phase's LR: constant (SWALR's swa_lr without annealing), or the
 *   paper's cyclic one, linear from lrMax down to lr over every `cycle` epochs.
 */
import type { ResNet } from '../nn/resnet';
import type { TensorRecord } from '../serialization';
import { Tensor } from '../tensor';
import { withCallerStack } from '../errors';

/** When to average, and the LR meanwhile. */
export interface SwaOptions {
  /**
   * 'cycles': at every cycle end of the schedule (a warm-restarts run: the snapshots' points), the
   * schedule's LR untouched. A number E: from the 1-based epoch E on, at the end of every epoch (or
   * of every `cycle` epochs), with the SWA LR below from the start of epoch E.
   */
  start: 'cycles' | number;
  /** With a start epoch: the constant SWA LR (the low end of the cyclic one). Absent: the schedule's LR goes on. */
  lr?: number;
  /** Cyclic SWA LR: the LR at the start of each SWA cycle, falling linearly to `lr` at its last batch. */
  lrMax?: number;
  /** Epochs per SWA cycle (averaging happens at each cycle's end); default 1. */
  cycle?: number;
}

/** Checks SwaOptions; returns them with defaults, or throws naming the bad field. */
export function checkSwaOptions(
  o: SwaOptions,
  epochs: number,
): Required<Pick<SwaOptions, 'start'>> & SwaOptions & { cycle: number } {
  if (!o || typeof o !== 'object')
    throw new TypeError(
      `swa must be an object { start: 'cycles' | epoch, lr?, lrMax?, cycle? }, got ${JSON.stringify(o)}`,
    );
  const known = ['start', 'lr', 'lrMax', 'cycle'];
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length)
    throw new TypeError(`unknown swa field(s) ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${known.join(', ')})`);
  if (o.start === 'cycles') {
    for (const k of ['lr', 'lrMax', 'cycle'] as const) {
      if (o[k] !== undefined)
        throw new RangeError(
          `swa.${k} needs a start epoch: with start 'cycles' the weights are averaged at the schedule's own cycle ends`,
        );
    }
    return { ...o, cycle: 1 };
  }
  if (typeof o.start !== 'number' || !Number.isInteger(o.start) || o.start < 1 || o.start > epochs) {
    throw new RangeError(
      `swa.start must be 'cycles' or an epoch from 1 to epochs (${epochs}), got ${JSON.stringify(o.start)}`,
    );
  }
  if (o.lr !== undefined && !(typeof o.lr === 'number' && Number.isFinite(o.lr) && o.lr > 0)) {
    throw new RangeError(`swa.lr must be a finite number > 0, got ${JSON.stringify(o.lr)}`);
  }
  if (o.lrMax !== undefined) {
    if (o.lr === undefined)
      throw new RangeError('swa.lrMax (a cyclic SWA LR) needs swa.lr, the LR at the end of each SWA cycle');
    if (!(typeof o.lrMax === 'number' && Number.isFinite(o.lrMax) && o.lrMax >= o.lr)) {
      throw new RangeError(`swa.lrMax must be a finite number ≥ swa.lr (${o.lr}), got ${JSON.stringify(o.lrMax)}`);
    }
  }
  const cycle = o.cycle ?? 1;
  if (!Number.isInteger(cycle) || cycle < 1)
    throw new RangeError(`swa.cycle must be an integer ≥ 1 (epochs), got ${JSON.stringify(o.cycle)}`);
  return { ...o, cycle };
}

/**
 * The LR of batch `batch` of K in 0-based epoch `epoch`, when the SWA phase sets it; undefined
 * where the schedule's LR applies (before the start epoch, or without swa.lr). Cyclic (Izmailov et
 * al., eq. 2): α(i) = (1 − s(i)) α₁ + s(i) α₂ with s(i) = (mod(i − 1, cK) + 1) / (cK), i the 1-based
 * iteration of the SWA phase, so the last batch of every SWA cycle runs at α₂ = lr.
 */
export function swaLearningRate(
  o: SwaOptions,
  epoch: number,
  batch: number,
  batchesPerEpoch: number,
): number | undefined {
  if (o.start === 'cycles' || o.lr === undefined || epoch < o.start - 1) return undefined;
  if (o.lrMax === undefined) return o.lr;
  const span = (o.cycle ?? 1) * batchesPerEpoch;
  const i = (epoch - (o.start - 1)) * batchesPerEpoch + batch; // 0-based iteration of the SWA phase
  const s = ((i % span) + 1) / span;
  return (1 - s) * o.lrMax + s * o.lr;
}

/** Whether the end of 1-based epoch `epoch` is an averaging point in epoch mode. */
export function swaAveragesAfter(o: SwaOptions, epoch: number): boolean {
  if (o.start === 'cycles') return false;
  const k = epoch - (o.start - 1);
  return k >= 1 && k % (o.cycle ?? 1) === 0;
}

/** An equal-weight running average of a model's parameters (AveragedModel with its default avg_fn). */
export class WeightAverage {
  #count = 0;
  readonly #average = new Map<string, Float32Array>();
  readonly #shapes = new Map<string, number[]>();

  /** `parameters`: the names to average (the model's parameters; buffers are recomputed, not averaged). */
  constructor(readonly parameters: readonly string[]) {
    if (!Array.isArray(parameters) || parameters.length === 0)
      throw new TypeError('WeightAverage needs the names of the parameters to average');
  }

  /** Models averaged so far. */
  get count(): number {
    return this.#count;
  }

  /** Adds one model's state dict: the first is copied, the n+1-th moves the average by (w − avg)/(n + 1). */
  add(state: ReadonlyMap<string, TensorRecord>): void {
    const n = this.#count;
    const updates = new Map<string, Float32Array | Float64Array>();
    // Checked in full before anything changes, so a bad state dict leaves the average as it was.
    for (const name of this.parameters) {
      const r = state.get(name);
      if (!r) throw new RangeError(`the state dict to average has no parameter '${name}'`);
      if (r.dtype !== 'float32' && r.dtype !== 'float64')
        throw new TypeError(`parameter '${name}' is ${r.dtype}; only float32/float64 parameters can be averaged`);
      const shape = this.#shapes.get(name);
      if (shape && shape.join(',') !== r.shape.join(',')) {
        throw new RangeError(
          `parameter '${name}' has shape [${r.shape.join(', ')}], the average has [${shape.join(', ')}]`,
        );
      }
      updates.set(name, r.data as Float32Array | Float64Array);
    }
    for (const [name, w] of updates) {
      let avg = this.#average.get(name);
      if (!avg) {
        avg = new Float32Array(w.length);
        this.#average.set(name, avg);
        this.#shapes.set(name, [...state.get(name)!.shape]);
      }
      if (n === 0) {
        avg.set(w);
      } else {
        const k = 1 / (n + 1);
        for (let i = 0; i < avg.length; i++) avg[i] = avg[i]! + (w[i]! - avg[i]!) * k;
      }
    }
    this.#count = n + 1;
  }

  /** The averaged parameters as float32 tensor records (copies). */
  parametersDict(): Map<string, TensorRecord> {
    const out = new Map<string, TensorRecord>();
    for (const name of this.parameters) {
      const avg = this.#average.get(name);
      if (!avg) throw new RangeError('the average is empty: add() a model first');
      out.set(name, { dtype: 'float32', shape: [...this.#shapes.get(name)!], data: avg.slice() } as TensorRecord);
    }
    return out;
  }

  /** The average after `count` models, as saved by parametersDict() (for resuming a run). */
  static restore(
    parameters: readonly string[],
    saved: ReadonlyMap<string, TensorRecord>,
    count: number,
  ): WeightAverage {
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError(`a saved weight average must count ≥ 1 models, got ${String(count)}`);
    const avg = new WeightAverage(parameters);
    avg.add(saved);
    avg.#count = count;
    return avg;
  }
}

/** A batch of images, or anything with one (a DataLoader's Batch). */
export type BatchLike = Tensor | { images: Tensor; dispose?(): void };

/**
 * torch.optim.swa_utils.update_bn: resets every BatchNorm's running statistics, sets its momentum
 * to None (cumulative average), runs the model in train mode without gradients on every batch,
 * then restores the momentum and the mode. Batches with a dispose() (a loader's) are disposed.
 * Returns the number of batches seen.
 */
export function updateBatchNorm(
  model: ResNet,
  batches: AsyncIterable<BatchLike> | Iterable<BatchLike>,
): Promise<number> {
  return withCallerStack(async () => {
    const nativeModel = model.native;
    if (typeof nativeModel.resetBatchNormStats !== 'function') {
      throw new Error(
        'the native addon predates updateBatchNorm (no resetBatchNormStats): rebuild it with npm run build:native',
      );
    }
    if (nativeModel.resetBatchNormStats() === 0) return 0;
    const wasTraining = model.training;
    const momentum = nativeModel.setBatchNormMomentum(null);
    model.train();
    let count = 0;
    try {
      for await (const b of batches as AsyncIterable<BatchLike>) {
        const images = b instanceof Tensor ? b : b.images;
        try {
          // ResNet.forward runs without autograd; in train mode BatchNorm still updates its statistics.
          (await model.forward(images)).dispose();
        } finally {
          if (!(b instanceof Tensor)) b.dispose?.();
        }
        count++;
      }
    } finally {
      nativeModel.setBatchNormMomentum(momentum);
      model.train(wasTraining);
    }
    return count;
  });
}
