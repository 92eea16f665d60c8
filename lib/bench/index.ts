/**
 * `sgdr bench`: throughput of our real training path against eager PyTorch on the same LibTorch,
 * measured side by side.
 *
 * Method (BENCHMARKS.md): both sides get the same model (torchvision's ResNet), batch, input shape,
 * thread count and optimizer (SGD, momentum 0.9, weight decay 5e-4), random data resident in memory,
 * and warm-up steps that are not timed. Rounds alternate (ours, PyTorch, PyTorch, ours, ...) so a
 * shared, noisy machine slows both alike; each round gives a ratio, and the result is the median of
 * the per-round ratios. Our number is the NativeTrainer's epoch loop (loader thread, batches handed
 * over, the epoch's sums, N-API and the awaiting JS), timed in JS around runEpoch().
 *
 * On PyTorch 2.x a second reference joins (w1, w2, eval; `compile`): the same script with
 * torch.compile(model) (inductor), in its own process, compiled during its warm-up. Each round then
 * runs ours, eager and compiled in an order that rotates round by round (with two sides this is the
 * ABBA order above), and each reference's ratio is ours / that reference within the same round.
 *
 * One file per idea: options.ts (workloads and defaults), ours.ts (our side), references.ts (the
 * PyTorch side and the paired rounds), fields.ts (the result's shared fields), then one file per
 * workload kind: paired.ts (w1, w2, eval), glue.ts, rss.ts, loader.ts (w3 and W1's loader), levers.ts.
 */
import { native } from '../binding';
import { glueWorkload } from './glue';
import { leversWorkload } from './levers';
import { loaderWorkload } from './loader';
import { benchNative, LEVER_NAMES, type Levers } from './native';
import type { BenchOptions } from './options';
import type { Json } from './ours';
import { evalWorkload, trainingWorkload } from './paired';
import { rssWorkload } from './rss';

export { resnetFlops, resnetConvs, convMacs, type FlopCount } from './flops';
export { LEVER_NAMES, type Levers } from './native';
export { defaultOptions, WORKLOAD_DEFAULTS, WORKLOADS, type BenchOptions, type Workload } from './options';
export { median, quantile, summary } from './stats';

/** Runs one workload and returns its JSON result (`images_per_second` is always present). */
export async function runBench(options: BenchOptions): Promise<Json> {
  const o = options;
  const b = benchNative();
  for (const name of Object.keys(o.levers)) {
    if (!LEVER_NAMES.includes(name as keyof Levers))
      throw new RangeError(`unknown lever '${name}' (expected ${LEVER_NAMES.join(', ')})`);
  }
  const before = b.levers();
  b.setLevers(o.levers);
  native().setNumThreads(o.threads);
  try {
    switch (o.workload) {
      case 'w1':
      case 'w2':
        return await trainingWorkload(o);
      case 'eval':
        return await evalWorkload(o);
      case 'glue':
        return await glueWorkload(o);
      case 'rss':
        return await rssWorkload(o);
      case 'w3':
        return await loaderWorkload(o);
      case 'levers':
        return await leversWorkload(o);
    }
  } finally {
    b.setLevers(before);
  }
}
