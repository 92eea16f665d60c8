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
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { native, type NativeDataLoader, type NativeDataset, type NativeTrainer } from '../binding';
import { resnet, type ResNet, type ResNetArch } from '../nn/resnet';
import type { DeviceSpec } from '../device';
import { SGD } from '../optim/optimizer';
import { ConstantLR } from '../schedule';
import { fit } from '../train/fit';
import { resnetFlops } from './flops';
import { benchNative, LEVER_NAMES, syntheticDataset, type Levers } from './native';
import { DEFAULT_PYTHON, PyTorchReference, referenceAvailable, torchMajor, type ReferenceInfo } from './pytorch';
import { median, round, summary } from './stats';

export { resnetFlops, resnetConvs, convMacs, type FlopCount } from './flops';
export { LEVER_NAMES, type Levers } from './native';
export { median, quantile, summary } from './stats';

export const WORKLOADS = ['w1', 'w2', 'w3', 'eval', 'glue', 'rss', 'levers'] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface BenchOptions {
  workload: Workload;
  arch: string;
  batchSize: number;
  imageSize: number;
  channels: number;
  numClasses: number;
  /** Timed steps per round (each side). */
  steps: number;
  /** Untimed steps before the first round (each side). */
  warmup: number;
  rounds: number;
  threads: number;
  device: string;
  /** 'auto': PyTorch when /usr/bin/python3 has torch; 'none': ours only; 'pytorch': required. */
  reference: 'auto' | 'none' | 'pytorch';
  python: string;
  /** Levers to set before measuring (the rest keep their defaults). */
  levers: Partial<Levers>;
  /** rss: training steps to watch after the warm-up. */
  rssSteps: number;
  /** w3: an image folder (DIR with train/<class>/*.jpg); default: synthetic JPEGs in a temporary folder. */
  data?: string;
  /** Loader threads (0 = automatic). */
  workers: number;
  /** Measure the matrix-multiply rate behind the compute floor. */
  floor: boolean;
  /**
   * torch.compile as a second reference (w1, w2, eval): 'auto' when the reference torch is 2.x (a
   * failed compilation is reported, not thrown); 'on': required (an error on torch 1.x); 'off'.
   */
  compile: 'auto' | 'on' | 'off';
  /** Extra environment for the PyTorch process (e.g. GLIBC_TUNABLES, to show PyTorch with a tuned malloc). */
  referenceEnv?: Record<string, string>;
  /** Progress lines (to stderr in the CLI). */
  log?: (line: string) => void;
}

export const WORKLOAD_DEFAULTS: Record<
  Workload,
  Pick<BenchOptions, 'arch' | 'batchSize' | 'imageSize' | 'steps' | 'rounds' | 'warmup'>
> = {
  // Many short rounds: on a shared machine load comes in bursts, and the median of many paired
  // ratios shrugs off the rounds a burst lands in.
  w1: { arch: 'resnet18', batchSize: 64, imageSize: 32, steps: 5, rounds: 15, warmup: 5 },
  w2: { arch: 'resnet50', batchSize: 32, imageSize: 64, steps: 3, rounds: 11, warmup: 3 },
  w3: { arch: 'resnet50', batchSize: 32, imageSize: 64, steps: 3, rounds: 3, warmup: 2 },
  eval: { arch: 'resnet18', batchSize: 64, imageSize: 32, steps: 20, rounds: 15, warmup: 5 },
  glue: { arch: 'resnet18', batchSize: 64, imageSize: 32, steps: 10, rounds: 11, warmup: 5 },
  rss: { arch: 'resnet18', batchSize: 64, imageSize: 32, steps: 100, rounds: 1, warmup: 100 },
  levers: { arch: 'resnet18', batchSize: 64, imageSize: 32, steps: 5, rounds: 9, warmup: 5 },
};

export function defaultOptions(workload: Workload = 'w1'): BenchOptions {
  return {
    workload,
    ...WORKLOAD_DEFAULTS[workload],
    channels: 3,
    numClasses: 10,
    threads: os.cpus().length || 1,
    device: 'cpu',
    reference: 'auto',
    python: DEFAULT_PYTHON,
    levers: {},
    rssSteps: 2000,
    workers: 0,
    floor: true,
    compile: 'auto',
  };
}

