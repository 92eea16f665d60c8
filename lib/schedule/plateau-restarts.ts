/**
 * PlateauRestarts: SGDR whose restarts come early when the validation loss stops improving.
 *
 * Inside a cycle the LR anneals exactly as WarmRestarts does (cosine, or k-decay's bent cosine,
 * from the cycle's peak lr · decay^i down to etaMin). Cycle i's cosine period is SGDR's
 * T_i = T_0 · T_mult^i, and T_i is also its longest length: the cycle ends at the earlier of
 *   - its cap, i.e. after T_i epochs, where SGDR restarts (so with no plateau this *is* SGDR, bit
 *     for bit), and
 *   - a plateau: the end of an epoch after which the validation loss has not improved for
 *     `patience` epochs in a row within this cycle.
 * "Improved" is ReduceLROnPlateau's rule (mode min): loss < best · (1 − threshold) with the default
 * relative threshold 1e-4, or loss < best − threshold with thresholdMode 'abs'. Each cycle has its
 * own best (the loss jumps after a restart; the previous cycle's best would call every epoch a
 * plateau), so the first epoch of a cycle always improves and a plateau restart comes after
 * patience + 1 epochs of a cycle at the earliest. Unlike ReduceLROnPlateau, which acts once the bad
 * epochs *exceed* its patience, the restart comes when they *reach* it: "not improved for
 * `patience` epochs". A cycle that began inside an epoch (a real-valued T_i) counts that epoch's
 * loss as its first.
 *
 * The restarts are a pure function of the validation losses observed so far (observe() after every
 * epoch), which the state carries, so a run resumes exactly. Past the last observation the schedule
 * assumes no further plateau (the caps): that is what lrAt, cycles() and `sgdr schedule` show
 * without a loss history, and the LR of the epoch about to be trained never depends on it.
 */
import { countAtLeastOne, nonNegative, ScheduleParamError } from './errors';
import { reached, REAL_BOUNDARY_TOLERANCE } from './exact';
import { ScheduleBase, type Cycle, type RestartEvent, type ScheduleState } from './schedule';
import type { PlateauRestartsSpec } from './spec';
import { WarmRestarts } from './warm-restarts';

export interface PlateauRestartsOptions {
  /** eta_max: the LR at the top of the first cycle. */
  lr: number;
  /** T_0: the first cycle's cosine period and longest length, in epochs (real, > 0). */
  t0: number;
  /** T_mult: cycle i's period (and cap) is T_0 · T_mult^i (real, ≥ 1). Default 1. */
  tMult?: number;
  /** eta_min: the LR at the bottom of every cycle. Default 0. */
  etaMin?: number;
  /** The peak of cycle i is lr · decay^i. Default 1. */
  decay?: number;
  /** k-decay's k (see WarmRestarts). Default 1. */
  kDecay?: number;
  /** Epochs without improvement of the validation loss within a cycle that end it (integer ≥ 1). */
  patience: number;
  /** Least improvement that counts (≥ 0): relative (default, 1e-4) or absolute, per thresholdMode. */
  threshold?: number;
  /** 'rel' (default): loss < best·(1 − threshold); 'abs': loss < best − threshold. */
  thresholdMode?: 'rel' | 'abs';
  /** step() calls per epoch. Default 1. */
  stepsPerEpoch?: number;
  label?: string;
}

/** The state of a PlateauRestarts: the stepper's, plus the validation losses observed after each epoch. */
export interface PlateauRestartsState extends ScheduleState {
  valLosses: number[];
}

/**
 * From time `from` on, the schedule follows SGDR's timeline shifted so that SGDR's cycle `cycle`
 * starts at `from`: u = t − from + S_cycle. Segment 0 is SGDR itself; every plateau adds one.
 */
interface Segment {
  from: number;
  cycle: number;
}

/** A cycle of PlateauRestarts; `plateau` when it began with a restart on plateau (not at a cap). */
export interface PlateauCycle extends Cycle {
  plateau: boolean;
}

