/// <reference types="node" preserve="true" />
/**
 * Runs every schedule × seed of an experiment, `jobs` at a time, each in a child process of its own
 * (worker.ts): a native crash takes one run down, not the experiment, and every child gets its
 * share of the cores. Resumable: finished runs (summary.json) are skipped, started ones continue
 * from their checkpoint, and run folders trained under another config are refused. With lrFind in the
 * config, the LR range test runs first, once (lr-find-job.ts).
 */
import { fork, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { EpochMetrics } from '../train/metrics';
import { DataSpecError, parseDataSpec } from '../data/spec';
import { ExperimentConfigError, type ExperimentConfig } from './config';
import { readExperimentConfig } from './read-config';
import {
  checkRunFolder,
  planRuns,
  prepareRunFolder,
  readMetrics,
  runStatus,
  type PlannedRun,
  type RunStatus,
} from './runs';
import { makeFolder } from '../folders';
import { writePlacement, type Placement } from './placement';
import { STOPPED_EXIT_CODES } from '../stop-signals';
import type { LrFindStep } from '../train/lr-find';
import { lrFindDone, lrFindJobOf, runLrFindJob, type LrFindJob, type LrFindOutcome } from './lr-find-job';

export const EXPERIMENT_FILE = 'experiment.json';

/** What a worker tells its parent. */
export type WorkerMessage =
  | { type: 'log'; line: string }
  | { type: 'batch'; epoch: number; batch: number; batches: number; loss: number }
  | { type: 'epoch'; metrics: EpochMetrics }
  | { type: 'done'; epochs: number; seconds: number }
  | { type: 'aborted'; epochs: number }
  | { type: 'diverged'; epoch: number; batch: number; loss: number; message: string }
  | { type: 'error'; message: string };

export type ExperimentEvent =
  | { type: 'plan'; runs: PlannedRun[]; status: RunStatus[]; epochsDone: number[]; jobs: number; threads: number }
  | { type: 'lr-find-start'; job: LrFindJob; skipped: boolean }
  | { type: 'lr-find-step'; step: LrFindStep }
  | { type: 'lr-find-end'; outcome: LrFindOutcome | { status: 'skipped' }; seconds: number }
  | { type: 'run-start'; run: PlannedRun; fromEpoch: number; placement?: Placement }
  | { type: 'log'; run: PlannedRun; line: string }
  | { type: 'batch'; run: PlannedRun; epoch: number; batch: number; batches: number; loss: number }
  | { type: 'epoch'; run: PlannedRun; metrics: EpochMetrics }
  | {
      type: 'run-end';
      run: PlannedRun;
      status: 'done' | 'aborted' | 'diverged' | 'failed';
      seconds: number;
      error?: string;
    };

export interface ExperimentOptions {
  /** The experiment folder: experiment.json, runs/, and the report. */
  outDir: string;
  /** Runs trained at once, each in its own process (default 1). */
  jobs?: number;
  /** LibTorch threads per run (default: the machine's cores divided by jobs, at least 1). */
  threads?: number;
  /** 'auto' | 'cpu' | 'cuda' | 'cuda:N' (default: the config's, else auto). */
  device?: string;
  /** Data loader threads per run (default: the config's, else automatic). */
  workers?: number;
  /**
   * Where the workers train (see placement.ts): worker i of `jobs` takes devices[i % length], a
   * device or a pinned CPU core set. Overrides `device`; each run folder records its placement.
   */
  devices?: Placement[];
  /** Stops every run after its current batch, with a checkpoint to resume from. */
  signal?: AbortSignal;
  /**
   * A second stop request: every worker exits as soon as the file it is writing is complete,
   * without waiting for its batch (the checkpoint on disk stays the previous one).
   */
  stopNow?: AbortSignal;
  onEvent?: (event: ExperimentEvent) => void;
  /** The worker script (default: worker.js of the compiled package). */
  workerScript?: string;
  /** The LR range test's worker script (default: lr-find-worker.js of the compiled package). */
  lrFindWorkerScript?: string;
}

export interface ExperimentRunResult {
  runs: PlannedRun[];
  /** Runs trained to the end in this call. */
  trained: number;
  /** Runs that were already finished (or had diverged). */
  skipped: number;
  /** Runs that diverged (a non-finite loss) in this call; they are final and reported as diverged. */
  diverged: number;
  /** True when the signal stopped the experiment before every run finished. */
  aborted: boolean;
  /** The LR range test, with lrFind in the config: run now, found done before, or stopped. */
  lrFind?: 'done' | 'skipped' | 'aborted';
  jobs: number;
  threads: number;
  seconds: number;
}

/** A compiled worker (worker.js, lr-find-worker.js): next to this file in dist/, or dist/experiment/ when running from the TS sources. */
export function defaultWorkerScript(name = 'worker.js'): string {
  const candidates = [path.join(__dirname, name), path.resolve(__dirname, '..', '..', 'dist', 'experiment', name)];
  const found = candidates.find((f) => fs.existsSync(f));
  if (!found)
    throw new Error(`the experiment worker is not built (looked for ${candidates.join(', ')}); run npm run build:ts`);
  return found;
}

/** Writes experiment.json into the experiment folder (the config the report and resumes read). */
export function writeExperimentFile(outDir: string, config: ExperimentConfig): void {
  makeFolder(outDir);
  fs.writeFileSync(path.join(outDir, EXPERIMENT_FILE), JSON.stringify(config, null, 2) + '\n');
}

/** Reads the experiment.json a previous runExperiment wrote. */
export function readExperimentFile(outDir: string): ExperimentConfig {
  const file = path.join(outDir, EXPERIMENT_FILE);
  if (!fs.existsSync(file))
    throw new Error(`${outDir} has no ${EXPERIMENT_FILE}: not an experiment folder of sgdr compare`);
  return readExperimentConfig(file);
}

/** Refuses a data source or data options the loader would refuse, naming the config key. */
export function checkData(config: ExperimentConfig): void {
  const { source, ...options } = config.data;
  try {
    parseDataSpec(source, options);
  } catch (err) {
    throw new ExperimentConfigError(err instanceof DataSpecError ? 'data.source' : 'data', (err as Error).message);
  }
}

export async function runExperiment(
  config: ExperimentConfig,
  options: ExperimentOptions,
): Promise<ExperimentRunResult> {
  const started = Date.now();
  const outDir = path.resolve(options.outDir);
  const jobs = options.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new RangeError(`jobs must be an integer >= 1, got ${jobs}`);
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const threads = options.threads ?? config.threads ?? Math.max(1, Math.floor(cores / jobs));
  if (!Number.isInteger(threads) || threads < 1)
    throw new RangeError(`threads must be an integer >= 1, got ${threads}`);
  const runtime = {
    threads,
    device: options.device ?? config.device ?? 'auto',
    ...((options.workers ?? config.workers) !== undefined ? { workers: options.workers ?? config.workers } : {}),
  };
  // A throwing event handler must not take the experiment (and its children) down with it.
  const onEvent = options.onEvent;
  const emit = (event: ExperimentEvent): void => {
    try {
      onEvent?.(event);
    } catch {
      // progress display only
    }
  };

  // The data set is checked here, before any process starts: a wrong folder is one line, not N failed runs.
  checkData(config);
  const runs = planRuns(config, outDir);
  for (const run of runs) checkRunFolder(run);
  const status = runs.map((r) => runStatus(r.dir));
  const epochsDone = runs.map((r, i) =>
    status[i] === 'done' ? config.epochs : Math.min(config.epochs, readMetrics(r.dir).length),
  );
  writeExperimentFile(outDir, config);
  emit({ type: 'plan', runs, status, epochsDone, jobs, threads });

  const final = (s: RunStatus) => s === 'done' || s === 'diverged';
  const queue = runs.filter((_, i) => !final(status[i]!));
  const skipped = runs.length - queue.length;
  let lrFind: ExperimentRunResult['lrFind'];
  const ended = (o: { trained?: number; diverged?: number; aborted?: boolean } = {}): ExperimentRunResult => ({
    runs,
    trained: o.trained ?? 0,
    skipped,
    diverged: o.diverged ?? 0,
    aborted: o.aborted ?? false,
    ...(lrFind ? { lrFind } : {}),
    jobs,
    threads,
    seconds: (Date.now() - started) / 1000,
  });

  // The LR range test before any run: once, and again only when what it sweeps has changed.
  const job = lrFindJobOf(config);
  if (job && !options.signal?.aborted) {
    const lrFindStarted = Date.now();
    const seconds = () => (Date.now() - lrFindStarted) / 1000;
    if (lrFindDone(outDir, job)) {
      lrFind = 'skipped';
      emit({ type: 'lr-find-start', job, skipped: true });
      emit({ type: 'lr-find-end', outcome: { status: 'skipped' }, seconds: seconds() });
    } else {
      emit({ type: 'lr-find-start', job, skipped: false });
      // Nothing else runs meanwhile: all the cores the runs would share, unless a thread count was given.
      const outcome = await runLrFindJob(job, {
        outDir,
        script: options.lrFindWorkerScript ?? defaultWorkerScript('lr-find-worker.js'),
        runtime: { ...runtime, threads: options.threads ?? config.threads ?? cores },
        signal: options.signal,
        onStep: (step) => emit({ type: 'lr-find-step', step }),
      });
      lrFind = outcome.status;
      emit({ type: 'lr-find-end', outcome, seconds: seconds() });
      if (outcome.status === 'aborted') return ended({ aborted: true });
    }
  }
  if (queue.length === 0) return ended();
  const script = options.workerScript ?? defaultWorkerScript();

  const children = new Set<ChildProcess>();
  let stopping = false;
  let failure: Error | undefined;
  let trained = 0;
  let divergedRuns = 0;
  const stopAll = () => {
    stopping = true;
    for (const child of children) if (child.connected) child.send({ type: 'abort' });
  };
  // A worker counts requests as sgdr train does (stop-signals.ts): the second abort is "now".
  const stopAllNow = () => {
    for (const child of children) if (child.connected) child.send({ type: 'abort' });
  };
  if (options.signal?.aborted) stopping = true;
  options.signal?.addEventListener('abort', stopAll);
  options.stopNow?.addEventListener('abort', stopAllNow);
  // No worker may outlive this process, however it ends (an uncaught error included): the workers
  // would otherwise train on, unobserved, into folders a later call resumes.
  const killAll = () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', killAll);

  const runOne = (run: PlannedRun, worker: number): Promise<'done' | 'aborted' | 'diverged'> =>
    new Promise((resolve, reject) => {
      prepareRunFolder(run);
      const placement = options.devices?.length ? options.devices[worker % options.devices.length] : undefined;
      if (placement) writePlacement(run.dir, placement, worker);
      emit({ type: 'run-start', run, fromEpoch: readMetrics(run.dir).length, placement });
      const runStarted = Date.now();
      const laneThreads = placement?.cpus && options.threads === undefined ? placement.cpus.length : threads;
      const laneRuntime = placement ? { ...runtime, device: placement.device, threads: laneThreads } : runtime;
      const childOptions = {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'] as ('ignore' | 'pipe' | 'ipc')[],
        // A process group of its own: a Ctrl-C in the terminal reaches this process only, which
        // passes it on once over IPC, instead of every worker seeing it twice.
        detached: true,
        env: { ...process.env, OMP_NUM_THREADS: String(laneThreads) },
      };
      // A pinned worker runs under taskset, which execs Node with the IPC channel inherited.
      const child = placement?.cpus
        ? spawn(
            'taskset',
            ['-c', placement.cpus.join(','), process.execPath, script, run.dir, JSON.stringify(laneRuntime)],
            childOptions,
          )
        : fork(script, [run.dir, JSON.stringify(laneRuntime)], childOptions);
      children.add(child);
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000);
      });
      let outcome: WorkerMessage | undefined;
      child.on('message', (m: WorkerMessage) => {
        if (m.type === 'log') emit({ type: 'log', run, line: m.line });
        else if (m.type === 'batch')
          emit({ type: 'batch', run, epoch: m.epoch, batch: m.batch, batches: m.batches, loss: m.loss });
        else if (m.type === 'epoch') emit({ type: 'epoch', run, metrics: m.metrics });
        else outcome = m;
      });
      child.on('error', (err) => {
        children.delete(child);
        reject(err);
      });
      child.on('exit', (code, signal) => {
        children.delete(child);
        const seconds = (Date.now() - runStarted) / 1000;
        if (outcome?.type === 'done' && code === 0) {
          emit({ type: 'run-end', run, status: 'done', seconds });
          resolve('done');
        } else if (outcome?.type === 'diverged') {
          emit({ type: 'run-end', run, status: 'diverged', seconds, error: outcome.message });
          resolve('diverged');
        } else if (outcome?.type === 'aborted' || (stopping && code !== null && STOPPED_EXIT_CODES.has(code))) {
          emit({ type: 'run-end', run, status: 'aborted', seconds });
          resolve('aborted');
        } else {
          const why =
            outcome?.type === 'error'
              ? outcome.message
              : `the worker exited with ${signal ? `signal ${signal}` : `code ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`;
          emit({ type: 'run-end', run, status: 'failed', seconds, error: why });
          reject(new Error(`run ${run.relDir} failed: ${why}`));
        }
      });
    });

  const lane = async (worker: number): Promise<void> => {
    while (!stopping) {
      const run = queue.shift();
      if (!run) return;
      try {
        const outcome = await runOne(run, worker);
        if (outcome === 'done') trained++;
        else if (outcome === 'diverged') divergedRuns++;
      } catch (err) {
        failure ??= err as Error;
        // Stop the others at their next batch: they checkpoint and the next call resumes them.
        stopAll();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, (_, worker) => lane(worker)));
  } finally {
    options.signal?.removeEventListener('abort', stopAll);
    options.stopNow?.removeEventListener('abort', stopAllNow);
    killAll();
    process.removeListener('exit', killAll);
  }
  if (failure) throw failure;
  return ended({ trained, diverged: divergedRuns, aborted: runs.some((r) => !final(runStatus(r.dir))) });
}
