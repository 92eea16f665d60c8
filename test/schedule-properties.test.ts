/**
 * Properties of WarmRestarts over thousands of random configurations (real and integer T_0 and
 * T_mult, eta_min, per-cycle decay, warmup, cycle limits, steps per epoch).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scheduleFromState, stepTime, WarmRestarts, type WarmRestartsOptions } from '../lib/schedule';

const RUNS = 1000;

const options: fc.Arbitrary<WarmRestartsOptions> = fc
  .record({
    lr: fc.double({ min: 1e-4, max: 1, noNaN: true }),
    etaMinFraction: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
    t0: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.double({ min: 0.05, max: 20, noNaN: true })),
    tMult: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.double({ min: 1, max: 3, noNaN: true })),
    decay: fc.oneof(fc.constant(1), fc.double({ min: 0.05, max: 1, noNaN: true })),
    warmupFraction: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.9, noNaN: true })),
    warmupEveryRestart: fc.boolean(),
    cycleLimit: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
    stepsPerEpoch: fc.integer({ min: 1, max: 12 }),
  })
  .map(({ etaMinFraction, warmupFraction, cycleLimit, ...o }) => ({
    ...o,
    etaMin: o.lr * etaMinFraction,
    warmup: o.t0 * warmupFraction,
    ...(cycleLimit === undefined ? {} : { cycleLimit }),
  }));

const noWarmup = options.map((o) => ({ ...o, warmup: 0 }));
const time = fc.double({ min: 0, max: 300, noNaN: true });

/** Enough steps to see a few cycles, bounded so the suite stays quick on 2 cores. */
const stepsFor = (s: WarmRestarts): number => Math.min(400, Math.ceil(s.stepsPerEpoch * Math.min(s.t0 * 6, 60)));

describe('WarmRestarts properties', () => {
  it('the LR lies within [eta_min, peak of its cycle]', () => {
    fc.assert(
      fc.property(options, time, (o, t) => {
        const s = new WarmRestarts(o);
        const lr = s.lrAt(t);
        const position = s.positionAt(t);
        const top = position ? position.cycle.peak : s.etaMin;
        expect(lr).toBeGreaterThanOrEqual(s.etaMin);
        expect(lr).toBeLessThanOrEqual(top);
        expect(top).toBeLessThanOrEqual(s.etaMax);
      }),
      { numRuns: RUNS },
    );
  });

  it('without warmup the LR is exactly the peak at every restart, and steps landing on one report it', () => {
    fc.assert(
      fc.property(noWarmup, (o) => {
        const s = new WarmRestarts(o);
        const cycles = s.cycles(200);
        for (const c of cycles) expect(s.lrAt(c.start)).toBe(c.peak);
        for (let i = 1; i < cycles.length; i++) expect(cycles[i]!.start).toBe(cycles[i - 1]!.end);
        const steps = stepsFor(s);
        let restarts = 0;
        for (let n = 0; n < steps; n++) {
          const r = s.step();
          if (r.restart) {
            restarts++;
            expect(r.cycle).toBe(r.restart.cycle.index);
            if (r.t === r.restart.cycle.start) expect(r.lr).toBe(r.restart.cycle.peak);
          }
        }
        // Every cycle start passed by the steps was reported (several in one step count once); a
        // real-valued start counts as passed within its rounding tolerance (1e-12 relative).
        const passed = cycles.filter((c) => c.index > 0 && c.start - 1e-12 * c.start <= s.t).length;
        expect(restarts).toBeLessThanOrEqual(passed);
        if (s.stepsPerEpoch * s.t0 >= 1) expect(restarts).toBe(passed);
      }),
      { numRuns: RUNS },
    );
  });

  it('the LR never increases inside a cycle after its warmup', () => {
    fc.assert(
      fc.property(options, (o) => {
        const s = new WarmRestarts(o);
        let previous = s.positionAt(0);
        let lr = s.lr;
        for (let n = 0, steps = stepsFor(s); n < steps; n++) {
          const r = s.step();
          const position = s.positionAt(r.t);
          const sameCycle = position && previous && position.cycle.index === previous.cycle.index;
          if (sameCycle && previous!.tCur >= previous!.cycle.warmup) expect(r.lr).toBeLessThanOrEqual(lr);
          previous = position;
          lr = r.lr;
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('lrAt(t) equals the LR after stepping to t', () => {
    fc.assert(
      fc.property(options, fc.integer({ min: 0, max: 600 }), (o, steps) => {
        const s = new WarmRestarts(o);
        for (let n = 0; n < steps; n++) s.step();
        expect(s.t).toBe(stepTime(steps, s.stepsPerEpoch));
        expect(s.lr).toBe(s.lrAt(s.t));
        expect(s.iteration).toBe(steps);
      }),
      { numRuns: RUNS },
    );
  });

  it('restoring state() at any step (through JSON) continues with identical values and restarts', () => {
    fc.assert(
      fc.property(options, fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 200 }), (o, before, after) => {
        const original = new WarmRestarts(o);
        for (let n = 0; n < before; n++) original.step();
        const resumed = scheduleFromState(JSON.parse(JSON.stringify(original.state())));
        expect(resumed.lr).toBe(original.lr);
        for (let n = 0; n < after; n++) {
          const a = original.step();
          const b = resumed.step();
          expect(b).toEqual(a);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
