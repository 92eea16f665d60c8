/** A schedule laid out step by step, as the CLI prints it and the figures draw it. */
import { countAtLeastOne, nonNegative } from './errors';
import { stepTime, type Schedule } from './schedule';

export interface Samples {
  /** Time in epochs of each step: e + i/K. */
  t: number[];
  lr: number[];
  /** Cycle index of each step. */
  cycle: number[];
}

/**
 * The LR at every step of `epochs` epochs of `stepsPerEpoch` steps: epochs × K values, the value
 * for batch i of epoch e being lrAt(e + i/K), the same values step() gives.
 */
export function sampleSchedule(schedule: Schedule, epochs: number, stepsPerEpoch = schedule.stepsPerEpoch): Samples {
  countAtLeastOne('stepsPerEpoch', stepsPerEpoch);
  const steps = Math.round(nonNegative('epochs', epochs) * stepsPerEpoch);
  const out: Samples = { t: new Array(steps), lr: new Array(steps), cycle: new Array(steps) };
  for (let n = 0; n < steps; n++) {
    const t = stepTime(n, stepsPerEpoch);
    out.t[n] = t;
    out.lr[n] = schedule.lrAt(t);
    out.cycle[n] = schedule.cycleIndexAt(t);
  }
  return out;
}
