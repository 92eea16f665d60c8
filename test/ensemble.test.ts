// Snapshot-ensemble weights: equal ('last'), validation-NLL-optimal ('weighted', EM), and Caruana's
// greedy forward selection with replacement ('greedy'); and experiment configs that ask for them
// and for SWA. Pure TS: no training.
import { describe, expect, it } from 'vitest';
import { ensembleMetrics, ensembleWeights, greedyWeights, nllOptimalWeights, weightedEnsembleMetrics } from '../lib';
import { parseExperimentConfig, runConfigFor } from '../lib/experiment';
import { rng } from './helpers/idx';

const CLASSES = 4;
const N = 200;

/** Members of graded quality: member k puts `sharp[k]` extra mass on the true class (noisy). */
function members(sharp: number[], seed = 1): { probs: Float32Array[]; labels: Int32Array } {
  const rand = rng(seed);
  const labels = Int32Array.from({ length: N }, () => Math.floor(rand() * CLASSES));
  const probs = sharp.map((s) => {
    const p = new Float32Array(N * CLASSES);
    for (let i = 0; i < N; i++) {
      let sum = 0;
      for (let c = 0; c < CLASSES; c++) {
        const v = rand() + (c === labels[i] ? s * (0.5 + rand()) : 0);
        p[i * CLASSES + c] = v;
        sum += v;
      }
      for (let c = 0; c < CLASSES; c++) p[i * CLASSES + c]! /= sum;
    }
    return p;
  });
  return { probs, labels };
}

const nll = (probs: Float32Array[], w: number[], labels: Int32Array) =>
  weightedEnsembleMetrics(probs, w, labels, CLASSES).loss;

describe('ensemble weights', () => {
  const { probs, labels } = members([0.1, 0.6, 2.0, 1.5]);

  it("'last' is today's equal-weight mean", () => {
    const w = ensembleWeights('last', probs, labels, CLASSES);
    expect(w).toEqual([1, 1, 1, 1]);
    const a = weightedEnsembleMetrics(probs, w, labels, CLASSES);
    const b = ensembleMetrics(probs, labels, CLASSES);
    expect(a.loss).toBeCloseTo(b.loss, 12);
    expect(a.acc).toBe(b.acc);
  });

  it("'weighted' minimises the validation NLL over the simplex (KKT: equal gradients on its support)", () => {
    // EM approaches an optimum on the simplex's boundary only asymptotically: hence the 1e-6 / 1e-3 slack.
    const w = nllOptimalWeights(probs, labels, CLASSES, 5000);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    // d/dw_k of the mean NLL is −mean_i q_k(i)/mix(i); at the optimum it is −1 where w_k > 0 and ≥ −1 elsewhere.
    const q = probs.map((p) => Array.from(labels, (y, i) => p[i * CLASSES + y]!));
    for (let k = 0; k < probs.length; k++) {
      let g = 0;
      for (let i = 0; i < N; i++) g += q[k]![i]! / q.reduce((a, qj, j) => a + w[j]! * qj[i]!, 0);
      g /= N;
      if (w[k]! > 1e-3) expect(g).toBeCloseTo(1, 3);
      else expect(g).toBeLessThanOrEqual(1 + 1e-3);
    }
    const best = nll(probs, w, labels);
    expect(best).toBeLessThanOrEqual(nll(probs, [1, 1, 1, 1], labels));
    for (let k = 0; k < 4; k++)
      expect(best).toBeLessThanOrEqual(
        nll(
          probs,
          [0, 1, 2, 3].map((j) => (j === k ? 1 : 0)),
          labels,
        ) + 1e-6,
      );
    // The weak member gets the least weight.
    expect(w[0]).toBe(Math.min(...w));
  });

  it("'greedy' starts from the best member, picks with replacement, and keeps the best prefix", () => {
    const singles = probs.map((_, k) =>
      nll(
        probs,
        probs.map((__, j) => (j === k ? 1 : 0)),
        labels,
      ),
    );
    const bestSingle = singles.indexOf(Math.min(...singles));
    const one = greedyWeights(probs, labels, CLASSES, 1);
    expect(one).toEqual(probs.map((_, k) => (k === bestSingle ? 1 : 0)));
    const w = greedyWeights(probs, labels, CLASSES);
    expect(w.every((c) => Number.isInteger(c) && c >= 0)).toBe(true);
    expect(nll(probs, w, labels)).toBeLessThanOrEqual(singles[bestSingle]!);
    // Selection is greedy step by step: no prefix of the 10 picks beats the one kept.
    for (let r = 1; r <= 10; r++)
      expect(nll(probs, greedyWeights(probs, labels, CLASSES, r), labels)).toBeGreaterThanOrEqual(
        nll(probs, w, labels) - 1e-12,
      );
    // A useless member (uniform) is never picked.
    const withUniform = [...probs, new Float32Array(N * CLASSES).fill(1 / CLASSES)];
    expect(greedyWeights(withUniform, labels, CLASSES).at(-1)).toBe(0);
  });
});

describe('experiment configs with SWA and ensembles', () => {
  const base = {
    data: 'fashion-mnist',
    model: 'resnet18',
    epochs: 6,
    batchSize: 32,
    seeds: [0],
  };

  it('passes swa, ensemble and ensembleSize to the run; the schedule spec stays clean', () => {
    const config = parseExperimentConfig({
      ...base,
      ensemble: 'weighted',
      ensembleSize: 4,
      schedules: [
        { label: 'A', type: 'warm-restarts', lr: 0.05, t0: 2, swa: { start: 'cycles' }, ensemble: 'greedy' },
        { label: 'B', type: 'warm-restarts', lr: 0.05, t0: 2, swa: { start: 5, lr: 0.01 }, ensembleSize: 2 },
      ],
    });
    const a = runConfigFor(config, config.schedules[0]!, 0);
    expect(a.swa).toEqual({ start: 'cycles' });
    expect(a.ensemble).toBe('greedy');
    expect(a.ensembleSize).toBe(4);
    expect(a.schedule).toEqual({ type: 'warm-restarts', lr: 0.05, t0: 2, label: 'A' });
    const b = runConfigFor(config, config.schedules[1]!, 0);
    expect(b.swa).toEqual({ start: 5, lr: 0.01 });
    expect(b.ensemble).toBe('weighted');
    expect(b.ensembleSize).toBe(2);
  });

  it('names the bad key', () => {
    const bad =
      (entry: object, top: object = {}) =>
      () =>
        parseExperimentConfig({
          ...base,
          ...top,
          schedules: [{ label: 'A', type: 'warm-restarts', lr: 0.05, t0: 2, ...entry }],
        });
    expect(bad({ swa: { start: 9 } })).toThrow(/schedules\[0\]\.swa\.start.*epoch from 1 to epochs \(6\), got 9/);
    expect(bad({ swa: { begin: 2 } })).toThrow(/schedules\[0\]\.swa\.begin.*unknown key/);
    expect(bad({ ensemble: 'best' })).toThrow(/schedules\[0\]\.ensemble.*must be one of last, weighted, greedy/);
    expect(bad({}, { ensemble: 'mean' })).toThrow(/ensemble.*must be one of last, weighted, greedy/);
    expect(bad({ swa: { start: 2, lr: 0.1, lrMax: 0.01 } })).toThrow(/schedules\[0\]\.swa\.lrMax/);
  });
});
