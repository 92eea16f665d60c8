/**
 * `sgdr schedule`: prints a learning-rate schedule one value per training step (a table, or
 * `{"lr": [...]}` with --json), and draws schedules as a figure with --plot. Several schedules go on
 * one figure with --figure1 (the SGDR paper's Figure 1) or --config FILE (a list of specs).
 * Bad hyper-parameters are restated by flag (schedule-flags.ts) or by config entry.
 */
import { readFileSync } from 'node:fs';
import { figureFormat, writeFigure } from '../plot';
import {
  FIGURE1_EPOCHS,
  FIGURE1_SPECS,
  FIGURE1_TITLE,
  isAdaptiveSchedule,
  sampleSchedule,
  ScheduleParamError,
  scheduleFigure,
  stepTime,
  type LrScale,
  type PlateauCycle,
  type Schedule,
  type ScheduleSpec,
} from '../schedule';
import { formatFlags, parseCommandFlags, UsageError, type FlagSpecs, type ParsedFlags } from './args';
import { build, flagFor, scheduleFlagSpecs, scheduleFromFlags, singleScheduleFlags } from './schedule-flags';
import type { Command } from './main';
import { readValLosses } from './val-loss-file';

const flagSpecs: FlagSpecs = {
  ...scheduleFlagSpecs,
  epochs: { kind: 'integer', help: `epochs to lay out (default 100; ${FIGURE1_EPOCHS} with --figure1)` },
  'steps-per-epoch': { kind: 'integer', help: 'steps K per epoch: batch i of epoch e is at t = e + i/K (default 1)' },
  json: { kind: 'boolean', help: 'print {"lr": [...]}: epochs × K values (several schedules: {"schedules": [...]})' },
  plot: { kind: 'string', help: 'draw the LR over epochs into FILE (.svg or .png)' },
  'y-scale': {
    kind: 'string',
    help: 'LR axis of the figure: linear | log | both (default linear; both for several schedules)',
  },
  'log-y': { kind: 'boolean', help: 'same as --y-scale log' },
  figure1: { kind: 'boolean', help: "the schedules of the SGDR paper's Figure 1, over 200 epochs" },
  config: {
    kind: 'string',
    help: 'JSON file: a list of schedule specs, or {"schedules": [...], "epochs": N, "title": "..."}',
  },
  title: { kind: 'string', help: 'figure title' },
  'val-loss': {
    kind: 'string',
    help: 'plateau-restarts: replay these validation losses (metrics.jsonl, a JSON list, or numbers); without it the preview assumes no plateau',
  },
};

interface Batch {
  schedules: Schedule[];
  epochs?: number;
  title?: string;
}

