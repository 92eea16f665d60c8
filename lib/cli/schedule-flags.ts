/**
 * The flags that describe one learning-rate schedule (--scheduler, --lr, --t0, --t-mult, ...),
 * shared by `sgdr schedule` and `sgdr train`. The library names bad hyper-parameters by option
 * (`tMult`); these helpers restate them by flag (`--t-mult`), so every error is one line that
 * points at what to fix.
 */
import {
  ScheduleParamError,
  scheduleFromSpec,
  scheduleTypes,
  type Schedule,
  type ScheduleSpec,
  type ScheduleType,
} from '../schedule';
import { flagDefault, UsageError, type FlagSpecs, type ParsedFlags } from './args';

export const scheduleFlagSpecs: FlagSpecs = {
  scheduler: { kind: 'string', help: scheduleTypes.join(' | '), default: 'warm-restarts' },
  lr: { kind: 'number', help: 'initial LR; eta_max of the first cycle for warm-restarts', default: 0.1 },
  t0: { kind: 'number', help: 'warm-restarts: length T_0 of the first cycle in epochs, > 0', default: 10 },
  't-mult': { kind: 'number', help: 'warm-restarts: each cycle is T_mult times longer, a real ≥ 1', default: 1 },
  'eta-min': { kind: 'number', help: 'warm-restarts: LR at the end of every cycle, in [0, lr]', default: 0 },
  decay: { kind: 'number', help: 'warm-restarts: the peak of cycle i is lr·decay^i, decay in (0, 1]', default: 1 },
  warmup: { kind: 'number', help: 'warm-restarts: epochs of linear warmup from eta-min at the start', default: 0 },
  'warmup-every-restart': { kind: 'boolean', help: 'warm-restarts: warm up again after every restart' },
  'cycle-limit': { kind: 'integer', help: 'warm-restarts: number of cycles, then the LR stays at eta-min' },
  'k-decay': {
    kind: 'number',
    help: "warm-restarts: k-decay's k, the cosine of T_cur^k/T_i^k (timm's k_decay), > 0 (default 1)",
  },
  patience: {
    kind: 'integer',
    help: 'plateau-restarts: restart when the val loss has not improved for P epochs of a cycle (required)',
  },
  threshold: { kind: 'number', help: 'plateau-restarts: least improvement that counts (default 1e-4, relative)' },
  'threshold-mode': {
    kind: 'string',
    help: 'plateau-restarts: rel (loss < best·(1−threshold), default) | abs (loss < best − threshold)',
  },
  'step-size': { kind: 'number', help: 'step: epochs between decays (required)' },
  milestones: { kind: 'string', help: 'multistep: comma-separated epochs of the decays, e.g. 60,120,160 (required)' },
  gamma: { kind: 'number', help: 'step, multistep: factor applied at each decay, in (0, 1]', default: 0.1 },
  'fge-lr2': {
    kind: 'number',
    help: 'fge: lr_2, the LR mid-cycle where models are collected, in (0, lr] (required; --lr is lr_1)',
  },
  'fge-cycle': {
    kind: 'integer',
    help: 'fge: cycle length c in epochs, even (required); a model is collected after epoch c/2 of each',
  },
};

/** The flags each scheduler accepts besides the common ones, and the option each one sets. */
export const schedulerFlags: Record<ScheduleType, Record<string, string>> = {
  'warm-restarts': {
    t0: 't0',
    't-mult': 'tMult',
    'eta-min': 'etaMin',
    decay: 'decay',
    warmup: 'warmup',
    'warmup-every-restart': 'warmupEveryRestart',
    'cycle-limit': 'cycleLimit',
    'k-decay': 'kDecay',
  },
  step: { 'step-size': 'stepSize', gamma: 'gamma' },
  multistep: { milestones: 'milestones', gamma: 'gamma' },
  constant: {},
  fge: { 'fge-lr2': 'lr2', 'fge-cycle': 'cycle' },
  'plateau-restarts': {
    t0: 't0',
    't-mult': 'tMult',
    'eta-min': 'etaMin',
    decay: 'decay',
    'k-decay': 'kDecay',
    patience: 'patience',
    threshold: 'threshold',
    'threshold-mode': 'thresholdMode',
  },
};
export const commonFlags: Record<string, string> = { lr: 'lr', 'steps-per-epoch': 'stepsPerEpoch' };
/** Flags that describe the one schedule of a command line; --figure1 and --config bring their own. */
export const singleScheduleFlags = ['scheduler', 'lr', ...new Set(Object.values(schedulerFlags).flatMap(Object.keys))];

