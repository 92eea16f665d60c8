/**
 * Drives an optimizer's LR with SGDR: the restart manager (WarmRestarts, pure TS) decides which
 * cycle a time falls in, and a native CosineAnnealingLR anneals inside the cycle; at every restart
 * the native scheduler is reset to the new cycle's length and peak. Linear warmup and the flat tail
 * after cycleLimit are set directly. With k-decay the native cosine runs over T_cur^k out of T_i^k,
 * which is k-decay's cos(π · T_cur^k / T_i^k) exactly. WarmRestarts.lrAt(t) is the oracle this must equal (tests check
 * it over thousands of per-iteration steps).
 *
 * For custom loops built on trainStep(); fit() hands the native loop the LR of every batch instead.
 */
import type { WarmRestarts } from '../schedule';
import { CosineAnnealingLR } from './lr-scheduler';
import type { Optimizer } from './optimizer';

export class WarmRestartsDriver {
  readonly #schedule: WarmRestarts;
  readonly #optimizer: Optimizer;
  readonly #cosine: CosineAnnealingLR;
  /**
   * Each group's LR relative to group 0 when the driver was made: every group anneals from its own
   * peak (cycle peak × ratio) to the shared eta_min, as PyTorch's schedulers treat parameter groups.
   */
  readonly #ratios: number[];
  #cycle = -1;

  constructor(schedule: WarmRestarts, optimizer: Optimizer) {
    this.#schedule = schedule;
    this.#optimizer = optimizer;
    const base = optimizer.getLr(0);
    this.#ratios = Array.from({ length: optimizer.groupCount }, (_, g) => (base > 0 ? optimizer.getLr(g) / base : 1));
    const first = schedule.cycles(Number.MIN_VALUE)[0]!;
    this.#cosine = new CosineAnnealingLR(optimizer, {
      tMax: this.#span(first.length - first.warmup),
      etaMin: schedule.etaMin,
    });
    this.setTime(0);
  }

  /** Applies the LR for time t (fractional epochs) and returns group 0's LR. */
  setTime(t: number): number {
    const position = this.#schedule.positionAt(t);
    if (!position) {
      this.#setAll(this.#schedule.etaMin); // past cycleLimit: stays at eta_min
      return this.#optimizer.getLr(0);
    }
    const { cycle, tCur } = position;
    if (cycle.index !== this.#cycle) {
      this.#cycle = cycle.index;
      this.#cosine.reset({
        tMax: this.#span(cycle.length - cycle.warmup),
        etaMin: this.#schedule.etaMin,
        baseLrs: this.#ratios.map((r) => cycle.peak * r),
      });
    }
    if (tCur < cycle.warmup) {
      // The linear ramp from eta_min to each group's peak, in lrAt's own expression.
      const etaMin = this.#schedule.etaMin;
      this.#ratios.forEach((r, g) => {
        const peak = cycle.peak * r;
        this.#optimizer.setLr(Math.min(peak, etaMin + (peak - etaMin) * (tCur / cycle.warmup)), g);
      });
    } else {
      this.#cosine.setEpoch(this.#span(tCur - cycle.warmup));
    }
    return this.#optimizer.getLr(0);
  }

  /** Time in the native cosine's units: T^k under k-decay (k = 1: T itself). */
  #span(t: number): number {
    return this.#schedule.kDecay === 1 ? t : t ** this.#schedule.kDecay;
  }

  #setAll(lr: number): void {
    for (let g = 0; g < this.#ratios.length; g++) this.#optimizer.setLr(lr, g);
  }
}
