/**
 * Validating an experiment config (a parsed JSON or YAML value) into an ExperimentConfig with its
 * defaults filled in. Every mistake is refused with one ExperimentConfigError naming the key path
 * (`schedules[1].tMult: unknown key ...`), before anything is trained.
 */
import { ScheduleParamError, scheduleFromSpec, scheduleTypes, type Schedule, type ScheduleSpec } from '../schedule';
import type { OptimizerConfig } from '../train/run';
import { RESNET_ARCHS } from '../nn/archs';
import { checkSwaOptions, type SwaOptions } from '../train/swa';
import { ENSEMBLE_METHODS } from '../train/ensemble';
import { LR_SUGGESTIONS } from '../train/lr-find';
import {
  DATA_KEYS,
  type ExperimentAnalysis,
  type ExperimentConfig,
  type ExperimentData,
  type ExperimentLrFind,
  type ExperimentModel,
  type ExperimentSchedule,
} from './config';
import { Checker, join, kindOf, type Json } from './config-checker';
import { MAX_FOLDER_NAME_BYTES, slugify } from './run-config';

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
  'lrFind',
  'analysis',
  'keep',
  'tensorboard',
  'device',
  'threads',
  'workers',
] as const;
const KEEP_KEYS = ['checkpoint', 'best', 'snapshots'] as const;
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

const LR_FIND_KEYS = [
  'startLr',
  'endLr',
  'iterations',
  'beta',
  'divergeFactor',
  'suggestion',
  'seed',
  'optimizer',
] as const;

/** `"lrFind": true` (every default), false (none: undefined) or the test's settings. */
function lrFindEntry(c: Checker, v: Json, keyPath: string): ExperimentLrFind | undefined {
  if (typeof v === 'boolean') return v ? {} : undefined;
  if (!v || typeof v !== 'object' || Array.isArray(v))
    c.fail(keyPath, `must be true, false or an object of LR range test settings, got ${kindOf(v)}`);
  const o = c.object(v, keyPath, LR_FIND_KEYS);
  const out: ExperimentLrFind = {};
  for (const k of ['startLr', 'endLr', 'divergeFactor'] as const)
    if (o[k] !== undefined) out[k] = c.number(o[k], join(keyPath, k), { above: 0 });
  if ((out.startLr ?? 1e-7) >= (out.endLr ?? 10)) {
    const key = out.endLr !== undefined ? 'endLr' : 'startLr';
    c.fail(
      join(keyPath, key),
      `the sweep must rise: endLr (${out.endLr ?? '10, the default'}) must be larger than startLr (${out.startLr ?? '1e-7, the default'})`,
    );
  }
  if (o.iterations !== undefined)
    out.iterations = c.number(o.iterations, join(keyPath, 'iterations'), { integer: true, min: 2 });
  if (o.beta !== undefined) {
    out.beta = c.number(o.beta, join(keyPath, 'beta'), { min: 0 });
    if (out.beta >= 1) c.fail(join(keyPath, 'beta'), `must be a number in [0, 1), got ${out.beta}`);
  }
  if (o.suggestion !== undefined) out.suggestion = c.oneOf(o.suggestion, join(keyPath, 'suggestion'), LR_SUGGESTIONS);
  if (o.seed !== undefined) out.seed = c.number(o.seed, join(keyPath, 'seed'), { integer: true, min: 0 });
  if (o.optimizer !== undefined) out.optimizer = optimizerConfig(c, o.optimizer, join(keyPath, 'optimizer'));
  return out;
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
  if (o.lrFind !== undefined) {
    const lrFind = lrFindEntry(c, o.lrFind, 'lrFind');
    if (lrFind) config.lrFind = lrFind;
  }
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
