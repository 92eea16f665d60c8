/**
 * WarmRestarts: the SGDR restart manager (Loshchilov & Hutter 2017).
 *
 * Cycle i starts at S_i = T_0 (1 + T_mult + … + T_mult^(i−1)) and lasts T_i = T_0 · T_mult^i
 * epochs; inside it the LR anneals from its peak eta_max · decay^i down to eta_min along the cosine,
 * with T_cur = t − S_i advancing every batch. This file is the one place that knows which cycle a
 * time falls in. A native CosineAnnealingLR anneals within a cycle and is reset from here: at each
 * restart (and at the start) reset it to T_max = cycle.length − cycle.warmup epochs, eta_max =
 * cycle.peak and eta_min, then move it to T_cur = positionAt(t).tCur − cycle.warmup once past the
 * warmup (before that the LR is the linear ramp of lrAt).
 */
import { kDecayAnnealing } from './cosine';
import { countAtLeastOne, decayFactor, epochTime, nonNegative, positive, ScheduleParamError, within } from './errors';
import { boundariesReached, integerPower } from './exact';
import { ScheduleBase, type Cycle } from './schedule';
import type { WarmRestartsSpec } from './spec';

export interface WarmRestartsOptions {
  /** eta_max: the LR at the top of the first cycle. */
  lr: number;
  /** T_0: length of the first cycle in epochs (real, > 0). */
  t0: number;
  /** T_mult: each cycle is T_mult times longer than the one before (real, ≥ 1). Default 1. */
  tMult?: number;
  /** eta_min: the LR at the bottom of every cycle (0 ≤ etaMin ≤ lr). Default 0. */
  etaMin?: number;
  /** The peak of cycle i is lr · decay^i (timm's cycle_decay, Keras's m_mul), never below etaMin. Default 1. */
  decay?: number;
  /** Epochs of linear warmup from etaMin to the peak at the start of the first cycle (< t0). Default 0. */
  warmup?: number;
  /** Warm up again at the start of every cycle, not only the first. Default false. */
  warmupEveryRestart?: boolean;
  /** Number of cycles; after the last one the LR stays at etaMin. Default: no limit. */
  cycleLimit?: number;
  /** k of k-decay: the cosine runs over T_cur^k / T_i^k (timm's k_decay), a finite number > 0. Default 1 (plain SGDR). */
  kDecay?: number;
  /** step() calls per epoch (1 steps per epoch, as PyTorch's implicit step()). Default 1. */
  stepsPerEpoch?: number;
  /** Label for tables and legends. */
  label?: string;
}

/** Where in its cycle a time falls. */
export interface CyclePosition {
  cycle: Cycle;
  /** T_cur: epochs since the start of the cycle. */
  tCur: number;
}

export class WarmRestarts extends ScheduleBase {
  readonly name: string;
  readonly etaMax: number;
  readonly t0: number;
  readonly tMult: number;
  readonly etaMin: number;
  readonly decay: number;
  readonly warmup: number;
  readonly warmupEveryRestart: boolean;
  /** Infinity when unlimited. */
  readonly cycleLimit: number;
  /** k of k-decay (1: plain cosine annealing). */
  readonly kDecay: number;
  readonly #label: string | undefined;
  /** Integer T_0 and T_mult make every cycle start an exact integer, compared exactly. */
  readonly #exact: boolean;
  /** log(T_mult), for the first guess of a cycle index. */
  readonly #logMult: number;

  constructor(options: WarmRestartsOptions) {
    const o = options ?? ({} as WarmRestartsOptions);
    super(countAtLeastOne('stepsPerEpoch', o.stepsPerEpoch ?? 1));
    this.etaMax = positive('lr', o.lr);
    this.t0 = positive('t0', o.t0);
    this.tMult = within('tMult', o.tMult ?? 1, 1, Number.MAX_VALUE, 'a finite number ≥ 1');
    this.etaMin = within('etaMin', o.etaMin ?? 0, 0, this.etaMax, `a number in [0, lr=${this.etaMax}]`);
    this.decay = decayFactor('decay', o.decay ?? 1);
    this.warmup = nonNegative('warmup', o.warmup ?? 0);
    if (this.warmup >= this.t0) {
      throw new ScheduleParamError(
        'warmup',
        `must be shorter than the first cycle (t0=${this.t0}), got ${this.warmup}`,
      );
    }
    this.warmupEveryRestart = Boolean(o.warmupEveryRestart);
    this.cycleLimit = o.cycleLimit === undefined ? Infinity : countAtLeastOne('cycleLimit', o.cycleLimit);
    this.kDecay = positive('kDecay', o.kDecay ?? 1);
    this.#label = o.label;
    this.#exact = Number.isInteger(this.t0) && Number.isInteger(this.tMult);
    this.#logMult = Math.log1p(this.tMult - 1);
    this.name = o.label ?? describe(this);
  }