type Json = Record<string, unknown>;

/** Our side of a training or evaluation workload: model, optimizer and trainer over in-memory data. */
class Ours {
  readonly model: ResNet;
  readonly optimizer: SGD;
  readonly trainer: NativeTrainer;
  readonly trainSet: NativeDataset;
  readonly valSet: NativeDataset;
  readonly lrs: Float64Array;

  constructor(
    readonly o: BenchOptions,
    batchesPerEpoch: number,
  ) {
    this.model = resnet(o.arch as ResNetArch, {
      numClasses: o.numClasses,
      inChannels: o.channels,
      stem: 'imagenet',
      device: o.device as DeviceSpec,
      seed: 0,
    });
    this.optimizer = new SGD(this.model, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
    const spec = {
      kind: 'synthetic' as const,
      size: batchesPerEpoch * o.batchSize,
      channels: o.channels,
      imageSize: o.imageSize,
      numClasses: o.numClasses,
      distinct: Math.min(batchesPerEpoch * o.batchSize, 1024),
      seed: 0,
    };
    this.trainSet = syntheticDataset(spec);
    this.valSet = syntheticDataset({ ...spec, split: 'val', seed: 1 });
    this.trainer = new (native().NativeTrainer)(this.model.native, this.optimizer.native, {
      train: this.trainSet,
      val: this.valSet,
      batchSize: o.batchSize,
      seed: 0,
      workers: o.workers,
    });
    this.lrs = new Float64Array(this.trainer.batchesPerEpoch()).fill(0.05);
  }

  /** `steps` batches of the epoch loop (the last `steps` of an epoch), wall time around runEpoch(). */
  async train(steps: number, epoch: number): Promise<{ seconds: number; images: number }> {
    const t0 = process.hrtime.bigint();
    const r = await this.trainer.runEpoch({ epoch, lrs: this.lrs, startBatch: this.lrs.length - steps });
    return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, images: r.count };
  }

  /** One evaluation pass over the validation set (inference mode), wall time around evaluate(). */
  async evaluate(): Promise<{ seconds: number; images: number }> {
    const t0 = process.hrtime.bigint();
    const r = await this.trainer.evaluate();
    return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, images: r.count };
  }

  close(): void {
    this.trainer.close();
    this.model.dispose();
    this.trainSet.dispose();
    this.valSet.dispose();
  }
}

function ips(r: { seconds: number; images: number }): number {
  return r.images / r.seconds;
}

interface Reference {
  ref: PyTorchReference | null;
  skipped?: string;
  env?: Record<string, string>;
}

/** A paired workload's references: eager PyTorch (unless --reference none or unavailable), and torch.compile as `o.compile` says. */
interface References {
  eager: Reference;
  compiled: Reference;
}

