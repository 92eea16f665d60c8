/**
 * Device selection: 'auto' | 'cpu' | 'cuda' | 'cuda:N'. The device is a run-time parameter of the
 * same code, never a build flavour; 'auto' falls back to the CPU with one clear line.
 */
import { native } from './binding';

/**
 * Where tensors and models live. Strict, like ResNetArch: 'gpu' fails to compile. A device read at
 * run time (a flag, an environment variable) is checked with isDeviceSpec() first.
 */
export type DeviceSpec = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

/** True for 'auto', 'cpu', 'cuda' and 'cuda:N' (N a non-negative integer): narrows a string to DeviceSpec. */
export function isDeviceSpec(spec: unknown): spec is DeviceSpec {
  return typeof spec === 'string' && /^(auto|cpu|cuda|cuda:(0|[1-9]\d*))$/.test(spec);
}

let autoFallbackReported = false;

/** Resolves 'auto' to 'cuda' or 'cpu'; other values pass through (the native side validates them). */
export function resolveDevice(spec: DeviceSpec | string = 'cpu'): string {
  if (typeof spec !== 'string') throw new TypeError(`device must be a string, got ${typeof spec}`);
  if (spec !== 'auto') return spec;
  if (native().cudaAvailable()) return 'cuda:0';
  if (!autoFallbackReported && !process.env.SGDR_QUIET) {
    autoFallbackReported = true;
    process.stderr.write("libtorch-sgdr: device 'auto': CUDA is not available to this LibTorch, using the CPU\n");
  }
  return 'cpu';
}

export function cudaAvailable(): boolean {
  return native().cudaAvailable();
}

/** Intra-op threads LibTorch uses (defaults to the machine's cores; SGDR_THREADS overrides). */
export function setNumThreads(n: number): void {
  native().setNumThreads(n);
}

export function getNumThreads(): number {
  return native().getNumThreads();
}

/** Seeds LibTorch's global generator (weight initialisation, dropout). */
export function manualSeed(seed: number): void {
  native().manualSeed(seed);
}
