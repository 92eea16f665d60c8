/**
 * Line charts rendered to an SVG string: one or more panels (small multiples) of series with
 * optional shaded bands (e.g. mean ± std), linear or log axes, and one legend for the figure.
 * No DOM: the layout is computed here, text widths are estimated (see text.ts).
 */
import { makeScale, type AxisLimits } from './scale';
import { bandPath, linePath, markerShape, seriesMarkers, styles, values, type Style } from './series-marks';
import { esc, r2, text } from './svg';
import type { Ticks } from './ticks';
import { textWidth } from './text';

export interface Series {
  /** Legend text; series with the same label in several panels share colour and legend entry. */
  label: string;
  x: ArrayLike<number>;
  /** NaN leaves a gap. */
  y: ArrayLike<number>;
  /** Shaded band from lower to upper (e.g. mean ± std), drawn under the lines. */
  lower?: ArrayLike<number>;
  upper?: ArrayLike<number>;
  /** CSS colour; by default the next palette colour in order of first appearance of the label. */
  color?: string;
  /** true for a default dash, or an SVG stroke-dasharray such as "6 3". */
  dash?: boolean | string;
  /** Line width in px (default 1.6). */
  width?: number;
  /** Line opacity, e.g. faint raw curves under their smoothed mean (default 1). */
  opacity?: number;
  /** Whether the series gets a legend entry (default true). */
  legend?: boolean;
  /** Markers at every point (true) or at the points with these indices (e.g. cycle ends). */
  markers?: boolean | ArrayLike<number>;
  /** Marker shape (default circle). */
  marker?: MarkerShape;
  /** Marker size (diameter) in px (default 7). */
  markerSize?: number;
}

export type MarkerShape = 'circle' | 'square' | 'diamond' | 'triangle';

export interface Axis extends AxisLimits {
  label?: string;
  /**
   * Labelled ticks at these values (e.g. every epoch of a short run) instead of automatic ones;
   * the x axis labels every n-th of them when they would touch.
   */
  ticks?: number[];
}

/** Ticks at given values (those inside the domain), every `every`-th labelled. */
function fixedTicks(values: number[], domain: [number, number], every: number): Ticks {
  const [lo, hi] = domain[0] <= domain[1] ? domain : [domain[1], domain[0]];
  const inside = values
    .filter((v) => Number.isFinite(v) && v >= lo - 1e-9 * Math.abs(lo) && v <= hi + 1e-9 * Math.abs(hi))
    .sort((a, b) => a - b);
  const major = inside.filter((_, i) => i % every === 0);
  return {
    major,
    labels: major.map((v) => String(v).replace(/-/g, '−')),
    minor: inside.filter((_, i) => i % every !== 0),
  };
}

export interface Panel {
  title?: string;
  x?: Axis;
  y?: Axis;
  series: Series[];
}

export interface Figure {
  title?: string;
  panels: Panel[];
  /** Panels per row (default: all panels in one row, at most 2). */
  columns?: number;
  /** Size of one panel in px (default 480 × 340). */
  panelWidth?: number;
  panelHeight?: number;
  /** Where the figure's one legend goes (default right). */
  legend?: 'right' | 'bottom' | 'none';
}

const FONT_FAMILY = "'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif";
const TICK_FONT = 12;
const LABEL_FONT = 13;
const PANEL_TITLE_FONT = 14;
const FIGURE_TITLE_FONT = 16;
const TICK_LENGTH = 5;
const PAD = 14;
const LEGEND_SWATCH = 28;
const LEGEND_ROW = 20;
const INK = '#222';
const FRAME = '#555';
const GRID = '#e6e6e6';

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Tick targets: about one label per 90 px across and per 45 px up. */
const X_TICK_SPACING = 90;
const Y_TICK_SPACING = 45;

