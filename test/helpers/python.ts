/**
 * Runs reference scripts with the system Python that has PyTorch (/usr/bin/python3 — never the
 * `python3` on PATH, which may be a different interpreter without torch).
 */
import { spawnSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

let torchAvailable: boolean | undefined;

/** Whether /usr/bin/python3 can import torch (and torchvision when asked). */
export function pythonHasTorch(withTorchvision = false): boolean {
  if (torchAvailable === undefined || withTorchvision) {
    const r = spawnSync(PYTHON, ['-c', withTorchvision ? 'import torch, torchvision' : 'import torch'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const ok = r.status === 0;
    if (!withTorchvision) torchAvailable = ok;
    return ok;
  }
  return torchAvailable;
}

/**
 * Whether the PyTorch-backed tests should run. In CI a missing torch is a failure, not a skip:
 * these tests are the only proof that the file formats match PyTorch.
 */
export function requireTorchOrSkip(withTorchvision = false): boolean {
  const ok = pythonHasTorch(withTorchvision);
  if (!ok && process.env.CI) {
    throw new Error(`${PYTHON} cannot import torch${withTorchvision ? '/torchvision' : ''}, but CI must run these tests`);
  }
  return ok;
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
    env: { ...process.env, PYTHONHASHSEED: '0', PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '2', ...options.env },
  });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`python exited with ${r.status ?? r.signal}:\n${r.stderr}\n${r.stdout}`);
  }
  return { stdout: r.stdout, stderr: r.stderr };
}
