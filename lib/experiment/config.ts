/**
 * Experiment configs: one JSON file that says what to train (data, model, optimizer, epochs), on
 * which seeds, under which schedules, and how to analyse it. Every schedule is trained on every
 * seed with otherwise identical settings, so the runs of one seed differ only by their schedule.
 *
 * {
 *   "name": "SGDR vs step decay",
 *   "data": { "source": "fashion-mnist", "limitTrain": 2048, "limitVal": 1000 },
 *   "model": { "arch": "resnet18", "stem": "imagenet" },
 *   "optimizer": { "type": "sgd", "momentum": 0.9, "weightDecay": 5e-4 },
 *   "epochs": 7, "batchSize": 64,
 *   "seeds": [0, 1, 2],                       (or "runs": 3 for seeds 0, 1, 2)
 *   "schedules": [
 *     { "label": "SGDR T0=1 Tmult=2", "type": "warm-restarts", "lr": 0.05, "t0": 1, "tMult": 2 },
 *     { "label": "Step decay", "type": "multistep", "lr": 0.05, "milestones": [3, 5], "gamma": 0.1 }
 *   ],
 *   "analysis": { "targetValLoss": 0.5, "bandwidth": 1, "baseline": "Step decay" }
 * }
 *
 * A bad config is refused with one error that names the key path (`schedules[1].tMult`). The same
 * config may be written in YAML (a .yaml/.yml file); its errors also give the key's line.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ScheduleParamError, scheduleFromSpec, scheduleTypes, type Schedule, type ScheduleSpec } from '../schedule';
import type { DataOptions } from '../data';
import type { KeepFiles } from '../train/fit';
import type { OptimizerConfig, RunConfig } from '../train/run';
import { RESNET_ARCHS } from '../nn/archs';
import { checkSwaOptions, type SwaOptions } from '../train/swa';
import { ENSEMBLE_METHODS, type EnsembleMethod } from '../train/ensemble';
import { parseYamlConfig } from './yaml-config';

/** A bad experiment config; `keyPath` names the offending key (e.g. `schedules[1].tMult`). */
export class ExperimentConfigError extends TypeError {
  override name = 'ExperimentConfigError';
  constructor(
    readonly keyPath: string,
    readonly detail: string,
    readonly file?: string,
    /** 1-based line of the key in a YAML config, when known. */
    readonly line?: number,
  ) {
    super(
      `${file ? `${file}: ` : ''}${keyPath ? `${keyPath}${line ? ` (line ${line})` : ''}: ` : line ? `line ${line}: ` : ''}${detail}`,
    );
  }
}

export interface ExperimentData extends DataOptions {
  /** 'fashion-mnist' | 'fashion-mnist:DIR' | 'mnist:DIR' | 'cifar10:DIR' | 'image-folder:DIR' | DIR */
  source: string;
}

export interface ExperimentModel {
  arch: string;
  stem?: 'auto' | 'imagenet' | 'cifar';
  /** Start every run from these weights (a torch.save(model.state_dict()) file). */
  initWeights?: string;
  /** With initWeights: re-initialise the last N modules (per seed). */
  reinitLast?: number;
  freeze?: boolean;
}

/** One schedule of the comparison: a schedule spec with a label, and optionally its own optimizer settings. */
export type ExperimentSchedule = ScheduleSpec & {
  label: string;
  /** Overrides of the experiment's optimizer for this schedule (e.g. SGDR with AdamW next to SGD). */
  optimizer?: OptimizerConfig;
  /** Stochastic Weight Averaging for this schedule's runs (see SwaOptions): { "start": "cycles" } or { "start": E, "lr": X }. */
  swa?: SwaOptions;
  /** How this schedule's snapshot ensemble combines snapshots (default: the experiment's, else 'last'). */
  ensemble?: EnsembleMethod;
  /** Snapshots this schedule's ensemble draws on (default: the experiment's ensembleSize). */
  ensembleSize?: number;
};

