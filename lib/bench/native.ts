/**
 * The addon's benchmark surface: what `bench` on the binding holds (levers, counters, probes), the
 * trainer's timeSteps() result and the in-memory random data set. binding.ts types the binding with
 * these, so lib/bench reaches the addon through the same typed surface as the rest of the library.
 */
import { native, type NativeDataset } from '../binding';

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

/** Random images resident in memory (native/data/synthetic_dataset.cc, kind 'synthetic'). */
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

/** The addon's benchmark surface (loads the addon on first use). */
export function benchNative(): BenchBinding {
  return native().bench;
}

/** A NativeDataset of random in-memory images. */
export function syntheticDataset(spec: SyntheticSpec): NativeDataset {
  return new (native().NativeDataset)(spec);
}
