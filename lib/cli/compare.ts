/// <reference types="node" preserve="true" />
/**
 * `sgdr compare --config FILE --out DIR [--jobs N]`: trains every schedule of an experiment config
 * on every seed (N runs at once, each in its own process), then writes the statistics, figures and
 * the HTML report. Running it again skips finished runs and resumes interrupted ones; Ctrl-C stops
 * every run after its current batch with a checkpoint.
 *
 * Progress: one bar for the whole experiment (runs × epochs, ETA) with a line per run epoch.
 */
import * as os from 'os';
import { parseDevices, type Placement } from '../experiment/placement';
import * as fs from 'fs';
import * as path from 'path';
import { outputFolderProblem } from '../folders';
import { launchedByNpm, StopSignals } from '../stop-signals';
import {
  analyzeExperiment,
  LR_FIND_FILE,
  readExperimentConfig,
  readExperimentFile,
  runExperiment,
  slugify,
  writeReport,
  type ExperimentConfig,
  type ExperimentEvent,
  type ExperimentOptions,
  type ExperimentResults,
  type PlannedRun,
} from '../experiment';
import { capThreads, flagValue, formatFlags, parseCommandFlags, UsageError } from './args';
import type { FlagSpecs, ParsedFlags } from './args';
import type { Command } from './main';
import { formatDuration } from './progress';
import { runtimeFlags } from './runtime-flags';
import { SUGGESTION_NAMES } from '../train/lr-find-figure';

export const flagSpecs: FlagSpecs = {
  config: {
    kind: 'string',
    help: 'experiment config, JSON or YAML (.yaml/.yml): data, model, optimizer, epochs, seeds, schedules',
  },
  out: { kind: 'string', help: 'experiment folder; run again to resume', defaultText: 'runs/<config name>' },
  ...runtimeFlags('compare', 'jobs', 'threads', 'device', 'workers'),
  devices: {
    kind: 'string',
    help: 'worker i trains on the i-th of these, round robin: cuda:0,cuda:1 or CPU core sets cpus:0-3,cpus:4-7 (--jobs defaults to their count)',
  },
  'report-only': { kind: 'boolean', help: "don't train: write the report from the runs already in --out" },
  json: { kind: 'boolean', help: 'print results.json to stdout at the end' },
};

const pct = (v: number | null | undefined): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '-' : `${(v * 100).toFixed(1)}%`;
/** A loss for the terminal: '-' for none, and NaN/Infinity (null once in JSON) as they are. */
const fmtLoss = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : v.toFixed(4));
const fmtLr = (lr: number): string => (lr === 0 ? '0' : lr >= 1e-3 ? lr.toFixed(4) : lr.toExponential(1));

