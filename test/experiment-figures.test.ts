/**
 * What the experiment figures need from lib/plot (markers, fixed ticks, readable narrow log axes,
 * a PNG decoder) and what the figures hold: one colour per schedule everywhere, cycle ends marked,
 * the bandwidth in the smoothing figure, a zoom when early losses dwarf the end of training.
 */
import { describe, expect, it } from 'vitest';
import { aggregate, experimentFigures, parseExperimentConfig, zoomLimits, type RunRecord } from '../lib/experiment';
import { decodePng, logTicks, palette, renderPng, renderSvg, summarizeImage, type Figure } from '../lib/plot';
import type { EpochMetrics } from '../lib/train/metrics';

describe('lib/plot extensions', () => {
  const x = [1, 2, 3, 4, 5, 6, 7];
  const figure: Figure = {
    panels: [
      {
        x: { label: 'Epoch', min: 1, max: 7, ticks: x },
        y: { scale: 'log' },
        series: [
          { label: 'a', x, y: [0.9, 0.7, 0.5, 0.6, 0.45, 0.4, 0.35], markers: [0, 2, 6] },
          { label: 'b', x, y: [0.8, 0.7, 0.6, 0.55, 0.5, 0.45, 0.42], markers: true, marker: 'diamond', dash: true },
        ],
      },
    ],
  };

  it('markers at the given points (and every point), shown in the legend', () => {
    const svg = renderSvg(figure);
    const a = svg.match(/<g class="markers" data-label="a">(.*?)<\/g>/)![1]!;
    expect(a.split('<circle').length - 1).toBe(3);
    const b = svg.match(/<g class="markers" data-label="b">(.*?)<\/g>/)![1]!;
    expect(b.split('<path').length - 1).toBe(7);
    expect(svg.match(/<g class="legend">.*<\/g>/s)![0]).toContain('<circle');
  });

  it('fixed ticks label every epoch when there is room', () => {
    const svg = renderSvg(figure);
    for (const e of x) expect(svg).toMatch(new RegExp(`text-anchor="middle" font-size="12" fill="#222">${e}</text>`));
    const narrow = renderSvg({ ...figure, panelWidth: 120, legend: 'none' });
    const labels = [...narrow.matchAll(/text-anchor="middle" font-size="12" fill="#222">(\d+)<\/text>/g)].map((m) =>
      Number(m[1]),
    );
    expect(labels.length).toBeLessThan(7);
    expect(labels[0]).toBe(1);
  });

  it('a narrow log range gets several labels', () => {
    expect(logTicks(0.3, 0.7, 5).labels).toEqual(['0.3', '0.4', '0.5', '0.6', '0.7']);
    expect(logTicks(0.31, 0.39, 5).major.length).toBeGreaterThanOrEqual(2);
    // Unchanged where there were enough labels already.
    expect(logTicks(0.3, 2.5, 5).labels).toEqual(['0.5', '1', '2']);
  });

  it('decodePng reads back what renderPng wrote', () => {
    const png = decodePng(renderPng(renderSvg(figure), { scale: 1 }));
    const s = summarizeImage(png);
    expect(s.inked).toBeGreaterThan(0.02);
    let blue = 0;
    for (let i = 0; i < png.pixels.length; i += 4)
      if (png.pixels[i] === 0x00 && png.pixels[i + 1] === 0x72 && png.pixels[i + 2] === 0xb2) blue++;
    expect(blue).toBeGreaterThan(50);
  });
});

