/**
 * Fast Geometric Ensembling's learning rate (Garipov et al. 2018, "Loss Surfaces, Mode
 * Connectivity, and Fast Ensembling of DNNs"; timgaripov/dnn-mode-connectivity, utils.py
 * cyclic_learning_rate): a piecewise-linear cycle of `cycle` epochs (even) that goes from lr_1 down
 * to lr_2 in its first half and back up to lr_1 in the second, batch by batch:
 *
 *   u = ((e mod c) + i/K) / c          (batch i of K in epoch e)
 *   lr = lr_1 (1 − 2u) + lr_2 · 2u     for u < 1/2
 *   lr = lr_1 (2u − 1) + lr_2 (2 − 2u)  otherwise
 *
 * A model is collected where the LR is lowest, after epoch c/2 of every cycle (fge.py: epoch % c + 1
 * == c / 2). So that fit()'s snapshot machinery collects exactly those models, this schedule's
 * Cycles run from one LR minimum to the next: cycle 0 is [0, c/2), cycle i is [c/2 + (i−1)c, c/2 + ic).
 * Its end is a collection point; its peak is lr_1. The LR itself has no jump anywhere.
 */
import { countAtLeastOne, epochTime, positive, ScheduleParamError } from './errors';
import { ScheduleBase, type Cycle } from './schedule';
import type { FgeSpec } from './spec';

export interface FgeOptions {
  /** lr_1: the LR at the start (and end) of every cycle, the larger one. */
  lr: number;
  /** lr_2: the LR at the middle of every cycle, where models are collected; in (0, lr]. */
  lr2: number;
  /** Cycle length c in epochs: an even integer ≥ 2. */
  cycle: number;
  stepsPerEpoch?: number;
  label?: string;
}

export class FgeSchedule extends ScheduleBase {
  readonly name: string;
  readonly lr1: number;
  readonly lr2: number;
  readonly cycleLength: number;
  readonly #label: string | undefined;

  constructor(options: FgeOptions) {
    const o = options ?? ({} as FgeOptions);
    super(countAtLeastOne('stepsPerEpoch', o.stepsPerEpoch ?? 1));
    this.lr1 = positive('lr', o.lr);
    this.lr2 = positive('lr2', o.lr2);
    if (this.lr2 > this.lr1)
      throw new ScheduleParamError(
        'lr2',
        `must be ≤ lr (${this.lr1}): lr_2 is the low end of the FGE cycle, got ${this.lr2}`,
      );
    const c = o.cycle;
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 2 || c % 2 !== 0) {
      throw new ScheduleParamError(
        'cycle',
        `must be an even integer ≥ 2 (FGE collects a model mid-cycle, after epoch c/2), got ${String(c)}`,
      );
    }
    this.cycleLength = c;
    this.#label = o.label;
    this.name = o.label ?? `FGE lr ${this.lr1}→${this.lr2}, cycle ${c}`;
  }

  lrAt(t: number): number {
    epochTime(t);
    const epoch = Math.floor(t);
    const u = ((epoch % this.cycleLength) + (t - epoch)) / this.cycleLength;
    return u < 0.5 ? this.lr1 * (1 - 2 * u) + this.lr2 * 2 * u : this.lr1 * (2 * u - 1) + this.lr2 * (2 - 2 * u);
  }

  cycleIndexAt(t: number): number {
    epochTime(t);
    const half = this.cycleLength / 2;
    return t < half ? 0 : Math.floor((t - half) / this.cycleLength) + 1;
  }

  cycle(index: number): Cycle | undefined {
    if (!Number.isInteger(index) || index < 0) return undefined;
    const half = this.cycleLength / 2;
    const start = index === 0 ? 0 : half + (index - 1) * this.cycleLength;
    const length = index === 0 ? half : this.cycleLength;
    return { index, start, length, end: start + length, peak: this.lr1, warmup: 0 };
  }

  cycles(until: number, max = Infinity): Cycle[] {
    const out: Cycle[] = [];
    for (let i = 0; out.length < max; i++) {
      const c = this.cycle(i)!;
      if (c.start >= until) break;
      out.push(c);
    }
    return out;
  }

  spec(): FgeSpec {
    const spec: FgeSpec = {
      type: 'fge',
      lr: this.lr1,
      lr2: this.lr2,
      cycle: this.cycleLength,
      stepsPerEpoch: this.stepsPerEpoch,
    };
    return this.#label === undefined ? spec : { ...spec, label: this.#label };
  }
}
