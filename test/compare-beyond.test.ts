/**
 * `sgdr compare` beyond SGDR, end to end on tiny generated IDX data: the LR range test of a config's
 * `lrFind` runs once before the runs (lr-find.json, its figure and suggestion in the report; found
 * done on the next call, run again when the sweep changes), and a plateau-restarts schedule shows
 * the restarts its runs' validation losses gave: its row in the summary, its cycle ends, and its LR
 * curve replayed from a seed's metric history with the restarts marked. Uses the compiled CLI
 * (npm test builds dist/ first).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { experimentFigures, readExperimentFile, type ExperimentResults } from '../lib/experiment';
import { PlateauRestarts } from '../lib/schedule';
import { suggestLr } from '../lib/train/lr-find';
import type { EpochMetrics } from '../lib/train/metrics';
import { runSgdr, type CommandResult } from './helpers/cli';
import { writeIdxDataset } from './helpers/idx';
import { tempDir } from './helpers/native';

const sgdr = (args: string[]): Promise<CommandResult> => runSgdr(args, { env: { CI: '1' } });
const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
const readRows = (file: string): EpochMetrics[] =>
  fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EpochMetrics);
const show = (v: number): string => String(Number(v.toPrecision(3)));
/** The SVG of a report figure, decoded from its data URI. */
const reportSvg = (html: string, name: string): string => {
  const m = new RegExp(`<figure id="fig-${name}"><img alt="[^"]*" src="data:image/svg\\+xml;base64,([^"]+)"`).exec(
    html,
  );
  expect(m, `figure ${name} in the report`).not.toBeNull();
  return Buffer.from(m![1]!, 'base64').toString('utf8');
};

interface LrFindDoc {
  lr: number[];
  loss: number[];
  raw_loss: number[];
  suggested_lr: number | null;
  suggested_index: number | null;
  method: string;
  stopped: string;
  iterations: number;
  seed: number;
}

// A relative threshold of 0.5 counts only a halving of the validation loss as an improvement, so
// plateaus come within a few epochs whatever the data (as in train-plateau.test.ts); T_0 = 10 is
// longer than the run, so every cycle end is a restart on plateau.
const PLATEAU = { type: 'plateau-restarts', lr: 0.05, t0: 10, patience: 1, threshold: 0.5 } as const;
const EPOCHS = 5;

