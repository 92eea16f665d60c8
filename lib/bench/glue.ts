/** The glue workload: the time a training step spends outside LibTorch. */
import * as os from 'os';
import { ConstantLR } from '../schedule';
import { fit } from '../train/fit';
import { commonFields } from './fields';
import { benchNative } from './native';
import type { BenchOptions } from './options';
import { Ours, type Json } from './ours';
import { median, round, summary } from './stats';

/**
 * Time outside LibTorch, two ways.
 * 1. Difference: the same training steps through fit() (JS schedule, N-API, the trainer thread, loader
 *    hand-over, progress off) and in the trainer's pure C++ loop (timeSteps: resident batches, nothing
 *    but the step and the epoch sums), interleaved: fit() runs one epoch per round and its onEpochEnd
 *    callback runs the C++ loop for the same number of steps on the same model. On a shared machine
 *    each round's difference is noisy (several % either way); the median is reported.
 * 2. Subtraction: the addon sums the time spent inside the training step (zero_grad, forward, loss,
 *    backward, optimizer step); an epoch's wall time through fit() minus that sum is everything else,
 *    the epoch's sums included. Load slows both parts alike, so this share is stable.
 */
export async function glueWorkload(o: BenchOptions): Promise<Json> {
  const ours = new Ours(o, Math.max(o.steps, 1));
  const b = benchNative();
  try {
    await ours.trainer.timeSteps({ steps: Math.max(1, o.warmup) });
    const fitPerStep: number[] = [],
      cppPerStep: number[] = [],
      difference: number[] = [],
      outside: number[] = [];
    let epochStart = 0n,
      stepStart = 0;
    const train = { native: ours.trainSet, size: o.steps * o.batchSize };
    await fit({
      model: ours.model,
      optimizer: ours.optimizer,
      schedule: new ConstantLR({ lr: 0.05 }),
      train,
      epochs: o.rounds + 1,
      batchSize: o.batchSize,
      seed: 0,
      workers: o.workers,
      callbacks: {
        onEpochBegin: () => {
          stepStart = b.stepSeconds();
          epochStart = process.hrtime.bigint();
        },
        onEpochEnd: async (m) => {
          const fitSeconds = Number(process.hrtime.bigint() - epochStart) / 1e9;
          const inStep = b.stepSeconds() - stepStart;
          const steps = Math.round(o.steps);
          const cpp = await ours.trainer.timeSteps({ steps, batches: Math.min(4, steps) });
          if (m.epoch === 1) return; // the first epoch warms fit()'s own trainer thread up
          const f = fitSeconds / steps,
            c = cpp.seconds / steps;
          fitPerStep.push(f);
          cppPerStep.push(c);
          difference.push((100 * (f - c)) / f);
          outside.push((100 * (fitSeconds - inStep)) / fitSeconds);
          o.log?.(
            `round ${m.epoch - 1}/${o.rounds}: fit() ${(f * 1e3).toFixed(2)} ms/step, C++ loop ${(c * 1e3).toFixed(2)} ms/step ` +
              `(difference ${difference.at(-1)!.toFixed(2)}%); outside the step ${outside.at(-1)!.toFixed(3)}% of fit()'s epoch`,
          );
        },
      },
    });
    return {
      ...commonFields(o),
      images_per_second: round(o.batchSize / median(fitPerStep)),
      fit_ms_per_step: summary(fitPerStep.map((v) => v * 1e3)),
      cpp_ms_per_step: summary(cppPerStep.map((v) => v * 1e3)),
      glue_percent: round(median(outside), 3),
      glue_percent_rounds: outside.map((v) => round(v, 3)),
      difference_percent: round(median(difference), 3),
      difference_percent_rounds: difference.map((v) => round(v, 3)),
      load_average: os.loadavg().map((v) => round(v, 3)),
    };
  } finally {
    ours.close();
  }
}