  /** S_n: the start of cycle n in epochs (n ≥ 0; cycle 0 starts at 0). */
  #start(n: number): number {
    if (this.tMult === 1) return n * this.t0;
    if (this.#exact) return this.t0 * ((integerPower(this.tMult, n) - 1) / (this.tMult - 1));
    // expm1/log1p keep T_mult close to 1 accurate, where T_mult^n − 1 would cancel.
    return (this.t0 * Math.expm1(n * this.#logMult)) / (this.tMult - 1);
  }

  /** The geometric cycle index of t, ignoring the cycle limit. */
  #indexAt(t: number): number {
    const guess = this.tMult === 1 ? t / this.t0 : Math.log1p((t * (this.tMult - 1)) / this.t0) / this.#logMult;
    return boundariesReached(t, (n) => this.#start(n), guess, this.#exact);
  }

  /** Cycle `index` as if there were no cycle limit. */
  #cycle(index: number): Cycle {
    const start = this.#start(index);
    const end = this.#start(index + 1);
    const peak = Math.max(this.etaMin, this.etaMax * this.decay ** index);
    const warmup = index === 0 || this.warmupEveryRestart ? this.warmup : 0;
    return { index, start, length: end - start, end, peak, warmup };
  }

  cycle(index: number): Cycle | undefined {
    return Number.isInteger(index) && index >= 0 && index < this.cycleLimit ? this.#cycle(index) : undefined;
  }

  /** The cycle t falls in and T_cur, or null once the cycle limit is over (the LR stays at etaMin). */
  positionAt(t: number): CyclePosition | null {
    const index = this.#indexAt(epochTime(t));
    if (index >= this.cycleLimit) return null;
    const cycle = this.#cycle(index);
    if (!(cycle.length > 0)) {
      // So many cycles fit before t that consecutive restarts round to the same double.
      throw new ScheduleParamError(
        't0',
        `${this.t0} is too small: at epoch ${t} cycle ${index} is shorter than a double can resolve`,
      );
    }
    // A time within the tolerance below a real-valued restart belongs to the new cycle at T_cur = 0.
    return { cycle, tCur: Math.max(0, t - cycle.start) };
  }

  /** The cycle index of t; cycleLimit itself for the flat tail after the last cycle. */
  cycleIndexAt(t: number): number {
    return Math.min(this.#indexAt(epochTime(t)), this.cycleLimit);
  }

  lrAt(t: number): number {
    const position = this.positionAt(t);
    if (!position) return this.etaMin;
    const { cycle, tCur } = position;
    if (tCur < cycle.warmup) {
      // The fraction first, so the ramp stays below the peak whatever the magnitudes involved.
      return Math.min(cycle.peak, this.etaMin + (cycle.peak - this.etaMin) * (tCur / cycle.warmup));
    }
    return kDecayAnnealing(cycle.peak, this.etaMin, tCur - cycle.warmup, cycle.length - cycle.warmup, this.kDecay);
  }

  cycles(until: number, max = Infinity): Cycle[] {
    const list: Cycle[] = [];
    for (let i = 0; i < this.cycleLimit && i < max && this.#start(i) < until; i++) list.push(this.#cycle(i));
    return list;
  }

  spec(): WarmRestartsSpec {
    const spec: WarmRestartsSpec = {
      type: 'warm-restarts',
      lr: this.etaMax,
      t0: this.t0,
      tMult: this.tMult,
      etaMin: this.etaMin,
      decay: this.decay,
      warmup: this.warmup,
      warmupEveryRestart: this.warmupEveryRestart,
      stepsPerEpoch: this.stepsPerEpoch,
    };
    if (Number.isFinite(this.cycleLimit)) spec.cycleLimit = this.cycleLimit;
    // Only when set: specs (and so checkpoints) of plain SGDR runs stay what they were before k-decay.
    if (this.kDecay !== 1) spec.kDecay = this.kDecay;
    if (this.#label !== undefined) spec.label = this.#label;
    return spec;
  }
}

function describe(s: WarmRestarts): string {
  const parts = [`T0=${s.t0}`, `Tmult=${s.tMult}`];
  if (s.decay !== 1) parts.push(`decay=${s.decay}`);
  if (s.warmup > 0) parts.push(`warmup=${s.warmup}${s.warmupEveryRestart ? ' every cycle' : ''}`);
  if (Number.isFinite(s.cycleLimit)) parts.push(`${s.cycleLimit} cycles`);
  if (s.kDecay !== 1) parts.push(`k=${s.kDecay}`);
  return `SGDR ${parts.join(', ')}`;
}