describe('sgdr compare with restarts on plateau and an LR range test', () => {
  let work: string;
  let out: string;
  let configFile: string;
  let config: Record<string, any>;
  let first: CommandResult;
  let doc: LrFindDoc;
  let results: ExperimentResults;
  let html: string;

  beforeAll(async () => {
    work = tempDir('compare-beyond');
    out = path.join(work, 'exp');
    const data = writeIdxDataset(path.join(work, 'data'), 160, 80);
    config = {
      name: 'plateau and lr-find',
      data: { source: `fashion-mnist:${data}`, limitTrain: 96, limitVal: 40, augment: false },
      model: { arch: 'resnet18', stem: 'imagenet' },
      epochs: EPOCHS,
      batchSize: 32,
      seeds: [0, 1],
      lrFind: { iterations: 30 },
      schedules: [
        { label: 'SGDR T0=1, Tmult=2', type: 'warm-restarts', lr: 0.05, t0: 1, tMult: 2 },
        { label: 'Plateau', ...PLATEAU },
      ],
      keep: { checkpoint: false, best: false, snapshots: false },
    };
    configFile = path.join(work, 'experiment.json');
    fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
    first = await sgdr(['compare', '--config', configFile, '--out', out, '--jobs', '2', '--threads', '1']);
    expect(first.status, first.stderr).toBe(0);
    doc = readJson<LrFindDoc>(path.join(out, 'lr-find', 'lr-find.json'));
    results = readJson<ExperimentResults>(path.join(out, 'results.json'));
    html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
  });

  it('runs the LR range test once, before any run, and writes its record', () => {
    const lines = first.stderr.split('\n');
    const started = lines.findIndex((l) => l.includes('LR range test: resnet18, batch 32, seed 0'));
    const ended = lines.findIndex((l) => /LR range test: suggested LR [0-9.e-]+ \(steepest descent/.test(l));
    const firstRun = lines.findIndex((l) => / start {2}→ runs\//.test(l));
    expect(
      [started, ended, firstRun].every((i) => i >= 0),
      first.stderr,
    ).toBe(true);
    expect(started).toBeLessThan(ended);
    expect(ended).toBeLessThan(firstRun);
    expect(lines[started]).toContain('LR 1e-7 → 10 over 30 steps');
    expect(lines.some((l) => /^LR range test {2}step \d+\/30 {2}lr /.test(l))).toBe(true);

    expect(doc.lr[0]).toBe(1e-7);
    expect(doc.lr.length).toBeLessThanOrEqual(30);
    expect(doc.loss).toHaveLength(doc.lr.length);
    expect(doc.raw_loss).toHaveLength(doc.lr.length);
    expect(doc.method).toBe('steepest');
    expect(doc.seed).toBe(0);
    // The suggestion is the one the recorded curve gives (steepest descent: the LR of its step).
    const readable = doc.stopped === 'diverged' ? doc.lr.length - 1 : doc.lr.length;
    const pick = suggestLr(doc.lr.slice(0, readable), doc.loss.slice(0, readable), 'steepest', doc.iterations);
    expect(pick).not.toBeNull();
    expect(doc.suggested_lr).toBe(pick!.lr);
    expect(doc.suggested_index).toBe(pick!.index);
    expect(doc.suggested_lr).toBe(doc.lr[doc.suggested_index!]);
    for (const f of ['job.json', 'lr-find.svg', 'lr-find.png'])
      expect(fs.existsSync(path.join(out, 'lr-find', f)), f).toBe(true);
  });

  it('puts the LR range test into results.json and the report: the suggested LR, its method, its figure', () => {
    expect(results.lrFind).toMatchObject({
      file: 'lr-find/lr-find.json',
      suggested_lr: doc.suggested_lr,
      method: 'steepest',
      method_description: 'steepest descent of the smoothed loss',
      lr: doc.lr,
    });
    const setup = /<dt>LR range test<\/dt><dd>([^<]*)<\/dd>/.exec(html);
    expect(setup, 'the LR range test in the set-up list').not.toBeNull();
    expect(setup![1]).toContain(
      `suggested maximum LR ${show(doc.suggested_lr!)} (steepest descent of the smoothed loss); ${doc.lr.length} of 30 steps`,
    );
    expect(setup![1]).toContain("The schedules' peak LRs: 0.05. Figure 2.");
    expect(html).toContain('<b>Figure 2. LR range test.</b>');
    const svg = reportSvg(html, 'lr-find');
    expect(svg).toContain(`suggested LR ${show(doc.suggested_lr!)} (steepest descent of the smoothed loss)`);
    expect(svg).toContain('LR 0.05 given to 2 schedules');
    expect(svg).not.toMatch(/NaN|undefined/);
    expect(fs.existsSync(path.join(out, 'figures', 'lr-find.png'))).toBe(true);
    expect(first.stderr).toMatch(
      / {2}LR range test: suggested LR [0-9.e-]+ \(steepest descent of the smoothed loss\), lr-find\/lr-find.json/,
    );
  });

  it('restarts on plateau: the restarts its runs saw, in the summary, the cycle ends and the LR figure', () => {
    const rows = [0, 1].map((seed) => readRows(path.join(out, 'runs', 'plateau', `seed-${seed}`, 'metrics.jsonl')));
    const restarts = rows.map((r) => r.filter((row) => row.cycle_end).map((row) => row.epoch));
    expect(restarts[0]!.length, 'the 0.5 threshold makes seed 0 restart on a plateau').toBeGreaterThan(0);

    // An independent replay of seed 0's validation losses restarts where its run did, and gives
    // the LR its run trained each epoch's first batch with.
    const replay = new PlateauRestarts(PLATEAU);
    rows[0]!.forEach((row) => replay.observe(row.epoch, row.val_loss!));
    expect(replay.plateauRestarts).toEqual(restarts[0]);
    for (const row of rows[0]!) expect(replay.lrAt(row.epoch - 1)).toBeCloseTo(row.lr, 12);

    const stats = results.schedules.find((s) => s.label === 'Plateau')!;
    expect(stats.valLossHistory).toEqual({ seed: 0, val_loss: rows[0]!.map((r) => r.val_loss) });
    expect(stats.cycleEnds.map((c) => c.epoch)).toEqual([...new Set(restarts.flat())].sort((a, b) => a - b));

    // The summary: its row with its settings and its numbers.
    const row = new RegExp(
      `<tr><th scope="row"><span class="sw"[^>]*></span>Plateau<div class="spec">([^<]*)</div></th>(.*?)</tr>`,
    ).exec(html);
    expect(row, 'the plateau schedule in the summary table').not.toBeNull();
    expect(row![1]).toContain('type=plateau-restarts');
    expect(row![1]).toContain('patience=1');
    expect(row![1]).toContain('threshold=0.5');
    expect(row![2]).toContain(`<td>${stats.final.val_loss.mean.toFixed(4)} <span class="pm">`);
    // Its cycle ends took snapshots: its ensemble is each run's at that run's own last cycle end.
    const lastEnds = rows
      .map((r) => [...r].reverse().find((row) => row.ensemble_val_loss !== undefined))
      .filter((row): row is EpochMetrics => row !== undefined);
    expect(stats.ensemble!.runEpochs).toEqual(lastEnds.map((row) => row.epoch));
    const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(stats.ensemble!.val_loss.mean).toBeCloseTo(meanOf(lastEnds.map((row) => row.ensemble_val_loss!)), 12);
    expect(stats.ensemble!.single_val_loss.mean).toBeCloseTo(meanOf(lastEnds.map((row) => row.val_loss!)), 12);
    expect(row![2]).toContain(`<td>${stats.ensemble!.val_loss.mean.toFixed(4)}`);
    // Its cycle ends in the table of cycle ends.
    const table = html.slice(html.indexOf('<h3>Plateau</h3>'));
    for (const c of stats.cycleEnds) {
      const whose = [0, 1].filter((seed) =>
        rows[seed]!.some((row) => row.epoch === c.epoch && row.cycle_end && row.cycle === c.cycle),
      );
      expect(c.seeds).toEqual(whose);
      expect(table).toContain(`<tr><td>${c.cycle + 1}</td><td>${c.epoch}</td><td>${whose.join(', ')}</td>`);
    }

    // The LR figure: seed 0's curve, its restarts marked where they came, each epoch starting at the LR its run had.
    const experiment = readExperimentFile(out);
    const figure = experimentFigures(experiment, results).find((f) => f.name === 'lr-schedules')!;
    expect(figure.caption).toContain("Plateau restarted where seed 0's validation loss plateaued (marked)");
    for (const panel of figure.figure.panels) {
      const series = panel.series.find((s) => s.label === 'Plateau (seed 0)')!;
      expect(series, 'the plateau schedule drawn as seed 0 ran it').toBeDefined();
      const x = series.x as number[];
      const y = series.y as number[];
      expect((series.markers as number[]).map((i) => x[i])).toEqual(restarts[0]);
      for (const r of rows[0]!) expect(y[x.indexOf(r.epoch - 1)]).toBeCloseTo(r.lr, 12);
    }
    const svg = reportSvg(html, 'lr-schedules');
    const markers = svg.match(/<g class="markers" data-label="Plateau \(seed 0\)">(.*?)<\/g>/g) ?? [];
    expect(markers).toHaveLength(2); // the linear and the log panel
    for (const m of markers) expect(m.split('<circle').length - 1).toBe(restarts[0]!.length);
    expect(reportSvg(html, 'loss')).toContain('class="markers" data-label="Plateau"');
  });

  it('the next call finds the test done; --report-only keeps it; another sweep runs it again', async () => {
    const before = fs.readFileSync(path.join(out, 'lr-find', 'lr-find.json'), 'utf8');
    const again = await sgdr(['compare', '--config', configFile, '--out', out, '--jobs', '2', '--threads', '1']);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain('LR range test: done before for this config (lr-find/lr-find.json), skipped');
    expect(again.stderr).toContain('0 run(s) trained, 4 already finished');
    expect(fs.readFileSync(path.join(out, 'lr-find', 'lr-find.json'), 'utf8')).toBe(before);

    const report = await sgdr(['compare', '--report-only', '--out', out]);
    expect(report.status, report.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('<b>Figure 2. LR range test.</b>');

    // The runs do not depend on the sweep: they stay finished; only the test runs again.
    const shorter = path.join(work, 'shorter.json');
    fs.writeFileSync(shorter, JSON.stringify({ ...config, lrFind: { iterations: 20 } }));
    const changed = await sgdr(['compare', '--config', shorter, '--out', out, '--threads', '1']);
    expect(changed.status, changed.stderr).toBe(0);
    expect(changed.stderr).toContain('over 20 steps');
    expect(changed.stderr).toContain('0 run(s) trained, 4 already finished');
    const redone = readJson<LrFindDoc>(path.join(out, 'lr-find', 'lr-find.json'));
    expect(redone.iterations).toBe(20);
    expect(redone.lr.length).toBeLessThanOrEqual(20);
  });
});