async function startReferences(o: BenchOptions, mode: 'train' | 'eval'): Promise<References> {
  const off = (why: string): References => ({
    eager: { ref: null, skipped: why },
    compiled: { ref: null, skipped: why },
  });
  if (o.reference === 'none') {
    if (o.compile === 'on') throw new Error('--compile on needs the PyTorch reference (got --reference none)');
    return off('--reference none');
  }
  const avail = referenceAvailable(o.python);
  if (!avail.ok) {
    if (o.reference === 'pytorch') throw new Error(`the PyTorch reference is not available: ${avail.why}`);
    if (o.compile === 'on') throw new Error(`--compile on: the PyTorch reference is not available: ${avail.why}`);
    return off(avail.why);
  }
  // torch.compile exists from PyTorch 2.0 on; 1.x (Debian's 1.13) has none.
  let compileSkipped: string | undefined;
  if (o.compile === 'off') compileSkipped = '--compile off';
  else if (!(torchMajor(avail.torch) >= 2)) {
    const why = `torch.compile needs PyTorch >= 2.0, and the reference ${o.python} has torch ${avail.torch}`;
    if (o.compile === 'on') throw new Error(`--compile on: ${why}`);
    compileSkipped = why;
  }
  // The same BLAS threading on both sides: where our addon runs pthread OpenBLAS on the calling thread
  // (native/perf/blas_threads.cc), so does the reference.
  const env: Record<string, string> = {
    ...(benchNative().blasInfo().limited ? { OPENBLAS_NUM_THREADS: '1' } : {}),
    ...(o.referenceEnv ?? {}),
  };
  const start = (compile: boolean) =>
    PyTorchReference.start({
      python: o.python,
      arch: o.arch,
      batchSize: o.batchSize,
      imageSize: o.imageSize,
      channels: o.channels,
      numClasses: o.numClasses,
      threads: o.threads,
      device: o.device,
      mode,
      warmup: o.warmup,
      env,
      compile,
    });
  const eager: Reference = { ref: await start(false), env };
  if (compileSkipped) return { eager, compiled: { ref: null, skipped: compileSkipped } };
  // One after the other, so the compilation (compile_seconds) has the machine to itself.
  o.log?.(`compiling the model with torch.compile (inductor, torch ${avail.torch}) ...`);
  try {
    const compiled = await start(true);
    o.log?.(`torch.compile: first step (compilation included) ${compiled.info.compile_seconds?.toFixed(1)} s`);
    return { eager, compiled: { ref: compiled, env } };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (o.compile === 'on') {
      eager.ref?.close();
      throw new Error(`--compile on: torch.compile failed: ${message}`);
    }
    o.log?.(`torch.compile failed, so the compiled reference is skipped: ${message}`);
    return { eager, compiled: { ref: null, skipped: `torch.compile failed: ${message}` } };
  }
}

function closeReferences(refs: References | undefined): void {
  refs?.eager.ref?.close();
  refs?.compiled.ref?.close();
}

/** One reference's rounds: its images/s, ours / it in the same round, its page faults per step. */
interface ReferenceRounds {
  ips: number[];
  ratios: number[];
  faults: number[];
}

interface Paired {
  ours: number[];
  eager: ReferenceRounds | null;
  compiled: ReferenceRounds | null;
}

/**
 * Paired rounds: ours and each reference once per round, in an order that rotates round by round
 * (two sides: ours, eager / eager, ours, the ABBA order; three: O E C / E C O / C O E), so each side
 * takes each position equally often; each reference's ratio is ours / it within the same round.
 */
async function pairedRounds(
  o: BenchOptions,
  runOurs: (round: number) => Promise<{ seconds: number; images: number }>,
  refs: References,
  refSteps: number,
): Promise<Paired> {
  const ours: number[] = [];
  const fresh = (): ReferenceRounds => ({ ips: [], ratios: [], faults: [] });
  const eager = refs.eager.ref ? fresh() : null;
  const compiled = refs.compiled.ref ? fresh() : null;
  const sides: Array<{ label: string; ref: PyTorchReference; rounds: ReferenceRounds }> = [];
  if (eager) sides.push({ label: 'PyTorch', ref: refs.eager.ref!, rounds: eager });
  if (compiled) sides.push({ label: 'torch.compile', ref: refs.compiled.ref!, rounds: compiled });
  const n = sides.length + 1; // position 0 is ours
  for (let r = 0; r < o.rounds; r++) {
    let a = NaN;
    const b: number[] = [];
    for (let k = 0; k < n; k++) {
      const side = (k + r) % n;
      if (side === 0) {
        a = ips(await runOurs(r));
        continue;
      }
      const x = await sides[side - 1]!.ref.run(refSteps);
      sides[side - 1]!.rounds.faults.push(x.pageFaults / refSteps);
      b[side - 1] = ips(x);
    }
    ours.push(a);
    let line = `round ${r + 1}/${o.rounds}: ours ${a.toFixed(1)} img/s`;
    sides.forEach((s, i) => {
      s.rounds.ips.push(b[i]!);
      s.rounds.ratios.push(a / b[i]!);
      line += `, ${s.label} ${b[i]!.toFixed(1)} img/s, ratio ${(a / b[i]!).toFixed(3)}`;
    });
    o.log?.(line);
  }
  return { ours, eager, compiled };
}

