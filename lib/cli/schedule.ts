/**
 * `sgdr schedule`: prints a learning-rate schedule one value per training step (a table, or
 * `{"lr": [...]}` with --json), and draws schedules as a figure with --plot. Several schedules go on
 * one figure with --figure1 (the SGDR paper's Figure 1) or --config FILE (a list of specs).
 *
 * The library names bad hyper-parameters by option (`tMult`); this command restates them by flag
 * (`--t-mult`) or by config entry, so every error is one line that points at what to fix.
 */
import { readFileSync } from 'node:fs';
import { figureFormat, writeFigure } from '../plot';
import {
  FIGURE1_EPOCHS,
  FIGURE1_SPECS,
  FIGURE1_TITLE,
  sampleSchedule,
  ScheduleParamError,
  scheduleFigure,
  scheduleFromSpec,
  scheduleTypes,
  stepTime,
  type LrScale,
  type Schedule,
  type ScheduleSpec,
  type ScheduleType,
} from '../schedule';
import { formatFlags, parseFlags, UsageError, type FlagSpecs, type ParsedFlags } from './args';
import type { Command } from './main';

const flagSpecs: FlagSpecs = {
  scheduler: { kind: 'string', help: `${scheduleTypes.join(' | ')} (default warm-restarts)` },
  lr: { kind: 'number', help: 'initial LR; eta_max of the first cycle for warm-restarts (default 0.1)' },
  t0: { kind: 'number', help: 'warm-restarts: length T_0 of the first cycle in epochs, > 0 (default 10)' },
  't-mult': { kind: 'number', help: 'warm-restarts: each cycle is T_mult times longer, a real ≥ 1 (default 1)' },
  'eta-min': { kind: 'number', help: 'warm-restarts: LR at the end of every cycle, in [0, lr] (default 0)' },
  decay: { kind: 'number', help: 'warm-restarts: the peak of cycle i is lr·decay^i, decay in (0, 1] (default 1)' },
  warmup: { kind: 'number', help: 'warm-restarts: epochs of linear warmup from eta-min at the start (default 0)' },
  'warmup-every-restart': { kind: 'boolean', help: 'warm-restarts: warm up again after every restart' },
  'cycle-limit': { kind: 'integer', help: 'warm-restarts: number of cycles, then the LR stays at eta-min' },
  'step-size': { kind: 'number', help: 'step: epochs between decays (required)' },
  milestones: { kind: 'string', help: 'multistep: comma-separated epochs of the decays, e.g. 60,120,160 (required)' },
  gamma: { kind: 'number', help: 'step, multistep: factor applied at each decay, in (0, 1] (default 0.1)' },
  epochs: { kind: 'integer', help: `epochs to lay out (default 100; ${FIGURE1_EPOCHS} with --figure1)` },
  'steps-per-epoch': { kind: 'integer', help: 'steps K per epoch: batch i of epoch e is at t = e + i/K (default 1)' },
  json: { kind: 'boolean', help: 'print {"lr": [...]}: epochs × K values (several schedules: {"schedules": [...]})' },
  plot: { kind: 'string', help: 'draw the LR over epochs into FILE (.svg or .png)' },
  'y-scale': { kind: 'string', help: 'LR axis of the figure: linear | log | both (default linear; both for several schedules)' },
  'log-y': { kind: 'boolean', help: 'same as --y-scale log' },
  figure1: { kind: 'boolean', help: "the schedules of the SGDR paper's Figure 1, over 200 epochs" },
  config: { kind: 'string', help: 'JSON file: a list of schedule specs, or {"schedules": [...], "epochs": N, "title": "..."}' },
  title: { kind: 'string', help: 'figure title' },
  help: { kind: 'boolean', help: 'show this help' },
};

