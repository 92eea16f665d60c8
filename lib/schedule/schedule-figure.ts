/** Schedules drawn as LR-over-epochs figures (linear and/or log LR axis), ready for lib/plot. */
import type { Figure, Panel, Series } from '../plot';
import { countAtLeastOne, positive } from './errors';
import type { PlateauCycle } from './plateau-restarts';
import { stepTime, type Schedule } from './schedule';

export type LrScale = 'linear' | 'log' | 'both';

export interface ScheduleFigureOptions {
  /** Epochs on the x axis. */
  epochs: number;
  title?: string;
  /** LR axis: linear, log, or both side by side (default linear). */
  yScale?: LrScale;
  /** Sample at least this many points per epoch (default: each schedule's stepsPerEpoch). */
  samplesPerEpoch?: number;
}

/** Every cycle is drawn with at least this many points, so short cycles still look like cosines. */
const POINTS_PER_CYCLE = 64;
/** Every series has at least this many points, so step decays drop (nearly) vertically. */
const MIN_POINTS = 2000;
/** No series gets more points than this, whatever the cycle lengths. */
const MAX_POINTS = 100_000;
/** A log LR axis shows this many decades below the top one; lower LRs (the ends of cycles that anneal to 0) are clipped. */
const LOG_DECADES = 3;

function series(schedule: Schedule, epochs: number, minSamples: number): Series {
  // Past MAX_POINTS cycles the shortest is below epochs / MAX_POINTS and k is capped anyway, so the
  // first MAX_POINTS + 1 cycles decide k as all of them would: a tiny T_0 cannot exhaust memory.
  const cycles = schedule.cycles(epochs, MAX_POINTS + 1);
  const shortest = cycles.reduce((m, c) => Math.min(m, c.length), epochs);
  const wanted = Math.max(minSamples, Math.ceil(POINTS_PER_CYCLE / shortest), Math.ceil(MIN_POINTS / epochs));
  const k = Math.max(1, Math.min(wanted, Math.floor(MAX_POINTS / epochs)));
  // The last step is at epochs − 1/k: a restart falling exactly at `epochs` is never trained with.
  const steps = Math.round(epochs * k);
  const x = new Array<number>(steps);
  const y = new Array<number>(steps);
  for (let n = 0; n < steps; n++) {
    x[n] = stepTime(n, k);
    y[n] = schedule.lrAt(x[n]!);
  }
  // Baselines without restarts are dashed, so they read as a family apart from the SGDR curves.
  const annealing = cycles.some((c) => Number.isFinite(c.length));
  // Restarts on plateau are marked where they happened: the data moved them off SGDR's timeline.
  const plateaus = cycles
    .filter((c) => (c as Partial<PlateauCycle>).plateau)
    .map((c) => Math.round(c.start * k))
    .filter((n) => n < steps);
  return {
    label: schedule.name,
    x,
    y,
    ...(annealing ? {} : { dash: true }),
    ...(plateaus.length ? { markers: plateaus } : {}),
  };
}

/** A figure of the schedules' LR over `epochs` epochs, one series per schedule. */
export function scheduleFigure(schedules: Schedule[], options: ScheduleFigureOptions): Figure {
  const epochs = positive('epochs', options.epochs);
  const minSamples =
    options.samplesPerEpoch === undefined ? undefined : countAtLeastOne('samplesPerEpoch', options.samplesPerEpoch);
  const lines = schedules.map((s) => series(s, epochs, minSamples ?? s.stepsPerEpoch));
  const all = lines.flatMap((s) => s.y as number[]);
  const floor = 10 ** (Math.floor(Math.log10(all.reduce((a, b) => Math.max(a, b), 0))) - LOG_DECADES);
  // The floor only applies when some LR falls below it; otherwise the data decide the log axis.
  const logMin = all.some((v) => v < floor) ? { min: floor } : {};
  const panel = (scale: 'linear' | 'log', title?: string): Panel => ({
    ...(title ? { title } : {}),
    x: { label: 'Epochs', min: 0, max: epochs },
    y: scale === 'log' ? { label: 'Learning rate (log scale)', scale, ...logMin } : { label: 'Learning rate', scale },
    series: lines,
  });
  const yScale = options.yScale ?? 'linear';
  const panels = yScale === 'both' ? [panel('linear', 'Linear LR axis'), panel('log', 'Log LR axis')] : [panel(yScale)];
  // One schedule needs no legend: its name becomes the title. Two panels side by side leave no
  // room for a legend beside them.
  const title = options.title ?? (schedules.length === 1 ? schedules[0]!.name : undefined);
  const legend = schedules.length === 1 ? 'none' : panels.length > 1 ? 'bottom' : 'right';
  return { ...(title ? { title } : {}), panels, legend };
}
