/**
 * The experiment's outputs: results.json (every aggregate number), results.csv (one row per
 * schedule and epoch), the figures, and report.html: one self-contained page (figures inlined as
 * SVG data URIs, CSS inline, no scripts or network) with the tables a reader needs to judge
 * SGDR against its comparators.
 */
import { readPlacement } from './placement';
import * as fs from 'fs';
import * as path from 'path';
import { palette } from '../plot';
import { CURVE_METRICS, type ExperimentResults, type ScheduleStats } from './results';
import type { ExperimentConfig } from './config';
import { writeExperimentFigures, type WrittenFigure } from './figures';
import type { MeanStd, PairedDifference } from './stats';
import { makeFolder } from '../folders';

export const REPORT_FILE = 'report.html';
export const RESULTS_JSON = 'results.json';
export const RESULTS_CSV = 'results.csv';

export interface ReportFiles {
  html: string;
  json: string;
  csv: string;
  figures: WrittenFigure[];
}

// ---------------------------------------------------------------------------------------------
// CSV

const csvCell = (v: unknown): string => {
  if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return '';
  const s = typeof v === 'number' ? String(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** One row per schedule and epoch: n, LR, mean and std of every metric, smoothed means, cycle ends. */
export function resultsCsv(results: ExperimentResults): string {
  const header = ['schedule', 'epoch', 'n', 'lr'];
  for (const m of CURVE_METRICS) header.push(`${m}_mean`, `${m}_std`);
  for (const m of CURVE_METRICS) header.push(`${m}_smoothed`);
  header.push('cycle_end', 'ensemble_val_loss_mean', 'ensemble_val_acc_mean', 'swa_val_loss_mean', 'swa_val_acc_mean');
  const lines = [header.join(',')];
  for (const s of results.schedules) {
    s.epochs.forEach((epoch, i) => {
      const end = s.cycleEnds.find((c) => c.epoch === epoch);
      const row: unknown[] = [s.label, epoch, s.n[i], s.lr[i]];
      for (const m of CURVE_METRICS) row.push(s.curves[m].mean[i], s.curves[m].std[i]);
      for (const m of CURVE_METRICS) row.push(s.smoothed[m][i]);
      const swaFinal = s.swa && s.swa.epoch === epoch ? s.swa : undefined;
      row.push(
        end ? 1 : 0,
        end?.ensemble_val_loss?.mean,
        end?.ensemble_val_acc?.mean,
        (end?.swa_val_loss ?? swaFinal?.val_loss)?.mean,
        (end?.swa_val_acc ?? swaFinal?.val_acc)?.mean,
      );
      lines.push(row.map(csvCell).join(','));
    });
  }
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// HTML

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fin = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
/** v.toFixed, without the minus of a value that rounds to zero ("-0.0000"). */
const fixed = (v: number, digits: number): string => v.toFixed(digits).replace(/^-(0\.?0*)$/, '$1');
const num = (v: number | null | undefined, digits = 4): string => (fin(v) ? fixed(v, digits) : '–');
const ms = (s: MeanStd, f: (v: number) => string): string =>
  s.n === 0 ? '–' : `${f(s.mean)}${fin(s.std) ? ` <span class="pm">± ${f(s.std)}</span>` : ''}`;
const loss = (s: MeanStd): string => ms(s, (v) => v.toFixed(4));
const acc = (s: MeanStd): string => ms(s, (v) => (v * 100).toFixed(2) + '%');

function scheduleText(spec: Record<string, unknown>): string {
  const { label: _label, stepsPerEpoch: _k, ...rest } = spec;
  // Options at their defaults say nothing a reader needs.
  const defaults: Record<string, unknown> = {
    decay: 1,
    warmup: 0,
    warmupEveryRestart: false,
    threshold: 1e-4,
    thresholdMode: 'rel',
  };
  return Object.entries(rest)
    .filter(([k, v]) => defaults[k] !== v)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('/') : String(v)}`)
    .join(', ');
}

function diffCell(d: PairedDifference, kind: 'loss' | 'acc'): string {
  const f = (v: number) => (kind === 'acc' ? `${fixed(v * 100, 2)} pp` : fixed(v, 4));
  const ci = d.ci ? `[${f(d.ci[0])}, ${f(d.ci[1])}]` : 'n < 2';
  return `<td>${fin(d.mean) ? f(d.mean) : '–'}</td><td>${ci}</td>`;
}

/** In words: which side the interval favours, or that it contains 0. */
function verdict(d: PairedDifference, a: string, b: string, lowerIsBetter: boolean): string {
  if (!d.ci) return 'too few seeds for an interval';
  if (d.ci[0] > 0) return lowerIsBetter ? `${esc(b)} lower` : `${esc(a)} higher`;
  if (d.ci[1] < 0) return lowerIsBetter ? `${esc(a)} lower` : `${esc(b)} higher`;
  return 'no clear difference (interval contains 0)';
}

const METRIC_TEXT: Record<string, { name: string; kind: 'loss' | 'acc'; lower: boolean }> = {
  final_val_loss: { name: 'final val loss', kind: 'loss', lower: true },
  final_val_acc: { name: 'final val accuracy', kind: 'acc', lower: false },
  best_val_loss: { name: 'best val loss', kind: 'loss', lower: true },
  final_train_loss: { name: 'final train loss', kind: 'loss', lower: true },
};

/** The schedule's colour in the figures. */
function swatch(i: number): string {
  return `<span class="sw" style="background:${palette[i % palette.length]}"></span>`;
}

/** What an ensemble method means, for the tables. */
export const ENSEMBLE_METHOD_TEXT: Record<string, string> = {
  last: 'equal weights',
  weighted: 'weights minimising the validation loss',
  greedy: 'greedy selection with replacement on the validation loss',
};

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Where an ensemble was read: its epoch, or for restarts on plateau each run's own last cycle end. */
const ensembleEpochs = (e: NonNullable<ScheduleStats['ensemble']>): string =>
  e.runEpochs && new Set(e.runEpochs).size > 1
    ? `each run's last cycle end (epochs ${e.runEpochs.join(', ')})`
    : `epoch ${e.epoch}`;

function summaryTable(results: ExperimentResults): string {
  const t = results.target.val_loss;
  const anySwa = results.schedules.some((s) => s.swa);
  const rows = results.schedules.map((s, i) => {
    const ens = s.ensemble;
    const swa = s.swa;
    return (
      `<tr><th scope="row">${swatch(i)}${esc(s.label)}<div class="spec">${esc(scheduleText(s.spec))}</div></th>` +
      `<td>${s.finished}/${results.seeds.length}${s.diverged ? `<div class="spec diverged">${s.diverged} diverged, excluded</div>` : ''}</td>` +
      `<td>${loss(s.final.val_loss)}</td><td>${acc(s.final.val_acc)}</td><td>${loss(s.final.train_loss)}</td>` +
      `<td>${loss(s.best.val_loss)}</td><td>${ms(s.best.epoch, (v) => v.toFixed(1))}</td>` +
      `<td>${t === null ? '–' : `${ms(s.toTarget.epochs, (v) => v.toFixed(1))} <span class="pm">(${s.toTarget.reached}/${s.toTarget.of} reached)</span>`}</td>` +
      `<td>${ens ? `${loss(ens.val_loss)}<div class="spec">${acc(ens.val_acc)}, ${plural(ens.size, 'snapshot')}, ${esc(ens.method)}, ${ensembleEpochs(ens)}</div>` : '–'}</td>` +
      (anySwa
        ? `<td>${swa ? `${loss(swa.val_loss)}<div class="spec">${acc(swa.val_acc)}, ${plural(swa.count, 'model')}, ${esc(swa.mode)}</div>` : '–'}</td>`
        : '') +
      `<td>${ms(s.seconds, (v) => v.toFixed(1))}</td></tr>`
    );
  });
  return (
    `<table><thead><tr><th>Schedule</th><th>Runs</th><th>Final val loss</th><th>Final val acc</th><th>Final train loss</th>` +
    `<th>Best val loss</th><th>Best epoch</th><th>Epochs to val loss ≤ ${t === null ? '–' : t.toFixed(4)}</th><th>Snapshot ensemble val loss</th>${anySwa ? '<th>SWA val loss</th>' : ''}<th>Seconds per run</th></tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table>`
  );
}

function cycleTable(s: ScheduleStats): string {
  if (s.cycleEnds.length === 0) return '';
  const withSwa = s.cycleEnds.some((c) => c.swa_val_loss);
  // Restarts on plateau: the runs end their cycles at epochs of their own; the table says whose.
  const withSeeds = s.cycleEnds.some((c) => c.seeds);
  const rows = s.cycleEnds.map(
    (c) =>
      `<tr><td>${c.cycle + 1}</td><td>${c.epoch}</td>${withSeeds ? `<td>${(c.seeds ?? []).join(', ')}</td>` : ''}<td>${loss(c.val_loss)}</td><td>${acc(c.val_acc)}</td><td>${loss(c.train_loss)}</td>` +
      `<td>${c.ensemble_val_loss ? loss(c.ensemble_val_loss) : '–'}</td><td>${c.ensemble_val_acc ? acc(c.ensemble_val_acc) : '–'}</td>` +
      (withSwa
        ? `<td>${c.swa_val_loss ? loss(c.swa_val_loss) : '–'}</td><td>${c.swa_val_acc ? acc(c.swa_val_acc) : '–'}</td>`
        : '') +
      '</tr>',
  );
  return (
    `<h3>${esc(s.label)}</h3>${withSeeds ? "<p>Restarts on plateau: each run ends a cycle where its own validation loss plateaued (or at the cycle's cap); a row per cycle and epoch, over the seeds that ended that cycle there.</p>" : ''}` +
    `<table><thead><tr><th>Cycle</th><th>Ends after epoch</th>${withSeeds ? '<th>Seeds</th>' : ''}<th>Val loss</th><th>Val acc</th><th>Train loss</th>` +
    `<th>Ensemble val loss</th><th>Ensemble val acc</th>${withSwa ? '<th>SWA val loss</th><th>SWA val acc</th>' : ''}</tr></thead><tbody>${rows.join('')}</tbody></table>`
  );
}

function comparisonTable(results: ExperimentResults): string {
  if (results.comparisons.length === 0) return '<p>Only one schedule: nothing to compare.</p>';
  const level = Math.round(results.level * 100);
  const rows = results.comparisons.map((c) => {
    const m = METRIC_TEXT[c.metric]!;
    return (
      `<tr><td>${esc(c.a)} − ${esc(c.b)}</td><td>${m.name}</td><td>${c.difference.n}</td>${diffCell(c.difference, m.kind)}` +
      `<td>${verdict(c.difference, c.a, c.b, m.lower)}</td></tr>`
    );
  });
  return (
    `<table><thead><tr><th>Difference (A − B)</th><th>Metric</th><th>Seeds</th><th>Mean difference</th><th>${level}% interval</th><th>Reading</th></tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table>`
  );
}

function ensembleTable(results: ExperimentResults): string {
  const rows = results.schedules
    .filter((s) => s.ensemble)
    .map((s) => {
      const e = s.ensemble!;
      const ci = (d: PairedDifference, f: (v: number) => string) => (d.ci ? `[${f(d.ci[0])}, ${f(d.ci[1])}]` : 'n < 2');
      const members = e.members.map((m) => `cycle ${m.cycle}: ${m.weight.toFixed(2)}`).join(', ');
      return (
        `<tr><td>${esc(s.label)}</td><td>${esc(e.method)}<div class="spec">${esc(ENSEMBLE_METHOD_TEXT[e.method] ?? '')}${members ? `; mean weights ${esc(members)}` : ''}</div></td>` +
        `<td>${e.runEpochs ? e.runEpochs.join(', ') : e.epoch}</td><td>${e.size}</td><td>${loss(e.single_val_loss)}</td><td>${loss(e.val_loss)}</td>` +
        `<td>${num(e.loss_gain.mean)}</td><td>${ci(e.loss_gain, (v) => fixed(v, 4))}</td>` +
        `<td>${acc(e.single_val_acc)}</td><td>${acc(e.val_acc)}</td><td>${fin(e.acc_gain.mean) ? fixed(e.acc_gain.mean * 100, 2) + ' pp' : '–'}</td>` +
        `<td>${ci(e.acc_gain, (v) => fixed(v * 100, 2) + ' pp')}</td></tr>`
      );
    });
  if (rows.length === 0)
    return '<p>No schedule took cycle snapshots (only warm-restart schedules do), so there is no snapshot ensemble.</p>';
  return (
    `<table><thead><tr><th>Schedule</th><th>Method</th><th>Epoch</th><th>Snapshots</th><th>Single val loss</th><th>Ensemble val loss</th><th>Loss gain</th><th>${Math.round(results.level * 100)}% interval</th>` +
    `<th>Single val acc</th><th>Ensemble val acc</th><th>Accuracy gain</th><th>${Math.round(results.level * 100)}% interval</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
  );
}

function swaTable(results: ExperimentResults): string {
  const rows = results.schedules
    .filter((s) => s.swa)
    .map((s) => {
      const w = s.swa!;
      const ci = (d: PairedDifference, f: (v: number) => string) => (d.ci ? `[${f(d.ci[0])}, ${f(d.ci[1])}]` : 'n < 2');
      return (
        `<tr><td>${esc(s.label)}</td><td>${esc(w.mode)}</td><td>${w.count}</td><td>${loss(w.single_val_loss)}</td><td>${loss(w.val_loss)}</td>` +
        `<td>${num(w.loss_gain.mean)}</td><td>${ci(w.loss_gain, (v) => fixed(v, 4))}</td>` +
        `<td>${acc(w.single_val_acc)}</td><td>${acc(w.val_acc)}</td><td>${fin(w.acc_gain.mean) ? fixed(w.acc_gain.mean * 100, 2) + ' pp' : '–'}</td>` +
        `<td>${ci(w.acc_gain, (v) => fixed(v * 100, 2) + ' pp')}</td></tr>`
      );
    });
  if (rows.length === 0) return '';
  const level = Math.round(results.level * 100);
  return (
    `<h2>Stochastic Weight Averaging</h2>
<p>The equal-weight average of each run's weights at the points named, its BatchNorm statistics recomputed by one pass over the training data (as <code>torch.optim.swa_utils.update_bn</code>), against the single model of the same run after the last epoch. Gain as for the ensembles, paired over seeds.</p>
<table><thead><tr><th>Schedule</th><th>Averaged</th><th>Models</th><th>Single val loss</th><th>SWA val loss</th><th>Loss gain</th><th>${level}% interval</th>` +
    `<th>Single val acc</th><th>SWA val acc</th><th>Accuracy gain</th><th>${level}% interval</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
  );
}

function runsTable(results: ExperimentResults, outDir: string): string {
  const rows = results.runs.map((r) => {
    const s = results.schedules.find((x) => x.label === r.label);
    const best = s?.best.perRun.find((b) => b.seed === r.seed);
    const metricsPath = r.dir ? path.join(r.dir, 'metrics.jsonl') : '';
    const link =
      metricsPath && fs.existsSync(path.join(outDir, metricsPath))
        ? `<a href="${esc(metricsPath.split(path.sep).join('/'))}">${esc(r.dir!)}</a>`
        : esc(r.dir ?? '');
    // Where it trained, when the sweep placed its workers (--devices).
    const placement = r.dir ? readPlacement(path.join(outDir, r.dir)) : undefined;
    const where = placement ? `${esc(placement.label)}<div class="spec">worker ${placement.worker + 1}</div>` : '–';
    const status =
      r.status === 'diverged' && r.divergence
        ? `diverged<div class="spec">non-finite loss at epoch ${r.divergence.epoch}, batch ${r.divergence.batch}</div>`
        : esc(r.status ?? '');
    return (
      `<tr><td>${esc(r.label)}</td><td>${r.seed}</td><td>${status}</td><td>${r.epochs}/${results.epochs}</td>` +
      `<td>${best ? `${best.val_loss.toFixed(4)} (epoch ${best.epoch})` : '–'}</td><td>${where}</td><td class="path">${link}</td></tr>`
    );
  });
  return `<table><thead><tr><th>Schedule</th><th>Seed</th><th>Status</th><th>Epochs</th><th>Best val loss</th><th>Device</th><th>Folder</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The LR range test's outcome in one line for the set-up list, pointing at its figure. */
function lrFindText(config: ExperimentConfig, results: ExperimentResults, figures: WrittenFigure[]): string {
  const doc = results.lrFind;
  if (!doc) return 'asked for (lrFind) but not run for this config yet: run sgdr compare without --report-only';
  const n = figures.findIndex((f) => f.name === 'lr-find') + 1;
  const peaks = [...new Set(config.schedules.map((s) => s.lr))].map((lr) => Number(lr.toPrecision(3)));
  const suggested =
    doc.suggested_lr === null
      ? 'no suggestion (too few steps)'
      : `suggested maximum LR ${Number(doc.suggested_lr.toPrecision(3))} (${doc.method_description})`;
  return (
    `${suggested}; ${doc.lr.length} of ${doc.iterations} steps from ${doc.start_lr} to ${doc.end_lr}, run once before the runs. ` +
    `The schedules' peak LRs: ${peaks.join(', ')}.${n > 0 ? ` Figure ${n}.` : ''}`
  );
}

const CSS = `
body{font-family:'DejaVu Sans','Liberation Sans',Arial,Helvetica,sans-serif;color:#222;background:#fff;margin:0;padding:24px 32px;line-height:1.45;font-size:14px}
main{max-width:1180px;margin:0 auto}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.lede{color:#444;margin:4px 0 16px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid #d4d4d4;padding:4px 8px;text-align:right;vertical-align:top}
th{background:#f3f5f7;font-weight:600}th[scope=row],td:first-child,thead th:first-child{text-align:left}
.pm{color:#666;font-size:12px}.spec{color:#666;font-size:11px;font-weight:normal}
.sw{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:-1px;border-radius:2px}
figure{margin:16px 0 28px}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#444;font-size:13px;max-width:900px}
.files a{margin-right:10px}.path{font-family:monospace;font-size:12px}
pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:10px;overflow:auto;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{font-weight:600}dd{margin:0}
`;

/** The whole report as one HTML document (figures as inline SVG data URIs). */
export function renderReportHtml(
  config: ExperimentConfig,
  results: ExperimentResults,
  figures: WrittenFigure[],
  outDir: string,
): string {
  const level = Math.round(results.level * 100);
  const finished = results.runs.filter((r) => r.status === 'done').length;
  const divergedRuns = results.runs.filter((r) => r.status === 'diverged').length;
  const t = results.target;
  const figureHtml = figures.map((f, i) => {
    const uri = `data:image/svg+xml;base64,${Buffer.from(f.svg).toString('base64')}`;
    const rel = (file: string) => path.relative(outDir, file).split(path.sep).join('/');
    return (
      `<figure id="fig-${esc(f.name)}"><img alt="${esc(f.title)}" src="${uri}">` +
      `<figcaption><b>Figure ${i + 1}. ${esc(f.title)}.</b> ${esc(f.caption)} <span class="files"><a href="${esc(rel(f.svgFile))}">SVG</a><a href="${esc(rel(f.pngFile))}">PNG</a></span></figcaption></figure>`
    );
  });
  const d = config.data;
  const setup = [
    [
      'Data',
      `${d.source}${d.limitTrain ? `, ${d.limitTrain} training images` : ''}${d.limitVal ? `, ${d.limitVal} validation images` : ''}${d.augment === false ? ', no augmentation' : ''}`,
    ],
    [
      'Model',
      `${config.model.arch}${config.model.stem ? ` (${config.model.stem} stem)` : ''}${config.model.initWeights ? `, from ${config.model.initWeights}` : ''}${config.model.reinitLast ? `, last ${config.model.reinitLast} modules re-initialised` : ''}`,
    ],
    [
      'Optimizer',
      Object.entries({ type: 'sgd', ...config.optimizer })
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(', '),
    ],
    ['Training', `${config.epochs} epochs, batch size ${config.batchSize}`],
    [
      'Seeds',
      `${results.seeds.join(', ')} (each schedule trained on every seed: same initial weights, batch order and augmentation per seed)`,
    ],
    [
      'Runs',
      `${finished} of ${results.runs.length} finished` +
        (divergedRuns ? `; ${divergedRuns} diverged (a NaN/Inf training loss), left out of every mean ± std` : ''),
    ],
    ...(config.lrFind ? [['LR range test', lrFindText(config, results, figures)]] : []),
    [
      'Smoothing',
      `Gaussian (RBF) kernel, bandwidth ${Number(results.bandwidth.toPrecision(3))} epochs (${config.analysis.bandwidth !== undefined ? 'set in the config' : 'default: max(0.5, epochs/40)'})`,
    ],
    [
      'Target',
      t.val_loss === null
        ? 'none'
        : `val loss ≤ ${t.val_loss.toFixed(4)} (${t.source === 'config' ? 'set in the config' : "default: the worst schedule's best mean val loss"})`,
    ],
    [
      'Intervals',
      `${level}% Student-t intervals of the mean paired difference over the seeds both schedules finished; std is the sample standard deviation (n − 1)`,
    ],
  ];
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(config.name)} — sgdr compare report</title><style>${CSS}</style></head>
<body><main>
<h1>${esc(config.name)}</h1>
<p class="lede">${config.description ? esc(config.description) + ' ' : ''}${results.schedules.length} schedules × ${results.seeds.length} seeds, ${results.epochs} epochs each.</p>
<dl>${setup.map(([k, v]) => `<dt>${esc(k!)}</dt><dd>${esc(v!)}</dd>`).join('')}</dl>
<h2>Summary</h2>
<p>Mean <span class="pm">± std</span> over seeds. Final = after the last epoch; best = each run's lowest validation loss and its epoch.</p>
${summaryTable(results)}
<h2>Figures</h2>
${figureHtml.join('\n')}
<h2>Paired differences</h2>
<p>Each seed trains every schedule from the same initial weights on the same batches, so schedules are compared seed by seed: the mean of A − B over seeds with its ${level}% interval. An interval that excludes 0 is a difference this many seeds can resolve.</p>
${comparisonTable(results)}
<h2>Snapshot ensembles</h2>
<p>Gain = single model − ensemble for the loss, ensemble − single model for accuracy (positive: the ensemble is better), paired over seeds at the last cycle end (for restarts on plateau, whose runs restart at epochs of their own: each run's own last cycle end, the epochs listed). The method column says how the snapshots were combined; <i>weighted</i> and <i>greedy</i> choose their weights on the validation set they are scored on, so their scores are optimistic by that choice.</p>
${ensembleTable(results)}
${swaTable(results)}
<h2>At the end of each cycle</h2>
${results.schedules.map(cycleTable).join('\n') || '<p>No schedule has cycle ends within the run.</p>'}
<h2>Runs</h2>
${runsTable(results, outDir)}
<h2>Config</h2>
<pre>${esc(JSON.stringify(config, null, 2))}</pre>
<p class="pm">Written by sgdr compare. Numbers: <a href="${RESULTS_JSON}">${RESULTS_JSON}</a>, <a href="${RESULTS_CSV}">${RESULTS_CSV}</a>.</p>
</main></body></html>
`;
}

/** Writes results.json, results.csv, the figures and report.html into `outDir`. */
export function writeReport(config: ExperimentConfig, results: ExperimentResults, outDir: string): ReportFiles {
  makeFolder(outDir);
  const json = path.join(outDir, RESULTS_JSON);
  const csv = path.join(outDir, RESULTS_CSV);
  const html = path.join(outDir, REPORT_FILE);
  fs.writeFileSync(json, JSON.stringify(results, null, 2) + '\n');
  fs.writeFileSync(csv, resultsCsv(results));
  const figures = writeExperimentFigures(config, results, outDir);
  fs.writeFileSync(html, renderReportHtml(config, results, figures, outDir));
  return { html, json, csv, figures };
}
