/**
 * k-decay (Zhang & Li 2020, arXiv 2004.05909) against timm's own CosineLRScheduler(k_decay=k):
 * every case of test/reference/lr-schedules.timm-k-decay.json (written by
 * test/reference/k_decay_schedules.py with timm 1.0.29) to ≤ 1e-12 relative through lrAt, step(),
 * sampleSchedule and `sgdr schedule --k-decay K --json`; the formula's fixed points; that k = 1 is
 * plain SGDR bit for bit and leaves the spec as it was; and the errors for a bad k.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  kDecayAnnealing,
  sampleSchedule,
  ScheduleParamError,
  scheduleFromSpec,
  stepTime,
  WarmRestarts,
  type WarmRestartsSpec,
} from '../lib/schedule';
import { runCommand } from './helpers/cli';
import { referenceScript, tempDir } from './helpers/native';
import { PYTHON, runPython } from './helpers/python';

interface TimmCase {
  name: string;
  mode: 'epoch' | 'iteration';
  steps_per_epoch?: number;
  params: {
    T_0: number;
    T_mult: number;
    eta_min: number;
    base_lr: number;
    k_decay: number;
    decay: number;
    cycle_limit: number;
  };
  epochs: number;
  lr: number[];
}

const ROOT = path.resolve(__dirname, '..');
const REFERENCE = path.resolve(__dirname, 'reference/lr-schedules.timm-k-decay.json');
const referenceText = readFileSync(REFERENCE, 'utf8');
const reference = JSON.parse(referenceText) as { generator: string; cases: TimmCase[] };
/** The generator's stand-in for "no cycle limit": a limit past every case's run. */
const UNLIMITED = 1e6;

/** Our spec for a timm case: t_initial = T_0, cycle_mul = T_mult, lr_min = eta_min, cycle_decay = decay. */
function specOf(c: TimmCase): WarmRestartsSpec {
  const p = c.params;
  return {
    type: 'warm-restarts',
    lr: p.base_lr,
    t0: p.T_0,
    tMult: p.T_mult,
    etaMin: p.eta_min,
    decay: p.decay,
    kDecay: p.k_decay,
    stepsPerEpoch: c.steps_per_epoch ?? 1,
    ...(p.cycle_limit < UNLIMITED ? { cycleLimit: p.cycle_limit } : {}),
  };
}

function maxRelativeError(actual: number[], expected: number[]): number {
  expect(actual).toHaveLength(expected.length);
  return expected.reduce(
    (worst, e, i) => Math.max(worst, e === 0 ? Math.abs(actual[i]!) : Math.abs(actual[i]! - e) / Math.abs(e)),
    0,
  );
}