/** The flags each scheduler accepts besides the common ones, and the option each one sets. */
const schedulerFlags: Record<ScheduleType, Record<string, string>> = {
  'warm-restarts': {
    t0: 't0',
    't-mult': 'tMult',
    'eta-min': 'etaMin',
    decay: 'decay',
    warmup: 'warmup',
    'warmup-every-restart': 'warmupEveryRestart',
    'cycle-limit': 'cycleLimit',
  },
  step: { 'step-size': 'stepSize', gamma: 'gamma' },
  multistep: { milestones: 'milestones', gamma: 'gamma' },
  constant: {},
};
const commonFlags: Record<string, string> = { lr: 'lr', 'steps-per-epoch': 'stepsPerEpoch' };
/** Flags that describe the one schedule of a command line; --figure1 and --config bring their own. */
const singleScheduleFlags = ['scheduler', 'lr', ...new Set(Object.values(schedulerFlags).flatMap(Object.keys))];

/** The flag that sets a library option, for restating library errors. */
function flagFor(param: string): string | undefined {
  const option = param.replace(/\[\d+\]$/, '');
  for (const table of [commonFlags, ...Object.values(schedulerFlags)]) {
    const flag = Object.keys(table).find((f) => table[f] === option);
    if (flag) return `--${flag}`;
  }
  return undefined;
}

/** Builds a schedule, restating a bad hyper-parameter as `where` + the parameter. */
function build(spec: ScheduleSpec, where: (param: string) => string): Schedule {
  try {
    return scheduleFromSpec(spec);
  } catch (err) {
    if (err instanceof ScheduleParamError) throw new UsageError(`${where(err.param)} ${err.detail}`);
    throw err;
  }
}

function parseMilestones(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const values = parts.map(Number);
  if (parts.some((s) => s === '') || values.some((v) => !Number.isFinite(v))) {
    throw new UsageError(`--milestones must be comma-separated epochs such as 60,120,160, got '${text}'`);
  }
  return values;
}

/** The one schedule described by --scheduler and its flags. */
function scheduleFromFlags(flags: ParsedFlags): Schedule {
  const type = (flags.scheduler ?? 'warm-restarts') as ScheduleType;
  if (!scheduleTypes.includes(type)) {
    throw new UsageError(`--scheduler must be one of ${scheduleTypes.join(', ')}, got '${String(flags.scheduler)}'`);
  }
  const own = schedulerFlags[type];
  for (const flag of Object.keys(flags)) {
    if (singleScheduleFlags.includes(flag) && flag !== 'scheduler' && !(flag in own) && !(flag in commonFlags)) {
      throw new UsageError(`--${flag} does not apply to --scheduler ${type}`);
    }
  }
  if (type === 'step' && flags['step-size'] === undefined) throw new UsageError('--step-size is required for --scheduler step');
  if (type === 'multistep' && flags.milestones === undefined) throw new UsageError('--milestones is required for --scheduler multistep');

  const spec: Record<string, unknown> = { type, lr: flags.lr ?? 0.1 };
  if (type === 'warm-restarts') spec.t0 = 10;
  for (const [flag, option] of Object.entries({ ...commonFlags, ...own })) {
    if (flags[flag] !== undefined) spec[option] = flags[flag];
  }
  if (typeof spec.milestones === 'string') spec.milestones = parseMilestones(spec.milestones);
  return build(spec as unknown as ScheduleSpec, (param) => flagFor(param) ?? param);
}

interface Batch {
  schedules: Schedule[];
  epochs?: number;
  title?: string;
}

/** Schedules from a --config file: a list of specs, or an object with "schedules" and figure settings. */
function schedulesFromConfig(file: string, stepsPerEpoch: number | undefined): Batch {
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
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
    const withSteps = stepsPerEpoch !== undefined && spec && typeof spec === 'object' && !('stepsPerEpoch' in spec) ? { ...spec, stepsPerEpoch } : spec;
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
  if (flags['log-y'] && named !== undefined && named !== 'log') throw new UsageError(`--log-y contradicts --y-scale ${named}`);
  return flags['log-y'] ? 'log' : ((named as LrScale | undefined) ?? (several ? 'both' : 'linear'));
}

const fmtLr = (v: number): string => (v === 0 ? '0' : Number(v.toPrecision(6)).toString());
const fmtT = (t: number): string => Number(t.toFixed(4)).toString();

