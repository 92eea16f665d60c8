/**
 * The TypeScript schedules against PyTorch's own: every case of the in-repo reference
 * test/reference/lr-schedules.pytorch.json (PyTorch's CosineAnnealingWarmRestarts per epoch and per
 * iteration, and StepLR; written by test/reference/lr_schedules.py) to ≤ 1e-12 relative, through
 * lrAt, through step() and through sampleSchedule; that the file is what its generator writes; and
 * the exact restarts where PyTorch's closed form is wrong.
 */
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleSchedule, scheduleFromSpec, stepTime, WarmRestarts, type ScheduleSpec } from '../lib/schedule';
import { referenceScript, tempDir } from './helpers/native';
import { requireTorchOrSkip, runPython } from './helpers/python';

interface ReferenceCase {
  name: string;
  scheduler: 'CosineAnnealingWarmRestarts' | 'StepLR';
  mode: 'epoch' | 'iteration';
  steps_per_epoch?: number;
  params: Record<string, number>;
  epochs: number;
  lr: number[];
}

const REFERENCE = path.resolve(__dirname, 'reference/lr-schedules.pytorch.json');
const referenceText = readFileSync(REFERENCE, 'utf8');
const reference = JSON.parse(referenceText) as { generator: string; convention: string; cases: ReferenceCase[] };
const cases = reference.cases;

/** The spec of our schedule that a reference case describes. */
function specOf(c: ReferenceCase): ScheduleSpec {
  const p = c.params;
  const stepsPerEpoch = c.steps_per_epoch ?? 1;
  if (c.scheduler === 'StepLR')
    return { type: 'step', lr: p.base_lr!, stepSize: p.step_size!, gamma: p.gamma!, stepsPerEpoch };
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

describe('PyTorch reference (test/reference/lr-schedules.pytorch.json)', () => {
  it('covers epoch and iteration warm restarts and StepLR', () => {
    expect(cases.some((c) => c.mode === 'iteration')).toBe(true);
    expect(cases.some((c) => c.scheduler === 'StepLR')).toBe(true);
    expect(cases.some((c) => c.mode === 'epoch' && c.params.eta_min! > 0)).toBe(true);
    expect(cases.length).toBeGreaterThanOrEqual(12);
  });

  it('names the PyTorch version that made it', () => {
    expect(reference.generator).toMatch(/^PyTorch \d+\.\d+\.\d+\S* torch\.optim\.lr_scheduler$/);
  });

  it('is what test/reference/lr_schedules.py writes (byte for byte; the generator line names the PyTorch that ran)', async (ctx) => {
    if (!requireTorchOrSkip()) return ctx.skip();
    const dir = tempDir('lr-reference');
    try {
      const out = path.join(dir, 'lr-schedules.pytorch.json');
      await runPython(referenceScript('lr_schedules.py'), [out]);
      const fresh = readFileSync(out, 'utf8');
      const freshGenerator = (JSON.parse(fresh) as { generator: string }).generator;
      expect(freshGenerator).toMatch(/^PyTorch \d+\.\d+\.\d+\S* torch\.optim\.lr_scheduler$/);
      // Another PyTorch may run here than the one that wrote the file: only its name may differ.
      const line = (g: string) => `\n "generator": ${JSON.stringify(g)},\n`;
      expect(fresh.includes(line(freshGenerator))).toBe(true);
      expect(fresh.replace(line(freshGenerator), line(reference.generator))).toBe(referenceText);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const c of cases) {
    it(`${c.name}: lrAt, step() and sampleSchedule match to 1e-12`, () => {
      const schedule = scheduleFromSpec(specOf(c));
      const k = schedule.stepsPerEpoch;
      const byLrAt = c.lr.map((_, n) => schedule.lrAt(stepTime(n, k)));
      const byStep = [schedule.lr];
      while (byStep.length < c.lr.length) byStep.push(schedule.step().lr);
      const bySample = sampleSchedule(schedule, c.epochs).lr;
      for (const values of [byLrAt, byStep, bySample])
        expect(maxRelativeError(values, c.lr)).toBeLessThanOrEqual(1e-12);
      // In fact bit for bit: the same operations, a correctly rounded cosine, chained step decays.
      expect(byLrAt).toEqual(c.lr);
    });
  }
});

describe('exact restarts', () => {
  // PyTorch 1.13's CosineAnnealingWarmRestarts.step(t) gives eta_min at both points: its
  // math.log(t/T_0·(T_mult−1)+1, T_mult) comes out just below the integer cycle index. Its implicit
  // step() counts T_cur in integers and is right there: the reference's epoch-mode cases through
  // these restarts (checked bit for bit above) have the peak at both.
  it.each([
    ['warm-epoch-T01-Tm10-eta', 111],
    ['warm-epoch-T01-Tm3-eta', 121],
  ])('the reference %s has the peak at t=%i', (name, t) => {
    const c = cases.find((x) => x.name === name)!;
    expect(c.lr.length).toBeGreaterThan(t);
    expect(c.lr[t]).toBe(c.params.base_lr);
    expect(c.lr[t - 1]).toBeLessThan(c.params.base_lr! / 10);
  });

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
