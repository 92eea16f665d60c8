/**
 * Child process of an experiment's LR range test: reads DIR/job.json (lr-find-job.ts), builds the
 * model and training data as the experiment's runs do, runs lrFind() and writes DIR/lr-find.json,
 * .svg and .png. Started by runLrFindJob with child_process.fork:
 *
 *   node dist/experiment/lr-find-worker.js DIR '{"threads":2,"device":"cpu"}'
 *
 * An {type:'abort'} message (or SIGINT/SIGTERM/SIGHUP) ends the sweep after its current step; then
 * nothing is written and the next `sgdr compare` runs the test again.
 */
import * as fs from 'fs';
import * as path from 'path';
import { openData } from '../data';
import { setNumThreads, type DeviceSpec } from '../device';
import { DEFAULT_STEM, resnet, type ResNet, type ResNetArch } from '../nn/resnet';
import { StopSignals } from '../stop-signals';
import { lrFind } from '../train/lr-find';
import { writeLrFindFiles } from '../train/lr-find-file';
import { optimizerFor } from '../train/run';
import { modelFromPretrained } from '../train/transfer';
import { LR_FIND_JOB_FILE, type LrFindJob, type LrFindWorkerMessage } from './lr-find-job';
import { sendToParent, stopOnParent, workerArgs } from './worker-ipc';

const send = (message: LrFindWorkerMessage): Promise<void> => sendToParent(message);

async function main(): Promise<number> {
  const args = workerArgs('lr-find-worker.js');
  if (!args) return 2;
  const { dir, runtime } = args;
  const job = JSON.parse(fs.readFileSync(path.join(dir, LR_FIND_JOB_FILE), 'utf8')) as LrFindJob;
  const stop = new StopSignals({ log: () => {}, firstMessage: 'stopping the LR range test', resumeHint: '' });
  stopOnParent(stop);
  if (runtime.threads !== undefined) setNumThreads(runtime.threads);

  const { data, arch, stem, initWeights, reinitLast, freeze, batchSize, seed, optimizer: optimizerConfig } = job;
  // Only the training set is swept: one validation image keeps the validation set from costing anything.
  const { train, val } = openData(data, { ...job, limitVal: 1 });
  val.dispose();
  let model: ResNet | undefined;
  try {
    const device = runtime.device as DeviceSpec | undefined;
    // The model the runs of this seed start from (lrFind() restores it, but it is thrown away here).
    model = initWeights
      ? (
          await modelFromPretrained(arch, {
            initWeights,
            numClasses: train.numClasses,
            inChannels: train.channels,
            reinitLast,
            freeze,
            device,
            seed,
          })
        ).model
      : resnet(arch as ResNetArch, {
          numClasses: train.numClasses,
          inChannels: train.channels,
          stem: stem === 'auto' ? (train.height <= 32 ? 'cifar' : 'imagenet') : (stem ?? DEFAULT_STEM),
          device,
          seed,
        });
    const optimizer = optimizerFor(model, job.startLr ?? 1e-7, optimizerConfig);
    let last = 0;
    const result = await lrFind({
      model,
      optimizer,
      train,
      batchSize,
      startLr: job.startLr,
      endLr: job.endLr,
      iterations: job.iterations,
      beta: job.beta,
      divergeFactor: job.divergeFactor,
      suggestion: job.suggestion,
      seed,
      workers: runtime.workers,
      signal: stop.signal,
      onStep: (step) => {
        // A few updates a second are plenty for the progress lines.
        const now = Date.now();
        if (now - last < 250 && step.iteration > 1) return;
        last = now;
        void send({ type: 'step', step });
      },
    });
    if (result.stopped === 'aborted') {
      await send({ type: 'aborted', steps: result.lr.length });
      return stop.exitCode() || 143;
    }
    await writeLrFindFiles(dir, result, {
      extra: { data, arch, batch_size: batchSize, optimizer: optimizerConfig.type ?? 'sgd', seed },
      title: `LR range test: ${arch} on ${data.split(':')[0]}, batch ${batchSize}`,
    });
    await send({
      type: 'done',
      suggestedLr: result.suggestedLr,
      method: result.method,
      stopped: result.stopped,
      steps: result.lr.length,
    });
    return 0;
  } finally {
    model?.dispose();
    train.dispose();
  }
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    await send({ type: 'error', message });
    process.stderr.write(`${message}\n`);
    process.exit(1);
  },
);
