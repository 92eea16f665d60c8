/** The LR range test as a figure: smoothed loss over a log LR axis, the raw losses faint behind it, the suggestion marked. */
import type { Figure, Series } from '../plot';
import type { LrFindResult } from './lr-find';

export const SUGGESTION_NAMES = {
  steepest: 'steepest descent of the smoothed loss',
  minimum: 'minimum of the smoothed loss / 10',
} as const;

const fmt = (v: number): string =>
  v >= 1e-3 && v < 1e4
    ? String(Number(v.toPrecision(3)))
    : v
        .toExponential(2)
        .replace(/\.?0+e/, 'e')
        .replace('e+', 'e');

/** A learning rate to show on the figure beside the suggestion (e.g. the peak LR a run was given). */
export interface LrMark {
  lr: number;
  label: string;
}

export function lrFindFigure(result: LrFindResult, title = 'LR range test', marks: LrMark[] = []): Figure {
  // The frame shows the sweep up to where it diverged: from just below the lowest smoothed loss to
  // the largest smoothed loss before the stop (the last, diverged point and raw spikes leave it).
  const kept = result.stopped === 'diverged' ? result.loss.slice(0, -1) : result.loss;
  const finite = kept.filter(Number.isFinite);
  const lo = finite.length ? Math.min(...finite) : 0;
  const hi = finite.length ? Math.max(...finite) : 1;
  const pad = (hi - lo || Math.abs(hi) || 1) * 0.08;
  const series: Series[] = [
    {
      label: 'batch loss',
      x: result.lr,
      y: result.rawLoss.map((v) => (Number.isFinite(v) ? v : NaN)),
      color: '#9aa5b1',
      width: 1,
      opacity: 0.6,
    },
    {
      label: `smoothed loss (EMA, beta ${result.beta})`,
      x: result.lr,
      y: result.loss.map((v) => (Number.isFinite(v) ? v : NaN)),
      color: '#0072b2',
      width: 2,
    },
  ];
  if (result.suggestedLr !== null && result.suggestedIndex !== null) {
    const at = result.lr[result.suggestedIndex]!;
    series.push({
      label: `suggested LR ${fmt(result.suggestedLr)} (${SUGGESTION_NAMES[result.method]})`,
      x: [result.suggestedLr, result.suggestedLr],
      y: [lo - pad, hi + pad],
      color: '#d55e00',
      dash: '6 3',
      width: 1.5,
    });
    // The point of the curve the suggestion was read at (for 'minimum', ten times the suggested LR).
    series.push({
      label: 'read at',
      x: [at],
      y: [result.loss[result.suggestedIndex]!],
      color: '#d55e00',
      markers: true,
      legend: false,
    });
  }
  // Marks inside the sweep only: one outside it would stretch the log axis past the data.
  const [first, last] = [result.lr[0]!, result.lr[result.lr.length - 1]!];
  for (const m of marks.filter((m) => m.lr >= first && m.lr <= last)) {
    series.push({
      label: m.label,
      x: [m.lr, m.lr],
      y: [lo - pad, hi + pad],
      color: '#555555',
      dash: '2 3',
      width: 1.5,
    });
  }
  return {
    title,
    panels: [
      {
        x: {
          label: 'Learning rate (log scale)',
          scale: 'log',
          min: result.lr[0],
          max: result.lr[result.lr.length - 1],
        },
        y: { label: 'Training loss', min: Math.max(0, lo - pad), max: hi + pad },
        series,
      },
    ],
    legend: 'bottom',
    panelWidth: 640,
    panelHeight: 380,
  };
}
