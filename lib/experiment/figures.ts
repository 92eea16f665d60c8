/**
 * The experiment's figures, as lib/plot Figures: (1) the LR schedules, the LR range test when one
 * ran, (2) loss mean ± 1 std over seeds, (3) Gaussian-smoothed mean curves, (4) accuracy, (5) the
 * snapshot ensemble and SWA against the single model. A schedule has the same colour in every
 * figure; schedules without restarts are dashed; the ends of SGDR cycles (where the authors read
 * SGDR) are marked, and for restarts on plateau the epochs after which a seed restarted.
 */
import * as fs from 'fs';
import * as path from 'path';
import { palette, renderPng, renderSvg, type Figure, type Panel, type Series } from '../plot';
import { isAdaptiveSchedule, scheduleFigure, scheduleFromSpec } from '../schedule';
import type { ExperimentConfig } from './config';
import { scheduleSpecOf } from './run-config';
import type { ExperimentResults, ScheduleStats } from './results';
import { makeFolder } from '../folders';
import { lrFindEnding, lrFindResultOf } from '../train/lr-find-file';
import { lrFindFigure, SUGGESTION_NAMES } from '../train/lr-find-figure';

export interface ExperimentFigure {
  /** File stem: figures/<name>.svg and .png. */
  name: string;
  title: string;
  /** What the figure shows, for the report. */
  caption: string;
  figure: Figure;
}

export interface WrittenFigure extends ExperimentFigure {
  svg: string;
  svgFile: string;
  pngFile: string;
}

const colourOf = (i: number): string => palette[i % palette.length]!;
const restarts = (s: ScheduleStats): boolean => {
  const spec = s.spec as { type?: string };
  return spec.type === 'warm-restarts' || spec.type === 'plateau-restarts';
};
const styleOf = (s: ScheduleStats, i: number): Pick<Series, 'color' | 'dash'> => ({
  color: colourOf(i),
  ...(restarts(s) ? {} : { dash: true }),
});
const cycleEndIndices = (s: ScheduleStats): number[] => s.cycleEnds.map((c) => c.epoch - 1);
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const fmtBandwidth = (h: number): string => `${Number(h.toPrecision(3))}`;

function epochAxis(results: ExperimentResults): Panel['x'] {
  // Short runs get a tick at every epoch.
  const ticks = results.epochs <= 12 ? { ticks: Array.from({ length: results.epochs }, (_, i) => i + 1) } : {};
  return { label: 'Epoch', ...(results.epochs > 1 ? { min: 1, max: results.epochs } : {}), ...ticks };
}

/** mean ± std bands per schedule for one metric. */
function bandPanel(
  results: ExperimentResults,
  metric: 'val_loss' | 'train_loss' | 'val_acc' | 'train_acc',
  title: string,
  yLabel: string,
  log: boolean,
): Panel {
  const pct = metric.endsWith('acc');
  const k = pct ? 100 : 1;
  return {
    title,
    x: epochAxis(results),
    y: { label: yLabel, scale: log ? 'log' : 'linear' },
    series: results.schedules.map((s, i) => {
      const band = s.curves[metric];
      const std = band.std.map((v) => (Number.isFinite(v) ? v : 0));
      return {
        label: s.label,
        x: s.epochs,
        y: band.mean.map((v) => v * k),
        lower: band.mean.map((v, j) => (v - std[j]!) * k),
        upper: band.mean.map((v, j) => (v + std[j]!) * k),
        ...styleOf(s, i),
        width: 2,
        ...(s.cycleEnds.length ? { markers: cycleEndIndices(s) } : {}),
      };
    }),
  };
}

/**
 * y limits that show the end of training: from just below the lowest mean to twice the largest
 * final mean (+ std), so early blow-ups and restart spikes leave the frame instead of squashing
 * the curves where schedules are compared. Undefined when nothing would leave the frame.
 */
export function zoomLimits(
  results: ExperimentResults,
  metric: 'val_loss' | 'train_loss',
): { min: number; max: number } | undefined {
  const means = results.schedules.flatMap((s) => s.curves[metric].mean).filter(Number.isFinite);
  const finals = results.schedules
    .map((s) => {
      const m = s.curves[metric].mean;
      const i = m.length - 1 - [...m].reverse().findIndex(Number.isFinite);
      return i < m.length ? m[i]! + (Number.isFinite(s.curves[metric].std[i]!) ? s.curves[metric].std[i]! : 0) : NaN;
    })
    .filter(Number.isFinite);
  if (means.length === 0 || finals.length === 0) return undefined;
  const lowest = Math.min(...means);
  const max = 2 * Math.max(...finals);
  if (Math.max(...means) <= max) return undefined;
  return { min: Math.max(0, lowest - 0.15 * (max - lowest)), max };
}

