// Small pure pieces of the training engine: snapshot points, normalized weight decay, the
// ensemble metric, and identical initial weights for identical seeds.
import { describe, expect, it } from 'vitest';
import { cycleEnds, ensembleMetrics, normalizedWeightDecay, resnet, StepLR, WarmRestarts } from '../lib';

describe('training engine units', () => {
  it('cycle ends: T_0=1, T_mult=2 snapshots after epochs 1, 3, 7, 15; step decay has none', () => {
    expect([...cycleEnds(new WarmRestarts({ lr: 0.1, t0: 1, tMult: 2 }), 15).keys()]).toEqual([1, 3, 7, 15]);
    expect([...cycleEnds(new WarmRestarts({ lr: 0.1, t0: 10, tMult: 2 }), 40).keys()]).toEqual([10, 30]);
    // A cycle that ends inside an epoch is snapshotted when that epoch ends.
    expect([...cycleEnds(new WarmRestarts({ lr: 0.1, t0: 1.5, tMult: 1 }), 5).keys()]).toEqual([2, 3, 5]);
    expect(cycleEnds(new StepLR({ lr: 0.1, stepSize: 3 }), 10).size).toBe(0);
  });

  it('normalized weight decay follows the AdamW paper: w_norm·sqrt(b/(B·T))', () => {
    expect(normalizedWeightDecay(0.05, 128, 50000, 100)).toBeCloseTo(0.05 * Math.sqrt(128 / (50000 * 100)), 15);
    expect(() => normalizedWeightDecay(-1, 1, 1, 1)).toThrow(RangeError);
  });

  it('ensemble metric: mean of softmax outputs', () => {
    // Two snapshots that disagree; the mean picks class 1 for example 0 and class 0 for example 1.
    const a = Float32Array.from([0.4, 0.6, 0.9, 0.1]);
    const b = Float32Array.from([0.3, 0.7, 0.2, 0.8]);
    const labels = Int32Array.from([1, 0]);
    const m = ensembleMetrics([a, b], labels, 2);
    expect(m.acc).toBe(1);
    expect(m.loss).toBeCloseTo(-(Math.log(0.65) + Math.log(0.55)) / 2, 6);
  });

  it('the same seed gives the same initial weights, whatever else differs', () => {
    const a = resnet('resnet18', { numClasses: 10, seed: 11 }).stateDict();
    const b = resnet('resnet18', { numClasses: 10, seed: 11 }).stateDict();
    const c = resnet('resnet18', { numClasses: 10, seed: 12 }).stateDict();
    expect(Array.from(a.get('layer2.0.conv1.weight')!.data as Float32Array)).toEqual(
      Array.from(b.get('layer2.0.conv1.weight')!.data as Float32Array),
    );
    expect(Array.from(a.get('fc.weight')!.data as Float32Array)).not.toEqual(
      Array.from(c.get('fc.weight')!.data as Float32Array),
    );
  });
});
