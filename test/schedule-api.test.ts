/** The schedules' API: validation, specs, state, restart events, warmup, decay, cycle limits, comparators. */
import { describe, expect, it } from 'vitest';
import {
  ConstantLR,
  cosineAnnealing,
  MultiStepLR,
  sampleSchedule,
  ScheduleParamError,
  scheduleFromSpec,
  scheduleFromState,
  StepLR,
  stepTime,
  WarmRestarts,
  type RestartEvent,
  type ScheduleSpec,
} from '../lib/schedule';
import { cosineCorrectlyRounded } from '../lib/schedule/correctly-rounded-cos';

/** The RangeError a construction throws, checked to name `param`. */
function paramError(build: () => unknown, param: string): ScheduleParamError {
  try {
    build();
  } catch (err) {
    expect(err).toBeInstanceOf(RangeError);
    expect(err).toBeInstanceOf(ScheduleParamError);
    const e = err as ScheduleParamError;
    expect(e.param).toBe(param);
    expect(e.message.startsWith(`${param} must be`)).toBe(true);
    expect(e.message).not.toContain('\n');
    return e;
  }
  throw new Error(`expected a RangeError naming ${param}`);
}

describe('cosineCorrectlyRounded', () => {
  // cos(x) rounded to the nearest double, from mpmath at 130 bits. The first 16 are angles where
  // V8's Math.cos is one ulp off; the rest are the ends and the switch points of the evaluation.
  const reference: Array<[number, number]> = [
    [0.7922893457260535, 0.7022172283821985],
    [1.7895069146143228, -0.21697110795890265],
    [0.6408108773936717, 0.8016112419565077],
    [1.1006026496608767, 0.4530589532747587],
    [2.8000393803102184, -0.942235531875324],
    [2.433273235254784, -0.7594562644178228],
    [2.735457433547173, -0.9186545070330617],
    [0.5322317407352957, 0.8616767034243566],
    [2.3892347628136013, -0.730079606652469],
    [2.2042163152188885, -0.5919047518702535],
    [2.432107579232648, -0.7586974213600296],
    [2.599491339278896, -0.8566264272268681],
    [0.8241754189616362, 0.6791624290412889],
    [2.633824013429263, -0.8738316331630247],
    [2.1703727141412097, -0.5642928001335873],
    [2.2255411271440098, -0.6089568379409086],
    [0, 1],
    [3.141592653589793, -1],
    [0.7853981633974483, 0.7071067811865476],
    [2.356194490192345, -0.7071067811865475],
    [1.5707963267948966, 6.123233995736766e-17],
    [1e-300, 1],
    [5e-324, 1],
    [1e-8, 1],
    // PyTorch's (glibc's) cosine at the one angle where the PyTorch reference and V8 disagreed.
    [3.0692797792104867, -0.9973865632354514],
  ];
  it.each(reference)('cos(%f) = %f exactly', (x, expected) => {
    expect(cosineCorrectlyRounded(x)).toBe(expected);
  });
});

describe('cosineAnnealing', () => {
  it('is the SGDR formula, exact at both ends and clamped past tMax', () => {
    expect(cosineAnnealing(0.1, 0.001, 0, 10)).toBe(0.1);
    expect(cosineAnnealing(0.1, 0.001, 10, 10)).toBe(0.001);
    expect(cosineAnnealing(0.1, 0.001, 12, 10)).toBe(0.001);
    expect(cosineAnnealing(0.1, 0, 5, 10)).toBeCloseTo(0.05, 15);
    expect(cosineAnnealing(0.1, 0, 2.5, 10)).toBeCloseTo(0.05 * (1 + Math.SQRT1_2), 15);
  });

  it('rejects a non-positive tMax and a negative tCur', () => {
    paramError(() => cosineAnnealing(0.1, 0, 1, 0), 'tMax');
    paramError(() => cosineAnnealing(0.1, 0, -1, 10), 'tCur');
  });
});

