/**
 * The PyTorch side of `sgdr bench`: scripts/bench_pytorch.py run as a long-lived process by the
 * Python whose torch is the LibTorch the addon was built against (Debian's /usr/bin/python3 for the
 * system package, the venv's for a pip wheel; never just the `python3` on PATH), driven one round at
 * a time so rounds interleave with ours without paying start-up or warm-up again. With `compile`,
 * the same script runs `torch.compile(model)` (inductor; PyTorch >= 2.0) as a second reference.
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';

import { referencePython } from '../binding';

/** The reference Python: the one whose torch matches the addon's LibTorch (see referencePython). */
export const DEFAULT_PYTHON = referencePython();

export interface ReferenceOptions {
  python?: string;
  arch: string;
  batchSize: number;
  imageSize: number;
  channels: number;
  numClasses: number;
  threads: number;
  device: string;
  mode: 'train' | 'eval';
  warmup: number;
  channelsLast?: boolean;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  /** model = torch.compile(model) (default mode, inductor); the compilation is part of the warm-up. */
  compile?: boolean;
  /** Extra environment (e.g. GLIBC_TUNABLES for a variant). */
  env?: Record<string, string>;
}

export interface ReferenceInfo {
  torch: string;
  threads: number;
  device: string;
  mkldnn: boolean;
  channels_last: boolean;
  /** Whether the model ran through torch.compile. */
  compiled?: boolean;
  /** Warm-up steps run (a compiled model runs at least 2). */
  warmup?: number;
  /** Compiled: wall time of the first warm-up step (the compilation plus one step). */
  compile_seconds?: number;
  backend?: string;
  mode?: string;
  graphs?: number;
  graph_breaks?: number;
  fx_graph_cache?: { hit: number; miss: number };
}

export function benchScript(): string {
  // dist/bench/pytorch.js and lib/bench/pytorch.ts both sit two levels below the package root.
  return path.resolve(__dirname, '..', '..', 'scripts', 'bench_pytorch.py');
}

/** Whether `python` can import torch and torchvision, and its torch.__version__ (why not, otherwise). */
export function referenceAvailable(python = DEFAULT_PYTHON): { ok: true; torch: string } | { ok: false; why: string } {
  if (!fs.existsSync(python)) return { ok: false, why: `${python} not found` };
  if (!fs.existsSync(benchScript())) return { ok: false, why: `${benchScript()} not found` };
  const r = spawnSync(python, ['-c', 'import torchvision_compat, torch; print(torch.__version__)'], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, PYTHONPATH: path.dirname(benchScript()) },
  });
  if (r.status !== 0) return { ok: false, why: `${python} cannot import torch and torchvision` };
  return { ok: true, torch: r.stdout.trim().split('\n').pop() ?? '' };
}

/** The major version of a torch.__version__ string ("1.13.0a0+git..." -> 1, "2.13.0+cpu" -> 2). */
export function torchMajor(version: string): number {
  return Number.parseInt(version, 10);
}

export class PyTorchReference {
  private child: ChildProcess;
  private lines: AsyncIterator<string>;
  private stderr = '';
  private closed = false;
  info!: ReferenceInfo;

  private constructor(child: ChildProcess) {
    this.child = child;
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }

  static async start(o: ReferenceOptions): Promise<PyTorchReference> {
    const args = [
      benchScript(),
      '--server',
      '--arch',
      o.arch,
      '--batch-size',
      String(o.batchSize),
      '--image-size',
      String(o.imageSize),
      '--channels',
      String(o.channels),
      '--num-classes',
      String(o.numClasses),
      '--threads',
      String(o.threads),
      '--device',
      o.device,
      '--mode',
      o.mode,
      '--warmup',
      String(o.warmup),
      '--lr',
      String(o.lr ?? 0.05),
      '--momentum',
      String(o.momentum ?? 0.9),
      '--weight-decay',
      String(o.weightDecay ?? 5e-4),
    ];
    if (o.channelsLast) args.push('--channels-last');
    if (o.compile) args.push('--compile');
    // OMP_NUM_THREADS as well as set_num_threads: the same thread count from the first parallel region on.
    const child = spawn(o.python ?? DEFAULT_PYTHON, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, OMP_NUM_THREADS: String(o.threads), PYTHONDONTWRITEBYTECODE: '1', ...(o.env ?? {}) },
    });
    const ref = new PyTorchReference(child);
    const ready = await ref.next();
    ref.info = ready as unknown as ReferenceInfo;
    return ref;
  }

  private async next(): Promise<Record<string, unknown>> {
    for (;;) {
      const r = await this.lines.next();
      if (r.done)
        throw new Error(
          `the PyTorch reference exited: ${this.stderr.trim().split('\n').slice(-3).join(' | ') || 'no output'}`,
        );
      // The protocol's lines are JSON objects; anything else a library prints to stdout (a compiler's
      // chatter under torch.compile) is kept with stderr for the error message, not parsed.
      if (r.value.startsWith('{')) return JSON.parse(r.value) as Record<string, unknown>;
      this.stderr = (this.stderr + r.value + '\n').slice(-4000);
    }
  }

  /** Runs `steps` timed steps; the wall time PyTorch measured around them (device synchronised). */
  async run(steps: number): Promise<{ seconds: number; images: number; pageFaults: number }> {
    this.child.stdin!.write(JSON.stringify({ steps }) + '\n');
    const r = await this.next();
    return {
      seconds: r.seconds as number,
      images: r.images as number,
      pageFaults: (r.page_faults as number | undefined) ?? NaN,
    };
  }

  /** Asks the process to quit (once: the workloads close on their way out as well as when done). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.child.exitCode === null) {
      this.child.stdin!.end(JSON.stringify({ quit: true }) + '\n');
      const timer = setTimeout(() => this.child.kill(), 5000);
      timer.unref();
    }
  }
}
