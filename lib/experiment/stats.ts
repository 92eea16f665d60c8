/**
 * The statistics of an experiment, as pure functions over plain numbers: mean and sample standard
 * deviation, Student-t quantiles and paired-difference intervals, Gaussian-kernel (RBF) smoothing,
 * best epoch and epochs to a target. Nothing here knows about files or runs; aggregate.ts applies
 * these to the per-run metrics.
 */

/** Mean ± sample standard deviation over the finite values of a sample. */
export interface MeanStd {
  mean: number;
  /** Sample standard deviation (n − 1 in the denominator); NaN for fewer than two values. */
  std: number;
  /** Number of finite values used. */
  n: number;
}

const finite = (values: ReadonlyArray<number | null | undefined>): number[] =>
  values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));

/** Mean of the finite values (NaN when there are none). */
export function mean(values: ReadonlyArray<number | null | undefined>): number {
  const v = finite(values);
  if (v.length === 0) return NaN;
  let s = 0;
  for (const x of v) s += x;
  return s / v.length;
}

/** Sample standard deviation (n − 1) of the finite values; NaN for fewer than two. */
export function sampleStd(values: ReadonlyArray<number | null | undefined>): number {
  const v = finite(values);
  if (v.length < 2) return NaN;
  const m = mean(v);
  let s = 0;
  for (const x of v) s += (x - m) ** 2;
  return Math.sqrt(s / (v.length - 1));
}

export function meanStd(values: ReadonlyArray<number | null | undefined>): MeanStd {
  const v = finite(values);
  return { mean: mean(v), std: sampleStd(v), n: v.length };
}

// ---------------------------------------------------------------------------------------------
// Student's t distribution

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the regularized incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(a, b, x)) / a
    : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom (df > 0; Infinity gives the normal). */
export function tCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be > 0, got ${df}`);
  if (Number.isNaN(t)) return NaN;
  if (!Number.isFinite(df)) return normalCdf(t);
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** Standard normal CDF (erfc by a continued-fraction-free series/asymptotic with ~1e-15 accuracy). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** erfc(x), via the regularized incomplete gamma function's relation erfc(x) = Q(1/2, x²). */
function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x === 0) return 1;
  const a = 0.5;
  const z = x * x;
  if (z < a + 1) {
    // Series for P(a, z).
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 500; n++) {
      term *= z / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    return 1 - sum * Math.exp(-z + a * Math.log(z) - logGamma(a));
  }
  // Continued fraction for Q(a, z).
  const tiny = 1e-300;
  let b = z + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return Math.exp(-z + a * Math.log(z) - logGamma(a)) * h;
}

/**
 * The p-quantile of Student's t with `df` degrees of freedom: the t with P(T ≤ t) = p.
 * E.g. tQuantile(0.975, 4) = 2.776 (the half-width factor of a 95% interval from 5 values).
 */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`p must be in (0, 1), got ${p}`);
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be > 0, got ${df}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -tQuantile(1 - p, df);
  // Bracket, then bisect in the CDF (monotone), finishing with a few secant-free halvings: robust for all df.
  let lo = 0;
  let hi = 1;
  while (tCdf(hi, df) < p) {
    lo = hi;
    hi *= 2;
    if (hi > 1e12) return Infinity;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-13 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (tCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

// ---------------------------------------------------------------------------------------------
// Paired differences

/** Mean of paired differences a_i − b_i with its 95% (or `level`) Student-t interval. */
export interface PairedDifference {
  /** Mean of a_i − b_i over the pairs where both are finite. */
  mean: number;
  /** Sample standard deviation of the differences. */
  std: number;
  /** Number of pairs. */
  n: number;
  /** Standard error std / √n. */
  se: number;
  /** Confidence level of `ci` (default 0.95). */
  level: number;
  /** [mean − t·se, mean + t·se] with t the (1+level)/2 quantile of t(n − 1); null for n < 2. */
  ci: [number, number] | null;
  /** The t statistic mean / se (NaN for n < 2 or zero spread). */
  t: number;
}

export function pairedDifference(
  a: ReadonlyArray<number | null | undefined>,
  b: ReadonlyArray<number | null | undefined>,
  level = 0.95,
): PairedDifference {
  if (a.length !== b.length)
    throw new RangeError(`paired samples must have the same length, got ${a.length} and ${b.length}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  const d: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (typeof x === 'number' && typeof y === 'number' && Number.isFinite(x) && Number.isFinite(y)) d.push(x - y);
  }
  const m = mean(d);
  const s = sampleStd(d);
  const n = d.length;
  const se = n >= 2 ? s / Math.sqrt(n) : NaN;
  const ci: [number, number] | null =
    n >= 2 ? [m - tQuantile((1 + level) / 2, n - 1) * se, m + tQuantile((1 + level) / 2, n - 1) * se] : null;
  return { mean: m, std: s, n, se, level, ci, t: n >= 2 && se > 0 ? m / se : NaN };
}

// ---------------------------------------------------------------------------------------------
// Smoothing and curve summaries

/**
 * Gaussian-kernel (RBF) smoothing, Nadaraya–Watson: at each x0 the weighted mean of the y values
 * with weights exp(−(x − x0)² / (2·bandwidth²)). Non-finite y values are left out of the sums; the
 * bandwidth is the kernel's standard deviation, in the units of x (epochs). Evaluated at `at`
 * (default: the x values themselves).
 */
export function rbfSmooth(
  x: ArrayLike<number>,
  y: ArrayLike<number | null>,
  bandwidth: number,
  at: ArrayLike<number> = x,
): number[] {
  if (!(bandwidth > 0 && Number.isFinite(bandwidth)))
    throw new RangeError(`bandwidth must be a finite number > 0, got ${bandwidth}`);
  if (x.length !== y.length) throw new RangeError(`x and y must have the same length, got ${x.length} and ${y.length}`);
  const out: number[] = [];
  const k = -1 / (2 * bandwidth * bandwidth);
  for (let j = 0; j < at.length; j++) {
    const x0 = at[j]!;
    let sw = 0;
    let swy = 0;
    for (let i = 0; i < x.length; i++) {
      const yi = y[i];
      if (typeof yi !== 'number' || !Number.isFinite(yi) || !Number.isFinite(x[i]!)) continue;
      const w = Math.exp(k * (x[i]! - x0) ** 2);
      sw += w;
      swy += w * yi;
    }
    out.push(sw > 0 ? swy / sw : NaN);
  }
  return out;
}

/** The default smoothing bandwidth for a run of `epochs` epochs: epochs / 40, at least half an epoch. */
export function defaultBandwidth(epochs: number): number {
  return Math.max(0.5, epochs / 40);
}

/** The epoch (from `epochs`) with the lowest finite value, first one on ties; null if none. */
export function bestEpoch(
  epochs: ArrayLike<number>,
  values: ArrayLike<number | null>,
): { epoch: number; value: number } | null {
  let best: { epoch: number; value: number } | null = null;
  for (let i = 0; i < Math.min(epochs.length, values.length); i++) {
    const v = values[i];
    if (typeof v === 'number' && Number.isFinite(v) && (best === null || v < best.value))
      best = { epoch: epochs[i]!, value: v };
  }
  return best;
}

/** The first epoch whose value is ≤ target, or null when it never gets there. */
export function epochsToTarget(
  epochs: ArrayLike<number>,
  values: ArrayLike<number | null>,
  target: number,
): number | null {
  for (let i = 0; i < Math.min(epochs.length, values.length); i++) {
    const v = values[i];
    if (typeof v === 'number' && Number.isFinite(v) && v <= target) return epochs[i]!;
  }
  return null;
}
