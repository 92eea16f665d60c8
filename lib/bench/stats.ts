/** Small statistics for paired benchmark rounds. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The q-quantile (0..1) by linear interpolation. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos),
    hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** Rounds to `digits` significant digits (for printing and JSON). */
export function round(value: number, digits = 4): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}

/** Median, quartiles and extremes of a sample, rounded. */
export function summary(
  values: readonly number[],
  digits = 4,
): { median: number; q1: number; q3: number; min: number; max: number; n: number } {
  return {
    median: round(median(values), digits),
    q1: round(quantile(values, 0.25), digits),
    q3: round(quantile(values, 0.75), digits),
    min: round(Math.min(...values), digits),
    max: round(Math.max(...values), digits),
    n: values.length,
  };
}