function renderPanel(panel: Panel, box: Box, style: Map<string, Style>, clipId: string): string {
  const xAxis = panel.x ?? {};
  const yAxis = panel.y ?? {};
  const top = box.y + (panel.title ? PANEL_TITLE_FONT + 14 : 8);
  const bottom = box.y + box.h - (TICK_LENGTH + 4 + TICK_FONT + (xAxis.label ? LABEL_FONT + 10 : 0) + 6);
  const plotH = Math.max(40, bottom - top);

  const ys = panel.series;
  const sy = makeScale(yAxis, values(...ys.flatMap((s) => [s.y, s.lower, s.upper])), [top + plotH, top], 0.04);
  const yTicks = yAxis.ticks
    ? fixedTicks(yAxis.ticks, sy.domain, 1)
    : sy.ticks(Math.max(2, Math.round(plotH / Y_TICK_SPACING)));
  const yLabelWidth = Math.max(0, ...yTicks.labels.map((l) => textWidth(l, TICK_FONT)));
  const left = box.x + 6 + (yAxis.label ? LABEL_FONT + 10 : 0) + yLabelWidth + TICK_LENGTH + 4;

  const xValues = [...values(...ys.map((s) => s.x))];
  let right = box.x + box.w - 12;
  let sx = makeScale(xAxis, xValues, [left, right], 0);
  let target = Math.max(2, Math.round((right - left) / X_TICK_SPACING));
  let every = 1;
  const xTicksFor = (): Ticks => (xAxis.ticks ? fixedTicks(xAxis.ticks, sx.domain, every) : sx.ticks(target));
  let xTicks = xTicksFor();
  // Fewer ticks while labels would touch; then leave room for half of the last label.
  while ((xAxis.ticks ? every < xAxis.ticks.length : target > 2) && xTicks.major.length > 1) {
    const gap = Math.abs(sx(xTicks.major[1]!) - sx(xTicks.major[0]!));
    if (Math.max(...xTicks.labels.map((l) => textWidth(l, TICK_FONT))) + 12 <= gap) break;
    if (xAxis.ticks) every++;
    else target--;
    xTicks = xTicksFor();
  }
  const lastLabel = xTicks.labels[xTicks.labels.length - 1];
  if (lastLabel !== undefined && sx(xTicks.major[xTicks.major.length - 1]!) > right - 20) {
    right = Math.min(right, box.x + box.w - textWidth(lastLabel, TICK_FONT) / 2 - 2);
    sx = makeScale(xAxis, xValues, [left, right], 0);
  }
  const plotW = right - left;

  const out: string[] = [`<g class="panel"${panel.title ? ` data-title="${esc(panel.title)}"` : ''}>`];
  out.push(
    `<defs><clipPath id="${clipId}"><rect x="${r2(left)}" y="${r2(top)}" width="${r2(plotW)}" height="${r2(plotH)}"/></clipPath></defs>`,
  );

  // Grid under everything.
  const grid: string[] = [];
  for (const v of yTicks.major) grid.push(`M${r2(left)} ${r2(sy(v))}H${r2(right)}`);
  for (const v of xTicks.major) grid.push(`M${r2(sx(v))} ${r2(top)}V${r2(top + plotH)}`);
  out.push(`<path class="grid" d="${grid.join('')}" stroke="${GRID}" stroke-width="1" fill="none"/>`);

  // Bands under lines, so no band hides another series' line.
  const bands = ys.filter((s) => s.lower && s.upper);
  if (bands.length > 0) {
    out.push(`<g class="bands" clip-path="url(#${clipId})">`);
    for (const s of bands) {
      const st = style.get(s.label)!;
      out.push(
        `<path class="band" data-label="${esc(s.label)}" d="${bandPath(s.x, s.lower!, s.upper!, sx, sy)}" fill="${st.color}" fill-opacity="0.18" stroke="none"/>`,
      );
    }
    out.push('</g>');
  }
  for (const s of ys) {
    const st = style.get(s.label)!;
    const dash = st.dash ? ` stroke-dasharray="${st.dash}"` : '';
    const opacity = st.opacity !== 1 ? ` stroke-opacity="${st.opacity}"` : '';
    out.push(
      `<g class="series" data-label="${esc(s.label)}" clip-path="url(#${clipId})">` +
        `<path d="${linePath(s.x, s.y, sx, sy)}" fill="none" stroke="${st.color}" stroke-width="${st.width}"${dash}${opacity} stroke-linejoin="round" stroke-linecap="butt"/></g>`,
    );
  }
  // Markers above every line, and not clipped: a point on the frame shows whole.
  for (const s of ys) {
    const m = seriesMarkers(s, style.get(s.label)!, sx, sy, { left, right, top, bottom: top + plotH });
    if (m) out.push(m);
  }

  // Frame, ticks and labels on top.
  out.push(
    `<rect x="${r2(left)}" y="${r2(top)}" width="${r2(plotW)}" height="${r2(plotH)}" fill="none" stroke="${FRAME}" stroke-width="1"/>`,
  );
  const ticks: string[] = [];
  for (const v of yTicks.major) ticks.push(`M${r2(left)} ${r2(sy(v))}h${-TICK_LENGTH}`);
  for (const v of yTicks.minor) ticks.push(`M${r2(left)} ${r2(sy(v))}h${-TICK_LENGTH / 2}`);
  for (const v of xTicks.major) ticks.push(`M${r2(sx(v))} ${r2(top + plotH)}v${TICK_LENGTH}`);
  for (const v of xTicks.minor) ticks.push(`M${r2(sx(v))} ${r2(top + plotH)}v${TICK_LENGTH / 2}`);
  out.push(`<path class="ticks" d="${ticks.join('')}" stroke="${FRAME}" stroke-width="1" fill="none"/>`);
  const tickText = `font-size="${TICK_FONT}" fill="${INK}"`;
  yTicks.major.forEach((v, i) =>
    out.push(
      text(left - TICK_LENGTH - 3, sy(v) + TICK_FONT * 0.35, yTicks.labels[i]!, `text-anchor="end" ${tickText}`),
    ),
  );
  xTicks.major.forEach((v, i) =>
    out.push(
      text(
        sx(v),
        top + plotH + TICK_LENGTH + 3 + TICK_FONT * 0.9,
        xTicks.labels[i]!,
        `text-anchor="middle" ${tickText}`,
      ),
    ),
  );
  if (xAxis.label) {
    const y = top + plotH + TICK_LENGTH + 4 + TICK_FONT + 8 + LABEL_FONT * 0.8;
    out.push(text(left + plotW / 2, y, xAxis.label, `text-anchor="middle" font-size="${LABEL_FONT}" fill="${INK}"`));
  }
  if (yAxis.label) {
    const x = box.x + 6 + LABEL_FONT * 0.8;
    const y = top + plotH / 2;
    out.push(
      text(
        x,
        y,
        yAxis.label,
        `text-anchor="middle" font-size="${LABEL_FONT}" fill="${INK}" transform="rotate(-90 ${r2(x)} ${r2(y)})"`,
      ),
    );
  }
  if (panel.title) {
    out.push(
      text(
        left + plotW / 2,
        box.y + PANEL_TITLE_FONT + 2,
        panel.title,
        `text-anchor="middle" font-size="${PANEL_TITLE_FONT}" font-weight="bold" fill="${INK}"`,
      ),
    );
  }
  out.push('</g>');
  return out.join('\n');
}

