/**
 * The PyTorch side of a paired workload: the eager reference and the torch.compile one, each in its
 * own process (lib/bench/pytorch.ts), started as --reference and --compile say, and the paired rounds
 * that time ours and each reference in a rotating order.
 */
import { benchNative } from './native';
import type { BenchOptions } from './options';
import { ips } from './ours';
import { PyTorchReference, referenceAvailable, torchMajor } from './pytorch';

export interface Reference {
  ref: PyTorchReference | null;
  skipped?: string;
  env?: Record<string, string>;
}

/** A paired workload's references: eager PyTorch (unless --reference none or unavailable), and torch.compile as `o.compile` says. */
export interface References {
  eager: Reference;
  compiled: Reference;
}

export async function startReferences(o: BenchOptions, mode: 'train' | 'eval'): Promise<References> {
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

export function closeReferences(refs: References | undefined): void {
  refs?.eager.ref?.close();
  refs?.compiled.ref?.close();
}

/** One reference's rounds: its images/s, ours / it in the same round, its page faults per step. */
export interface ReferenceRounds {
  ips: number[];
  ratios: number[];
  faults: number[];
}

export interface Paired {
  ours: number[];
  eager: ReferenceRounds | null;
  compiled: ReferenceRounds | null;
}

/**
 * Paired rounds: ours and each reference once per round, in an order that rotates round by round
 * (two sides: ours, eager / eager, ours, the ABBA order; three: O E C / E C O / C O E), so each side
 * takes each position equally often; each reference's ratio is ours / it within the same round.
 */
export async function pairedRounds(
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
