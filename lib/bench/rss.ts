/** The rss workload: resident memory over a long run of training steps (a leak shows as growth). */
import * as os from 'os';
import { commonFields } from './fields';
import { benchNative } from './native';
import type { BenchOptions } from './options';
import { Ours, type Json } from './ours';
import { round } from './stats';

export function rssBytes(): number {
  return process.memoryUsage().rss;
}

/** RSS over `rssSteps` training steps after `warmup` steps, sampled at every epoch of `steps` batches. */
export async function rssWorkload(o: BenchOptions): Promise<Json> {
  const ours = new Ours(o, Math.max(o.steps, 1));
  try {
    let epoch = 0;
    for (let done = 0; done < o.warmup; done += o.steps) await ours.train(Math.min(o.steps, o.warmup - done), epoch++);
    const start = rssBytes();
    const samples: Array<{ step: number; rss_mb: number }> = [{ step: 0, rss_mb: round(start / 2 ** 20) }];
    const t0 = process.hrtime.bigint();
    let images = 0;
    for (let done = 0; done < o.rssSteps;) {
      const steps = Math.min(o.steps, o.rssSteps - done);
      images += (await ours.train(steps, epoch++)).images;
      done += steps;
      samples.push({ step: done, rss_mb: round(rssBytes() / 2 ** 20) });
      if (samples.length % 5 === 0) o.log?.(`step ${done}/${o.rssSteps}: RSS ${(rssBytes() / 2 ** 20).toFixed(1)} MiB`);
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const end = rssBytes();
    const peak = Math.max(...samples.map((s) => s.rss_mb));
    return {
      ...commonFields(o),
      images_per_second: round(images / seconds),
      rss_steps: o.rssSteps,
      rss_start_mb: round(start / 2 ** 20),
      rss_end_mb: round(end / 2 ** 20),
      rss_peak_mb: peak,
      rss_growth_percent: round((100 * (end - start)) / start, 3),
      rss_peak_growth_percent: round((100 * (peak * 2 ** 20 - start)) / start, 3),
      samples,
      cpu_cache: benchNative().cpuCacheStats(),
      load_average: os.loadavg().map((v) => round(v, 3)),
    };
  } finally {
    ours.close();
  }
}
