/** lib/experiment/stats: mean/std (n − 1), Student t, paired intervals, RBF smoothing, curve summaries. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bestEpoch,
  defaultBandwidth,
  epochsToTarget,
  mean,
  meanStd,
  normalCdf,
  pairedDifference,
  rbfSmooth,
  sampleStd,
  tCdf,
  tQuantile,
} from '../lib/experiment';

describe('mean and sample std', () => {
  it('use n − 1 and ignore non-finite values', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(sampleStd([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(2.138089935299395, 14);
    expect(meanStd([1, null, 3, NaN, undefined])).toEqual({ mean: 2, std: Math.SQRT2, n: 2 });
    expect(meanStd([5])).toEqual({ mean: 5, std: NaN, n: 1 });
    expect(meanStd([])).toEqual({ mean: NaN, std: NaN, n: 0 });
  });
});

describe('Student t', () => {
  it('CDF matches the closed forms for 1, 2 and 3 degrees of freedom', () => {
    for (const t of [-7, -1.3, -0.2, 0, 0.4, 1, 2.5, 30]) {
      expect(tCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 12);
      expect(tCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 12);
      const u = t / Math.sqrt(3);
      expect(tCdf(t, 3)).toBeCloseTo(0.5 + (u / (1 + u * u) + Math.atan(u)) / Math.PI, 12);
    }
    expect(normalCdf(1.5)).toBeCloseTo(0.9331927987311419, 12);
    expect(tCdf(1.5, Infinity)).toBeCloseTo(0.9331927987311419, 12);
  });

  it('quantiles match the tables', () => {
    const table: Array<[number, number, number]> = [
      [0.975, 1, 12.706204736174698],
      [0.975, 2, 4.302652729749464],
      [0.975, 4, 2.7764451051977934],
      [0.975, 19, 2.093024054408263],
      [0.975, 30, 2.0422724563012373],
      [0.95, 5, 2.015048372669157],
      [0.999, 3, 10.214531852407385],
      [0.975, Infinity, 1.959963984540054],
    ];
    for (const [p, df, q] of table) expect(tQuantile(p, df)).toBeCloseTo(q, 8);
    expect(tQuantile(0.025, 4)).toBeCloseTo(-2.7764451051977934, 8);
    expect(tQuantile(0.5, 7)).toBe(0);
    expect(() => tQuantile(1, 3)).toThrow(RangeError);
    expect(() => tQuantile(0.9, 0)).toThrow(RangeError);
  });

  it('quantile inverts the CDF', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 0.999, noNaN: true }), fc.integer({ min: 1, max: 200 }), (p, df) => {
        expect(tCdf(tQuantile(p, df), df)).toBeCloseTo(p, 9);
      }),
      { numRuns: 200 },
    );
  });
});

describe('paired differences', () => {
  it('mean ± t·sd/√n over the pairs where both values are finite', () => {
    const a = [0.5, 0.48, 0.55, 0.47, NaN];
    const b = [0.52, 0.51, 0.56, 0.5, 0.4];
    const d = pairedDifference(a, b);
    const diffs = [-0.02, -0.03, -0.01, -0.03];
    const m = diffs.reduce((x, y) => x + y) / 4;
    const sd = Math.sqrt(diffs.reduce((s, x) => s + (x - m) ** 2, 0) / 3);
    expect(d.n).toBe(4);
    expect(d.mean).toBeCloseTo(m, 14);
    expect(d.std).toBeCloseTo(sd, 14);
    const half = 3.182446305284263 * (sd / 2);
    expect(d.ci![0]).toBeCloseTo(m - half, 10);
    expect(d.ci![1]).toBeCloseTo(m + half, 10);
    expect(d.ci![1]).toBeLessThan(0);
    expect(d.t).toBeCloseTo(m / (sd / 2), 10);
  });

  it('has no interval for one pair, and refuses unpaired samples', () => {
    expect(pairedDifference([1], [0.5])).toMatchObject({ mean: 0.5, n: 1, ci: null });
    expect(() => pairedDifference([1, 2], [1])).toThrow(RangeError);
  });
});

describe('RBF smoothing', () => {
  it('is the Gaussian-kernel weighted mean with the stated bandwidth', () => {
    const x = [1, 2, 3, 4, 5];
    const y = [1, 3, 2, 5, 4];
    const h = 1.5;
    const s = rbfSmooth(x, y, h);
    const at = (x0: number) => {
      const w = x.map((xi) => Math.exp(-((xi - x0) ** 2) / (2 * h * h)));
      return w.reduce((acc, wi, i) => acc + wi * y[i]!, 0) / w.reduce((a, b) => a + b);
    };
    x.forEach((x0, i) => expect(s[i]).toBeCloseTo(at(x0), 14));
  });

  it('keeps constants, skips gaps, and approaches the data as the bandwidth shrinks', () => {
    expect(rbfSmooth([1, 2, 3], [2, 2, 2], 3)).toEqual([2, 2, 2].map((v) => expect.closeTo(v, 14)));
    expect(rbfSmooth([1, 2, 3], [1, NaN, 3], 0.5)[1]).toBeCloseTo(2, 14);
    const y = [0.9, 0.4, 0.7];
    rbfSmooth([1, 2, 3], y, 0.05).forEach((v, i) => expect(v).toBeCloseTo(y[i]!, 10));
    expect(() => rbfSmooth([1], [1], 0)).toThrow(RangeError);
    expect(defaultBandwidth(7)).toBe(0.5);
    expect(defaultBandwidth(200)).toBe(5);
  });
});

describe('curve summaries', () => {
  it('best epoch and epochs to a target', () => {
    expect(bestEpoch([1, 2, 3, 4], [0.9, 0.5, null, 0.5])).toEqual({ epoch: 2, value: 0.5 });
    expect(bestEpoch([1], [null])).toBeNull();
    expect(epochsToTarget([1, 2, 3], [0.9, 0.6, 0.4], 0.6)).toBe(2);
    expect(epochsToTarget([1, 2, 3], [0.9, 0.6, 0.4], 0.3)).toBeNull();
  });
});