export class PlateauRestarts extends ScheduleBase {
  readonly name: string;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  /** The caps: SGDR with the same cosine, whose timeline every segment follows. */
  readonly sgdr: WarmRestarts;
  readonly #label: string | undefined;
  readonly #exact: boolean;
  #losses: number[] = [];
  #segments: Segment[] = [{ from: 0, cycle: 0 }];
  /** The cycle the plateau counter is for, its best loss, and its epochs without improvement. */
  #tracking = { cycle: 0, best: Infinity, bad: 0 };

  constructor(options: PlateauRestartsOptions) {
    const o = options ?? ({} as PlateauRestartsOptions);
    const sgdr = new WarmRestarts({
      lr: o.lr,
      t0: o.t0,
      tMult: o.tMult,
      etaMin: o.etaMin,
      decay: o.decay,
      kDecay: o.kDecay,
      stepsPerEpoch: o.stepsPerEpoch,
    });
    super(sgdr.stepsPerEpoch);
    this.sgdr = sgdr;
    this.patience = countAtLeastOne('patience', o.patience);
    this.threshold = nonNegative('threshold', o.threshold ?? 1e-4);
    const mode = o.thresholdMode ?? 'rel';
    if (mode !== 'rel' && mode !== 'abs')
      throw new ScheduleParamError('thresholdMode', `must be 'rel' or 'abs', got ${JSON.stringify(mode)}`);
    this.thresholdMode = mode;
    if (mode === 'rel' && this.threshold >= 1)
      throw new ScheduleParamError('threshold', `must be < 1 with thresholdMode 'rel', got ${this.threshold}`);
    this.#label = o.label;
    this.#exact = Number.isInteger(sgdr.t0) && Number.isInteger(sgdr.tMult);
    this.name =
      o.label ??
      `Restarts on plateau (patience ${this.patience}), T0=${sgdr.t0}, Tmult=${sgdr.tMult}${sgdr.kDecay !== 1 ? `, k=${sgdr.kDecay}` : ''}`;
  }

  /** The validation losses observed so far, epoch 1 first. */
  get valLosses(): readonly number[] {
    return this.#losses;
  }

  /** The epochs (1-based epoch ends, i.e. times) at which a plateau restarted a cycle so far. */
  get plateauRestarts(): number[] {
    return this.#segments.slice(1).map((s) => s.from);
  }

