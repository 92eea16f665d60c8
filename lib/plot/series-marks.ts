/**
 * How a series is drawn: one style per label (colour, dash, width, markers) and its line, band and
 * markers as SVG, simplified in pixel space. chart.ts lays the panels out and calls these.
 */
import type { Figure, MarkerShape, Series } from './chart';
import { seriesStyle } from './palette';
import type { Scale } from './scale';
import { simplify } from './simplify';
import { esc, r2 } from './svg';

/** Pixel deviation below which simplification may drop a point. */
const SIMPLIFY_PX = 0.2;

export interface Style {
  color: string;
  dash: string | undefined;
  width: number;
  opacity: number;
  band: boolean;
  /** Shape and size when any series of the label has markers. */
  marker?: { shape: MarkerShape; size: number };
}

/** One style per label, in order of first appearance, so a label looks the same in every panel. */
export function styles(figure: Figure): Map<string, Style> {
  const out = new Map<string, Style>();
  for (const panel of figure.panels) {
    for (const s of panel.series) {
      if (out.has(s.label)) continue;
      const auto = seriesStyle(out.size);
      out.set(s.label, {
        color: s.color ?? auto.color,
        dash: s.dash === true ? '7 4' : typeof s.dash === 'string' ? s.dash : s.color ? undefined : auto.dash,
        width: s.width ?? 1.6,
        opacity: s.opacity ?? 1,
        band: Boolean(s.lower && s.upper),
        ...(s.markers ? { marker: { shape: s.marker ?? 'circle', size: s.markerSize ?? 7 } } : {}),
      });
    }
  }
  return out;
}

export function* values(...arrays: Array<ArrayLike<number> | undefined>): Iterable<number> {
  for (const a of arrays) if (a) for (let i = 0; i < a.length; i++) yield a[i]!;
}

/** SVG path data for the finite runs of (x, y), each simplified in pixel space. */
export function linePath(x: ArrayLike<number>, y: ArrayLike<number>, sx: Scale, sy: Scale): string {
  const parts: string[] = [];
  let run: number[] = [];
  const flush = () => {
    if (run.length >= 2) {
      const pts = simplify(run, SIMPLIFY_PX);
      let d = '';
      for (let i = 0; i < pts.length; i += 2) d += `${i === 0 ? 'M' : 'L'}${r2(pts[i]!)} ${r2(pts[i + 1]!)}`;
      parts.push(d);
    }
    run = [];
  };
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const px = sx(x[i]!);
    const py = sy(y[i]!);
    if (Number.isFinite(px) && Number.isFinite(py)) run.push(px, py);
    else flush();
  }
  flush();
  return parts.join('');
}

/** Closed band polygons between lower and upper over their finite runs. */
export function bandPath(
  x: ArrayLike<number>,
  lower: ArrayLike<number>,
  upper: ArrayLike<number>,
  sx: Scale,
  sy: Scale,
): string {
  const parts: string[] = [];
  let top: number[] = [];
  let bottom: number[] = [];
  const flush = () => {
    if (top.length >= 4) {
      const up = simplify(top, SIMPLIFY_PX);
      const down = simplify(bottom, SIMPLIFY_PX);
      let d = '';
      for (let i = 0; i < up.length; i += 2) d += `${i === 0 ? 'M' : 'L'}${r2(up[i]!)} ${r2(up[i + 1]!)}`;
      for (let i = down.length - 2; i >= 0; i -= 2) d += `L${r2(down[i]!)} ${r2(down[i + 1]!)}`;
      parts.push(d + 'Z');
    }
    top = [];
    bottom = [];
  };
  const n = Math.min(x.length, lower.length, upper.length);
  for (let i = 0; i < n; i++) {
    const px = sx(x[i]!);
    const pl = sy(lower[i]!);
    const pu = sy(upper[i]!);
    if (Number.isFinite(px) && Number.isFinite(pl) && Number.isFinite(pu)) {
      top.push(px, pu);
      bottom.push(px, pl);
    } else flush();
  }
  flush();
  return parts.join('');
}

/** One marker centred on (x, y), filled with the series colour and ringed in white so it stands out on lines. */
export function markerShape(shape: MarkerShape, x: number, y: number, size: number, color: string): string {
  const h = size / 2;
  const paint = `fill="${color}" stroke="#ffffff" stroke-width="1"`;
  switch (shape) {
    case 'square':
      return `<rect x="${r2(x - h * 0.9)}" y="${r2(y - h * 0.9)}" width="${r2(1.8 * h)}" height="${r2(1.8 * h)}" ${paint}/>`;
    case 'diamond':
      return `<path d="M${r2(x)} ${r2(y - h * 1.2)}L${r2(x + h * 1.2)} ${r2(y)}L${r2(x)} ${r2(y + h * 1.2)}L${r2(x - h * 1.2)} ${r2(y)}Z" ${paint}/>`;
    case 'triangle':
      return `<path d="M${r2(x)} ${r2(y - h * 1.15)}L${r2(x + h * 1.1)} ${r2(y + h * 0.75)}L${r2(x - h * 1.1)} ${r2(y + h * 0.75)}Z" ${paint}/>`;
    default:
      return `<circle cx="${r2(x)}" cy="${r2(y)}" r="${r2(h)}" ${paint}/>`;
  }
}

/** The markers of a series: at every finite point, or at the listed indices; none outside the plot area. */
export function seriesMarkers(
  s: Series,
  st: Style,
  sx: Scale,
  sy: Scale,
  area: { left: number; right: number; top: number; bottom: number },
): string {
  if (!s.markers || !st.marker) return '';
  const n = Math.min(s.x.length, s.y.length);
  const indices: number[] =
    s.markers === true ? Array.from({ length: n }, (_, i) => i) : Array.from(s.markers as ArrayLike<number>);
  const out: string[] = [];
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= n) continue;
    const px = sx(s.x[i]!);
    const py = sy(s.y[i]!);
    if (!Number.isFinite(px) || !Number.isFinite(py)) continue;
    if (px < area.left - 0.5 || px > area.right + 0.5 || py < area.top - 0.5 || py > area.bottom + 0.5) continue;
    out.push(markerShape(st.marker.shape, px, py, st.marker.size, st.color));
  }
  return out.length ? `<g class="markers" data-label="${esc(s.label)}">${out.join('')}</g>` : '';
}