/** One row per step: step, t, lr, cycle; restarts marked, and listed at the end. */
function singleTable(schedule: Schedule, epochs: number): string {
  const k = schedule.stepsPerEpoch;
  const s = sampleSchedule(schedule, epochs);
  const cycles = schedule.cycles(epochs);
  const restartAt = new Set(cycles.slice(1).map((c) => c.index));
  const lines = [
    `# ${schedule.name}: ${epochs} epochs × ${k} step${k === 1 ? '' : 's'}`,
    `${'step'.padStart(7)}  ${'epoch'.padEnd(10)}  ${'lr'.padEnd(12)}  cycle`,
  ];
  s.lr.forEach((lr, n) => {
    const restart = n > 0 && s.cycle[n]! > s.cycle[n - 1]! && restartAt.has(s.cycle[n]!);
    lines.push(`${String(n).padStart(7)}  ${fmtT(s.t[n]!).padEnd(10)}  ${fmtLr(lr).padEnd(12)}  ${String(s.cycle[n]).padEnd(5)}${restart ? '  ← restart' : ''}`.trimEnd());
  });
  if (restartAt.size > 0) lines.push(`# restarts at epochs ${cycles.slice(1).map((c) => fmtT(c.start)).join(', ')}`);
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
    'usage: sgdr schedule [--scheduler warm-restarts|step|multistep|constant] [hyper-parameters] [--epochs N]',
    '                     [--steps-per-epoch K] [--json] [--plot FILE.svg|FILE.png]',
    '       sgdr schedule --figure1 | --config FILE [--plot FILE] [--y-scale linear|log|both] [--json]',
    '',
    'Prints the LR of every training step (the LR at t = e + i/K for batch i of epoch e); --plot draws',
    'lr(t) over fractional epochs, sampled finely enough to show every cycle.',
    '',
    'flags:',
    formatFlags(flagSpecs),
  ].join('\n');
}

async function run(argv: string[]): Promise<number> {
  const { flags, positional } = parseFlags(argv, flagSpecs);
  if (flags.help) {
    process.stdout.write(help() + '\n');
    return 0;
  }
  if (positional.length > 0) throw new UsageError(`unexpected argument '${positional[0]}' (flags start with --)`);
  const plot = flags.plot as string | undefined;
  if (plot !== undefined && !figureFormat(plot)) throw new UsageError(`--plot must name a .svg or .png file, got '${plot}'`);
  if (flags.epochs !== undefined && (flags.epochs as number) < 1) throw new UsageError(`--epochs must be ≥ 1, got ${flags.epochs}`);
  const stepsFlag = flags['steps-per-epoch'] as number | undefined;
  if (stepsFlag !== undefined && stepsFlag < 1) throw new UsageError(`--steps-per-epoch must be an integer ≥ 1, got ${stepsFlag}`);

  const preset = flags.figure1 ? '--figure1' : flags.config !== undefined ? '--config' : undefined;
  let batch: Batch;
  if (preset) {
    if (flags.figure1 && flags.config !== undefined) throw new UsageError('--figure1 and --config are alternatives; give one');
    const clash = singleScheduleFlags.find((f) => flags[f] !== undefined);
    if (clash) throw new UsageError(`--${clash} cannot be combined with ${preset} (put it in the schedule specs)`);
    batch = flags.figure1
      ? {
          schedules: FIGURE1_SPECS.map((spec) => build(stepsFlag ? { ...spec, stepsPerEpoch: stepsFlag } : spec, (p) => p)),
          epochs: FIGURE1_EPOCHS,
          title: FIGURE1_TITLE,
        }
      : schedulesFromConfig(flags.config as string, stepsFlag);
  } else {
    batch = { schedules: [scheduleFromFlags(flags)] };
  }
  const epochs = (flags.epochs as number | undefined) ?? batch.epochs ?? 100;
  const several = preset !== undefined;
  const yScale = lrScale(flags, several);

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
    process.stdout.write(`wrote ${plot}: ${n} schedule${n === 1 ? '' : 's'} over ${epochs} epochs, ${yScale === 'both' ? 'linear and log' : yScale} LR axis\n`);
  } else {
    process.stdout.write(several ? multiTable(batch.schedules, epochs) : singleTable(batch.schedules[0]!, epochs));
  }
  return 0;
}

export const command: Command = {
  summary: 'print or plot a learning-rate schedule (SGDR warm restarts, step decay, constant)',
  run,
};
