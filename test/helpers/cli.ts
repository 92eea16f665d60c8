/**
 * Runs a command as a child process without blocking the test worker. A long spawnSync freezes the
 * worker's event loop; vitest's worker→runner RPC times out after 60 s of that ("Timeout calling
 * onTaskUpdate") and fails the run although every test passed. The CLI and bench tests run
 * commands that take tens of seconds on a loaded 2-core machine, so they await this instead.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

export interface CommandResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCommand(
  file: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      timeout: options.timeoutMs ?? 170_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** `sgdr ARGS` as a user runs it (node bin/sgdr.js on the compiled dist/), from the repository root, quiet. */
export function runSgdr(
  args: string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CommandResult> {
  return runCommand(process.execPath, [path.join(REPO_ROOT, 'bin/sgdr.js'), ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    timeoutMs: options.timeoutMs ?? 170_000,
    env: { ...process.env, SGDR_QUIET: '1', ...options.env },
  });
}

/** The flags of a seconds-long `sgdr train` on an IDX folder the test wrote: 12 px, cifar stem, batch 16, 2 threads. */
export function smallTrainFlags(data: string): string[] {
  return [
    '--data',
    `fashion-mnist:${data}`,
    '--batch-size',
    '16',
    '--stem',
    'cifar',
    '--image-size',
    '12',
    '--threads',
    '2',
  ];
}