describe("timm's k-decay reference (test/reference/lr-schedules.timm-k-decay.json)", () => {
  it('covers several k (with k = 1 as the control), T_mult > 1, eta_min > 0, cycle decay, a cycle limit, per epoch and per batch', () => {
    const ks = new Set(reference.cases.map((c) => c.params.k_decay));
    expect(ks.size).toBeGreaterThanOrEqual(5);
    expect(ks.has(1)).toBe(true);
    expect([...ks].some((k) => k < 1)).toBe(true);
    expect(reference.cases.some((c) => c.mode === 'iteration')).toBe(true);
    expect(reference.cases.some((c) => c.params.T_mult > 1 && c.params.k_decay !== 1)).toBe(true);
    expect(reference.cases.some((c) => c.params.decay < 1)).toBe(true);
    expect(reference.cases.some((c) => c.params.cycle_limit < UNLIMITED)).toBe(true);
    expect(reference.generator).toBe('timm 1.0.29 timm.scheduler.cosine_lr.CosineLRScheduler');
  });

  for (const c of reference.cases) {
    it(`${c.name}: lrAt, step() and sampleSchedule match timm to 1e-12`, () => {
      const schedule = scheduleFromSpec(specOf(c));
      const k = schedule.stepsPerEpoch;
      const byLrAt = c.lr.map((_, n) => schedule.lrAt(stepTime(n, k)));
      const byStep = [schedule.lr];
      while (byStep.length < c.lr.length) byStep.push(schedule.step().lr);
      const bySample = sampleSchedule(schedule, c.epochs).lr;
      for (const values of [byLrAt, byStep, bySample])
        expect(maxRelativeError(values, c.lr)).toBeLessThanOrEqual(1e-12);
    });
  }

  it('the reference really bends the cosine: k = 2 stays above plain SGDR inside every cycle', () => {
    const c = reference.cases.find((x) => x.name === 'k2-epoch-T010-Tm1')!;
    const plain = new WarmRestarts({ lr: 0.1, t0: 10 });
    let above = 0;
    c.lr.forEach((v, e) => {
      if (e % 10 !== 0) {
        expect(v).toBeGreaterThan(plain.lrAt(e));
        above++;
      }
    });
    expect(above).toBe(54);
  });

  it('`sgdr schedule --k-decay K --json` prints the reference sequences', async () => {
    for (const c of reference.cases) {
      const p = c.params;
      const args = [
        path.join(ROOT, 'bin/sgdr.js'),
        'schedule',
        '--scheduler',
        'warm-restarts',
        '--lr',
        String(p.base_lr),
        '--t0',
        String(p.T_0),
        '--t-mult',
        String(p.T_mult),
        '--eta-min',
        String(p.eta_min),
        '--decay',
        String(p.decay),
        '--k-decay',
        String(p.k_decay),
        '--epochs',
        String(c.epochs),
        '--steps-per-epoch',
        String(c.steps_per_epoch ?? 1),
        '--json',
        ...(p.cycle_limit < UNLIMITED ? ['--cycle-limit', String(p.cycle_limit)] : []),
      ];
      const r = await runCommand(process.execPath, args, { cwd: ROOT });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(maxRelativeError((JSON.parse(r.stdout) as { lr: number[] }).lr, c.lr)).toBeLessThanOrEqual(1e-12);
    }
  });

  it('is what test/reference/k_decay_schedules.py writes, when a Python with timm is at hand ($SGDR_TIMM_PYTHON, .venv/timm)', async (ctx) => {
    // scripts/setup-timm.sh makes .venv/timm from the local wheel; CI runs it before npm test.
    const venv = path.join(__dirname, '..', '.venv', 'timm', 'bin', 'python');
    const timmPython = process.env.SGDR_TIMM_PYTHON ?? (existsSync(venv) ? venv : undefined);
    const python = timmPython ?? PYTHON;
    const probe = spawnSync(python, ['-c', 'import timm.scheduler.cosine_lr'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      // timm is not a dependency of the project: without it the committed file is the reference.
      if (timmPython) throw new Error(`${python} cannot import timm: ${probe.stderr}`);
      if (process.env.CI)
        throw new Error(
          'no Python with timm (make it with: bash scripts/setup-timm.sh); CI must regenerate the k-decay reference',
        );
      return ctx.skip();
    }
    const dir = tempDir('k-decay-reference');
    try {
      const out = path.join(dir, 'lr-schedules.timm-k-decay.json');
      if (timmPython) {
        const r = spawnSync(python, ['-c', referenceScript('k_decay_schedules.py'), out], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
      } else {
        await runPython(referenceScript('k_decay_schedules.py'), [out]);
      }
      expect(readFileSync(out, 'utf8')).toBe(referenceText);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('k-decay in the library', () => {
  it('is exactly eta_max at the start of a cycle and eta_min at its end, for any k', () => {
    for (const k of [0.25, 0.5, 2, 7]) {
      expect(kDecayAnnealing(0.1, 0.001, 0, 10, k)).toBe(0.1);
      expect(kDecayAnnealing(0.1, 0.001, 10, 10, k)).toBe(0.001);
      const s = new WarmRestarts({ lr: 0.1, t0: 3, tMult: 2, etaMin: 0.001, kDecay: k });
      for (const start of [0, 3, 9, 21]) expect(s.lrAt(start)).toBe(0.1);
    }
  });

  it('the paper: at T_cur/T_i = x the LR is that of plain cosine annealing at x^k', () => {
    const plain = new WarmRestarts({ lr: 0.1, t0: 1, etaMin: 0 });
    const bent = new WarmRestarts({ lr: 0.1, t0: 8, etaMin: 0, kDecay: 3 });
    for (let i = 1; i < 8; i++) {
      const x = i / 8;
      expect(Math.abs(bent.lrAt(i) - plain.lrAt(x ** 3)) / plain.lrAt(x ** 3)).toBeLessThan(1e-12);
    }
  });

  it('k = 1 is plain SGDR bit for bit, and its spec has no kDecay (checkpoints of plain runs unchanged)', () => {
    const options = { lr: 0.05, t0: 1, tMult: 2, etaMin: 1e-4, stepsPerEpoch: 7 };
    const plain = new WarmRestarts(options);
    const one = new WarmRestarts({ ...options, kDecay: 1 });
    for (let n = 0; n < 31 * 7; n++) expect(one.lrAt(stepTime(n, 7))).toBe(plain.lrAt(stepTime(n, 7)));
    expect(one.spec()).toEqual(plain.spec());
    expect('kDecay' in plain.spec()).toBe(false);
    const bent = new WarmRestarts({ ...options, kDecay: 2 });
    expect(bent.spec()).toMatchObject({ kDecay: 2 });
    expect(bent.name).toBe('SGDR T0=1, Tmult=2, k=2');
    // The spec round-trips, and a state resumes exactly.
    const again = scheduleFromSpec(bent.spec());
    for (let n = 0; n < 50; n++) bent.step();
    again.restore(bent.state());
    expect(again.lr).toBe(bent.lr);
  });

  it('warmup ramps first; the bent cosine then runs over the rest of the cycle', () => {
    const s = new WarmRestarts({ lr: 0.1, t0: 5, warmup: 1, etaMin: 0, kDecay: 2 });
    expect(s.lrAt(0.5)).toBeCloseTo(0.05, 15);
    expect(s.lrAt(1)).toBe(0.1);
    expect(s.lrAt(3)).toBeCloseTo(kDecayAnnealing(0.1, 0, 2, 4, 2), 15);
  });

  it.each([0, -1, Number.NaN, Infinity, '2'])('kDecay %s is refused naming kDecay', (k) => {
    let caught: unknown;
    try {
      scheduleFromSpec({ type: 'warm-restarts', lr: 0.1, t0: 10, kDecay: k as number });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ScheduleParamError);
    expect((caught as ScheduleParamError).param).toBe('kDecay');
    expect((caught as Error).message).toMatch(/^kDecay must be a finite number > 0, got /);
  });

  it('kDecay is a field of warm-restarts only', () => {
    expect(() => scheduleFromSpec({ type: 'step', lr: 0.1, stepSize: 3, kDecay: 2 } as never)).toThrow(
      /unknown field "kDecay" in a "step" schedule spec/,
    );
  });

  it('a k that over- or underflows T_i^k is named', () => {
    const s = new WarmRestarts({ lr: 0.1, t0: 1e6, kDecay: 100 });
    expect(() => s.lrAt(1)).toThrow(/kDecay 100 is out of range for a cycle of 1000000 epochs/);
  });
});

describe('k-decay on the command line', () => {
  const sgdr = (...args: string[]) =>
    spawnSync(process.execPath, [path.join(ROOT, 'bin/sgdr.js'), 'schedule', ...args], { cwd: ROOT, encoding: 'utf8' });

  it('a bad --k-decay is one line naming the flag', () => {
    for (const [value, message] of [
      ['0', '--k-decay must be a finite number > 0, got 0'],
      ['-2', '--k-decay must be a finite number > 0, got -2'],
    ]) {
      const r = sgdr('--scheduler', 'warm-restarts', '--k-decay', value!, '--epochs', '3');
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(message);
    }
  });

  it('--k-decay does not apply to step decay', () => {
    const r = sgdr('--scheduler', 'step', '--step-size', '3', '--k-decay', '2', '--epochs', '3');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--k-decay does not apply to --scheduler step');
  });
});
