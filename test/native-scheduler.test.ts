// The native CosineAnnealingLR/StepLR against the TS formulas, and SGDR driven through the native
// scheduler (the restart manager resets it at every restart) against WarmRestarts.lrAt.
import { describe, expect, it } from 'vitest';
import {
  CosineAnnealingLR,
  cosineAnnealing,
  resnet,
  SGD,
  StepLR,
  StepLRScheduler,
  WarmRestarts,
  WarmRestartsDriver,
} from '../lib';

const model = resnet('resnet18', { numClasses: 2, stem: 'cifar' });
const rel = (a: number, b: number) => (b === 0 ? Math.abs(a) : Math.abs(a - b) / Math.abs(b));

describe('native LR schedulers', () => {
  it('CosineAnnealingLR: PyTorch semantics, closed form at integer and fractional t', () => {
    const opt = new SGD(model, { lr: 0.1, momentum: 0.9 });
    const s = new CosineAnnealingLR(opt, { tMax: 10, etaMin: 0.001 });
    expect(opt.lr).toBe(0.1); // construction applies t = 0
    for (let e = 1; e <= 25; e++) {
      s.step();
      // Past T_max PyTorch's closed form keeps following the cosine (back up); so does ours.
      const expected =
        e <= 10 ? cosineAnnealing(0.1, 0.001, e, 10) : 0.001 + ((0.1 - 0.001) * (1 + Math.cos((Math.PI * e) / 10))) / 2;
      expect(rel(opt.lr, expected)).toBeLessThan(1e-12);
    }
    s.setEpoch(3.25);
    expect(rel(opt.lr, cosineAnnealing(0.1, 0.001, 3.25, 10))).toBeLessThan(1e-12);
    expect(() => new CosineAnnealingLR(opt, { tMax: 0 })).toThrow(/tMax must be a finite number > 0/);
    expect(() => s.setEpoch(-1)).toThrow(RangeError);
  });

  it('StepLRScheduler equals StepLR.lrAt', () => {
    const opt = new SGD(model, { lr: 0.001 });
    const s = new StepLRScheduler(opt, { stepSize: 7, gamma: 0.1 });
    const ref = new StepLR({ lr: 0.001, stepSize: 7, gamma: 0.1 });
    for (let e = 1; e < 40; e++) {
      s.step();
      expect(rel(opt.lr, ref.lrAt(e))).toBeLessThan(1e-12);
    }
    expect(() => new StepLRScheduler(opt, { stepSize: 0 })).toThrow(/stepSize/);
  });

  const configs = [
    { lr: 0.1, t0: 1, tMult: 2 },
    { lr: 0.05, t0: 10, tMult: 2, etaMin: 1e-4 },
    { lr: 0.1, t0: 3, tMult: 1.5, decay: 0.7 },
    { lr: 0.2, t0: 4, tMult: 2, warmup: 0.5, warmupEveryRestart: true, etaMin: 0.01 },
    { lr: 0.1, t0: 2, tMult: 1, cycleLimit: 3 },
    // k-decay: the native cosine runs over T_cur^k out of T_i^k.
    { lr: 0.1, t0: 3, tMult: 2, etaMin: 0.001, kDecay: 2 },
    { lr: 0.2, t0: 4, tMult: 1.5, warmup: 0.5, kDecay: 0.5 },
  ];
  for (const cfg of configs) {
    it(`SGDR through the native scheduler equals lrAt: ${JSON.stringify(cfg)}`, () => {
      const opt = new SGD(model, { lr: cfg.lr, momentum: 0.9 }, [{ prefixes: ['fc.'], options: { lr: cfg.lr / 10 } }]);
      const schedule = new WarmRestarts(cfg);
      // Group 1 anneals from a tenth of the peak to the same eta_min, as in PyTorch.
      const groupOne = new WarmRestarts({ ...cfg, lr: cfg.lr / 10 });
      const driver = new WarmRestartsDriver(schedule, opt);
      const K = 7;
      let worst = 0;
      for (let step = 0; step <= 30 * K; step++) {
        const t = step / K;
        driver.setTime(t);
        const expected = schedule.lrAt(t);
        worst = Math.max(worst, rel(opt.getLr(0), expected));
        expect(rel(opt.getLr(1), groupOne.lrAt(t))).toBeLessThan(1e-12);
      }
      // The C library's cosine and the correctly rounded TS one can differ by an ulp.
      expect(worst).toBeLessThan(1e-12);
      console.log(`worst relative difference ${worst.toExponential(2)}`);
    });
  }
});