/** The flag that sets a library option, for restating library errors. */
export function flagFor(param: string): string | undefined {
  const option = param.replace(/\[\d+\]$/, '');
  for (const table of [commonFlags, ...Object.values(schedulerFlags)]) {
    const flag = Object.keys(table).find((f) => table[f] === option);
    if (flag) return `--${flag}`;
  }
  return undefined;
}

/** Builds a schedule, restating a bad hyper-parameter as `where` + the parameter. */
export function build(spec: ScheduleSpec, where: (param: string) => string): Schedule {
  try {
    return scheduleFromSpec(spec);
  } catch (err) {
    if (err instanceof ScheduleParamError) throw new UsageError(`${where(err.param)} ${err.detail}`);
    throw err;
  }
}

export function parseMilestones(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const values = parts.map(Number);
  if (parts.some((s) => s === '') || values.some((v) => !Number.isFinite(v))) {
    throw new UsageError(`--milestones must be comma-separated epochs such as 60,120,160, got '${text}'`);
  }
  return values;
}

/**
 * The one schedule described by --scheduler and its flags. The defaults of --scheduler, --lr and
 * --t0 come from `specs`; the others are the library's own, which the table states for --help
 * (test/cli-user.test.ts checks that they agree). sgdr train fills in its own defaults first.
 */
export function scheduleFromFlags(flags: ParsedFlags, specs: FlagSpecs = scheduleFlagSpecs): Schedule {
  const type = (flags.scheduler ?? flagDefault<string>(specs, 'scheduler')) as ScheduleType;
  if (!scheduleTypes.includes(type)) {
    throw new UsageError(`--scheduler must be one of ${scheduleTypes.join(', ')}, got '${String(flags.scheduler)}'`);
  }
  const own = schedulerFlags[type];
  for (const flag of Object.keys(flags)) {
    if (singleScheduleFlags.includes(flag) && flag !== 'scheduler' && !(flag in own) && !(flag in commonFlags)) {
      throw new UsageError(`--${flag} does not apply to --scheduler ${type}`);
    }
  }
  if (type === 'step' && flags['step-size'] === undefined)
    throw new UsageError('--step-size is required for --scheduler step');
  if (type === 'multistep' && flags.milestones === undefined)
    throw new UsageError('--milestones is required for --scheduler multistep');
  if (type === 'fge' && flags['fge-lr2'] === undefined)
    throw new UsageError('--fge-lr2 is required for --scheduler fge (the LR mid-cycle; --lr is lr_1)');
  if (type === 'fge' && flags['fge-cycle'] === undefined)
    throw new UsageError('--fge-cycle is required for --scheduler fge (an even number of epochs)');
  if (type === 'plateau-restarts' && flags.patience === undefined)
    throw new UsageError('--patience is required for --scheduler plateau-restarts');

  const spec: Record<string, unknown> = { type, lr: flags.lr ?? flagDefault<number>(specs, 'lr') };
  if (type === 'warm-restarts' || type === 'plateau-restarts') spec.t0 = flagDefault<number>(specs, 't0');
  for (const [flag, option] of Object.entries({ ...commonFlags, ...own })) {
    if (flags[flag] !== undefined) spec[option] = flags[flag];
  }
  if (typeof spec.milestones === 'string') spec.milestones = parseMilestones(spec.milestones);
  return build(spec as unknown as ScheduleSpec, (param) => flagFor(param) ?? param);
}
