/**
 * Runs reference scripts with the PyTorch that matches the LibTorch the addon was built against:
 * the Python recorded in the build's libtorch.json (Debian's /usr/bin/python3 for the system
 * package, the venv's for a pip wheel), or $SGDR_REFERENCE_PYTHON — never just the `python3` on
 * PATH, which may be another interpreter or another torch. scripts/ is on PYTHONPATH, so a script
 * gets torchvision through scripts/torchvision_compat.py (which also works with a CUDA torchvision on
 * a CPU torch).
 */
import { spawnSync } from 'node:child_process';
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
    const r = spawnSync(PYTHON, ['-c', withTorchvision ? 'import torch\nfrom torchvision_compat import torchvision' : 'import torch'], {
      encoding: 'utf8',
      timeout: 120_000,
      env: referenceEnv(),
    });
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
    throw new Error(`${PYTHON} cannot import torch${withTorchvision ? '/torchvision' : ''} (${why}), but CI must run these tests`);
  }
  return ok;
}

/** The reference's torch.__version__ ("1.13.0a0+git...", "2.13.0+cpu"). */
export function referenceTorchVersion(): string {
  return runPython('import torch; print(torch.__version__)').stdout.trim();
}

export interface PythonRun {
  stdout: string;
  stderr: string;
}

/** Runs `script` (source text) with `args`; throws with Python's stderr when it fails. */
export function runPython(
  script: string,
  args: string[] = [],
  options: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): PythonRun {
  const r = spawnSync(PYTHON, ['-c', script, ...args], {
    cwd: options.cwd,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 170_000,
    maxBuffer: 256 * 1024 * 1024,
    // No __pycache__ next to the shipped fixtures.
    env: referenceEnv({ PYTHONHASHSEED: '0', PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '2', ...options.env }),
  });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`python exited with ${r.status ?? r.signal}:\n${r.stderr}\n${r.stdout}`);
  }
  return { stdout: r.stdout, stderr: r.stderr };
}
