/**
 * The JSON fields a workload's result shares with the others: the setup, each reference's numbers
 * and ratio, and the compute floor.
 */
import { native } from '../binding';
import { benchNative } from './native';
import type { BenchOptions } from './options';
import type { Json } from './ours';
import type { Reference, ReferenceRounds } from './references';
import type { ReferenceInfo } from './pytorch';
import { median, round, summary } from './stats';

export async function floorFor(
  o: BenchOptions,
  flops: number,
  effectiveFlops: number,
  measured: number,
): Promise<Json | undefined> {
  if (!o.floor || o.device !== 'cpu') return undefined;
  const gflops = await benchNative().matmulGflops(2048, 7);
  const floor = (gflops * 1e9) / flops;
  return {
    matmul_gflops: round(gflops),
    matmul: 'torch::mm 2048x2048 float32, best of 7, same threads',
    flops_per_image: round(flops),
    effective_flops_per_image: round(effectiveFlops),
    floor_images_per_second: round(floor),
    percent_of_floor: round((100 * measured) / floor),
  };
}

export function faultsNow(): number {
  return benchNative().pageFaults().minor;
}

export function commonFields(o: BenchOptions): Json {
  return {
    workload: o.workload,
    arch: o.arch,
    batch_size: o.batchSize,
    image_size: o.imageSize,
    channels: o.channels,
    num_classes: o.numClasses,
    threads: o.threads,
    device: o.device,
    steps_per_round: o.steps,
    rounds: o.rounds,
    warmup: o.warmup,
    levers: benchNative().levers(),
    blas: benchNative().blasInfo(),
    libtorch: native().libtorchVersion,
  };
}

export function referenceFields(
  info: ReferenceInfo | undefined,
  rounds: number[],
  ratios: number[],
  skipped?: string,
  faults: number[] = [],
  env: Record<string, string> = {},
): Json {
  if (!info) return { pytorch: null, reference_skipped: skipped, ratio: null };
  return {
    pytorch: {
      images_per_second: round(median(rounds)),
      rounds: rounds.map((v) => round(v)),
      summary: summary(rounds),
      torch: info.torch,
      threads: info.threads,
      mkldnn: info.mkldnn,
      page_faults_per_step: round(median(faults), 3),
      page_faults_rounds: faults.map((v) => round(v, 3)),
      env,
    },
    ratio: round(median(ratios)),
    ratio_rounds: ratios.map((v) => round(v)),
  };
}

/** The torch.compile reference: `pytorch_compile` and `ratio_compile` (median of the rounds' ours / compiled). */
export function compileFields(
  o: BenchOptions,
  mode: 'train' | 'eval',
  reference: Reference,
  p: ReferenceRounds | null,
): Json {
  const info = reference.ref?.info;
  if (!info || !p) return { pytorch_compile: null, compile_skipped: reference.skipped, ratio_compile: null };
  return {
    pytorch_compile: {
      images_per_second: round(median(p.ips)),
      rounds: p.ips.map((v) => round(v)),
      summary: summary(p.ips),
      torch: info.torch,
      compile_seconds: info.compile_seconds === undefined ? null : round(info.compile_seconds, 3),
      backend: info.backend ?? 'inductor',
      mode: info.mode ?? 'default',
      compiled:
        mode === 'train'
          ? 'model forward and backward (Dynamo, AOTAutograd, inductor); cross_entropy, zero_grad and the SGD step eager'
          : 'model forward under inference_mode (Dynamo, inductor)',
      warmup: info.warmup ?? Math.max(2, o.warmup),
      graphs: info.graphs,
      graph_breaks: info.graph_breaks,
      fx_graph_cache: info.fx_graph_cache,
      threads: info.threads,
      mkldnn: info.mkldnn,
      page_faults_per_step: round(median(p.faults), 3),
      page_faults_rounds: p.faults.map((v) => round(v, 3)),
      env: reference.env ?? {},
    },
    ratio_compile: round(median(p.ratios)),
    ratio_compile_rounds: p.ratios.map((v) => round(v)),
  };
}