/** Schedules from a --config file: a list of specs, or an object with "schedules" and figure settings. */
function schedulesFromConfig(file: string, stepsPerEpoch: number | undefined): Batch {
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, '')); // a byte-order mark is no JSON
  } catch (err) {
    throw new UsageError(`--config ${file}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  const fail = (what: string) => new UsageError(`--config ${file}: ${what}`);
  const body = (Array.isArray(config) ? { schedules: config } : config) as Record<string, unknown> | null;
  if (!body || typeof body !== 'object' || !Array.isArray(body.schedules)) {
    throw fail('expected a list of schedule specs, or an object with a "schedules" list');
  }
  const unknown = Object.keys(body).filter((k) => !['schedules', 'epochs', 'title'].includes(k));
  if (unknown.length > 0) throw fail(`unknown field "${unknown[0]}" (known: schedules, epochs, title)`);
  if (body.epochs !== undefined && !(Number.isInteger(body.epochs) && (body.epochs as number) >= 1)) {
    throw fail(`epochs must be an integer ≥ 1, got ${JSON.stringify(body.epochs)}`);
  }
  if (body.title !== undefined && typeof body.title !== 'string') throw fail('title must be a string');
  if (body.schedules.length === 0) throw fail('the "schedules" list is empty');
  const schedules = body.schedules.map((spec, i) => {
    const withSteps =
      stepsPerEpoch !== undefined && spec && typeof spec === 'object' && !('stepsPerEpoch' in spec)
        ? { ...spec, stepsPerEpoch }
        : spec;
    try {
      return build(withSteps as ScheduleSpec, (param) => `--config ${file}: schedules[${i}].${param}`);
    } catch (err) {
      if (err instanceof TypeError) throw fail(`schedules[${i}]: ${err.message}`);
      throw err;
    }
  });
  return { schedules, epochs: body.epochs as number | undefined, title: body.title as string | undefined };
}

function lrScale(flags: ParsedFlags, several: boolean): LrScale {
  const named = flags['y-scale'] as string | undefined;
  if (named !== undefined && !['linear', 'log', 'both'].includes(named)) {
    throw new UsageError(`--y-scale must be linear, log or both, got '${named}'`);
  }
  if (flags['log-y'] && named !== undefined && named !== 'log')
    throw new UsageError(`--log-y contradicts --y-scale ${named}`);
  return flags['log-y'] ? 'log' : ((named as LrScale | undefined) ?? (several ? 'both' : 'linear'));
}

const fmtLr = (v: number): string => (v === 0 ? '0' : Number(v.toPrecision(6)).toString());
const fmtT = (t: number): string => Number(t.toFixed(4)).toString();

/** The table lists this many restarts by epoch, then says how many more there are. */
const LISTED_RESTARTS = 20;

/** How many cycles start before `epochs`: a galloping search, so a tiny T_0 costs no more than a large one. */
function cyclesBefore(schedule: Schedule, epochs: number): number {
  const starts = (i: number): boolean => {
    const c = schedule.cycle(i);
    return c !== undefined && c.start < epochs;
  };
  if (!starts(0)) return 0;
  let lo = 0; // starts(lo)
  let hi = 1;
  while (starts(hi)) {
    lo = hi;
    hi *= 2;
    if (!Number.isFinite(hi)) return lo + 1;
  }
  for (;;) {
    const mid = Math.floor(lo + (hi - lo) / 2);
    if (mid <= lo || mid >= hi) return lo + 1;
    if (starts(mid)) lo = mid;
    else hi = mid;
  }
}

/** One row per step: step, t, lr, cycle; restarts marked, and listed at the end (the first LISTED_RESTARTS of them). */
function singleTable(schedule: Schedule, epochs: number): string {
  const k = schedule.stepsPerEpoch;
  const s = sampleSchedule(schedule, epochs);
  const listed = schedule.cycles(epochs, LISTED_RESTARTS + 2).slice(1);
  const adaptive = isAdaptiveSchedule(schedule) ? schedule : undefined;
  const lines = [
    `# ${schedule.name}: ${epochs} epochs × ${k} step${k === 1 ? '' : 's'}`,
    ...(adaptive
      ? [
          adaptive.valLosses.length
            ? `# replaying ${adaptive.valLosses.length} validation loss(es); after epoch ${adaptive.valLosses.length} the preview assumes no plateau`
            : '# no --val-loss history: the preview assumes no plateau (restarts at the caps T_i, as SGDR)',
        ]
      : []),
    `${'step'.padStart(7)}  ${'epoch'.padEnd(10)}  ${'lr'.padEnd(12)}  cycle`,
  ];
  s.lr.forEach((lr, n) => {
    // Entering a cycle ≥ 1 is a restart; entering the flat tail after a cycle limit is not.
    const restart = n > 0 && s.cycle[n]! > s.cycle[n - 1]! && schedule.cycle(s.cycle[n]!) !== undefined;
    const plateau = restart && (schedule.cycle(s.cycle[n]!) as Partial<PlateauCycle>).plateau;
    lines.push(
      `${String(n).padStart(7)}  ${fmtT(s.t[n]!).padEnd(10)}  ${fmtLr(lr).padEnd(12)}  ${String(s.cycle[n]).padEnd(5)}${restart ? `  ← restart${plateau ? ' (plateau)' : ''}` : ''}`.trimEnd(),
    );
  });
  if (listed.length > 0) {
    const more = listed.length > LISTED_RESTARTS ? cyclesBefore(schedule, epochs) - 1 - LISTED_RESTARTS : 0;
    const shown = listed
      .slice(0, LISTED_RESTARTS)
      .map((c) => fmtT(c.start))
      .join(', ');
    lines.push(`# restarts at epochs ${shown}${more > 0 ? ` … and ${more} more` : ''}`);
  }
  return lines.join('\n') + '\n';
}

/** Several schedules side by side: the LR of each at the same times, named in a key above. */
function multiTable(schedules: Schedule[], epochs: number): string {
  const k = Math.max(...schedules.map((s) => s.stepsPerEpoch));
  const lines = schedules.map((s, i) => `# [${i + 1}] ${s.name}`);
  lines.push(['epoch'.padEnd(10), ...schedules.map((_, i) => `[${i + 1}]`.padEnd(12))].join('  ').trimEnd());
  for (let n = 0; n < epochs * k; n++) {
    const t = stepTime(n, k);
    lines.push([fmtT(t).padEnd(10), ...schedules.map((s) => fmtLr(s.lrAt(t)).padEnd(12))].join('  ').trimEnd());
  }
  return lines.join('\n') + '\n';
}

