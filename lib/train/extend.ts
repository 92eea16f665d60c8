/**
 * Training longer: a run resumed with another number of epochs (`sgdr train --resume DIR --epochs
 * N`, or fit({ resume: true, epochs: N })) ends exactly where an uninterrupted N-epoch run ends —
 * when nothing it has done so far depends on the total length. SGDR's LR at t depends on t and the
 * restart points only, as do step decay with fixed milestones and a constant LR; so do the cycle
 * snapshots. What can depend on the total is named here, and such a run is refused with the reason.
 */
import type { Schedule } from '../schedule';

/** T_i: the length of the SGDR cycle epoch e falls in, or the whole run (`epochs`) without restarts. */
export function cycleLength(schedule: Schedule, e: number, epochs: number): number {
  const cycle = schedule.cycles(epochs).find((c) => c.start <= e && e < c.end);
  return cycle && Number.isFinite(cycle.length) ? cycle.length : epochs;
}

export interface ExtensionPlan {
  /** The epochs the run was set up for. */
  from: number;
  /** The epochs asked for now. */
  to: number;
  /** Epochs already trained. */
  done: number;
  normalizedWeightDecay?: number;
  batchSize: number;
  trainSize: number;
}

/** Why a run set up for `from` epochs cannot be continued as a `to`-epoch run, or undefined when it can. */
export function extensionProblem(schedule: Schedule, p: ExtensionPlan): string | undefined {
  if (p.to < p.done) return `it has trained ${p.done} epochs already, more than ${p.to}`;
  // The LR of every batch is lrAt(e + i/K), which never sees the total; the spec says so if a
  // schedule's does (a schedule given as fractions of the run, one-cycle, cosine over the run).
  const spec = schedule.spec() as unknown as Record<string, unknown>;
  for (const key of ['epochs', 'totalEpochs', 'total']) {
    if (spec[key] !== undefined) {
      return `its ${String(spec.type)} schedule is laid out over the run's ${String(spec[key])} epochs, so a ${p.to}-epoch run would have had other LRs from the start`;
    }
  }
  // Normalized weight decay uses T_i, the cycle's length, or the whole run where no cycle holds
  // the epoch: then the decay of the epochs already trained depended on the total.
  if (p.normalizedWeightDecay !== undefined) {
    for (let e = 0; e < p.done; e++) {
      const before = cycleLength(schedule, e, p.from);
      const after = cycleLength(schedule, e, p.to);
      if (before !== after) {
        return (
          `its normalized weight decay used T = ${before} epochs for epoch ${e + 1} (the run's length, as the schedule has no cycle there); ` +
          `a ${p.to}-epoch run would have used T = ${after}, so its weights would differ from the start`
        );
      }
    }
  }
  // The snapshots taken so far must be those an N-epoch run takes (cycle ends within the epochs done).
  const ends = (epochs: number) =>
    schedule
      .cycles(epochs)
      .filter((c) => Number.isFinite(c.end) && c.end <= Math.min(epochs, p.done) + 1e-9)
      .map((c) => c.end);
  if (JSON.stringify(ends(p.from)) !== JSON.stringify(ends(p.to))) {
    return `its cycle ends over the first ${p.done} epochs would differ in a ${p.to}-epoch run`;
  }
  return undefined;
}
