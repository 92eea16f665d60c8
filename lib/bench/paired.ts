/**
 * The paired workloads: W1/W2 (the training step) and eval (inference), ours against eager PyTorch
 * and torch.compile in alternating rounds, each reported with its per-round ratios.
 */
import * as os from 'os';
import { resnetFlops } from './flops';
import { commonFields, compileFields, floorFor, faultsNow, referenceFields } from './fields';
import { cifarLoaderVsModel } from './loader';
import { benchNative } from './native';
import type { BenchOptions } from './options';
import { Ours, type Json } from './ours';
import { closeReferences, pairedRounds, startReferences, type Paired, type References } from './references';
import { median, round, summary } from './stats';

/**
 * What the paired workloads (training and evaluation) print: ours, eager PyTorch's and their ratio,
 * torch.compile's and its ratio, then `extra`, the compute floor (with the references closed, so
 * the matmul runs alone) and the load.
 */
export async function pairedResult(
  o: BenchOptions,
  mode: 'train' | 'eval',
  p: Paired,
  refs: References,
  extra: Json,
  flops: { nominal: number; effective: number },
): Promise<Json> {
  const oursIps = median(p.ours);
  const eager = refs.eager;
  const result: Json = {
    ...commonFields(o),
    images_per_second: round(oursIps),
    ours: { images_per_second: round(oursIps), rounds: p.ours.map((v) => round(v)), summary: summary(p.ours) },
    ...referenceFields(
      eager.ref?.info,
      p.eager?.ips ?? [],
      p.eager?.ratios ?? [],
      eager.skipped,
      p.eager?.faults ?? [],
      eager.env,
    ),
    ...compileFields(o, mode, refs.compiled, p.compiled),
    ...extra,
  };
  closeReferences(refs);
  const floor = await floorFor(o, flops.nominal, flops.effective, oursIps);
  if (floor) result.floor = floor;
  if (o.workload === 'w1') result.loader = await cifarLoaderVsModel(o, oursIps);
  result.load_average = os.loadavg().map((v) => round(v, 3));
  return result;
}

/** W1/W2: the training step. */
export async function trainingWorkload(o: BenchOptions): Promise<Json> {
  const ours = new Ours(o, Math.max(o.steps, o.warmup, 1));
  let refs: References | undefined;
  try {
    refs = await startReferences(o, 'train');
    if (o.warmup > 0) await ours.train(o.warmup, 0);
    const f0 = faultsNow();
    let epoch = 1;
    const p = await pairedRounds(o, () => ours.train(o.steps, epoch++), refs, o.steps);
    const faultsPerStep = (faultsNow() - f0) / (o.rounds * o.steps);
    const flops = resnetFlops(o.arch, o.imageSize, o.numClasses, o.channels);
    return await pairedResult(
      o,
      'train',
      p,
      refs,
      { page_faults_per_step: round(faultsPerStep, 3), cpu_cache: benchNative().cpuCacheStats() },
      { nominal: flops.trainFlops, effective: flops.effectiveTrainFlops },
    );
  } finally {
    closeReferences(refs);
    ours.close();
  }
}

/** Inference throughput: model.eval() under inference mode, the trainer's evaluate(). */
export async function evalWorkload(o: BenchOptions): Promise<Json> {
  const ours = new Ours(o, Math.max(o.steps, 1));
  let refs: References | undefined;
  try {
    refs = await startReferences(o, 'eval');
    await ours.evaluate();
    const p = await pairedRounds(o, () => ours.evaluate(), refs, o.steps);
    const flops = resnetFlops(o.arch, o.imageSize, o.numClasses, o.channels);
    return await pairedResult(
      o,
      'eval',
      p,
      refs,
      {},
      { nominal: flops.evalFlops, effective: flops.effectiveForwardMacs * 2 },
    );
  } finally {
    closeReferences(refs);
    ours.close();
  }
}