describe('hyper-parameter validation: a RangeError naming the parameter', () => {
  const base = { lr: 0.1, t0: 10 };
  it.each<[string, Record<string, unknown>]>([
    ['t0', { t0: 0 }],
    ['t0', { t0: -3 }],
    ['t0', { t0: Number.NaN }],
    ['t0', { t0: '10' }],
    ['t0', { t0: Infinity }],
    ['tMult', { tMult: 0.5 }],
    ['tMult', { tMult: Number.NaN }],
    ['lr', { lr: 0 }],
    ['lr', { lr: -0.1 }],
    ['lr', { lr: Infinity }],
    ['lr', { lr: undefined }],
    ['etaMin', { etaMin: -1e-3 }],
    ['etaMin', { etaMin: 0.2 }],
    ['stepsPerEpoch', { stepsPerEpoch: 0 }],
    ['stepsPerEpoch', { stepsPerEpoch: 2.5 }],
    ['decay', { decay: 0 }],
    ['decay', { decay: 1.5 }],
    ['warmup', { warmup: -1 }],
    ['warmup', { warmup: 10 }],
    ['cycleLimit', { cycleLimit: 0 }],
    ['cycleLimit', { cycleLimit: 1.5 }],
  ])('WarmRestarts %s: %o', (param, bad) => {
    paramError(() => new WarmRestarts({ ...base, ...bad } as never), param);
  });

  it('comparators', () => {
    paramError(() => new StepLR({ lr: 0.1, stepSize: 0 }), 'stepSize');
    paramError(() => new StepLR({ lr: 0.1, stepSize: 30, gamma: 0 }), 'gamma');
    paramError(() => new StepLR({ lr: 0.1, stepSize: 30, gamma: 2 }), 'gamma');
    paramError(() => new MultiStepLR({ lr: 0.1, milestones: 'x' as never }), 'milestones');
    paramError(() => new MultiStepLR({ lr: 0.1, milestones: [30, -1] }), 'milestones[1]');
    paramError(() => new ConstantLR({ lr: Number.NaN }), 'lr');
  });

  it('lrAt rejects negative or non-finite times', () => {
    const s = new WarmRestarts(base);
    paramError(() => s.lrAt(-1), 't');
    paramError(() => s.lrAt(Number.NaN), 't');
  });
});

describe('scheduleFromSpec', () => {
  const specs: ScheduleSpec[] = [
    { type: 'warm-restarts', lr: 0.1, t0: 10, tMult: 2, etaMin: 0 },
    {
      type: 'warm-restarts',
      lr: 0.1,
      t0: 1.5,
      tMult: 1.5,
      etaMin: 0.01,
      decay: 0.8,
      warmup: 0.5,
      warmupEveryRestart: true,
      cycleLimit: 4,
      stepsPerEpoch: 3,
      label: 'mine',
    },
    { type: 'step', lr: 0.1, stepSize: 60, gamma: 0.1 },
    { type: 'multistep', lr: 0.1, milestones: [120, 60, 160], gamma: 0.2 },
    { type: 'constant', lr: 0.01 },
  ];

  it.each(specs.map((s) => [s.type, s] as const))(
    '%s: builds, and spec() rebuilds the same schedule',
    (_type, spec) => {
      const s = scheduleFromSpec(spec);
      const again = scheduleFromSpec(JSON.parse(JSON.stringify(s.spec())));
      expect(again.spec()).toEqual(s.spec());
      expect(again.name).toBe(s.name);
      for (const t of [0, 0.5, 1, 7.25, 61, 130, 250]) expect(again.lrAt(t)).toBe(s.lrAt(t));
    },
  );

  it('fills defaults, keeps a label and sorts milestones', () => {
    expect(scheduleFromSpec({ type: 'warm-restarts', lr: 0.1, t0: 10 }).spec()).toEqual({
      type: 'warm-restarts',
      lr: 0.1,
      t0: 10,
      tMult: 1,
      etaMin: 0,
      decay: 1,
      warmup: 0,
      warmupEveryRestart: false,
      stepsPerEpoch: 1,
    });
    expect(scheduleFromSpec(specs[1]!).name).toBe('mine');
    expect(scheduleFromSpec(specs[3]!).spec()).toMatchObject({ milestones: [60, 120, 160] });
  });

  it('rejects unknown types and fields with a TypeError that names them', () => {
    expect(() => scheduleFromSpec({ type: 'cosine' } as never)).toThrow(/unknown schedule type "cosine"/);
    expect(() => scheduleFromSpec({ type: 'step', lr: 0.1, stepSize: 3, t0: 1 } as never)).toThrow(TypeError);
    expect(() => scheduleFromSpec({ type: 'warm-restarts', lr: 0.1, t0: 1, tmult: 2 } as never)).toThrow(/"tmult"/);
    expect(() => scheduleFromSpec(null as never)).toThrow(TypeError);
  });
});