/** The LR range test's figure, with the schedules' peak LRs marked beside the suggestion. */
function lrFindExperimentFigure(
  config: ExperimentConfig,
  doc: NonNullable<ExperimentResults['lrFind']>,
): ExperimentFigure {
  const result = lrFindResultOf(doc, doc.file);
  const byLr = new Map<number, string[]>();
  for (const s of config.schedules) byLr.set(s.lr, [...(byLr.get(s.lr) ?? []), s.label]);
  const marks = [...byLr].map(([lr, labels]) => ({
    lr,
    label: `LR ${Number(lr.toPrecision(3))} given to ${labels.length === 1 ? labels[0] : `${labels.length} schedules`}`,
  }));
  const seed = typeof doc.seed === 'number' ? `seed ${doc.seed}'s` : 'the';
  const suggestion =
    result.suggestedLr === null
      ? 'The sweep was too short to suggest an LR.'
      : `Dashed: the suggested maximum LR, ${Number(result.suggestedLr.toPrecision(3))} (${SUGGESTION_NAMES[result.method]}), a value for SGDR's eta_max; dotted: the peak LRs the schedules were given.`;
  return {
    name: 'lr-find',
    title: 'LR range test',
    caption:
      `Run once before the runs (as sgdr lr-find; Smith 2017, fastai's lr_find), from ${seed} initial model, on the training data with batch size ${config.batchSize}: ` +
      `the LR grew exponentially from ${result.startLr} to ${result.endLr} over ${result.iterations} steps (${lrFindEnding(result)}). ` +
      `The line is the debiased moving average of the batch loss (beta ${result.beta}), the faint one the batch losses. ${suggestion} ` +
      `Numbers: ${doc.file}.`,
    figure: lrFindFigure(result, 'LR range test', marks),
  };
}

