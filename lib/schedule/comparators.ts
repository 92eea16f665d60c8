/**
 * The schedules SGDR is compared against: step decay (PyTorch's StepLR and MultiStepLR) and a
 * constant LR. They have no restarts: one open-ended cycle, and step() never reports a restart.
 */
import { countAtLeastOne, decayFactor, epochTime, positive, ScheduleParamError } from './errors';
import { boundariesReached, reached } from './exact';
import { ScheduleBase, type Cycle } from './schedule';
import type { ConstantSpec, MultiStepSpec, StepSpec } from './spec';

interface CommonOptions {
  /** The initial LR. */
  lr: number;
  /** step() calls per epoch. Default 1. */
  stepsPerEpoch?: number;
  /** Label for tables and legends. */
  label?: string;
}

export interface StepLROptions extends CommonOptions {
  /** Epochs between decays (real, > 0). */
  stepSize: number;
  /** Factor applied at every decay, in (0, 1]. Default 0.1. */
  gamma?: number;
}

export interface MultiStepLROptions extends CommonOptions {
  /** Epochs at which the LR is multiplied by gamma (a repeated milestone decays twice, as in PyTorch). */
  milestones: number[];
  /** Factor applied at every milestone, in (0, 1]. Default 0.1. */
  gamma?: number;
}

export type ConstantLROptions = CommonOptions;

/** Beyond this many decays the product is computed as a power (the LR is negligible by then anyway). */
const MAX_CHAINED_DECAYS = 10_000;

/**
 * lr · gamma^k as PyTorch's chainable StepLR computes it, one multiplication per decay: that
 * differs from lr · gamma ** k in the last bit (0.001 · 0.1 · 0.1 is 1e-5, 0.001 · 0.1 ** 2 is not).
 */
function chainedDecay(lr: number, gamma: number, k: number): number {
  if (k > MAX_CHAINED_DECAYS) return lr * gamma ** k;
  let value = lr;
  for (let i = 0; i < k; i++) value *= gamma;
  return value;
}

/** Shared by the comparators: one cycle covering all time. */
abstract class SingleCycle extends ScheduleBase {
  readonly #label: string | undefined;
  readonly base: number;

  constructor(o: CommonOptions) {
    super(countAtLeastOne('stepsPerEpoch', o.stepsPerEpoch ?? 1));
    this.base = positive('lr', o.lr);
    this.#label = o.label;
  }

  protected label(fallback: string): string {
    return this.#label ?? fallback;
  }

  protected labelled<T extends object>(spec: T): T & { label?: string } {
    return this.#label === undefined ? spec : { ...spec, label: this.#label };
  }

  cycleIndexAt(t: number): number {
    epochTime(t);
    return 0;
  }

  cycle(index: number): Cycle | undefined {
    return index === 0
      ? { index: 0, start: 0, length: Infinity, end: Infinity, peak: this.base, warmup: 0 }
      : undefined;
  }

  cycles(until: number, max = Infinity): Cycle[] {
    return until > 0 && max >= 1 ? [this.cycle(0)!] : [];
  }
}

/**
 * Step decay as a schedule, a pure function of t: lr · gamma^⌊t / stepSize⌋, with exact boundaries
 * for an integer stepSize (what `--scheduler step` trains with, and figures draw). The same decay
 * applied to an optimizer, LibTorch-side, is StepLRScheduler (lib/optim/lr-scheduler.ts).
 */
export class StepLR extends SingleCycle {
  readonly name: string;
  readonly stepSize: number;
  readonly gamma: number;

  constructor(options: StepLROptions) {
    const o = options ?? ({} as StepLROptions);
    super(o);
    this.stepSize = positive('stepSize', o.stepSize);
    this.gamma = decayFactor('gamma', o.gamma ?? 0.1);
    this.name = this.label(`Step lr=${this.base}, ×${this.gamma} every ${this.stepSize}`);
  }

  lrAt(t: number): number {
    const size = this.stepSize;
    const decays = boundariesReached(epochTime(t), (n) => n * size, t / size, Number.isInteger(size));
    return chainedDecay(this.base, this.gamma, decays);
  }

  spec(): StepSpec {
    return this.labelled({
      type: 'step' as const,
      lr: this.base,
      stepSize: this.stepSize,
      gamma: this.gamma,
      stepsPerEpoch: this.stepsPerEpoch,
    });
  }
}

/** lr · gamma^(number of milestones reached by t). */
export class MultiStepLR extends SingleCycle {
  readonly name: string;
  /** Sorted ascending. */
  readonly milestones: readonly number[];
  readonly gamma: number;

  constructor(options: MultiStepLROptions) {
    const o = options ?? ({} as MultiStepLROptions);
    super(o);
    if (!Array.isArray(o.milestones)) {
      throw new ScheduleParamError('milestones', `must be an array of epochs, got ${String(o.milestones)}`);
    }
    this.milestones = o.milestones.map((m, i) => positive(`milestones[${i}]`, m)).sort((a, b) => a - b);
    this.gamma = decayFactor('gamma', o.gamma ?? 0.1);
    this.name = this.label(`Step lr=${this.base}, ×${this.gamma} at ${this.milestones.join(', ')}`);
  }

  lrAt(t: number): number {
    epochTime(t);
    // As PyTorch: at each milestone reached, one multiplication by gamma ** (times it is listed).
    let lr = this.base;
    for (
      let i = 0;
      i < this.milestones.length && reached(t, this.milestones[i]!, Number.isInteger(this.milestones[i]));
    ) {
      let repeats = 1;
      while (this.milestones[i + repeats] === this.milestones[i]) repeats++;
      lr *= this.gamma ** repeats;
      i += repeats;
    }
    return lr;
  }

  spec(): MultiStepSpec {
    return this.labelled({
      type: 'multistep' as const,
      lr: this.base,
      milestones: [...this.milestones],
      gamma: this.gamma,
      stepsPerEpoch: this.stepsPerEpoch,
    });
  }
}

/** The same LR at every step. */
export class ConstantLR extends SingleCycle {
  readonly name: string;

  constructor(options: ConstantLROptions) {
    super(options ?? ({} as ConstantLROptions));
    this.name = this.label(`Constant lr=${this.base}`);
  }

  lrAt(t: number): number {
    epochTime(t);
    return this.base;
  }

  spec(): ConstantSpec {
    return this.labelled({ type: 'constant' as const, lr: this.base, stepsPerEpoch: this.stepsPerEpoch });
  }
}
