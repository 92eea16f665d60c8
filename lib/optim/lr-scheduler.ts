/**
 * LR schedulers that act on an optimizer, LibTorch-side (native/core/lr_scheduler.cc), with PyTorch's
 * semantics: construction applies the LR for epoch 0 and step() advances one epoch.
 *
 * CosineAnnealingLR computes the closed form from t (no recursive drift), accepts fractional t
 * (setEpoch) for per-iteration annealing, and reset() starts a new cycle: the SGDR restart manager
 * (lib/schedule) uses it that way. StepLRScheduler is step decay on an optimizer; for a pure LR
 * function (figures, comparisons) use StepLR from lib/schedule.
 */
import { native, type NativeLRScheduler } from '../binding';
import type { Optimizer } from './optimizer';

export abstract class LRScheduler {
  /** @internal */
  readonly native: NativeLRScheduler;

  protected constructor(handle: NativeLRScheduler) {
    this.native = handle;
  }

  /** Advances one epoch and applies the new LR; returns the LR of each parameter group. */
  step(): number[] {
    return this.native.step();
  }

  /** Moves to epoch t (fractional for per-iteration stepping) and applies its LR. */
  setEpoch(t: number): number[] {
    return this.native.setEpoch(t);
  }

  get epoch(): number {
    return this.native.epoch();
  }

  /** The LR of each parameter group now. */
  get lrs(): number[] {
    return this.native.lrs();
  }

  /** The LR of each group at epoch t, without applying it. */
  lrsAt(t: number): number[] {
    return this.native.lrsAt(t);
  }
}

export interface CosineAnnealingOptions {
  /** Length of the annealing in epochs (T_max; T_i of the current SGDR cycle). */
  tMax: number;
  etaMin?: number;
}

export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: Optimizer, options: CosineAnnealingOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('CosineAnnealingLR options must be an object');
    super(
      new (native().NativeLRScheduler)(optimizer.native, {
        type: 'cosine',
        tMax: options.tMax,
        etaMin: options.etaMin,
      }),
    );
  }

  /** A warm restart: t = 0 with a new cycle length, floor and (optionally) peak LR per group. */
  reset(options: { tMax?: number; etaMin?: number; baseLrs?: number[] }): number[] {
    return this.native.reset(options);
  }
}

export interface StepLRSchedulerOptions {
  stepSize: number;
  gamma?: number;
}

export class StepLRScheduler extends LRScheduler {
  constructor(optimizer: Optimizer, options: StepLRSchedulerOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('StepLRScheduler options must be an object');
    super(
      new (native().NativeLRScheduler)(optimizer.native, {
        type: 'step',
        stepSize: options.stepSize,
        gamma: options.gamma,
      }),
    );
  }
}