export interface ExperimentAnalysis {
  /** Val loss that "epochs to target" counts to (default: the worst schedule's best mean val loss). */
  targetValLoss?: number;
  /** Standard deviation of the Gaussian smoothing kernel, in epochs (default max(0.5, epochs/40)). */
  bandwidth?: number;
  /** Label of the schedule the others are compared with (default: every pair is compared). */
  baseline?: string;
  /** Confidence level of the paired-difference intervals (default 0.95). */
  level?: number;
}

export interface ExperimentConfig {
  name: string;
  description?: string;
  data: ExperimentData;
  model: ExperimentModel;
  optimizer: OptimizerConfig;
  epochs: number;
  batchSize: number;
  evalBatchSize?: number;
  /** Cycle snapshots averaged by the snapshot ensemble (default 3). */
  ensembleSize?: number;
  /** How snapshot ensembles combine their snapshots: 'last' (default), 'weighted' or 'greedy' (see FitOptions.ensemble). */
  ensemble?: EnsembleMethod;
  /** Weight files each run keeps (default all; see FitOptions.keep): false drops them to save disk. */
  keep?: KeepFiles;
  /** TensorBoard event files in every run folder (default true): `tensorboard --logdir OUT` overlays the runs. */
  tensorboard?: boolean;
  seeds: number[];
  schedules: ExperimentSchedule[];
  analysis: ExperimentAnalysis;
  /** Runtime settings (do not change results): device, LibTorch threads and loader threads per run. */
  device?: string;
  threads?: number;
  workers?: number;
}

// ---------------------------------------------------------------------------------------------
// Validation

type Json = unknown;

const kindOf = (v: Json): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'an array'
      : typeof v === 'object'
        ? 'an object'
        : `${typeof v} ${JSON.stringify(v)}`;

class Checker {
  constructor(readonly file?: string) {}

  fail(keyPath: string, detail: string): never {
    throw new ExperimentConfigError(keyPath, detail, this.file);
  }

  object(v: Json, keyPath: string, known: readonly string[]): Record<string, Json> {
    if (!v || typeof v !== 'object' || Array.isArray(v)) this.fail(keyPath, `must be an object, got ${kindOf(v)}`);
    const o = v as Record<string, Json>;
    const unknown = Object.keys(o).find((k) => !known.includes(k));
    if (unknown !== undefined) this.fail(join(keyPath, unknown), `unknown key (known here: ${known.join(', ')})`);
    return o;
  }

  string(v: Json, keyPath: string): string {
    if (typeof v !== 'string' || v.trim() === '') this.fail(keyPath, `must be a non-empty string, got ${kindOf(v)}`);
    return v;
  }

  oneOf<T extends string>(v: Json, keyPath: string, options: readonly T[]): T {
    if (typeof v !== 'string' || !options.includes(v as T))
      this.fail(keyPath, `must be one of ${options.join(', ')}, got ${kindOf(v)}`);
    return v as T;
  }

  boolean(v: Json, keyPath: string): boolean {
    if (typeof v !== 'boolean') this.fail(keyPath, `must be true or false, got ${kindOf(v)}`);
    return v;
  }

  number(
    v: Json,
    keyPath: string,
    check: { min?: number; above?: number; max?: number; integer?: boolean } = {},
  ): number {
    const what = check.integer ? 'an integer' : 'a number';
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(keyPath, `must be ${what}, got ${kindOf(v)}`);
    if (check.integer && !Number.isInteger(v)) this.fail(keyPath, `must be an integer, got ${v}`);
    if (check.min !== undefined && v < check.min) this.fail(keyPath, `must be ${what} ≥ ${check.min}, got ${v}`);
    if (check.above !== undefined && v <= check.above) this.fail(keyPath, `must be ${what} > ${check.above}, got ${v}`);
    if (check.max !== undefined && v > check.max) this.fail(keyPath, `must be ${what} ≤ ${check.max}, got ${v}`);
    return v;
  }