/** One progress bar for the whole experiment (epochs of all runs), with a line per run epoch above it. */
export class ExperimentProgress {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  #epochs = 1;
  #total = 0;
  /** Epochs finished (skipped runs and resumed epochs included). */
  #done = 0;
  #doneAtStart = 0;
  /** Fraction of the current epoch of each running run. */
  readonly #partial = new Map<number, number>();
  readonly #running = new Map<number, PlannedRun>();
  #started = Date.now();
  #lastPlain = 0;
  #labelWidth = 0;
  /** The last tenth of the LR range test a line was written for. */
  #lrFindShown = -1;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#out = stream;
    this.#tty = Boolean(stream.isTTY) && !process.env.CI;
  }

  #name(run: PlannedRun): string {
    return `${run.label} · seed ${run.seed}`.padEnd(this.#labelWidth);
  }

  #bar(): string {
    const done = this.#done + [...this.#partial.values()].reduce((a, b) => a + b, 0);
    const fraction = this.#total ? Math.min(1, done / this.#total) : 1;
    const elapsed = (Date.now() - this.#started) / 1000;
    const rate = (done - this.#doneAtStart) / elapsed;
    const eta = rate > 0 ? (this.#total - done) / rate : NaN;
    const width = 28;
    const filled = Math.round(fraction * width);
    const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? '>' : '') + ' '.repeat(width - filled);
    return (
      `[${bar}] ${done.toFixed(1)}/${this.#total} epochs (${Math.floor(fraction * 100)}%)  ${this.#running.size} running  ` +
      `elapsed ${formatDuration(elapsed)}  ETA ${formatDuration(eta)}`
    );
  }

  /** The bar, cut to the terminal's width so it never wraps (a wrapped line cannot be redrawn in place). */
  #fitted(): string {
    return this.#bar().slice(0, (this.#out.columns || 120) - 1);
  }

  /** A line above the bar. */
  line(text: string): void {
    if (this.#tty) this.#out.write(`\r\x1b[K${text}\n${this.#fitted()}`);
    else this.#out.write(`${text}\n`);
  }

  #redraw(): void {
    if (this.#tty) this.#out.write(`\r\x1b[K${this.#fitted()}`);
    else if (Date.now() - this.#lastPlain > 15_000) {
      this.#lastPlain = Date.now();
      this.#out.write(`progress ${this.#bar()}\n`);
    }
  }

  event(e: ExperimentEvent): void {
    switch (e.type) {
      case 'plan': {
        this.#epochs = e.runs[0]?.config.epochs ?? 1;
        this.#total = e.runs.length * this.#epochs;
        this.#done = this.#doneAtStart = e.epochsDone.reduce((a, b) => a + b, 0);
        this.#labelWidth = Math.max(0, ...e.runs.map((r) => `${r.label} · seed ${r.seed}`.length));
        this.#started = Date.now();
        this.#lastPlain = Date.now();
        const finished = e.status.filter((s) => s === 'done').length;
        const partial = e.status.filter((s) => s === 'partial').length;
        const diverged = e.status.filter((s) => s === 'diverged').length;
        this.line(
          `${e.runs.length} runs × ${this.#epochs} epochs; ${e.jobs} at a time with ${e.threads} thread(s) each` +
            (finished ? `; ${finished} already finished (skipped)` : '') +
            (partial ? `; ${partial} to resume` : '') +
            (diverged ? `; ${diverged} diverged before (skipped)` : ''),
        );
        break;
      }
      case 'lr-find-start': {
        const j = e.job;
        this.#lrFindShown = -1;
        this.line(
          e.skipped
            ? `LR range test: done before for this config (${LR_FIND_FILE}), skipped`
            : `LR range test: ${j.arch}, batch ${j.batchSize}, seed ${j.seed}; LR ${j.startLr ?? 1e-7} → ${j.endLr ?? 10} over ${j.iterations ?? 100} steps`,
        );
        break;
      }
      case 'lr-find-step': {
        // A line per tenth of the sweep (the worker sends a few steps a second, not every one).
        const s = e.step;
        const tenth = Math.floor((10 * s.iteration) / s.iterations);
        if (tenth === this.#lrFindShown) break;
        this.#lrFindShown = tenth;
        this.line(
          `LR range test  step ${s.iteration}/${s.iterations}  lr ${s.lr.toExponential(2)}  loss ${s.loss.toFixed(4)}  smoothed ${s.smoothedLoss.toFixed(4)}`,
        );
        break;
      }
      case 'lr-find-end': {
        const o = e.outcome;
        if (o.status === 'done')
          this.line(
            `LR range test: ${o.suggestedLr === null ? 'no suggestion (too few steps)' : `suggested LR ${Number(o.suggestedLr.toPrecision(3))} (${SUGGESTION_NAMES[o.method]})`}` +
              `; ${o.steps} steps${o.stopped === 'diverged' ? ' (stopped: the smoothed loss diverged)' : ''}, in ${formatDuration(e.seconds)} → ${LR_FIND_FILE}`,
          );
        else if (o.status === 'aborted') this.line(`LR range test: stopped after ${o.steps} steps (nothing written)`);
        // The ETA is of the runs' epochs: their clock starts now.
        this.#started = Date.now();
        break;
      }
      case 'run-start':
        this.#running.set(e.run.index, e.run);
        this.#partial.set(e.run.index, 0);
        this.line(
          `${this.#name(e.run)}  start${e.fromEpoch ? ` (resuming after epoch ${e.fromEpoch})` : ''}` +
            `${e.placement ? ` on ${e.placement.label}` : ''}  → ${e.run.relDir}`,
        );
        break;
      case 'batch':
        this.#partial.set(e.run.index, e.batch / e.batches);
        this.#redraw();
        break;
      case 'epoch': {
        const m = e.metrics;
        this.#done += 1;
        this.#partial.set(e.run.index, 0);
        const val = m.val_loss === null ? '' : `  val ${fmtLoss(m.val_loss)} (${pct(m.val_acc)})`;
        const ens =
          m.ensemble_val_loss === undefined
            ? ''
            : `  ensemble ${fmtLoss(m.ensemble_val_loss)} (${pct(m.ensemble_val_acc)})`;
        this.line(
          `${this.#name(e.run)}  epoch ${m.epoch}/${this.#epochs}  train ${fmtLoss(m.train_loss)}${val}` +
            `  lr ${fmtLr(m.lr)}→${fmtLr(m.lr_end)}${m.cycle_end ? '  cycle end' : ''}${ens}  ${m.seconds.toFixed(1)} s`,
        );
        break;
      }
      case 'run-end':
        this.#running.delete(e.run.index);
        this.#partial.delete(e.run.index);
        this.line(
          `${this.#name(e.run)}  ${
            e.status === 'done'
              ? 'done'
              : e.status === 'aborted'
                ? 'stopped (checkpoint kept)'
                : e.status === 'diverged'
                  ? `DIVERGED: ${e.error}`
                  : `FAILED: ${e.error}`
          } after ${formatDuration(e.seconds)}`,
        );
        break;
      case 'log':
        break;
    }
  }

  finish(): void {
    if (this.#tty) this.#out.write(`\r\x1b[K${this.#fitted()}\n`);
  }
}

/** A few lines of the headline numbers, for the terminal. */
export function summaryLines(results: ExperimentResults): string[] {
  const width = Math.max(...results.schedules.map((s) => s.label.length));
  const ms = (m: { mean: number; std: number }, f: (v: number) => string) =>
    Number.isFinite(m.mean) ? `${f(m.mean)}${Number.isFinite(m.std) ? ` ± ${f(m.std)}` : ''}` : '-';
  const lines = results.schedules.map((s) =>
    s.finished === 0 && s.diverged > 0
      ? `  ${s.label.padEnd(width)}  diverged (${s.diverged} of ${s.diverged} run(s): non-finite loss; no results)`
      : `  ${s.label.padEnd(width)}  final val loss ${ms(s.final.val_loss, (v) => v.toFixed(4))}  acc ${ms(s.final.val_acc, (v) => (v * 100).toFixed(2) + '%')}` +
        `  (${s.finished} runs${s.diverged ? `, ${s.diverged} diverged, excluded` : ''})` +
        (s.ensemble ? `  ensemble ${ms(s.ensemble.val_loss, (v) => v.toFixed(4))}` : '') +
        (s.swa ? `  SWA ${ms(s.swa.val_loss, (v) => v.toFixed(4))}` : ''),
  );
  if (results.lrFind === null) lines.push('  LR range test: not run for this config yet');
  else if (results.lrFind)
    lines.push(
      `  LR range test: ${results.lrFind.suggested_lr === null ? 'no suggestion' : `suggested LR ${Number(results.lrFind.suggested_lr.toPrecision(3))}`} (${results.lrFind.method_description}), ${results.lrFind.file}`,
    );
  for (const c of results.comparisons.filter((x) => x.metric === 'final_val_loss')) {
    const d = c.difference;
    lines.push(
      `  ${c.a} − ${c.b}: final val loss ${Number.isFinite(d.mean) ? d.mean.toFixed(4) : '-'}` +
        (d.ci
          ? ` (${Math.round(d.level * 100)}% interval ${d.ci[0].toFixed(4)} … ${d.ci[1].toFixed(4)}, ${d.n} seeds)`
          : ` (${d.n} seed(s), no interval)`),
    );
  }
  return lines;
}

export interface CompareRunOptions {
  config: ExperimentConfig;
  outDir: string;
  flags: ParsedFlags;
  /** The command's flag table, for the defaults of --jobs and the others (sgdr demo runs two jobs). */
  specs: FlagSpecs;
  reportOnly?: boolean;
}

/** What the runtime flags ask of runExperiment(): --jobs from the table, the rest left to the runner where not given. */
export function experimentRuntime(
  flags: ParsedFlags,
  specs: FlagSpecs,
): Pick<ExperimentOptions, 'jobs' | 'threads' | 'device' | 'workers' | 'devices'> {
  let devices: Placement[] | undefined;
  if (flags.devices !== undefined) {
    try {
      devices = parseDevices(String(flags.devices), os.cpus().length);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return {
    // With --devices, one worker per device unless --jobs says otherwise.
    jobs: flags.jobs === undefined && devices ? devices.length : flagValue<number>(flags, specs, 'jobs'),
    ...(devices ? { devices } : {}),
    threads: capThreads(flags.threads as number | undefined),
    device: flags.device as string | undefined,
    workers: flags.workers as number | undefined,
  };
}

/** Trains (unless reportOnly), writes the report and prints where it is; the exit code. Shared with `sgdr demo`. */
export async function compareAndReport(o: CompareRunOptions): Promise<number> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const runtime = experimentRuntime(o.flags, o.specs);
  if (!o.reportOnly) {
    // Before any run starts: a folder that cannot take the experiment fails at once.
    const problem = outputFolderProblem(o.outDir);
    if (problem) throw new UsageError(`--out ${o.outDir}: cannot write to the output folder (${problem})`);
  }
  const started = Date.now();
  if (!o.reportOnly) {
    const progress = new ExperimentProgress();
    const now = new AbortController();
    let experiment: Promise<unknown> = Promise.resolve();
    const stop = new StopSignals({
      log: (line) => progress.line(line.trim()),
      firstMessage: 'stopping every run after its current batch (checkpoints keep the position)',
      resumeHint: 'Run the same command again to resume.',
      // The workers finish their writes and exit; this process exits when they have.
      onSecond: () => now.abort(),
      beforeExit: () =>
        experiment.then(
          () => undefined,
          () => undefined,
        ),
      watchParent: launchedByNpm(),
    });
    try {
      experiment = runExperiment(o.config, {
        outDir: o.outDir,
        ...runtime,
        signal: stop.signal,
        stopNow: now.signal,
        onEvent: (e) => progress.event(e),
      });
      const result = await (experiment as ReturnType<typeof runExperiment>);
      progress.finish();
      if (result.aborted) {
        log(
          `stopped: ${result.runs.length - result.skipped - result.trained} run(s) unfinished; run the same command again to resume`,
        );
        return stop.exitCode() || 130;
      }
      log(
        `${result.trained} run(s) trained, ${result.skipped} already finished` +
          (result.diverged ? `, ${result.diverged} diverged` : '') +
          `, in ${formatDuration(result.seconds)}`,
      );
    } finally {
      stop.dispose();
    }
  }
  const results = analyzeExperiment(o.config, o.outDir);
  const files = writeReport(o.config, results, o.outDir);
  for (const line of summaryLines(results)) log(line);
  // Paths under the working directory relative to it, others as they are.
  const show = (file: string) => {
    const rel = path.relative(process.cwd(), file);
    return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
  };
  log(`figures: ${files.figures.map((f) => show(f.pngFile)).join(', ')} (+ .svg)`);
  log(`numbers: ${show(files.json)}, ${show(files.csv)}`);
  log(`report: ${path.resolve(files.html)}  (${formatDuration((Date.now() - started) / 1000)} in all)`);
  if (o.flags.json) process.stdout.write(fs.readFileSync(files.json, 'utf8'));
  return 0;
}

function help(): string {
  return [
    'usage: sgdr compare --config FILE [--out DIR] [--jobs N] [flags]',
    '',
    'Trains every schedule of the config on every seed, then writes results.json, results.csv, figures/ and report.html',
    'into --out. Run it again to skip finished runs and resume interrupted ones. Example configs: examples/*.json, examples/*.yaml.',
    '',
    formatFlags(flagSpecs),
  ].join('\n');
}

export const command: Command = {
  summary: 'train every schedule × seed of an experiment config; statistics, figures, HTML report',
  async run(argv) {
    const flags = parseCommandFlags(argv, flagSpecs, help);
    if (!flags) return 0;
    const reportOnly = Boolean(flags['report-only']);
    let config: ExperimentConfig;
    let outDir: string;
    if (flags.config !== undefined) {
      const file = flags.config as string;
      if (!fs.existsSync(file)) throw new UsageError(`--config: file not found: ${file}`);
      config = readExperimentConfig(file);
      outDir = (flags.out as string | undefined) ?? path.join('runs', slugify(config.name));
    } else if (reportOnly && flags.out !== undefined) {
      outDir = flags.out as string;
      if (!fs.existsSync(outDir)) throw new UsageError(`--out: folder not found: ${outDir}`);
      config = readExperimentFile(outDir);
    } else {
      throw new UsageError('--config is required (or --report-only --out DIR for an experiment folder)');
    }
    return compareAndReport({ config, outDir, flags, specs: flagSpecs, reportOnly });
  },
};
