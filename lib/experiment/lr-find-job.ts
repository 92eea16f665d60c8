/// <reference types="node" preserve="true" />
/**
 * An experiment's LR range test (config.lrFind): once, before the runs, on the runs' training data
 * and model, in a child process of its own (lr-find-worker.ts) like every run. It writes
 * OUT/lr-find/lr-find.json, .svg and .png as `sgdr lr-find` does; the report draws its figure
 * from that JSON. OUT/lr-find/job.json says what was swept: a later call with the same job finds
 * the test done and skips it, one with another job (other data, model or sweep) runs it again.
 * The runs do not depend on it: they train with the LR their schedules give.
 */
import { fork } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { DataOptions } from '../data';
import { LR_FIND_JSON } from '../train/lr-find-file';
import type { LrFindStep, LrSuggestion, LrSweepSettings } from '../train/lr-find';
import type { OptimizerConfig, RunConfig } from '../train/run';
import { STOPPED_EXIT_CODES } from '../stop-signals';
import { makeFolder } from '../folders';
import type { ExperimentConfig } from './config';
import { runConfigFor } from './run-config';
import { canonicalJson } from './runs';

/** The LR range test's folder inside the experiment folder. */
export const LR_FIND_DIR = 'lr-find';
export const LR_FIND_JOB_FILE = 'job.json';

/** Everything the sweep depends on: the model and data as the runs build them, and the sweep's settings. */
export interface LrFindJob extends DataOptions, LrSweepSettings {
  data: string;
  arch: string;
  stem?: RunConfig['stem'];
  initWeights?: string;
  reinitLast?: number;
  freeze?: boolean;
  batchSize: number;
  seed: number;
  optimizer: OptimizerConfig;
}

/** What the LR-range-test worker tells its parent. */
export type LrFindWorkerMessage =
  | { type: 'step'; step: LrFindStep }
  | { type: 'done'; suggestedLr: number | null; method: LrSuggestion; stopped: string; steps: number }
  | { type: 'aborted'; steps: number }
  | { type: 'error'; message: string };

/** The job of a config with lrFind (undefined without): the first schedule's run, minus what only training uses. */
export function lrFindJobOf(config: ExperimentConfig): LrFindJob | undefined {
  const o = config.lrFind;
  if (!o) return undefined;
  const seed = o.seed ?? config.seeds[0]!;
  const {
    schedule: _schedule,
    epochs: _epochs,
    evalBatchSize: _evalBatchSize,
    ensembleSize: _ensembleSize,
    ensemble: _ensemble,
    swa: _swa,
    keep: _keep,
    tensorboard: _tensorboard,
    optimizer: _optimizer,
    seed: _seed,
    ...model
  } = runConfigFor(config, config.schedules[0]!, seed);
  const { optimizer, seed: _lrFindSeed, ...sweep } = o;
  return { ...model, seed, optimizer: { ...config.optimizer, ...(optimizer ?? {}) }, ...sweep };
}

/** OUT/lr-find/lr-find.json relative to the experiment folder (for results.json and the report). */
export const LR_FIND_FILE = `${LR_FIND_DIR}/${LR_FIND_JSON}`;

/** Whether OUT/lr-find holds the finished test of this job. */
export function lrFindDone(outDir: string, job: LrFindJob): boolean {
  const dir = path.join(outDir, LR_FIND_DIR);
  const jobFile = path.join(dir, LR_FIND_JOB_FILE);
  if (!fs.existsSync(path.join(dir, LR_FIND_JSON)) || !fs.existsSync(jobFile)) return false;
  try {
    return canonicalJson(JSON.parse(fs.readFileSync(jobFile, 'utf8'))) === canonicalJson(job);
  } catch {
    return false;
  }
}

export interface LrFindStepOptions {
  outDir: string;
  script: string;
  runtime: Pick<RunConfig, 'threads' | 'device' | 'workers'>;
  signal?: AbortSignal;
  onStep?: (step: LrFindStep) => void;
}

export type LrFindOutcome =
  | { status: 'done'; suggestedLr: number | null; method: LrSuggestion; stopped: string; steps: number }
  | { status: 'aborted'; steps: number };

/**
 * Runs the job in a child process and waits for it. A stop request (signal) ends the sweep after
 * its current step without writing lr-find.json (the next call runs the test again); a failure
 * rejects with the worker's message.
 */
export function runLrFindJob(job: LrFindJob, o: LrFindStepOptions): Promise<LrFindOutcome> {
  const dir = path.join(o.outDir, LR_FIND_DIR);
  makeFolder(dir);
  // The record of another job must not stand for this one, should this one fail.
  fs.rmSync(path.join(dir, LR_FIND_JSON), { force: true });
  fs.writeFileSync(path.join(dir, LR_FIND_JOB_FILE), JSON.stringify(job, null, 2) + '\n');
  return new Promise((resolve, reject) => {
    const child = fork(o.script, [dir, JSON.stringify(o.runtime)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // As the runs: a Ctrl-C reaches the parent only, which passes it on once over IPC.
      detached: true,
      env: { ...process.env, ...(o.runtime.threads ? { OMP_NUM_THREADS: String(o.runtime.threads) } : {}) },
    });
    const abort = () => {
      if (child.connected) child.send({ type: 'abort' });
    };
    if (o.signal?.aborted) abort();
    o.signal?.addEventListener('abort', abort);
    const killOnExit = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    process.on('exit', killOnExit);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    let outcome: LrFindWorkerMessage | undefined;
    child.on('message', (m: LrFindWorkerMessage) => {
      if (m.type === 'step') o.onStep?.(m.step);
      else outcome = m;
    });
    const done = () => {
      o.signal?.removeEventListener('abort', abort);
      process.removeListener('exit', killOnExit);
    };
    child.on('error', (err) => {
      done();
      reject(err);
    });
    child.on('exit', (code, signal) => {
      done();
      if (outcome?.type === 'done' && code === 0) {
        const { type: _type, ...rest } = outcome;
        resolve({ status: 'done', ...rest });
      } else if (outcome?.type === 'aborted' || (o.signal?.aborted && code !== null && STOPPED_EXIT_CODES.has(code))) {
        resolve({ status: 'aborted', steps: outcome?.type === 'aborted' ? outcome.steps : 0 });
      } else {
        const why =
          outcome?.type === 'error'
            ? outcome.message
            : `the worker exited with ${signal ? `signal ${signal}` : `code ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`;
        reject(new Error(`the LR range test (${path.join(LR_FIND_DIR, LR_FIND_JSON)}) failed: ${why}`));
      }
    });
  });
}
