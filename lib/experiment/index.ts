/** Experiments: every schedule × every seed, statistics over seeds, figures and an HTML report. */
export {
  ExperimentConfigError,
  type ExperimentAnalysis,
  type ExperimentConfig,
  type ExperimentData,
  type ExperimentLrFind,
  type ExperimentModel,
  type ExperimentSchedule,
} from './config';
export { parseExperimentConfig } from './parse-config';
export { readExperimentConfig } from './read-config';
export { runConfigFor, scheduleSpecOf, slugify } from './run-config';
export {
  bestEpoch,
  defaultBandwidth,
  epochsToTarget,
  incompleteBeta,
  mean,
  meanStd,
  normalCdf,
  pairedDifference,
  rbfSmooth,
  sampleStd,
  tCdf,
  tQuantile,
  type MeanStd,
  type PairedDifference,
} from './stats';
export { aggregate, analyzeExperiment } from './aggregate';
export { cycleEndEpochs } from './schedule-stats';
export {
  COMPARED_METRICS,
  CURVE_METRICS,
  type Band,
  type Comparison,
  type ComparedMetric,
  type CurveMetric,
  type CycleEndStats,
  type ExperimentResults,
  type RunRecord,
  type ScheduleStats,
  type VersusSingle,
} from './results';
export { LR_FIND_DIR, LR_FIND_FILE, lrFindJobOf, type LrFindJob, type LrFindOutcome } from './lr-find-job';
export { planRuns, readMetrics, runStatus, RUNS_DIR, type PlannedRun, type RunStatus } from './runs';
export {
  defaultWorkerScript,
  EXPERIMENT_FILE,
  readExperimentFile,
  runExperiment,
  writeExperimentFile,
  type ExperimentEvent,
  type ExperimentOptions,
  type ExperimentRunResult,
  type WorkerMessage,
} from './runner';
export {
  experimentFigures,
  writeExperimentFigures,
  zoomLimits,
  type ExperimentFigure,
  type WrittenFigure,
} from './figures';
export {
  renderReportHtml,
  resultsCsv,
  writeReport,
  REPORT_FILE,
  RESULTS_CSV,
  RESULTS_JSON,
  type ReportFiles,
} from './report';
export { DEMO_CONFIG_JSON, demoConfig } from './demo';
