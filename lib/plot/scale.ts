/** Mapping data values to pixels on a linear or log axis, with the domain and ticks that go with it. */
import { linearTicks, logTicks, type Ticks } from './ticks';

export type ScaleType = 'linear' | 'log';

export interface AxisLimits {
  scale?: ScaleType;
  /** Fixed ends of the axis; the data decides the ends left unset. */
  min?: number;
  max?: number;
}

export interface Scale {
  domain: [number, number];
  /** Pixel of a data value; values off a log axis (≤ 0) and far outside map just beyond the range. */
  (value: number): number;
  ticks(target: number): Ticks;
}

/**
 * A scale over `range` (pixels, from the domain's low end to its high end) for `values`.
 * `margin` is the fraction of the data span left free at each data-decided end (in log units on a
 * log axis), so lines at the extremes are not drawn on the frame.
 */
export function makeScale(axis: AxisLimits, values: Iterable<number>, range: [number, number], margin: number): Scale {
  const type = axis.scale ?? 'linear';
  for (const [name, v] of [
    ['min', axis.min],
    ['max', axis.max],
  ] as const) {
    if (v !== undefined && !(Number.isFinite(v) && (type === 'linear' || v > 0))) {
      throw new RangeError(
        `axis ${name} must be a finite number${type === 'log' ? ' > 0 on a log axis' : ''}, got ${v}`,
      );
    }
  }
  const forward = type === 'log' ? Math.log10 : (v: number) => v;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v) || (type === 'log' && v <= 0)) continue;
    const f = forward(v);
    if (f < lo) lo = f;
    if (f > hi) hi = f;
  }
  const fixedLo = axis.min !== undefined ? forward(axis.min) : undefined;
  const fixedHi = axis.max !== undefined ? forward(axis.max) : undefined;
  if (!Number.isFinite(lo)) [lo, hi] = [fixedLo ?? 0, fixedHi ?? (fixedLo ?? 0) + 1];
  if (hi === lo)
    [lo, hi] = lo === 0 || type === 'log' ? [lo - 0.5, hi + 0.5] : [lo - Math.abs(lo) * 0.1, hi + Math.abs(hi) * 0.1];
  const pad = (hi - lo) * margin;
  const f0 = fixedLo ?? lo - pad;
  const f1 = fixedHi ?? hi + pad;
  const inverse = type === 'log' ? (f: number) => 10 ** f : (f: number) => f;
  const [p0, p1] = range;
  const reach = 2 * Math.abs(p1 - p0);
  const clampLo = Math.min(p0, p1) - reach;
  const clampHi = Math.max(p0, p1) + reach;
  const scale = ((value: number) => {
    const f = type === 'log' && value <= 0 ? -Infinity : forward(value);
    const p = p0 + ((f - f0) / (f1 - f0)) * (p1 - p0);
    return Number.isNaN(p) ? NaN : Math.min(clampHi, Math.max(clampLo, p));
  }) as Scale;
  scale.domain = [inverse(f0), inverse(f1)];
  scale.ticks = (target) => (type === 'log' ? logTicks : linearTicks)(scale.domain[0], scale.domain[1], target);
  return scale;
}
