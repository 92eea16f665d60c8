/**
 * The addon's benchmark surface (`bench` on the binding and the trainer's timeSteps), typed here so
 * binding.ts stays the library's surface only.
 */
import { native, type NativeDataSpec, type NativeTrainer } from '../binding';

/** Switches for the performance levers (native/perf/levers.h); each computes the same function as the plain path. */
export interface Levers {
  /** SGD in one fused pass over all parameters (bitwise equal to LibTorch's SGD::step). */
  fusedSgd: boolean;
  /** CPU convolutions with a 1x1 output as one matrix product over the taps that meet the input. */
  convAsMatmul: boolean;
  /** LibTorch CPU tensors from a caching allocator (no fresh pages, hence no page faults, per step). */
  cachingAllocator: boolean;
  /** CPU input batches in channels_last before the forward (oneDNN's NHWC kernels). */
  channelsLastInput: boolean;
  /** The loader reuses its batch buffers instead of allocating each batch anew. */
  loaderBufferPool: boolean;
}

export const LEVER_NAMES: ReadonlyArray<keyof Levers> = [
  'fusedSgd',
  'convAsMatmul',
  'cachingAllocator',
  'channelsLastInput',
  'loaderBufferPool',
];

export interface CpuCacheStats {
  cachedBytes: number;
  liveBytes: number;
  hits: number;
  misses: number;
  maxCachedBytes: number;
}

export interface BenchBinding {
  matmulGflops(n: number, reps: number): Promise<number>;
  levers(): Levers;
  setLevers(levers: Partial<Levers>): Levers;
  /** How many times each lever took its own path so far (not merely was on), process-wide. */
  leverUses(): Record<keyof Levers, number>;
  cpuCacheStats(): CpuCacheStats;
  emptyCpuCache(): void;
  pageFaults(): { minor: number; major: number };
  /** glibc's mallinfo2() (null without glibc): bytes in use and free in malloc's arenas, and mmap()ed. */
  mallocStats(): { inUseBytes: number; freeBytes: number; mmappedBytes: number } | null;
  /** malloc_trim(0): glibc's free heap pages back to the system (scripts/soak.js, before each sample). */
  mallocTrim(): boolean;
  /** Seconds spent inside the training step (zero_grad .. optimizer step) so far, all threads. */
  stepSeconds(): number;
  /** The BLAS behind LibTorch's sgemm; `limited`: pthread OpenBLAS set to run on the calling thread. */
  blasInfo(): {
    sgemm: string;
    optimised: boolean;
    library: string;
    parallel: string;
    threads: number;
    limited: boolean;
  };
  writeJpegFolder(
    dir: string,
    options: { classes: number; perClass: number; width: number; height: number; seed: number; quality?: number },
  ): number;
}

export interface TimedSteps {
  seconds: number;
  images: number;
  stepSeconds: Float64Array;
}

/** The trainer with its benchmark method. */
export interface BenchTrainer extends NativeTrainer {
  timeSteps(options: { steps: number; train?: boolean; batches?: number }): Promise<TimedSteps>;
}

/** Random images resident in memory (native/data/datasets.cc, kind 'synthetic'). */
export interface SyntheticSpec {
  kind: 'synthetic';
  size: number;
  channels: number;
  imageSize: number;
  numClasses: number;
  distinct?: number;
  seed?: number;
  split?: 'train' | 'val';
}

export function benchNative(): BenchBinding {
  return (native() as unknown as { bench: BenchBinding }).bench;
}

/** A NativeDataset of random in-memory images (the spec type is wider than the library's). */
export function syntheticDataset(spec: SyntheticSpec): unknown {
  return new (native().NativeDataset)(spec as unknown as NativeDataSpec);
}