async function floorFor(
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

function faultsNow(): number {
  return benchNative().pageFaults().minor;
}

function commonFields(o: BenchOptions): Json {
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

function referenceFields(
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
function compileFields(o: BenchOptions, mode: 'train' | 'eval', reference: Reference, p: ReferenceRounds | null): Json {
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

/**
 * What the paired workloads (training and evaluation) print: ours, eager PyTorch's and their ratio,
 * torch.compile's and its ratio, then `extra`, the compute floor (with the references closed, so
 * the matmul runs alone) and the load.
 */
async function pairedResult(
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
async function trainingWorkload(o: BenchOptions): Promise<Json> {
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
async function evalWorkload(o: BenchOptions): Promise<Json> {
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
async function glueWorkload(o: BenchOptions): Promise<Json> {
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

function rssBytes(): number {
  return process.memoryUsage().rss;
}

/** RSS over `rssSteps` training steps after `warmup` steps, sampled at every epoch of `steps` batches. */
async function rssWorkload(o: BenchOptions): Promise<Json> {
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

/** Images per second a loader delivers (the consumer only takes batches and lets them go). */
async function loaderRate(
  dataset: NativeDataset,
  batchSize: number,
  workers: number,
  batches: number,
): Promise<{ ips: number; workers: number }> {
  const loader: NativeDataLoader = dataset.loader({ batchSize, shuffle: true, seed: 0, workers, prefetch: 8 });
  try {
    loader.startEpoch(0);
    const first = await loader.next(); // threads started, first batch ready
    first?.images.dispose();
    first?.labels.dispose();
    const total = Math.min(batches, loader.batchesPerEpoch() - 1);
    let images = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < total; i++) {
      const b = await loader.next();
      if (!b) break;
      images += b.images.shape()[0]!;
      b.images.dispose();
      b.labels.dispose();
    }
    return { ips: images / (Number(process.hrtime.bigint() - t0) / 1e9), workers: loader.options().workers };
  } finally {
    loader.dispose();
  }
}

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sgdr-bench-${prefix}-`));
}

/** W1's loader: CIFAR-10-format data (random bytes) with its augmentation, against W1's consumption. */
/** A CIFAR-10 binary folder of random bytes (10,000 training images) with W1's augmentation, opened. */
function cifarLoaderData(o: BenchOptions): { ds: NativeDataset; dispose(): void } {
  const dir = tempDir('cifar');
  const record = 1 + 3 * 32 * 32,
    n = 10_000;
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (const name of [
    'data_batch_1.bin',
    'data_batch_2.bin',
    'data_batch_3.bin',
    'data_batch_4.bin',
    'data_batch_5.bin',
    'test_batch.bin',
  ]) {
    const buf = Buffer.alloc(name.startsWith('data_batch_1') ? record * n : record);
    for (let i = 0; i < buf.length; i++) buf[i] = i % record === 0 ? rand() % 10 : rand();
    fs.writeFileSync(path.join(dir, name), buf);
  }
  try {
    const ds = new (native().NativeDataset)({
      kind: 'cifar10',
      root: dir,
      split: 'train',
      augment: true,
      imageSize: o.imageSize === 32 ? 0 : o.imageSize,
    });
    return { ds, dispose: () => ds.dispose() };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true }); // the data is in memory once opened
  }
}

async function cifarLoaderVsModel(o: BenchOptions, modelIps: number): Promise<Json> {
  const data = cifarLoaderData(o);
  try {
    const r = await loaderRate(data.ds, o.batchSize, o.workers, 100);
    return {
      data: 'cifar10 format (random bytes), RandomCrop(32, padding=4) + RandomHorizontalFlip + Normalize',
      workers: r.workers,
      images_per_second: round(r.ips),
      model_images_per_second: round(modelIps),
      ratio_to_model: round(r.ips / modelIps),
    };
  } finally {
    data.dispose();
  }
}

/** W3: the JPEG image-folder loader alone (decode + RandomResizedCrop + flip + normalize) against the model's consumption. */
async function loaderWorkload(o: BenchOptions): Promise<Json> {
  let dir = o.data;
  let made: string | undefined;
  if (!dir) {
    made = dir = tempDir('jpeg');
    o.log?.(`writing synthetic JPEGs (500x375, quality 90) to ${dir}`);
    benchNative().writeJpegFolder(dir, { classes: 10, perClass: 64, width: 500, height: 375, seed: 0, quality: 90 });
  }
  try {
    // Both decoders, alternating round by round: the exact one (torchvision's pixels, the default)
    // and fastDecode (reduced DCT decoding of the crop's window, PIL's Image.draft).
    const open = (fastDecode: boolean) =>
      new (native().NativeDataset)({
        kind: 'image-folder',
        root: dir!,
        split: 'train',
        augment: true,
        imageSize: o.imageSize,
        fastDecode,
      });
    const exact = open(false);
    const fast = open(true);
    const rates: number[] = [];
    const fastRates: number[] = [];
    let workers = 0;
    try {
      const batches = Math.max(4, Math.floor(exact.info().size / o.batchSize) - 1);
      for (let r = 0; r < o.rounds; r++) {
        for (const [ds, into, name] of [
          [exact, rates, 'exact'],
          [fast, fastRates, 'fastDecode'],
        ] as const) {
          const x = await loaderRate(ds, o.batchSize, o.workers, batches);
          into.push(x.ips);
          workers = x.workers;
          o.log?.(`round ${r + 1}/${o.rounds}: loader (${name}) ${x.ips.toFixed(1)} img/s (${x.workers} threads)`);
        }
      }
    } finally {
      exact.dispose();
      fast.dispose();
    }
    // The model's consumption: our training rate for the same arch, batch and image size.
    const model = new Ours({ ...o }, Math.max(o.steps, o.warmup, 1));
    let modelIps: number;
    try {
      await model.train(Math.max(1, o.warmup), 0);
      const m: number[] = [];
      for (let r = 0; r < Math.min(3, o.rounds); r++) m.push(ips(await model.train(o.steps, r + 1)));
      modelIps = median(m);
    } finally {
      model.close();
    }
    const loaderIps = median(rates);
    const fastIps = median(fastRates);
    return {
      ...commonFields(o),
      images_per_second: round(loaderIps),
      data: o.data ?? 'synthetic JPEGs 500x375 q90 (10 classes x 64)',
      transform: `decode + RandomResizedCrop(${o.imageSize}) + RandomHorizontalFlip + Normalize`,
      loader_workers: workers,
      loader_rounds: rates.map((v) => round(v)),
      model_images_per_second: round(modelIps),
      ratio_to_model: round(loaderIps / modelIps),
      fast_decode: {
        images_per_second: round(fastIps),
        loader_rounds: fastRates.map((v) => round(v)),
        ratio_to_model: round(fastIps / modelIps),
        speedup: round(fastIps / loaderIps),
      },
      load_average: os.loadavg().map((v) => round(v, 3)),
    };
  } finally {
    if (made) fs.rmSync(made, { recursive: true, force: true });
  }
}

/**
 * Each lever against the plain path in one process: every round runs the same steps with all levers
 * on, with each lever off in turn, and with all off (order rotating), training and evaluation; the
 * result is, per configuration, the median over rounds of its speed relative to all-on.
 */
async function leversWorkload(o: BenchOptions): Promise<Json> {
  const ours = new Ours(o, Math.max(o.steps, o.warmup, 1));
  // W1's loader alone as well (CIFAR format, augmented), for the levers that act on the loader.
  const loaderData = cifarLoaderData(o);
  const b = benchNative();
  const all = Object.fromEntries(LEVER_NAMES.map((n) => [n, true])) as unknown as Levers;
  const configs: Array<[string, Levers]> = [
    ['all on', all],
    ...LEVER_NAMES.map((n): [string, Levers] => [`${n} off`, { ...all, [n]: false }]),
    ['all off', Object.fromEntries(LEVER_NAMES.map((n) => [n, false])) as unknown as Levers],
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
