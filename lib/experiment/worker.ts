/**
 * Child process of an experiment: trains the run in one folder (its run.json), resuming from its
 * checkpoint when there is one, and reports to the parent over the IPC channel. Started by
 * runExperiment with child_process.fork:
 *
 *   node dist/experiment/worker.js RUN_DIR '{"threads":1,"device":"cpu"}'
 *
 * A SIGINT/SIGTERM/SIGHUP or an {type:'abort'} message stops it after the current batch with a
 * checkpoint of the exact position (exit code 128 + the signal, 143 for the parent's request); the
 * next `sgdr compare` continues from there. A second request exits once the write in flight is done.
 */
import { DivergenceError } from '../errors';
import { StopSignals } from '../stop-signals';
import { readRunConfig, runTraining, type RunConfig } from '../train/run';
import type { WorkerMessage } from './runner';
import { sendToParent, stopOnParent, workerArgs } from './worker-ipc';

/** Exit code of a worker whose run diverged. */
const DIVERGED_EXIT = 3;

const send = (message: WorkerMessage): Promise<void> => sendToParent(message);

async function main(): Promise<number> {
  const args = workerArgs('worker.js');
  if (!args) return 2;
  const { dir, runtime } = args;
  const config: RunConfig = { ...readRunConfig(dir), ...runtime };
  // Signals sent to this process itself, and the parent's requests over IPC, count alike: the
  // first stops after the batch with a checkpoint, the second exits once the write in flight is done.
  const stop = new StopSignals({
    log: (line) => void send({ type: 'log', line: line.trim() }),
    firstMessage: 'stopping after the current batch',
    resumeHint: 'Run the same sgdr compare again to resume.',
  });
  stopOnParent(stop);
  let lastBatch = 0;
  const result = await runTraining(config, {
    outDir: dir,
    resume: true,
    signal: stop.signal,
    log: (line) => void send({ type: 'log', line }),
    callbacks: {
      onBatchEnd: (p) => {
        // A few updates a second are plenty for a progress bar.
        const now = Date.now();
        if (now - lastBatch < 250 && p.batch < p.batches) return;
        lastBatch = now;
        void send({ type: 'batch', epoch: p.epoch, batch: p.batch, batches: p.batches, loss: p.loss });
      },
      onEpochEnd: (metrics) => send({ type: 'epoch', metrics }),
    },
  });
  if (result.aborted) {
    await send({ type: 'aborted', epochs: result.history.length });
    return stop.exitCode() || 130;
  }
  await send({
    type: 'done',
    epochs: result.history.length,
    seconds: result.history.reduce((a, r) => a + r.seconds, 0),
  });
  return 0;
}

main().then(
  // Exit explicitly: every message has been handed over by now, and nothing else needs the process.
  (code) => process.exit(code),
  async (err: unknown) => {
    if (err instanceof DivergenceError) {
      // Not a failure of the experiment: the run is reported as diverged and the others go on.
      await send({ type: 'diverged', epoch: err.epoch, batch: err.batch, loss: err.loss, message: err.message });
      process.stderr.write(`${err.message}\n`);
      process.exit(DIVERGED_EXIT);
    }
    const message = err instanceof Error ? err.message : String(err);
    await send({ type: 'error', message });
    process.stderr.write(`${message}\n`);
    process.exit(1);
  },
);