/** Every figure of an experiment; the ensemble figure only when some schedule took cycle snapshots. */
export function experimentFigures(config: ExperimentConfig, results: ExperimentResults): ExperimentFigure[] {
  const seeds = plural(results.seeds.length, 'seed');
  const figures: ExperimentFigure[] = [];

  // (1) The LR schedules (the SGDR paper's Figure 1, for this experiment's schedules).
  // Restarts on plateau depend on a run's validation losses: drawn as the lowest seed's run had them.
  const replayed: string[] = [];
  const schedules = config.schedules.map((entry) => {
    const stats = results.schedules.find((s) => s.label === entry.label);
    const history = stats?.valLossHistory;
    const label = history ? `${entry.label} (seed ${history.seed})` : entry.label;
    const schedule = scheduleFromSpec({ ...scheduleSpecOf(entry), label });
    if (history && isAdaptiveSchedule(schedule)) {
      history.val_loss.slice(0, config.epochs).forEach((v, j) => schedule.observe(j + 1, v));
      replayed.push(`${entry.label} restarted where seed ${history.seed}'s validation loss plateaued (marked)`);
    }
    return schedule;
  });
  const lr = scheduleFigure(schedules, { epochs: config.epochs, yScale: 'both', title: 'Learning-rate schedules' });
  lr.panels.forEach((p) => p.series.forEach((s, i) => (s.color = colourOf(i))));
  figures.push({
    name: 'lr-schedules',
    title: 'Learning-rate schedules',
    caption:
      `The learning rate of every batch over the ${plural(config.epochs, 'epoch')}, on a linear and a log axis. ` +
      'SGDR anneals with a cosine inside each cycle and restarts at the cycle ends; step decay (dashed) multiplies the rate by gamma at its steps.' +
      (replayed.length
        ? ` ${replayed.join('; ')}; other seeds may restart elsewhere (see the cycle-end markers of the loss figures).`
        : ''),
    figure: lr,
  });

  // The LR range test, when the experiment ran one: next to the LRs the schedules were given.
  if (results.lrFind) figures.push(lrFindExperimentFigure(config, results.lrFind));

  // (2) Loss: mean ± 1 std over seeds (the seed study's main figure), with a zoom on the end of training.
  const zoom = zoomLimits(results, 'val_loss');
  const lossPanels = [bandPanel(results, 'val_loss', 'Validation loss', 'Validation loss (log)', true)];
  if (zoom) {
    const z = bandPanel(results, 'val_loss', 'Validation loss, zoomed', 'Validation loss', false);
    z.y = { ...z.y, ...zoom };
    // Where a mean is above the frame its band would shade the whole height: only clutter there.
    for (const series of z.series) {
      const y = series.y as number[];
      const cut = (band: ArrayLike<number>) => Array.from(band, (v, j) => (y[j]! > zoom.max ? NaN : v));
      series.lower = cut(series.lower!);
      series.upper = cut(series.upper!);
    }
    lossPanels.push(z);
  }
  lossPanels.push(bandPanel(results, 'train_loss', 'Training loss', 'Training loss (log)', true));
  figures.push({
    name: 'loss',
    title: `Loss, mean ± 1 std over ${seeds}`,
    caption:
      `Validation and training loss after each epoch: the line is the mean over ${seeds}, the shaded band ±1 standard deviation ` +
      '(log axes; where mean − std ≤ 0 the band runs off the bottom). ' +
      (zoom
        ? `The middle panel is the same validation loss on a linear axis cut at ${zoom.max.toPrecision(2)} (twice the largest final mean + std), so the end of training can be compared; higher values leave the frame. `
        : '') +
      'Markers: ends of SGDR cycles, where a warm-restart run should be read (mid-cycle its rate is still high); for restarts on plateau, the epochs after which some seed restarted.',
    figure: {
      title: `Loss, mean ± 1 std over ${seeds}`,
      panels: lossPanels,
      columns: lossPanels.length,
      ...(lossPanels.length > 2 ? { panelWidth: 420 } : {}),
      legend: 'bottom',
    },
  });

  // (3) Smoothed means of every schedule on one chart.
  const h = fmtBandwidth(results.bandwidth);
  const smoothPanel = (metric: 'val_loss' | 'train_loss', title: string): Panel => ({
    title,
    x: epochAxis(results),
    y: { label: `${metric === 'val_loss' ? 'Validation' : 'Training'} loss (log)`, scale: 'log' },
    series: results.schedules.flatMap((s, i): Series[] => [
      {
        label: `${s.label} (mean)`,
        x: s.epochs,
        y: s.curves[metric].mean,
        color: colourOf(i),
        opacity: 0.35,
        width: 1.2,
        legend: false,
      },
      { label: s.label, x: s.epochs, y: s.smoothed[metric], ...styleOf(s, i), width: 2.2 },
    ]),
  });
  figures.push({
    name: 'smoothed',
    title: `Smoothed mean loss (Gaussian kernel, bandwidth ${h} epochs)`,
    caption:
      `Mean loss over ${seeds} smoothed with a Gaussian (RBF) kernel of standard deviation ${h} epochs ` +
      '(Nadaraya–Watson: each point is the kernel-weighted mean of the per-epoch means). Faint lines: the unsmoothed means.',
    figure: {
      title: `Smoothed mean loss (Gaussian kernel, bandwidth ${h} epochs)`,
      panels: [smoothPanel('val_loss', 'Validation loss'), smoothPanel('train_loss', 'Training loss')],
      legend: 'bottom',
    },
  });

  // (4) Accuracy.
  figures.push({
    name: 'accuracy',
    title: `Accuracy, mean ± 1 std over ${seeds}`,
    caption: `Validation and training accuracy (%) after each epoch, mean ± 1 standard deviation over ${seeds}; markers at the ends of SGDR cycles.`,
    figure: {
      title: `Accuracy, mean ± 1 std over ${seeds}`,
      panels: [
        bandPanel(results, 'val_acc', 'Validation accuracy', 'Validation accuracy (%)', false),
        bandPanel(results, 'train_acc', 'Training accuracy', 'Training accuracy (%)', false),
      ],
      legend: 'bottom',
    },
  });

  // (5) Snapshot ensemble vs single model, at the cycle ends.
  const withEnsemble = results.schedules
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => s.cycleEnds.some((c) => c.ensemble_val_loss) || s.swa);
  const anySwa = results.schedules.some((s) => s.swa);
  if (withEnsemble.length > 0) {
    let lossCut: number | undefined;
    const panel = (metric: 'loss' | 'acc'): Panel => {
      const k = metric === 'acc' ? 100 : 1;
      const series: Series[] = [];
      for (const { s, i } of withEnsemble) {
        const ends = s.cycleEnds.filter((c) => c.ensemble_val_loss || c.swa_val_loss);
        series.push({
          label: `${s.label}: single model`,
          x: ends.map((c) => c.epoch),
          y: ends.map((c) => (metric === 'loss' ? c.val_loss.mean : c.val_acc.mean * k)),
          color: colourOf(i),
          width: 2,
          markers: true,
          marker: 'circle',
        });
        const ensEnds = ends.filter((c) => c.ensemble_val_loss);
        if (ensEnds.length) {
          series.push({
            label: `${s.label}: snapshot ensemble (${s.ensemble?.method ?? 'last'})`,
            x: ensEnds.map((c) => c.epoch),
            y: ensEnds.map((c) => (metric === 'loss' ? c.ensemble_val_loss!.mean : c.ensemble_val_acc!.mean * k)),
            color: colourOf(i),
            width: 2,
            dash: '7 4',
            markers: true,
            marker: 'diamond',
            markerSize: 8,
          });
        }
        if (s.swa) {
          // SWA where it was evaluated: the cycle ends it averaged at, and after the last epoch.
          const points = s.cycleEnds
            .filter((c) => c.swa_val_loss && c.epoch !== s.swa!.epoch)
            .map((c) => ({ x: c.epoch, loss: c.swa_val_loss!.mean, acc: c.swa_val_acc!.mean }));
          points.push({ x: s.swa.epoch, loss: s.swa.val_loss.mean, acc: s.swa.val_acc.mean });
          if (!ends.some((c) => c.epoch === s.swa!.epoch)) {
            // The single model at the last epoch, so the SWA point has its pair.
            series.push({
              label: `${s.label}: single model, last epoch`,
              x: [s.swa.epoch],
              y: [metric === 'loss' ? s.swa.single_val_loss.mean : s.swa.single_val_acc.mean * k],
              color: colourOf(i),
              width: 0,
              markers: true,
              marker: 'circle',
            });
          }
          series.push({
            label: `${s.label}: SWA`,
            x: points.map((p) => p.x),
            y: points.map((p) => (metric === 'loss' ? p.loss : p.acc * k)),
            color: colourOf(i),
            width: 2,
            dash: '2 3',
            markers: true,
            marker: 'square',
            markerSize: 7,
          });
        }
      }
      // Schedules without snapshots: their single model over all epochs, for reference. On the loss
      // axis they may start far above the cycle ends this figure compares: the frame is cut at
      // twice the largest cycle-end value then, and their early epochs leave it.
      const compared = series.flatMap((x) => x.y as number[]).filter(Number.isFinite);
      const references: number[] = [];
      results.schedules.forEach((s, i) => {
        if (withEnsemble.some((w) => w.i === i)) return;
        series.push({
          label: `${s.label}: single model`,
          x: s.epochs,
          y: s.curves[metric === 'loss' ? 'val_loss' : 'val_acc'].mean.map((v) => v * k),
          color: colourOf(i),
          width: 1.5,
          dash: '2 3',
        });
        references.push(...(series[series.length - 1]!.y as number[]).filter(Number.isFinite));
      });
      const top = compared.length ? 2 * Math.max(...compared) : Infinity;
      const cut = metric === 'loss' && references.some((v) => v > top);
      if (metric === 'loss') lossCut = cut ? top : undefined;
      return {
        title: metric === 'loss' ? 'Validation loss' : 'Validation accuracy',
        x: epochAxis(results),
        y:
          metric === 'loss'
            ? {
                label: 'Validation loss (log)',
                scale: 'log',
                ...(cut ? { min: Math.min(...compared, ...references) / 1.2, max: top } : {}),
              }
            : { label: 'Validation accuracy (%)' },
        series,
      };
    };
    const panels = [panel('loss'), panel('acc')];
    const size = Math.max(0, ...withEnsemble.map(({ s }) => s.ensemble?.size ?? 0));
    figures.push({
      name: 'ensemble',
      title: anySwa ? 'Snapshot ensemble and SWA vs single model' : 'Snapshot ensemble vs single model',
      caption:
        `At each cycle end, the mean over ${seeds} of the single model's validation loss and accuracy and of the snapshot ensemble ` +
        `(the averaged softmax of the last ${size > 0 ? `≤ ${size}` : ''} cycle snapshots of the same run). ` +
        (anySwa
          ? 'Squares: the SWA model (the averaged weights, BatchNorm recomputed) where it was evaluated: at the cycle ends it averaged at and after the last epoch. '
          : '') +
        'Dotted without markers: schedules with neither, their single model after every epoch' +
        (lossCut !== undefined
          ? `; the loss axis stops at ${lossCut.toPrecision(2)} (twice the largest value compared), which their early epochs leave.`
          : '.'),
      figure: {
        title: anySwa ? 'Snapshot ensemble and SWA vs single model' : 'Snapshot ensemble vs single model (cycle ends)',
        panels,
        legend: 'bottom',
      },
    });
  }
  return figures;
}

/** Writes every figure as figures/<name>.svg and figures/<name>.png under `outDir`. */
export function writeExperimentFigures(
  config: ExperimentConfig,
  results: ExperimentResults,
  outDir: string,
): WrittenFigure[] {
  const dir = path.join(outDir, 'figures');
  makeFolder(dir);
  return experimentFigures(config, results).map((f) => {
    const svg = renderSvg(f.figure);
    const svgFile = path.join(dir, `${f.name}.svg`);
    const pngFile = path.join(dir, `${f.name}.png`);
    fs.writeFileSync(svgFile, svg);
    fs.writeFileSync(pngFile, renderPng(svg));
    return { ...f, svg, svgFile, pngFile };
  });
}
