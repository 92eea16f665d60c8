/**
 * The one Schedule interface every learning-rate schedule implements, and the stepper they share.
 *
 * Time is measured in fractional epochs: batch i of K in epoch e is at t = e + i/K. A schedule is
 * first a pure function lrAt(t); the stepper on top of it only counts iterations, so the LR it
 * gives after n calls to step() is lrAt(t(n)) by construction, and its whole state is that count
 * (plus the spec that rebuilt it), which is what makes resuming exact.
 */
import type { ScheduleSpec } from './spec';

/** One cycle of a schedule: a warm-restart period, or the single open-ended span of the others. */
export interface Cycle {
  /** 0 for the first cycle; cycle i ≥ 1 begins with the i-th restart. */
  index: number;
  /** Start, in epochs (exact for integer T_0 and T_mult). */
  start: number;
  /** Length T_i in epochs (Infinity for schedules without restarts). */
  length: number;
  /** start + length: where the next restart happens, and the natural snapshot point. */
  end: number;
  /** The LR at the top of the cycle (eta_max of the cycle, after any per-cycle decay). */
  peak: number;
  /** Epochs of linear warmup at the start of this cycle (0 if none). */
  warmup: number;
}

/** Told to restart listeners when step() enters a new cycle. */
export interface RestartEvent {
  /** The cycle that begins. */
  cycle: Cycle;
  /** The step count and time at which the stepper entered it (t ≥ cycle.start). */
  iteration: number;
  t: number;
}

/** What one step() did. */
export interface StepResult {
  iteration: number;
  t: number;
  lr: number;
  /** Index of the cycle t falls in. */
  cycle: number;
  /** Set when this step entered a new cycle. */
  restart?: RestartEvent;
}

/** Everything needed to resume a stepper exactly; plain JSON. */
export interface ScheduleState {
  spec: ScheduleSpec;
  iteration: number;
}

export interface Schedule {
  /** Human-readable label, used in tables and legends. */
  readonly name: string;
  /** How many step() calls make one epoch. */
  readonly stepsPerEpoch: number;
  /** The LR at time t (fractional epochs, ≥ 0). Pure. */
  lrAt(t: number): number;
  /** Index of the cycle t falls in (0 for schedules without restarts). */
  cycleIndexAt(t: number): number;
  /** Cycle `index`, or undefined where there is none (after a cycle limit). */
  cycle(index: number): Cycle | undefined;
  /** The cycles that start before `until` (epochs), in order; only the first `max` when given. */
  cycles(until: number, max?: number): Cycle[];
  /** The plain-JSON spec that rebuilds this schedule with scheduleFromSpec, defaults filled in. */
  spec(): ScheduleSpec;

  /** Steps taken so far; the stepper is at t = stepTime(iteration, stepsPerEpoch). */
  readonly iteration: number;
  readonly t: number;
  /** The LR to use for the current step (PyTorch's get_last_lr()). */
  readonly lr: number;
  /** Advances one step (one batch, or one epoch when stepsPerEpoch is 1). */
  step(): StepResult;
  /** Calls `listener` whenever step() enters a new cycle; returns a function that unsubscribes. */
  onRestart(listener: (event: RestartEvent) => void): () => void;
  state(): ScheduleState;
  /** Continues from a state() of a schedule with the same spec. */
  restore(state: ScheduleState): this;
}

/** Time in epochs of step `iteration`: e + i/K, computed as the CLI and PyTorch reference do. */
export function stepTime(iteration: number, stepsPerEpoch: number): number {
  const batch = iteration % stepsPerEpoch;
  return (iteration - batch) / stepsPerEpoch + batch / stepsPerEpoch;
}

/** JSON text with object keys sorted, so two specs compare equal whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** The stepper, restart events and state of a Schedule, on top of its pure part. */
export abstract class ScheduleBase implements Schedule {
  abstract readonly name: string;
  abstract lrAt(t: number): number;
  abstract cycleIndexAt(t: number): number;
  /** Cycle `index`, or undefined where there is none (after a cycle limit). */
  abstract cycle(index: number): Cycle | undefined;
  abstract cycles(until: number, max?: number): Cycle[];
  abstract spec(): ScheduleSpec;

  #iteration = 0;
  #cycleIndex = 0;
  readonly #listeners = new Set<(event: RestartEvent) => void>();

  constructor(readonly stepsPerEpoch: number) {}

  get iteration(): number {
    return this.#iteration;
  }

  get t(): number {
    return stepTime(this.#iteration, this.stepsPerEpoch);
  }

  get lr(): number {
    return this.lrAt(this.t);
  }

  step(): StepResult {
    this.#iteration += 1;
    const t = this.t;
    const index = this.cycleIndexAt(t);
    const entered = index > this.#cycleIndex ? this.cycle(index) : undefined;
    this.#cycleIndex = index;
    const result: StepResult = { iteration: this.#iteration, t, lr: this.lrAt(t), cycle: index };
    if (entered) {
      result.restart = { cycle: entered, iteration: this.#iteration, t };
      for (const listener of [...this.#listeners]) listener(result.restart);
    }
    return result;
  }

  onRestart(listener: (event: RestartEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  state(): ScheduleState {
    return { spec: this.spec(), iteration: this.#iteration };
  }

  restore(state: ScheduleState): this {
    if (!state || typeof state !== 'object' || !state.spec) {
      throw new TypeError('schedule state must be an object {spec, iteration} from state()');
    }
    if (!Number.isInteger(state.iteration) || state.iteration < 0) {
      throw new RangeError(`schedule state iteration must be an integer ≥ 0, got ${String(state.iteration)}`);
    }
    if (canonicalJson(state.spec) !== canonicalJson(this.spec())) {
      throw new RangeError(
        `schedule state is for ${canonicalJson(state.spec)}, not for this schedule ${canonicalJson(this.spec())}`,
      );
    }
    this.#iteration = state.iteration;
    this.#cycleIndex = this.cycleIndexAt(this.t);
    return this;
  }
}
