/**
 * Runs reference scripts with the PyTorch that matches the LibTorch the addon was built against:
 * the Python recorded in the build's libtorch.json (Debian's /usr/bin/python3 for the system
 * package, the venv's for a pip wheel), or $SGDR_REFERENCE_PYTHON — never just the `python3` on
 * PATH, which may be another interpreter or another torch. scripts/ is on PYTHONPATH, so a script
 * gets torchvision through scripts/torchvision_compat.py (which also works with a CUDA torchvision on
 * a CPU torch).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { referencePython } from '../../lib/binding';

export const PYTHON = referencePython();
const SCRIPTS_DIR = path.resolve(__dirname, '..', '..', 'scripts');

const probed = new Map<boolean, { ok: boolean; why: string }>();

/**
 * The environment for the reference Python: ours, less what scripts/sanitize.sh sets for node (the
 * preloaded ASan/UBSan runtime and its options). Python and its PyTorch are the reference here, not
 * under test; with the runtime preloaded, LeakSanitizer would report CPython's own allocations at
 * its exit and fail the run.
 */
export function referenceEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONPATH: SCRIPTS_DIR, ...extra };
  if (process.env.SGDR_SANITIZE) {
    for (const k of ['LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) delete env[k];
  }
  return env;
}

function probe(withTorchvision: boolean): { ok: boolean; why: string } {
  let p = probed.get(withTorchvision);
  if (!p) {
    const r = spawnSync(
      PYTHON,
      ['-c', withTorchvision ? 'import torch\nfrom torchvision_compat import torchvision' : 'import torch'],
      {
        encoding: 'utf8',
        timeout: 120_000,
        env: referenceEnv(),
      },
    );
    const why = r.error ? String(r.error.message) : (r.stderr || '').trim().split('\n').pop() || `exit ${r.status}`;
    p = { ok: r.status === 0, why };
    probed.set(withTorchvision, p);
  }
  return p;
}

/** Whether the reference Python can import torch (and torchvision when asked). */
export function pythonHasTorch(withTorchvision = false): boolean {
  return probe(withTorchvision).ok;
}

/**
 * Whether the PyTorch-backed tests should run. The one rule for skips: in CI a missing dependency
 * is a failure, not a skip — these tests are the only proof that we match PyTorch.
 */
export function requireTorchOrSkip(withTorchvision = false): boolean {
  const { ok, why } = probe(withTorchvision);
  if (!ok && process.env.CI) {
    throw new Error(
      `${PYTHON} cannot import torch${withTorchvision ? '/torchvision' : ''} (${why}), but CI must run these tests`,
    );
  }
  return ok;
}

/** The reference's torch.__version__ ("1.13.0a0+git...", "2.13.0+cpu"). */
export function referenceTorchVersion(): string {
  // Short (an import), so synchronous is fine here.
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], {
    encoding: 'utf8',
    env: referenceEnv(),
  });
  if (r.status !== 0) throw new Error(`${PYTHON} cannot import torch: ${r.stderr}`);
  return r.stdout.trim();
}

export interface PythonRun {
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` (source text) with `args`; throws with Python's stderr when it fails.
 *
 * Asynchronous on purpose: a PyTorch reference run can take minutes on a loaded 2-core machine,
 * and a spawnSync that long freezes the test worker's event loop until vitest's worker RPC times
 * out ("Timeout calling onTaskUpdate") and fails a run whose tests all passed.
 */
export function runPython(
  script: string,
  args: string[] = [],
  options: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<PythonRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', script, ...args], {
      cwd: options.cwd,
      timeout: options.timeoutMs ?? 170_000,
      // No __pycache__ next to the shipped fixtures.
      env: referenceEnv({ PYTHONHASHSEED: '0', PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '2', ...options.env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (status !== 0) reject(new Error(`python exited with ${status ?? signal}:\n${stderr}\n${stdout}`));
      else resolve({ stdout, stderr });
    });
  });
}
