/**
 * How the cycle snapshots (or FGE's collected models) are combined into one prediction: a weighted
 * mean of their class probabilities. Three ways to choose the weights, over the last M snapshots:
 *
 * - 'last': equal weights (Huang et al. 2017's snapshot ensemble; Garipov et al.'s FGE average).
 * - 'weighted': the convex weights that minimise the validation cross-entropy of the mixture,
 *   found by EM (each step cannot increase the loss; the loss is convex in the weights).
 * - 'greedy': Caruana et al. 2004's forward selection with replacement: starting from nothing, add
 *   the snapshot that lowers the validation loss of the ensemble most, repeatedly; keep the best
 *   prefix. The weights are how often each snapshot was picked.
 *
 * Both 'weighted' and 'greedy' choose on the validation set they are then scored on, so their
 * scores are optimistic by the selection; the report says which method was used.
 */

export const ENSEMBLE_METHODS = ['last', 'weighted', 'greedy'] as const;
export type EnsembleMethod = (typeof ENSEMBLE_METHODS)[number];

export function checkEnsembleMethod(value: unknown, name = 'ensemble'): EnsembleMethod {
  if (typeof value !== 'string' || !(ENSEMBLE_METHODS as readonly string[]).includes(value)) {
    throw new RangeError(`${name} must be one of ${ENSEMBLE_METHODS.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as EnsembleMethod;
}

/** Clamp of the probability of the true class, so one confidently wrong example stays finite. */
const FLOOR = 1e-12;

/** Cross-entropy and accuracy of the weighted mean of `probabilities` (each row-major [n, classes]). */
export function weightedEnsembleMetrics(
  probabilities: readonly Float32Array[],
  weights: readonly number[],
  labels: Int32Array,
  classes: number,
): { loss: number; acc: number } {
  if (weights.length !== probabilities.length)
    throw new RangeError(`${weights.length} weights for ${probabilities.length} members`);
  const total = weights.reduce((a, w) => a + w, 0);
  if (!(total > 0)) throw new RangeError('ensemble weights must sum to more than 0');
  const n = labels.length;
  let loss = 0;
  let correct = 0;
  const mean = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    mean.fill(0);
    for (let m = 0; m < probabilities.length; m++) {
      const w = weights[m]! / total;
      if (w === 0) continue;
      const p = probabilities[m]!;
      for (let c = 0; c < classes; c++) mean[c]! += w * p[i * classes + c]!;
    }
    let best = 0;
    for (let c = 1; c < classes; c++) if (mean[c]! > mean[best]!) best = c;
    if (best === labels[i]) correct++;
    loss -= Math.log(Math.max(mean[labels[i]!]!, FLOOR));
  }
  return { loss: n ? loss / n : 0, acc: n ? correct / n : 0 };
}

/** p_m(y_i | x_i): each member's probability of the true class, [members][n]. */
function trueClassProbabilities(
  probabilities: readonly Float32Array[],
  labels: Int32Array,
  classes: number,
): Float64Array[] {
  return probabilities.map((p) => Float64Array.from(labels, (y, i) => p[i * classes + y]!));
}

/** Mixture weights minimising the validation NLL, by EM from equal weights. */
export function nllOptimalWeights(
  probabilities: readonly Float32Array[],
  labels: Int32Array,
  classes: number,
  iterations = 200,
): number[] {
  const m = probabilities.length;
  if (m === 0) return [];
  const q = trueClassProbabilities(probabilities, labels, classes);
  let w = new Array<number>(m).fill(1 / m);
  const n = labels.length;
  if (n === 0) return w;
  let previous = Infinity;
  for (let it = 0; it < iterations; it++) {
    const next = new Array<number>(m).fill(0);
    let nll = 0;
    for (let i = 0; i < n; i++) {
      let mix = 0;
      for (let k = 0; k < m; k++) mix += w[k]! * q[k]![i]!;
      mix = Math.max(mix, FLOOR);
      nll -= Math.log(mix);
      for (let k = 0; k < m; k++) next[k]! += (w[k]! * q[k]![i]!) / mix;
    }
    w = next.map((v) => v / n);
    // EM never increases the loss; stop once it no longer moves.
    if (previous - nll <= 1e-10 * n) break;
    previous = nll;
  }
  return w;
}

/**
 * Caruana-style greedy forward selection with replacement on the validation NLL: `rounds` picks
 * (default 2·members, at least 10), each the member whose addition gives the lowest loss (ties: the
 * later, i.e. more recent, snapshot); the weights are the pick counts of the best prefix.
 */
export function greedyWeights(
  probabilities: readonly Float32Array[],
  labels: Int32Array,
  classes: number,
  rounds?: number,
): number[] {
  const m = probabilities.length;
  if (m === 0) return [];
  const q = trueClassProbabilities(probabilities, labels, classes);
  const n = labels.length;
  const picks = rounds ?? Math.max(10, 2 * m);
  const counts = new Array<number>(m).fill(0);
  const sum = new Float64Array(n); // Σ of the picked members' true-class probabilities
  let best = { loss: Infinity, counts: counts.slice() };
  for (let r = 1; r <= picks; r++) {
    let choice = -1;
    let choiceLoss = Infinity;
    for (let k = 0; k < m; k++) {
      let nll = 0;
      for (let i = 0; i < n; i++) nll -= Math.log(Math.max((sum[i]! + q[k]![i]!) / r, FLOOR));
      if (nll <= choiceLoss) {
        choiceLoss = nll;
        choice = k;
      }
    }
    counts[choice]! += 1;
    for (let i = 0; i < n; i++) sum[i]! += q[choice]![i]!;
    if (choiceLoss < best.loss) best = { loss: choiceLoss, counts: counts.slice() };
  }
  return best.counts;
}

/** The weights `method` gives the members (not normalised for 'greedy': pick counts). */
export function ensembleWeights(
  method: EnsembleMethod,
  probabilities: readonly Float32Array[],
  labels: Int32Array,
  classes: number,
): number[] {
  switch (method) {
    case 'last':
      return probabilities.map(() => 1);
    case 'weighted':
      return nllOptimalWeights(probabilities, labels, classes);
    case 'greedy':
      return greedyWeights(probabilities, labels, classes);
  }
}