describe('WarmRestarts', () => {
  it('lays out cycles T_0·T_mult^i with exact integer starts', () => {
    const s = new WarmRestarts({ lr: 0.1, t0: 10, tMult: 2 });
    expect(s.cycles(150).map((c) => [c.start, c.length, c.end])).toEqual([
      [0, 10, 10],
      [10, 20, 30],
      [30, 40, 70],
      [70, 80, 150],
    ]);
    expect(s.cycleIndexAt(29.999)).toBe(1);
    expect(s.cycleIndexAt(30)).toBe(2);
  });

  it('handles real T_mult, with restarts at the accumulated starts', () => {
    const s = new WarmRestarts({ lr: 0.1, t0: 1, tMult: 1.5, stepsPerEpoch: 4 });
    expect(s.cycles(9).map((c) => c.start)).toEqual([0, 1, 2.5, 4.75, 8.125]);
    s.cycles(9).forEach((c, i) => expect(c.length).toBeCloseTo(1.5 ** i, 14));
    const restarts: number[] = [];
    s.onRestart((e) => restarts.push(e.t));
    for (let n = 0; n < 40; n++) s.step();
    expect(restarts).toEqual([1, 2.5, 4.75, 8.25]); // 8.125 is reached at the first step after it
  });

  it('treats a time within rounding of a real-valued restart as the restart', () => {
    // 3 · 0.1 is 0.30000000000000004, while batch 3 of 10 is at t = 0.3.
    const s = new WarmRestarts({ lr: 0.1, t0: 0.1, stepsPerEpoch: 10 });
    for (let n = 0; n < 30; n++) expect(s.step()).toMatchObject({ lr: 0.1, restart: { cycle: { index: n + 1 } } });
    // T_mult barely above 1: many cycles, still located without walking them one by one.
    const near = new WarmRestarts({ lr: 0.1, t0: 0.01, tMult: 1 + 1e-9 });
    const { cycle } = near.positionAt(1e4)!;
    expect(cycle.index).toBeGreaterThan(900_000);
    expect(near.lrAt(cycle.start)).toBe(0.1);
    expect(near.cycleIndexAt(cycle.end)).toBe(cycle.index + 1);
  });

  it('decays the peak per cycle (timm cycle_decay), never below eta_min', () => {
    const s = new WarmRestarts({ lr: 0.1, t0: 5, etaMin: 0.02, decay: 0.5 });
    expect(s.cycles(25).map((c) => c.peak)).toEqual([0.1, 0.05, 0.025, 0.02, 0.02]);
    expect(s.lrAt(5)).toBe(0.05);
    expect(s.lrAt(12.5)).toBeCloseTo(0.0225, 15);
  });

  it('warms up linearly at the start, and at every restart when asked', () => {
    const once = new WarmRestarts({ lr: 0.1, t0: 10, etaMin: 0.01, warmup: 2 });
    expect([once.lrAt(0), once.lrAt(2)]).toEqual([0.01, 0.1]);
    expect(once.lrAt(1)).toBeCloseTo(0.055, 15);
    expect(once.lrAt(6)).toBeCloseTo(cosineAnnealing(0.1, 0.01, 4, 8), 15);
    expect(once.lrAt(10)).toBe(0.1);
    const every = new WarmRestarts({ lr: 0.1, t0: 10, etaMin: 0.01, warmup: 2, warmupEveryRestart: true });
    expect([every.lrAt(10), every.lrAt(12)]).toEqual([0.01, 0.1]);
    expect(every.lrAt(11)).toBeCloseTo(0.055, 15);
    expect(every.cycles(20).map((c) => c.warmup)).toEqual([2, 2]);
  });

  it('stays at eta_min after cycleLimit cycles, with no restart after the last', () => {
    const s = new WarmRestarts({ lr: 0.1, t0: 2, tMult: 2, etaMin: 0.001, cycleLimit: 2 });
    expect(s.cycles(100)).toHaveLength(2);
    expect(s.lrAt(2)).toBe(0.1);
    expect(s.lrAt(6)).toBe(0.001);
    expect(s.lrAt(50)).toBe(0.001);
    expect(s.positionAt(7)).toBeNull();
    expect(s.cycleIndexAt(7)).toBe(2);
    const events: RestartEvent[] = [];
    s.onRestart((e) => events.push(e));
    for (let n = 0; n < 20; n++) s.step();
    expect(events.map((e) => e.cycle.index)).toEqual([1]);
  });

  it('tells restart listeners the new cycle, until they unsubscribe', () => {
    const s = new WarmRestarts({ lr: 0.1, t0: 1, tMult: 2, stepsPerEpoch: 2 });
    const seen: Array<[number, number, number]> = [];
    const off = s.onRestart((e) => seen.push([e.cycle.index, e.iteration, e.t]));
    for (let n = 0; n < 8; n++) s.step();
    off();
    for (let n = 0; n < 8; n++) s.step();
    expect(seen).toEqual([
      [1, 2, 1],
      [2, 6, 3],
    ]);
  });

  it('state() is plain JSON; restore() refuses another schedule or a bad iteration', () => {
    const s = new WarmRestarts({ lr: 0.1, t0: 3, tMult: 2, stepsPerEpoch: 5 });
    for (let n = 0; n < 17; n++) s.step();
    const state = JSON.parse(JSON.stringify(s.state()));
    expect(state).toEqual({ spec: s.spec(), iteration: 17 });
    expect(scheduleFromState(state).t).toBe(s.t);
    expect(() => new WarmRestarts({ lr: 0.1, t0: 3, tMult: 3, stepsPerEpoch: 5 }).restore(state)).toThrow(
      /not for this schedule/,
    );
    expect(() =>
      new WarmRestarts({ lr: 0.1, t0: 3, tMult: 2, stepsPerEpoch: 5 }).restore({ ...state, iteration: -1 }),
    ).toThrow(RangeError);
    expect(() => scheduleFromState(undefined as never)).toThrow(TypeError);
  });
});