  /** The segment that time t falls in. */
  #segmentAt(t: number): Segment {
    for (let k = this.#segments.length - 1; k > 0; k--)
      if (reached(t, this.#segments[k]!.from, this.#exact)) return this.#segments[k]!;
    return this.#segments[0]!;
  }

  /** t on SGDR's timeline. */
  #sgdrTime(t: number, seg = this.#segmentAt(t)): number {
    return seg.cycle === 0 ? t : Math.max(0, t - seg.from + this.sgdr.cycle(seg.cycle)!.start);
  }

  lrAt(t: number): number {
    return this.sgdr.lrAt(this.#sgdrTime(t));
  }

  cycleIndexAt(t: number): number {
    return this.sgdr.cycleIndexAt(this.#sgdrTime(t));
  }

  cycle(index: number): PlateauCycle | undefined {
    if (!Number.isInteger(index) || index < 0) return undefined;
    let k = 0;
    while (k + 1 < this.#segments.length && this.#segments[k + 1]!.cycle <= index) k++;
    const seg = this.#segments[k]!;
    const next = this.#segments[k + 1];
    const c = this.sgdr.cycle(index)!;
    const shift = seg.from - this.sgdr.cycle(seg.cycle)!.start;
    const start = seg.cycle === 0 ? c.start : index === seg.cycle ? seg.from : c.start + shift;
    const capEnd = seg.cycle === 0 ? c.end : c.end + shift;
    const end = next && next.cycle === index + 1 ? next.from : capEnd;
    return {
      index,
      start,
      length: end - start,
      end,
      peak: c.peak,
      warmup: 0,
      plateau: index > 0 && index === seg.cycle,
    };
  }

  cycles(until: number, max = Infinity): PlateauCycle[] {
    const list: PlateauCycle[] = [];
    for (let i = 0; i < max; i++) {
      const c = this.cycle(i)!;
      if (!(c.start < until)) break;
      list.push(c);
    }
    return list;
  }

  /**
   * Takes the validation loss after 1-based epoch `epoch` (epochs in order, each once: the next is
   * valLosses.length + 1). Returns the restart this causes at t = epoch, if any (a plateau, or the
   * cap of a cycle ending there).
   */
  observe(epoch: number, valLoss: number): RestartEvent | undefined {
    const expected = this.#losses.length + 1;
    if (epoch !== expected)
      throw new RangeError(`observe: expected the validation loss of epoch ${expected}, got epoch ${String(epoch)}`);
    if (typeof valLoss !== 'number' || !Number.isFinite(valLoss))
      throw new RangeError(
        `observe: the validation loss of epoch ${epoch} must be a finite number, got ${String(valLoss)}`,
      );
    this.#losses.push(valLoss);
    return this.#apply(epoch, valLoss);
  }

  #apply(t: number, loss: number): RestartEvent | undefined {
    // The cycle this epoch ended in: the one at t, unless t is exactly its start (a cap restart at t).
    const atT = this.cycleIndexAt(t);
    const startsAtT = atT > 0 && this.#at(t, this.cycle(atT)!.start);
    const current = startsAtT ? atT - 1 : atT;
    if (current !== this.#tracking.cycle) this.#tracking = { cycle: current, best: Infinity, bad: 0 };
    const tr = this.#tracking;
    const improved =
      this.thresholdMode === 'rel' ? loss < tr.best * (1 - this.threshold) : loss < tr.best - this.threshold;
    if (improved) {
      tr.best = loss;
      tr.bad = 0;
    } else {
      tr.bad += 1;
    }
    if (startsAtT) return { cycle: this.cycle(atT)!, iteration: t * this.stepsPerEpoch, t };
    if (tr.bad < this.patience) return undefined;
    this.#segments.push({ from: t, cycle: current + 1 });
    this.#tracking = { cycle: current + 1, best: Infinity, bad: 0 };
    return { cycle: this.cycle(current + 1)!, iteration: t * this.stepsPerEpoch, t };
  }

  /** Whether t is the boundary b itself (within the tolerance of reached() for real-valued boundaries). */
  #at(t: number, b: number): boolean {
    return this.#exact ? t === b : Math.abs(t - b) <= REAL_BOUNDARY_TOLERANCE * Math.abs(b);
  }

  spec(): PlateauRestartsSpec {
    const s = this.sgdr;
    const spec: PlateauRestartsSpec = {
      type: 'plateau-restarts',
      lr: s.etaMax,
      t0: s.t0,
      tMult: s.tMult,
      etaMin: s.etaMin,
      decay: s.decay,
      patience: this.patience,
      threshold: this.threshold,
      thresholdMode: this.thresholdMode,
      stepsPerEpoch: this.stepsPerEpoch,
    };
    if (s.kDecay !== 1) spec.kDecay = s.kDecay;
    if (this.#label !== undefined) spec.label = this.#label;
    return spec;
  }

  override state(): PlateauRestartsState {
    return { ...super.state(), valLosses: [...this.#losses] };
  }

  /** Continues from a state(): the restarts are replayed from its validation losses. */
  override restore(state: ScheduleState): this {
    const losses = (state as Partial<PlateauRestartsState> | null)?.valLosses ?? [];
    if (!Array.isArray(losses) || losses.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
      throw new TypeError(
        'a plateau-restarts state needs valLosses: the finite validation losses observed, epoch 1 first',
      );
    }
    const saved = { losses: this.#losses, segments: this.#segments, tracking: this.#tracking };
    this.#losses = [];
    this.#segments = [{ from: 0, cycle: 0 }];
    this.#tracking = { cycle: 0, best: Infinity, bad: 0 };
    try {
      losses.forEach((v, j) => this.observe(j + 1, v));
      return super.restore(state);
    } catch (err) {
      this.#losses = saved.losses;
      this.#segments = saved.segments;
      this.#tracking = saved.tracking;
      throw err;
    }
  }
}

/** Schedules that take the validation loss after every epoch (fit() feeds them). */
export interface AdaptiveSchedule {
  observe(epoch: number, valLoss: number): RestartEvent | undefined;
  readonly valLosses: readonly number[];
}

export function isAdaptiveSchedule(schedule: unknown): schedule is AdaptiveSchedule & ScheduleBase {
  return schedule instanceof PlateauRestarts;
}