function help(): string {
  return [
    'usage: sgdr schedule [--scheduler warm-restarts|step|multistep|constant|plateau-restarts] [hyper-parameters] [--epochs N]',
    '                     [--steps-per-epoch K] [--json] [--plot FILE.svg|FILE.png]',
    '       sgdr schedule --figure1 | --config FILE [--plot FILE] [--y-scale linear|log|both] [--json]',
    '',
    'Prints the LR of every training step (the LR at t = e + i/K for batch i of epoch e); --plot draws',
    'lr(t) over fractional epochs, sampled finely enough to show every cycle.',
    "plateau-restarts restarts where the validation loss plateaus: --val-loss FILE replays a run's losses",
    '(e.g. its metrics.jsonl); without it the preview assumes no plateau, i.e. restarts at the caps T_i as SGDR.',
    '',
    'flags:',
    formatFlags(flagSpecs),
  ].join('\n');
}

async function run(argv: string[]): Promise<number> {
  const flags = parseCommandFlags(argv, flagSpecs, help);
  if (!flags) return 0;
  const plot = flags.plot as string | undefined;
  if (plot !== undefined && !figureFormat(plot))
    throw new UsageError(`--plot must name a .svg or .png file, got '${plot}'`);
  if (flags.epochs !== undefined && (flags.epochs as number) < 1)
    throw new UsageError(`--epochs must be ≥ 1, got ${flags.epochs}`);
  const stepsFlag = flags['steps-per-epoch'] as number | undefined;
  if (stepsFlag !== undefined && stepsFlag < 1)
    throw new UsageError(`--steps-per-epoch must be an integer ≥ 1, got ${stepsFlag}`);

  const preset = flags.figure1 ? '--figure1' : flags.config !== undefined ? '--config' : undefined;
  let batch: Batch;
  if (preset) {
    if (flags.figure1 && flags.config !== undefined)
      throw new UsageError('--figure1 and --config are alternatives; give one');
    if (flags['val-loss'] !== undefined) throw new UsageError(`--val-loss cannot be combined with ${preset}`);
    const clash = singleScheduleFlags.find((f) => flags[f] !== undefined);
    if (clash) throw new UsageError(`--${clash} cannot be combined with ${preset} (put it in the schedule specs)`);
    batch = flags.figure1
      ? {
          schedules: FIGURE1_SPECS.map((spec) =>
            build(stepsFlag ? { ...spec, stepsPerEpoch: stepsFlag } : spec, (p) => p),
          ),
          epochs: FIGURE1_EPOCHS,
          title: FIGURE1_TITLE,
        }
      : schedulesFromConfig(flags.config as string, stepsFlag);
  } else {
    const schedule = scheduleFromFlags(flags);
    if (flags['val-loss'] !== undefined) {
      if (!isAdaptiveSchedule(schedule))
        throw new UsageError(
          `--val-loss applies to --scheduler plateau-restarts only, not ${String(flags.scheduler ?? 'warm-restarts')}`,
        );
      readValLosses(flags['val-loss'] as string).forEach((v, j) => schedule.observe(j + 1, v));
    }
    batch = { schedules: [schedule] };
  }
  const epochs = (flags.epochs as number | undefined) ?? batch.epochs ?? 100;
  const several = preset !== undefined;
  const yScale = lrScale(flags, several);

  try {
    output(flags, batch, epochs, several, yScale, plot);
  } catch (err) {
    // A parameter that only fails once sampled (a T_0 too small to resolve) is named by its flag.
    if (err instanceof ScheduleParamError && !several)
      throw new UsageError(`${flagFor(err.param) ?? err.param} ${err.detail}`);
    throw err;
  }
  return 0;
}

function output(
  flags: ParsedFlags,
  batch: Batch,
  epochs: number,
  several: boolean,
  yScale: LrScale,
  plot: string | undefined,
): void {
  if (plot !== undefined) {
    const title = (flags.title as string | undefined) ?? batch.title;
    writeFigure(plot, scheduleFigure(batch.schedules, { epochs, yScale, ...(title ? { title } : {}) }));
  }
  if (flags.json) {
    const out = several
      ? { schedules: batch.schedules.map((s) => ({ name: s.name, spec: s.spec(), lr: sampleSchedule(s, epochs).lr })) }
      : { lr: sampleSchedule(batch.schedules[0]!, epochs).lr };
    process.stdout.write(JSON.stringify(out) + '\n');
  } else if (plot !== undefined) {
    const n = batch.schedules.length;
    process.stdout.write(
      `wrote ${plot}: ${n} schedule${n === 1 ? '' : 's'} over ${epochs} epochs, ${yScale === 'both' ? 'linear and log' : yScale} LR axis\n`,
    );
  } else {
    process.stdout.write(several ? multiTable(batch.schedules, epochs) : singleTable(batch.schedules[0]!, epochs));
  }
}

export const command: Command = {
  summary: 'print or plot a learning-rate schedule (SGDR warm restarts, step decay, constant)',
  run,
};