describe('experiment figures', () => {
  const config = parseExperimentConfig({
    name: 't',
    data: 'fashion-mnist',
    model: 'resnet18',
    epochs: 7,
    batchSize: 64,
    seeds: [0, 1],
    schedules: [
      { label: 'Step', type: 'multistep', lr: 0.05, milestones: [4, 6] },
      { label: 'SGDR', type: 'warm-restarts', lr: 0.05, t0: 1, tMult: 2 },
    ],
  });
  const rows = (seed: number, spike: number): EpochMetrics[] =>
    Array.from({ length: 7 }, (_, i) => ({
      epoch: i + 1,
      lr: 0.05,
      lr_end: 0.01,
      train_loss: 1 / (i + 1),
      train_acc: 0.5 + i / 20,
      val_loss: i === 0 ? spike : 0.5 + 0.3 / (i + 1) + seed / 100,
      val_acc: 0.6 + i / 30,
      seconds: 1,
      images_per_second: 100,
      cycle: 0,
      cycle_end: [1, 3, 7].includes(i + 1),
    }));
  const records: RunRecord[] = [
    { label: 'Step', seed: 0, rows: rows(0, 300) },
    { label: 'Step', seed: 1, rows: rows(1, 100) },
    { label: 'SGDR', seed: 0, rows: rows(0, 3) },
    { label: 'SGDR', seed: 1, rows: rows(1, 4) },
  ];
  const results = aggregate(config, records);
  const figures = experimentFigures(config, results);

  it('LR schedules, loss, smoothed, accuracy; no ensemble figure without ensemble rows', () => {
    expect(figures.map((f) => f.name)).toEqual(['lr-schedules', 'loss', 'smoothed', 'accuracy']);
  });

  it('a schedule keeps its colour in every figure; schedules without restarts are dashed', () => {
    for (const f of figures) {
      for (const p of f.figure.panels) {
        for (const s of p.series) {
          if (s.label.startsWith('Step')) expect(s.color, `${f.name}: ${s.label}`).toBe(palette[0]);
          if (s.label.startsWith('SGDR')) expect(s.color, `${f.name}: ${s.label}`).toBe(palette[1]);
        }
      }
    }
    const loss = figures[1]!.figure.panels[0]!;
    expect(loss.series[0]!.dash).toBe(true);
    expect(loss.series[1]!.markers).toEqual([0, 2, 6]); // SGDR's cycle ends after epochs 1, 3, 7
  });

  it('zooms on the end of training when the first epochs dwarf it', () => {
    const z = zoomLimits(results, 'val_loss')!;
    expect(z.max).toBeCloseTo(
      2 * Math.max(...results.schedules.map((s) => s.curves.val_loss.mean[6]! + s.curves.val_loss.std[6]!)),
      12,
    );
    expect(figures[1]!.figure.panels.map((p) => p.title)).toEqual([
      'Validation loss',
      'Validation loss, zoomed',
      'Training loss',
    ]);
    expect(figures[2]!.title).toContain('bandwidth 0.5 epochs');
  });

  it('in the zoom, no band where its mean is above the frame (it would shade the whole height)', () => {
    const zoomed = figures[1]!.figure.panels[1]!;
    const max = zoomed.y!.max!;
    for (const s of zoomed.series) {
      const y = s.y as number[];
      y.forEach((v, j) => {
        const hidden = v > max;
        expect(Number.isNaN(s.lower![j]!), `${s.label}, epoch ${j + 1}`).toBe(hidden);
        expect(Number.isNaN(s.upper![j]!), `${s.label}, epoch ${j + 1}`).toBe(hidden);
      });
    }
    // Step's first epoch (a mean of 200) is above the frame, its last ones are not.
    expect(Number.isNaN(zoomed.series[0]!.lower![0]!)).toBe(true);
    expect(Number.isFinite(zoomed.series[0]!.lower![6]!)).toBe(true);
  });

  it('the ensemble figure cuts its loss axis at twice the largest value compared when a reference curve starts far above', () => {
    const withEnsemble = records.map((r) => ({
      ...r,
      rows: r.rows.map((row) =>
        r.label === 'SGDR' && row.cycle_end
          ? { ...row, ensemble_val_loss: row.val_loss! - 0.01, ensemble_val_acc: row.val_acc!, ensemble_size: 2 }
          : row,
      ),
    }));
    const ensemble = experimentFigures(config, aggregate(config, withEnsemble)).find((f) => f.name === 'ensemble')!;
    const panel = ensemble.figure.panels[0]!;
    const compared = panel.series.filter((s) => !s.label.startsWith('Step')).flatMap((s) => s.y as number[]);
    // SGDR's values at its cycle ends (epoch 1: 3.5 on average) set the frame; Step's 200 leaves it.
    expect(panel.y!.max).toBeCloseTo(2 * Math.max(...compared), 12);
    expect(ensemble.caption).toContain(`the loss axis stops at ${panel.y!.max!.toPrecision(2)}`);
    // Accuracy is not cut.
    expect(ensemble.figure.panels[1]!.y!.max).toBeUndefined();
  });
});