interface LegendEntry {
  label: string;
  style: Style;
}

function legendEntries(figure: Figure, style: Map<string, Style>): LegendEntry[] {
  const shown = new Set<string>();
  for (const p of figure.panels) for (const s of p.series) if (s.legend !== false) shown.add(s.label);
  return [...shown].map((label) => ({ label, style: style.get(label)! }));
}

const entryWidth = (e: LegendEntry): number => LEGEND_SWATCH + 8 + textWidth(e.label, TICK_FONT);

function renderLegendEntry(e: LegendEntry, x: number, y: number): string {
  const { color, dash, width, band, marker } = e.style;
  const swatch = band
    ? `<rect x="${r2(x)}" y="${r2(y - 6)}" width="${LEGEND_SWATCH}" height="12" fill="${color}" fill-opacity="0.18"/>`
    : '';
  return (
    `<g class="legend-entry">${swatch}` +
    `<path d="M${r2(x)} ${r2(y)}h${LEGEND_SWATCH}" stroke="${color}" stroke-width="${Math.max(width, 2)}"${dash ? ` stroke-dasharray="${dash}"` : ''}/>` +
    (marker ? markerShape(marker.shape, x + LEGEND_SWATCH / 2, y, marker.size, color) : '') +
    text(x + LEGEND_SWATCH + 8, y + TICK_FONT * 0.35, e.label, `font-size="${TICK_FONT}" fill="${INK}"`) +
    '</g>'
  );
}

