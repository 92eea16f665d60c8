/**
 * Schedules as plain JSON specs, the form the trainer, experiment configs, checkpoints and the CLI
 * exchange:
 *   { "type": "warm-restarts", "lr": 0.1, "t0": 10, "tMult": 2, "etaMin": 0 }      (+ "kDecay": k for k-decay)
 *   { "type": "step", "lr": 0.1, "stepSize": 60, "gamma": 0.1 }
 *   { "type": "multistep", "lr": 0.1, "milestones": [60, 120, 160], "gamma": 0.2 }
 *   { "type": "constant", "lr": 0.1 }
 *   { "type": "fge", "lr": 0.05, "lr2": 0.0005, "cycle": 4 }      (Fast Geometric Ensembling's cyclic LR)
 *   { "type": "plateau-restarts", "lr": 0.1, "t0": 10, "tMult": 1, "patience": 2 }   (threshold 1e-4 rel)
 * Field names are the option names of the classes; unknown fields are errors, so a typo in a
 * config does not silently fall back to a default.
 */
import {
  ConstantLR,
  MultiStepLR,
  StepLR,
  type ConstantLROptions,
  type MultiStepLROptions,
  type StepLROptions,
} from './comparators';
import { FgeSchedule, type FgeOptions } from './fge';
import type { Schedule, ScheduleState } from './schedule';
import { PlateauRestarts, type PlateauRestartsOptions } from './plateau-restarts';
import { WarmRestarts, type WarmRestartsOptions } from './warm-restarts';

export interface WarmRestartsSpec extends WarmRestartsOptions {
  type: 'warm-restarts';
}
export interface StepSpec extends StepLROptions {
  type: 'step';
}
export interface MultiStepSpec extends MultiStepLROptions {
  type: 'multistep';
}
export interface ConstantSpec extends ConstantLROptions {
  type: 'constant';
}
export interface FgeSpec extends FgeOptions {
  type: 'fge';
}
export interface PlateauRestartsSpec extends PlateauRestartsOptions {
  type: 'plateau-restarts';
}
export type ScheduleSpec = WarmRestartsSpec | StepSpec | MultiStepSpec | ConstantSpec | FgeSpec | PlateauRestartsSpec;
export type ScheduleType = ScheduleSpec['type'];

const common = ['type', 'lr', 'stepsPerEpoch', 'label'];
const fields: Record<ScheduleType, readonly string[]> = {
  'warm-restarts': [
    ...common,
    't0',
    'tMult',
    'etaMin',
    'decay',
    'warmup',
    'warmupEveryRestart',
    'cycleLimit',
    'kDecay',
  ],
  step: [...common, 'stepSize', 'gamma'],
  multistep: [...common, 'milestones', 'gamma'],
  constant: common,
  fge: [...common, 'lr2', 'cycle'],
  'plateau-restarts': [...common, 't0', 'tMult', 'etaMin', 'decay', 'kDecay', 'patience', 'threshold', 'thresholdMode'],
};

export const scheduleTypes = Object.keys(fields) as ScheduleType[];

/** Builds the schedule a spec describes; throws a TypeError for a malformed spec and a RangeError (ScheduleParamError) for a bad value. */
export function scheduleFromSpec(spec: ScheduleSpec): Schedule {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new TypeError(`a schedule spec must be an object with a "type", got ${JSON.stringify(spec)}`);
  }
  const known = fields[spec.type];
  if (!known) {
    throw new TypeError(
      `unknown schedule type ${JSON.stringify(spec.type)} (expected one of: ${scheduleTypes.join(', ')})`,
    );
  }
  const unknown = Object.keys(spec).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new TypeError(
      `unknown field ${unknown.map((k) => `"${k}"`).join(', ')} in a "${spec.type}" schedule spec (known: ${known.slice(1).join(', ')})`,
    );
  }
  if (spec.label !== undefined && typeof spec.label !== 'string') {
    throw new TypeError(`label must be a string, got ${JSON.stringify(spec.label)}`);
  }
  switch (spec.type) {
    case 'warm-restarts':
      return new WarmRestarts(spec);
    case 'step':
      return new StepLR(spec);
    case 'multistep':
      return new MultiStepLR(spec);
    case 'constant':
      return new ConstantLR(spec);
    case 'fge':
      return new FgeSchedule(spec);
    case 'plateau-restarts':
      return new PlateauRestarts(spec);
  }
}

/** Rebuilds a schedule from its state() and resumes it at the saved step. */
export function scheduleFromState(state: ScheduleState): Schedule {
  if (!state || typeof state !== 'object') {
    throw new TypeError('schedule state must be an object {spec, iteration} from state()');
  }
  return scheduleFromSpec(state.spec).restore(state);
}