  numbers(v: Json, keyPath: string): number | number[] {
    if (Array.isArray(v)) return v.map((x, i) => this.number(x, `${keyPath}[${i}]`));
    return this.number(v, keyPath);
  }
}

const join = (keyPath: string, key: string): string => (keyPath ? `${keyPath}.${key}` : key);

const TOP_KEYS = [
  'name',
  'description',
  'data',
  'model',
  'optimizer',
  'epochs',
  'batchSize',
  'evalBatchSize',
  'ensembleSize',
  'ensemble',
  'seeds',
  'runs',
  'schedules',
  'analysis',
  'keep',
  'tensorboard',
  'device',
  'threads',
  'workers',
] as const;
const KEEP_KEYS = ['checkpoint', 'best', 'snapshots'] as const;
const DATA_KEYS = [
  'source',
  'limitTrain',
  'limitVal',
  'augment',
  'hflip',
  'pad',
  'imageSize',
  'resize',
  'fastDecode',
  'mean',
  'std',
] as const;
const MODEL_KEYS = ['arch', 'stem', 'initWeights', 'reinitLast', 'freeze'] as const;
const OPTIMIZER_KEYS = [
  'type',
  'momentum',
  'weightDecay',
  'nesterov',
  'normalizedWeightDecay',
  'betas',
  'eps',
] as const;
const ANALYSIS_KEYS = ['targetValLoss', 'bandwidth', 'baseline', 'level'] as const;
const ARCHS = RESNET_ARCHS;

function optimizerConfig(c: Checker, v: Json, keyPath: string): OptimizerConfig {
  const o = c.object(v, keyPath, OPTIMIZER_KEYS);
  const out: OptimizerConfig = {};
  if (o.type !== undefined) out.type = c.oneOf(o.type, join(keyPath, 'type'), ['sgd', 'adam', 'adamw'] as const);
  if (o.momentum !== undefined) out.momentum = c.number(o.momentum, join(keyPath, 'momentum'), { min: 0, max: 1 });
  if (o.weightDecay !== undefined) out.weightDecay = c.number(o.weightDecay, join(keyPath, 'weightDecay'), { min: 0 });
  if (o.nesterov !== undefined) out.nesterov = c.boolean(o.nesterov, join(keyPath, 'nesterov'));
  if (o.normalizedWeightDecay !== undefined)
    out.normalizedWeightDecay = c.number(o.normalizedWeightDecay, join(keyPath, 'normalizedWeightDecay'), { min: 0 });
  if (o.betas !== undefined) {
    if (!Array.isArray(o.betas) || o.betas.length !== 2)
      c.fail(join(keyPath, 'betas'), `must be two numbers [beta1, beta2], got ${kindOf(o.betas)}`);
    out.betas = [
      c.number(o.betas[0], join(keyPath, 'betas[0]'), { min: 0, max: 1 }),
      c.number(o.betas[1], join(keyPath, 'betas[1]'), { min: 0, max: 1 }),
    ];
  }
  if (o.eps !== undefined) out.eps = c.number(o.eps, join(keyPath, 'eps'), { above: 0 });
  return out;
}

