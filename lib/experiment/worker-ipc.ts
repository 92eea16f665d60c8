/**
 * What an experiment's child processes (worker.ts for a run, lr-find-worker.ts for the LR range
 * test) share with their parent: their arguments, messages over the IPC channel, and the parent's
 * stop requests: an {type:'abort'} message counts as a signal would, and a parent that has gone
 * away stops the work cleanly instead of letting it go on unobserved.
 */
import type { StopSignals } from '../stop-signals';
import type { RunConfig } from '../train/run';

/** Runtime settings the parent passes (they change speed, not results). */
export type WorkerRuntime = Pick<RunConfig, 'device' | 'threads' | 'workers'>;

/** The folder and runtime settings of `node SCRIPT DIR [RUNTIME_JSON]`; undefined (usage printed) without a folder. */
export function workerArgs(script: string): { dir: string; runtime: WorkerRuntime } | undefined {
  const [dir, runtimeJson] = process.argv.slice(2);
  if (!dir) {
    process.stderr.write(`usage: ${script} DIR [RUNTIME_JSON]\n`);
    return undefined;
  }
  return { dir, runtime: (runtimeJson ? JSON.parse(runtimeJson) : {}) as WorkerRuntime };
}

/** Sends one message to the parent; resolves once it is handed over (at once without a parent). */
export function sendToParent(message: object): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

/** The parent's abort messages and its exit become requests to `stop`. */
export function stopOnParent(stop: StopSignals): void {
  process.on('message', (m: { type?: string }) => {
    if (m && m.type === 'abort') stop.request('SIGTERM');
  });
  process.on('disconnect', () => stop.request('parent-exited'));
}