/** The whole figure as a standalone SVG document. */
export function renderSvg(figure: Figure): string {
  if (!figure || !Array.isArray(figure.panels) || figure.panels.length === 0) {
    throw new TypeError('a figure needs at least one panel');
  }
  const style = styles(figure);
  const entries = figure.legend === 'none' ? [] : legendEntries(figure, style);
  const placement = entries.length === 0 ? 'none' : (figure.legend ?? 'right');
  const columns = Math.max(1, Math.min(figure.columns ?? Math.min(2, figure.panels.length), figure.panels.length));
  const rows = Math.ceil(figure.panels.length / columns);
  const panelW = figure.panelWidth ?? 480;
  const panelH = figure.panelHeight ?? 340;
  const gridW = columns * panelW;
  const titleH = figure.title ? FIGURE_TITLE_FONT + 12 : 0;

  const legendW = placement === 'right' ? Math.max(...entries.map(entryWidth)) + 16 : 0;
  const perRow =
    placement === 'bottom' ? Math.max(1, Math.floor(gridW / (Math.max(...entries.map(entryWidth)) + 24))) : 1;
  const legendH = placement === 'bottom' ? Math.ceil(entries.length / perRow) * LEGEND_ROW + 10 : 0;
  // Whole pixels, so a PNG at scale s is exactly s times the SVG's size.
  const titleW = figure.title ? textWidth(figure.title, FIGURE_TITLE_FONT, true) : 0;
  const width = Math.ceil(PAD * 2 + Math.max(gridW + legendW, titleW));
  const height = Math.ceil(PAD * 2 + titleH + rows * panelH + legendH);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${r2(width)}" height="${r2(height)}" viewBox="0 0 ${r2(width)} ${r2(height)}" font-family="${esc(FONT_FAMILY)}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
  ];
  if (figure.title) {
    // Centred over the panels, unless the title is too wide for that and needs the whole figure.
    const centre = titleW <= gridW ? PAD + gridW / 2 : width / 2;
    out.push(
      text(
        centre,
        PAD + FIGURE_TITLE_FONT,
        figure.title,
        `text-anchor="middle" font-size="${FIGURE_TITLE_FONT}" font-weight="bold" fill="${INK}"`,
      ),
    );
  }
  figure.panels.forEach((panel, i) => {
    const box = {
      x: PAD + (i % columns) * panelW,
      y: PAD + titleH + Math.floor(i / columns) * panelH,
      w: panelW,
      h: panelH,
    };
    out.push(renderPanel(panel, box, style, `sgdr-plot-clip-${i}`));
  });
  if (placement === 'right') {
    const x = PAD + gridW + 16;
    const y0 = PAD + titleH + (figure.panels[0]!.title ? PANEL_TITLE_FONT + 14 : 8) + LEGEND_ROW / 2 + 2;
    out.push(`<g class="legend">${entries.map((e, i) => renderLegendEntry(e, x, y0 + i * LEGEND_ROW)).join('')}</g>`);
  } else if (placement === 'bottom') {
    const cellW = gridW / perRow;
    const y0 = PAD + titleH + rows * panelH + LEGEND_ROW / 2 + 4;
    out.push(
      `<g class="legend">${entries
        .map((e, i) => renderLegendEntry(e, PAD + (i % perRow) * cellW + 24, y0 + Math.floor(i / perRow) * LEGEND_ROW))
        .join('')}</g>`,
    );
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
