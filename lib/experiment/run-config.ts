/**
 * From an experiment config to its runs' settings: the run folder name of a schedule label, the
 * plain schedule spec of an entry, and the RunConfig of one schedule × seed (what run.json holds).
 */
import type { ScheduleSpec } from '../schedule';
import type { RunConfig } from '../train/run';
import { DATA_KEYS, type ExperimentConfig, type ExperimentSchedule } from './config';

/** The longest file name most file systems take (NAME_MAX): a run folder is named after its label. */
export const MAX_FOLDER_NAME_BYTES = 255;

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