describe('comparators', () => {
  it('StepLR decays by gamma every stepSize epochs, exactly at the boundary', () => {
    const s = new StepLR({ lr: 0.1, stepSize: 30, gamma: 0.1 });
    expect([s.lrAt(0), s.lrAt(29.99), s.lrAt(30), s.lrAt(60)]).toEqual([0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1 * 0.1]);
    const fractional = new StepLR({ lr: 1, stepSize: 0.1, gamma: 0.5 });
    expect(fractional.lrAt(0.3)).toBe(0.125); // 0.3 / 0.1 is 2.9999999999999996 in floating point
  });

  it('MultiStepLR decays at each milestone, twice at a repeated one (as PyTorch)', () => {
    const s = new MultiStepLR({ lr: 1, milestones: [10, 5, 10], gamma: 0.5 });
    expect([s.lrAt(4), s.lrAt(5), s.lrAt(9.9), s.lrAt(10), s.lrAt(100)]).toEqual([1, 0.5, 0.5, 0.125, 0.125]);
  });

  it('have one open cycle and never restart', () => {
    for (const s of [
      new StepLR({ lr: 0.1, stepSize: 2 }),
      new MultiStepLR({ lr: 0.1, milestones: [1] }),
      new ConstantLR({ lr: 0.1 }),
    ]) {
      expect(s.cycles(100)).toEqual([{ index: 0, start: 0, length: Infinity, end: Infinity, peak: 0.1, warmup: 0 }]);
      for (let n = 0; n < 10; n++) expect(s.step().restart).toBeUndefined();
      expect(s.cycleIndexAt(s.t)).toBe(0);
    }
    expect(new ConstantLR({ lr: 0.3 }).lrAt(1e6)).toBe(0.3);
  });
});

describe('stepping', () => {
  it('stepTime is e + i/K', () => {
    expect([0, 1, 6, 7, 8, 15].map((n) => stepTime(n, 7))).toEqual([0, 1 / 7, 6 / 7, 1, 1 + 1 / 7, 2 + 1 / 7]);
  });

  it('sampleSchedule gives epochs × K values, equal to stepping', () => {
    const s = new WarmRestarts({ lr: 0.05, t0: 1, tMult: 2, etaMin: 1e-4, stepsPerEpoch: 7 });
    const samples = sampleSchedule(s, 40);
    expect(samples.lr).toHaveLength(280);
    const stepped = [s.lr];
    for (let n = 1; n < 280; n++) stepped.push(s.step().lr);
    expect(samples.lr).toEqual(stepped);
    expect(sampleSchedule(s, 3, 2).t).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
  });
});
