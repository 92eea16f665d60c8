/**
 * The TypeScript schedules against PyTorch's own: every case of the shared reference (PyTorch's
 * CosineAnnealingWarmRestarts per epoch and per iteration, and StepLR) to ≤ 1e-12 relative, through
 * lrAt, through step() and through sampleSchedule; and the exact restarts where PyTorch is wrong.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleSchedule, scheduleFromSpec, stepTime, WarmRestarts, type ScheduleSpec } from '../lib/schedule';

interface ReferenceCase {
  name: string;
  scheduler: 'CosineAnnealingWarmRestarts' | 'StepLR';
  mode: 'epoch' | 'iteration';
  steps_per_epoch?: number;
  params: Record<string, number>;
  epochs: number;
  lr: number[];
}

const REFERENCE = path.resolve(__dirname, '../../shared/reference/lr-schedules.pytorch.json');
const cases = (JSON.parse(readFileSync(REFERENCE, 'utf8')) as { cases: ReferenceCase[] }).cases;

/** The spec of our schedule that a reference case describes. */
function specOf(c: ReferenceCase): ScheduleSpec {
  const p = c.params;
  const stepsPerEpoch = c.steps_per_epoch ?? 1;
  if (c.scheduler === 'StepLR') return { type: 'step', lr: p.base_lr!, stepSize: p.step_size!, gamma: p.gamma!, stepsPerEpoch };
  return { type: 'warm-restarts', lr: p.base_lr!, t0: p.T_0!, tMult: p.T_mult!, etaMin: p.eta_min!, stepsPerEpoch };
}

function maxRelativeError(actual: number[], expected: number[]): number {
  expect(actual).toHaveLength(expected.length);
  let worst = 0;
  expected.forEach((e, i) => {
    const err = e === 0 ? Math.abs(actual[i]!) : Math.abs(actual[i]! - e) / Math.abs(e);
    worst = Math.max(worst, err);
  });
  return worst;
}

describe('PyTorch reference (shared/reference/lr-schedules.pytorch.json)', () => {
  it('covers epoch and iteration warm restarts and StepLR', () => {
    expect(cases.some((c) => c.mode === 'iteration')).toBe(true);
    expect(cases.some((c) => c.scheduler === 'StepLR')).toBe(true);
    expect(cases.length).toBeGreaterThanOrEqual(9);
  });

  for (const c of cases) {
    it(`${c.name}: lrAt, step() and sampleSchedule match to 1e-12`, () => {
      const schedule = scheduleFromSpec(specOf(c));
      const k = schedule.stepsPerEpoch;
      const byLrAt = c.lr.map((_, n) => schedule.lrAt(stepTime(n, k)));
      const byStep = [schedule.lr];
      while (byStep.length < c.lr.length) byStep.push(schedule.step().lr);
      const bySample = sampleSchedule(schedule, c.epochs).lr;
      for (const values of [byLrAt, byStep, bySample]) expect(maxRelativeError(values, c.lr)).toBeLessThanOrEqual(1e-12);
      // In fact bit for bit: the same operations, a correctly rounded cosine, chained step decays.
      expect(byLrAt).toEqual(c.lr);
    });
  }
});

describe('exact restarts', () => {
  // PyTorch 1.13's CosineAnnealingWarmRestarts.step(t) gives eta_min at both points: its
  // math.log(t/T_0·(T_mult−1)+1, T_mult) comes out just below the integer cycle index.
  it.each([
    [1, 10, 111],
    [1, 3, 121],
  ])('T_0=%i, T_mult=%i at t=%i is a restart: eta_max', (t0, tMult, t) => {
    const s = new WarmRestarts({ lr: 0.1, t0, tMult, etaMin: 0.001 });
    expect(s.lrAt(t)).toBe(0.1);
    expect(s.cycles(t + 1).map((c) => c.start)).toContain(t);
    expect(s.positionAt(t)).toMatchObject({ tCur: 0, cycle: { start: t } });
  });

  it('every restart of integer T_0, T_mult up to 10^7 epochs is an exact integer that gives exactly the peak', () => {
    for (let t0 = 1; t0 <= 7; t0++) {
      for (let tMult = 1; tMult <= 12; tMult++) {
        const s = new WarmRestarts({ lr: 0.1, t0, tMult, etaMin: 0 });
        for (const c of s.cycles(tMult === 1 ? 2000 : 1e7)) {
          expect(Number.isInteger(c.start)).toBe(true);
          expect(s.lrAt(c.start)).toBe(0.1);
          expect(s.cycleIndexAt(c.start)).toBe(c.index);
          if (c.index > 0) expect(s.cycleIndexAt(c.start - 1e-9 * c.start)).toBe(c.index - 1);
        }
      }
    }
  });

  it('a step that lands on a restart reports it and gives the peak (per iteration, K=7)', () => {
    const s = new WarmRestarts({ lr: 0.05, t0: 1, tMult: 3, etaMin: 1e-4, stepsPerEpoch: 7 });
    const restarts: number[] = [];
    for (let n = 0; n < 130 * 7; n++) {
      const r = s.step();
      if (r.restart) {
        restarts.push(r.t);
        expect(r.lr).toBe(0.05);
        expect(r.restart.cycle.start).toBe(r.t);
      }
    }
    expect(restarts).toEqual([1, 4, 13, 40, 121]);
  });
});
