/** The levers workload: each performance lever against the plain path, in one process. */
import * as os from 'os';
import { commonFields } from './fields';
import { cifarLoaderData, loaderRate } from './loader';
import { benchNative, LEVER_NAMES, type Levers } from './native';
import type { BenchOptions } from './options';
import { ips, Ours, type Json } from './ours';
import { median, round } from './stats';

/** Every lever set to `on`. */
function everyLever(on: boolean): Levers {
  return { fusedSgd: on, convAsMatmul: on, cachingAllocator: on, channelsLastInput: on, loaderBufferPool: on };
}

/**
 * Each lever against the plain path in one process: every round runs the same steps with all levers
 * on, with each lever off in turn, and with all off (order rotating), training and evaluation; the
 * result is, per configuration, the median over rounds of its speed relative to all-on.
 */
export async function leversWorkload(o: BenchOptions): Promise<Json> {
  const ours = new Ours(o, Math.max(o.steps, o.warmup, 1));
  // W1's loader alone as well (CIFAR format, augmented), for the levers that act on the loader.
  const loaderData = cifarLoaderData(o);
  const b = benchNative();
  const all = everyLever(true);
  const configs: Array<[string, Levers]> = [
    ['all on', all],
    ...LEVER_NAMES.map((n): [string, Levers] => [`${n} off`, { ...all, [n]: false }]),
    ['all off', everyLever(false)],
  ];
  try {
    const results: Record<string, { train: number[]; eval: number[]; loader: number[] }> = {};
    for (const [name, levers] of configs) {
      results[name] = { train: [], eval: [], loader: [] };
      b.setLevers(levers);
      await ours.train(Math.max(1, o.warmup), 0);
      await ours.evaluate();
    }
    let epoch = 1;
    for (let r = 0; r < o.rounds; r++) {
      for (let k = 0; k < configs.length; k++) {
        const [name, levers] = configs[(k + r) % configs.length]!;
        b.setLevers(levers);
        results[name]!.train.push(ips(await ours.train(o.steps, epoch++)));
        results[name]!.eval.push(ips(await ours.evaluate()));
        results[name]!.loader.push((await loaderRate(loaderData.ds, o.batchSize, o.workers, 500)).ips);
      }
      o.log?.(
        `round ${r + 1}/${o.rounds}: ` +
          configs.map(([n]) => `${n} ${results[n]!.train.at(-1)!.toFixed(0)}`).join(', ') +
          ' img/s (train)',
      );
    }
    const base = results['all on']!;
    const out: Json = {};
    for (const [name] of configs) {
      const x = results[name]!;
      out[name] = {
        train_images_per_second: round(median(x.train)),
        train_vs_all_on: round(median(x.train.map((v, i) => v / base.train[i]!))),
        eval_images_per_second: round(median(x.eval)),
        eval_vs_all_on: round(median(x.eval.map((v, i) => v / base.eval[i]!))),
        loader_images_per_second: round(median(x.loader)),
        loader_vs_all_on: round(median(x.loader.map((v, i) => v / base.loader[i]!))),
      };
    }
    b.setLevers(all);
    return {
      ...commonFields(o),
      images_per_second: round(median(base.train)),
      configurations: out,
      load_average: os.loadavg().map((v) => round(v, 3)),
    };
  } finally {
    ours.close();
    loaderData.dispose();
  }
}
