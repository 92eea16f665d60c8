/**
 * Axis ticks: "nice" numbers (1, 2, 5 × 10^k) on linear axes, decades with 2…9 minor ticks on log
 * axes, and labels that print every tick with the same number of decimals.
 */

export interface Ticks {
  /** Labelled tick values, ascending. */
  major: number[];
  labels: string[];
  /** Unlabelled tick values (log axes), ascending. */
  minor: number[];
}

/** Typographic minus, so negative labels line up with positive ones. */
const minus = (s: string): string => s.replace(/-/g, '−');

/** Parses "m·10^k" from its decimal text so that, e.g., 3·10^-1 is exactly the double 0.3. */
const scaled = (m: number, k: number): number => Number(`${m}e${k}`);

/** Linear ticks within [min, max], about `target` of them. */
export function linearTicks(min: number, max: number, target: number): Ticks {
  const raw = (max - min) / Math.max(1, target);
  const k = Math.floor(Math.log10(raw));
  const r = raw / 10 ** k;
  const m = r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10;
  const step = scaled(m, k);
  const first = Math.ceil(min / step - 1e-9);
  const last = Math.floor(max / step + 1e-9);
  const major: number[] = [];
  for (let i = first; i <= last; i++) major.push(Number((i * step).toPrecision(12)));
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const largest = Math.max(Math.abs(min), Math.abs(max));
  const labels = major.map((v) =>
    decimals > 6 || largest >= 1e7 ? exponential(v) : minus((v === 0 ? 0 : v).toFixed(decimals)),
  );
  return { major, labels, minor: [] };
}

const superscripts: Record<string, string> = {
  '-': '⁻',
  '0': '⁰',
  '1': '¹',
  '2': '²',
  '3': '³',
  '4': '⁴',
  '5': '⁵',
  '6': '⁶',
  '7': '⁷',
  '8': '⁸',
  '9': '⁹',
};

/** "10⁻³" for k = −3. */
export function powerOfTen(k: number): string {
  return '10' + [...String(k)].map((c) => superscripts[c]).join('');
}

/** "2.5×10⁻⁴" for values too small or large for fixed decimals. */
function exponential(v: number): string {
  if (v === 0) return '0';
  const [mantissa, exponent] = v.toExponential().split('e') as [string, string];
  const k = Number(exponent);
  return minus(mantissa === '1' ? powerOfTen(k) : `${mantissa}×${powerOfTen(k)}`);
}

/** Log ticks within [min, max] (both > 0), about `target` labelled ones. */
export function logTicks(min: number, max: number, target: number): Ticks {
  const lo = Math.floor(Math.log10(min) + 1e-9);
  const hi = Math.floor(Math.log10(max) + 1e-9);
  const inside = (v: number) => v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9);
  const decades = [];
  for (let k = lo; k <= hi; k++) if (inside(scaled(1, k))) decades.push(k);

  const major: number[] = [];
  const labels: string[] = [];
  const minor: number[] = [];
  if (decades.length < 2) {
    // Less than two decades in view: label 1, 2 and 5 in each decade, in plain decimals.
    for (let k = lo; k <= hi; k++) {
      for (let m = 1; m <= 9; m++) {
        const v = scaled(m, k);
        if (!inside(v)) continue;
        if (m === 1 || m === 2 || m === 5) {
          major.push(v);
          labels.push(minus(String(v)));
        } else minor.push(v);
      }
    }
    // Very narrow (no two m·10^k inside): nice linear values, placed on the log axis.
    if (major.length + minor.length < 2) return linearTicks(min, max, Math.max(2, Math.min(target, 5)));
    if (major.length < 3 && minor.length > 0) {
      // A narrow range (e.g. losses between 0.3 and 0.7) would show one or two labels: label every m·10^k.
      const all = [...major, ...minor].sort((a, b) => a - b);
      return { major: all, labels: all.map((v) => minus(String(v))), minor: [] };
    }
    return { major, labels, minor };
  }
  // Many decades: label every n-th so the labels do not crowd, and keep minor ticks only when sparse.
  const every = Math.max(1, Math.ceil(decades.length / Math.max(1, target)));
  for (const k of decades) {
    if (k % every !== 0) continue;
    major.push(scaled(1, k));
    labels.push(powerOfTen(k));
  }
  if (every === 1) {
    for (let k = lo; k <= hi; k++) {
      for (let m = 2; m <= 9; m++) if (inside(scaled(m, k))) minor.push(scaled(m, k));
    }
  }
  return { major, labels, minor };
}