function scheduleEntry(c: Checker, v: Json, keyPath: string): ExperimentSchedule {
  if (!v || typeof v !== 'object' || Array.isArray(v))
    c.fail(keyPath, `must be an object with a "type", got ${kindOf(v)}`);
  const { optimizer, swa, ensemble, ensembleSize, ...rest } = v as Record<string, Json>;
  if (rest.type === undefined) c.fail(join(keyPath, 'type'), `missing (one of ${scheduleTypes.join(', ')})`);
  if (typeof rest.type !== 'string' || !scheduleTypes.includes(rest.type as ScheduleSpec['type'])) {
    c.fail(
      join(keyPath, 'type'),
      `unknown schedule ${kindOf(rest.type)} (expected one of ${scheduleTypes.join(', ')})`,
    );
  }
  if (rest.label !== undefined) c.string(rest.label, join(keyPath, 'label'));
  let schedule: Schedule;
  try {
    schedule = scheduleFromSpec(rest as unknown as ScheduleSpec);
  } catch (err) {
    if (err instanceof ScheduleParamError) c.fail(join(keyPath, err.param.replace(/\[(\d+)\]$/, '[$1]')), err.detail);
    const m = /unknown field "([^"]+)"/.exec((err as Error).message);
    if (m) c.fail(join(keyPath, m[1]!), `unknown key for a "${String(rest.type)}" schedule`);
    c.fail(keyPath, (err as Error).message);
  }
  const entry = {
    ...(rest as unknown as ScheduleSpec),
    label: (rest.label as string | undefined) ?? schedule.name,
  } as ExperimentSchedule;
  if (optimizer !== undefined) entry.optimizer = optimizerConfig(c, optimizer, join(keyPath, 'optimizer'));
  if (ensemble !== undefined) entry.ensemble = c.oneOf(ensemble, join(keyPath, 'ensemble'), ENSEMBLE_METHODS);
  if (ensembleSize !== undefined)
    entry.ensembleSize = c.number(ensembleSize, join(keyPath, 'ensembleSize'), { integer: true, min: 1 });
  if (swa !== undefined) entry.swa = swaEntry(c, swa, join(keyPath, 'swa'));
  return entry;
}

function swaEntry(c: Checker, v: Json, keyPath: string): SwaOptions {
  const o = c.object(v, keyPath, ['start', 'lr', 'lrMax', 'cycle']);
  if (o.start === undefined)
    c.fail(join(keyPath, 'start'), 'missing: "cycles" (every cycle end) or the 1-based epoch averaging starts at');
  const swa: SwaOptions = {
    start: o.start === 'cycles' ? 'cycles' : c.number(o.start, join(keyPath, 'start'), { integer: true, min: 1 }),
  };
  if (o.lr !== undefined) swa.lr = c.number(o.lr, join(keyPath, 'lr'), { above: 0 });
  if (o.lrMax !== undefined) swa.lrMax = c.number(o.lrMax, join(keyPath, 'lrMax'), { above: 0 });
  if (o.cycle !== undefined) swa.cycle = c.number(o.cycle, join(keyPath, 'cycle'), { integer: true, min: 1 });
  return swa;
}

