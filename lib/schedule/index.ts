/** Learning-rate schedules: SGDR warm restarts and the step/constant schedules it is compared with. */
export {
  ConstantLR,
  MultiStepLR,
  StepLR,
  type ConstantLROptions,
  type MultiStepLROptions,
  type StepLROptions,
} from './comparators';
export { cosineAnnealing, kDecayAnnealing } from './cosine';
export { FgeSchedule, type FgeOptions } from './fge';
export { ScheduleParamError } from './errors';
export { FIGURE1_EPOCHS, FIGURE1_SPECS, FIGURE1_TITLE } from './paper-figure1';
export { scheduleFigure, type LrScale, type ScheduleFigureOptions } from './schedule-figure';
export { sampleSchedule, type Samples } from './sample';
export {
  stepTime,
  type Cycle,
  type RestartEvent,
  type Schedule,
  type ScheduleState,
  type StepResult,
} from './schedule';
export {
  scheduleFromSpec,
  scheduleFromState,
  scheduleTypes,
  type ConstantSpec,
  type FgeSpec,
  type MultiStepSpec,
  type PlateauRestartsSpec,
  type ScheduleSpec,
  type ScheduleType,
  type StepSpec,
  type WarmRestartsSpec,
} from './spec';
export {
  isAdaptiveSchedule,
  PlateauRestarts,
  type AdaptiveSchedule,
  type PlateauCycle,
  type PlateauRestartsOptions,
  type PlateauRestartsState,
} from './plateau-restarts';
export { WarmRestarts, type CyclePosition, type WarmRestartsOptions } from './warm-restarts';
