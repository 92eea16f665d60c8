/**
 * Exact boundary arithmetic: on which side of a restart (or a step-decay boundary) does t fall?
 *
 * PyTorch's closed form finds the cycle of t with a floating-point logarithm, and the logarithm
 * lands just below the integer at some exact restarts (T_0=1, T_mult=10 at t=111; T_0=1, T_mult=3
 * at t=121), so it reports the end of the previous cycle (eta_min) where a restart gives eta_max.
 * Here the logarithm only supplies a first guess; the answer comes from comparing t with the
 * boundary values themselves. With integer parameters those boundaries are integers computed
 * exactly, so the comparisons are exact. With real parameters a boundary is a rounded value that t
 * (itself e + i/K, rounded) may miss by a few ulps; there, and only there, t counts as reaching a
 * boundary that it is within a relative 1e-12 of.
 */

/** Relative distance under which a real-valued boundary counts as reached. */
export const REAL_BOUNDARY_TOLERANCE = 1e-12;

/** Whether t has reached the boundary b (exactly, or within the tolerance for rounded boundaries). */
export function reached(t: number, b: number, exact: boolean): boolean {
  return exact ? t >= b : t >= b - REAL_BOUNDARY_TOLERANCE * Math.abs(b);
}

/**
 * The largest n ≥ 0 with boundary(n) reached by t, where boundary(0) = 0 and boundary is strictly
 * increasing. `guess` (any real; e.g. from a logarithm) only decides where the search starts.
 */
export function boundariesReached(t: number, boundary: (n: number) => number, guess: number, exact: boolean): number {
  const hit = (n: number): boolean => n <= 0 || reached(t, boundary(n), exact);
  const n = Number.isFinite(guess) && guess > 0 ? Math.floor(guess) : 0;
  // From a good guess the answer is a step or two away. A poor one (or an index beyond 2^53, where
  // n + 1 === n and a walk one by one would never move) gallops out and bisects back: the work is
  // logarithmic in the distance, never linear in the number of cycles.
  let lo: number;
  let hi: number;
  if (hit(n)) {
    lo = n;
    hi = n + 1;
    for (let step = 2; hit(hi); step *= 2) {
      lo = Math.max(lo, hi);
      hi = n + step;
    }
  } else {
    hi = n;
    lo = n - 1;
    for (let step = 2; !hit(lo); step *= 2) {
      hi = Math.min(hi, lo);
      lo = Math.max(0, n - step);
    }
  }
  // Now hit(lo) and !hit(hi): bisect while there are integers strictly between them.
  for (;;) {
    const mid = Math.floor(lo + (hi - lo) / 2);
    if (mid <= lo || mid >= hi) return lo;
    if (hit(mid)) lo = mid;
    else hi = mid;
  }
}

/** base^n for an integer base and exponent, exact whenever the result is below 2^53. */
export function integerPower(base: number, n: number): number {
  // Squaring only ever forms powers ≤ base^n, so every intermediate product is exact too.
  let result = 1;
  let square = base;
  for (let k = n; k > 0; k = Math.floor(k / 2)) {
    if (k % 2 === 1) result *= square;
    if (k > 1) square *= square;
  }
  return result;
}