/** Validates a parsed JSON config and fills in the defaults. `file` is only used in messages. */
export function parseExperimentConfig(json: Json, file?: string): ExperimentConfig {
  const c: Checker = new Checker(file);
  const o = c.object(json, '', TOP_KEYS);
  for (const key of ['data', 'model', 'epochs', 'batchSize', 'schedules'] as const) {
    if (o[key] === undefined) c.fail(key, 'missing');
  }

  let data: ExperimentData;
  if (typeof o.data === 'string') data = { source: c.string(o.data, 'data') };
  else {
    const d = c.object(o.data, 'data', DATA_KEYS);
    if (d.source === undefined) c.fail('data.source', 'missing (e.g. "fashion-mnist" or "image-folder:DIR")');
    data = { source: c.string(d.source, 'data.source') };
    for (const k of ['limitTrain', 'limitVal', 'imageSize', 'resize'] as const)
      if (d[k] !== undefined) data[k] = c.number(d[k], `data.${k}`, { integer: true, min: 1 });
    if (d.pad !== undefined) data.pad = c.number(d.pad, 'data.pad', { integer: true, min: 0 });
    for (const k of ['augment', 'hflip', 'fastDecode'] as const)
      if (d[k] !== undefined) data[k] = c.boolean(d[k], `data.${k}`);
    for (const k of ['mean', 'std'] as const) if (d[k] !== undefined) data[k] = c.numbers(d[k], `data.${k}`);
  }

  let model: ExperimentModel;
  if (typeof o.model === 'string') model = { arch: c.oneOf(o.model, 'model', ARCHS) };
  else {
    const m = c.object(o.model, 'model', MODEL_KEYS);
    if (m.arch === undefined) c.fail('model.arch', `missing (one of ${ARCHS.join(', ')})`);
    model = { arch: c.oneOf(m.arch, 'model.arch', ARCHS) };
    if (m.stem !== undefined) model.stem = c.oneOf(m.stem, 'model.stem', ['auto', 'imagenet', 'cifar'] as const);
    if (m.initWeights !== undefined) model.initWeights = c.string(m.initWeights, 'model.initWeights');
    if (m.reinitLast !== undefined)
      model.reinitLast = c.number(m.reinitLast, 'model.reinitLast', { integer: true, min: 0 });
    if (m.freeze !== undefined) model.freeze = c.boolean(m.freeze, 'model.freeze');
    if ((model.reinitLast !== undefined || model.freeze) && !model.initWeights) {
      c.fail(model.reinitLast !== undefined ? 'model.reinitLast' : 'model.freeze', 'needs model.initWeights');
    }
  }

  const optimizer = o.optimizer === undefined ? {} : optimizerConfig(c, o.optimizer, 'optimizer');
  const epochs = c.number(o.epochs, 'epochs', { integer: true, min: 1 });
  const batchSize = c.number(o.batchSize, 'batchSize', { integer: true, min: 1 });

  let seeds: number[];
  if (o.seeds !== undefined && o.runs !== undefined) c.fail('runs', 'give either seeds or runs, not both');
  if (o.seeds !== undefined) {
    if (!Array.isArray(o.seeds))
      c.fail('seeds', `must be a list of integer seeds such as [0, 1, 2], got ${kindOf(o.seeds)}`);
    if (o.seeds.length === 0) c.fail('seeds', 'is empty: give at least one seed');
    seeds = o.seeds.map((s, i) => c.number(s, `seeds[${i}]`, { integer: true, min: 0 }));
    const dup = seeds.findIndex((s, i) => seeds.indexOf(s) !== i);
    if (dup >= 0) c.fail(`seeds[${dup}]`, `seed ${seeds[dup]} is listed twice`);
  } else if (o.runs !== undefined) {
    const runs = c.number(o.runs, 'runs', { integer: true, min: 1 });
    seeds = Array.from({ length: runs }, (_, i) => i);
  } else {
    c.fail('seeds', 'missing: give "seeds": [0, 1, 2] or "runs": 3');
  }

  if (!Array.isArray(o.schedules)) c.fail('schedules', `must be a list of schedules, got ${kindOf(o.schedules)}`);
  if (o.schedules.length === 0) c.fail('schedules', 'is empty: give at least one schedule');
  const schedules = o.schedules.map((s, i) => scheduleEntry(c, s, `schedules[${i}]`));
  const slugs = new Map<string, number>();
  schedules.forEach((s, i) => {
    const slug = slugify(s.label);
    if (Buffer.byteLength(slug) > MAX_FOLDER_NAME_BYTES) {
      c.fail(
        `schedules[${i}].label`,
        `'${s.label}' makes a run folder name of ${Buffer.byteLength(slug)} bytes, over the limit of ${MAX_FOLDER_NAME_BYTES}; give a shorter label`,
      );
    }
    if (slugs.has(slug)) {
      c.fail(
        `schedules[${i}].label`,
        `'${s.label}' names the same run folder as schedules[${slugs.get(slug)}] ('${schedules[slugs.get(slug)!]!.label}'); give distinct labels`,
      );
    }
    slugs.set(slug, i);
  });

  const analysis: ExperimentAnalysis = {};
  if (o.analysis !== undefined) {
    const a = c.object(o.analysis, 'analysis', ANALYSIS_KEYS);
    if (a.targetValLoss !== undefined)
      analysis.targetValLoss = c.number(a.targetValLoss, 'analysis.targetValLoss', { above: 0 });
    if (a.bandwidth !== undefined) analysis.bandwidth = c.number(a.bandwidth, 'analysis.bandwidth', { above: 0 });
    if (a.level !== undefined) {
      analysis.level = c.number(a.level, 'analysis.level', { above: 0 });
      if (analysis.level >= 1) c.fail('analysis.level', `must be a number in (0, 1), got ${analysis.level}`);
    }
    if (a.baseline !== undefined) {
      const label = c.string(a.baseline, 'analysis.baseline');
      if (!schedules.some((s) => s.label === label))
        c.fail(
          'analysis.baseline',
          `'${label}' is not the label of a schedule (${schedules.map((s) => `'${s.label}'`).join(', ')})`,
        );
      analysis.baseline = label;
    }
  }

  const config: ExperimentConfig = {
    name: o.name === undefined ? 'experiment' : c.string(o.name, 'name'),
    ...(o.description !== undefined ? { description: c.string(o.description, 'description') } : {}),
    data,
    model,
    optimizer,
    epochs,
    batchSize,
    seeds,
    schedules,
    analysis,
  };
  if (o.evalBatchSize !== undefined)
    config.evalBatchSize = c.number(o.evalBatchSize, 'evalBatchSize', { integer: true, min: 1 });
  if (o.ensembleSize !== undefined)
    config.ensembleSize = c.number(o.ensembleSize, 'ensembleSize', { integer: true, min: 1 });
  if (o.ensemble !== undefined) config.ensemble = c.oneOf(o.ensemble, 'ensemble', ENSEMBLE_METHODS);
  // SWA's own checks that need the whole config (a start epoch within the run, lrMax ≥ lr).
  schedules.forEach((s, i) => {
    if (!s.swa) return;
    try {
      checkSwaOptions(s.swa, epochs);
    } catch (err) {
      const m = /^swa\.(\w+)/.exec((err as Error).message);
      c.fail(`schedules[${i}].swa${m ? `.${m[1]}` : ''}`, (err as Error).message.replace(/^swa\.\w+ /, ''));
    }
  });
  if (o.keep !== undefined) {
    const k = c.object(o.keep, 'keep', KEEP_KEYS);
    config.keep = {};
    for (const key of KEEP_KEYS) if (k[key] !== undefined) config.keep[key] = c.boolean(k[key], `keep.${key}`);
  }
  if (o.tensorboard !== undefined) config.tensorboard = c.boolean(o.tensorboard, 'tensorboard');
  if (o.device !== undefined) config.device = c.string(o.device, 'device');
  if (o.threads !== undefined) config.threads = c.number(o.threads, 'threads', { integer: true, min: 1 });
  if (o.workers !== undefined) config.workers = c.number(o.workers, 'workers', { integer: true, min: 0 });
  return config;
}

