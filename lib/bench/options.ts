/**
 * What `sgdr bench` measures and how: the workloads, their options, and each workload's defaults
 * (sized for a shared machine; BENCHMARKS.md gives the method).
 */
import * as os from 'os';
import type { Levers } from './native';
import { DEFAULT_PYTHON } from './pytorch';

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