/** Whether a config file is YAML (by its extension, .yaml or .yml); anything else is read as JSON. */
export const isYamlConfig = (file: string): boolean => /\.ya?ml$/i.test(file);

/** Reads and validates an experiment config file: JSON, or YAML for a .yaml/.yml file. */
export function readExperimentConfig(file: string): ExperimentConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ExperimentConfigError(
      '',
      `cannot read the config: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      file,
    );
  }
  // Editors on Windows save UTF-8 with a byte-order mark, which JSON.parse rejects.
  text = text.replace(/^\uFEFF/, '');
  let config: ExperimentConfig;
  if (isYamlConfig(file)) {
    const yaml = parseYamlConfig(text, file);
    try {
      config = parseExperimentConfig(yaml.value, file);
    } catch (err) {
      // The same key-path error, with the line of that key (or of the nearest enclosing one there is).
      if (err instanceof ExperimentConfigError && err.line === undefined)
        throw new ExperimentConfigError(err.keyPath, err.detail, file, yaml.lineOf(err.keyPath));
      throw err;
    }
  } else {
    let json: Json;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new ExperimentConfigError('', `not valid JSON: ${(err as Error).message}`, file);
    }
    config = parseExperimentConfig(json, file);
  }
  // A relative weight file is looked up next to the config file first (when the file is there;
  // otherwise relative to the working directory), and made absolute so a resume from another
  // directory trains on the same file.
  const base = path.dirname(path.resolve(file));
  // A relative data folder (kind:DIR or DIR) is relative to the working directory, as on the command
  // line, and is stored absolute so every run and every resume reads the same folder.
  const m = /^([a-z][a-z0-9_-]*):(.+)$/i.exec(config.data.source);
  if (m && !path.isAbsolute(m[2]!)) config.data.source = `${m[1]}:${path.resolve(m[2]!)}`;
  else if (
    !m &&
    (config.data.source.includes('/') || fs.existsSync(config.data.source)) &&
    !path.isAbsolute(config.data.source)
  ) {
    config.data.source = path.resolve(config.data.source);
  }
  if (config.model.initWeights && !path.isAbsolute(config.model.initWeights)) {
    const candidate = path.resolve(base, config.model.initWeights);
    config.model.initWeights = fs.existsSync(candidate) ? candidate : path.resolve(config.model.initWeights);
  }
  return config;
}

/** The longest file name most file systems take (NAME_MAX): a run folder is named after its label. */
const MAX_FOLDER_NAME_BYTES = 255;

/** A run folder name for a schedule label: lower case, letters, digits and single dashes. */
export function slugify(label: string): string {
  const slug = label
    .replace(/×/g, 'x')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/\.(?![0-9])|(?<![0-9])\./g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  return slug || 'schedule';
}

/** The schedule spec of an entry, without the experiment-only keys. */
export function scheduleSpecOf(entry: ExperimentSchedule): ScheduleSpec {
  const { optimizer: _optimizer, swa: _swa, ensemble: _ensemble, ensembleSize: _ensembleSize, ...spec } = entry;
  return spec as ScheduleSpec;
}

/** The RunConfig of one schedule × seed: everything the run needs, runtime settings excluded. */
export function runConfigFor(config: ExperimentConfig, entry: ExperimentSchedule, seed: number): RunConfig {
  const d = config.data;
  const run: RunConfig = {
    data: d.source,
    arch: config.model.arch,
    ...(config.model.stem ? { stem: config.model.stem } : {}),
    epochs: config.epochs,
    batchSize: config.batchSize,
    ...(config.evalBatchSize ? { evalBatchSize: config.evalBatchSize } : {}),
    schedule: scheduleSpecOf(entry),
    optimizer: { ...config.optimizer, ...(entry.optimizer ?? {}) },
    seed,
    ...((entry.ensembleSize ?? config.ensembleSize) ? { ensembleSize: entry.ensembleSize ?? config.ensembleSize } : {}),
    ...((entry.ensemble ?? config.ensemble) && (entry.ensemble ?? config.ensemble) !== 'last'
      ? { ensemble: entry.ensemble ?? config.ensemble }
      : {}),
    ...(entry.swa ? { swa: entry.swa } : {}),
    ...(config.keep ? { keep: config.keep } : {}),
    ...(config.tensorboard !== undefined ? { tensorboard: config.tensorboard } : {}),
  };
  for (const k of DATA_KEYS) {
    if (k === 'source') continue; // the run's data set is `data` above
    if (d[k] !== undefined) (run as unknown as Record<string, unknown>)[k] = d[k];
  }
  if (config.model.initWeights) run.initWeights = config.model.initWeights;
  if (config.model.reinitLast !== undefined) run.reinitLast = config.model.reinitLast;
  if (config.model.freeze !== undefined) run.freeze = config.model.freeze;
  return run;
}
