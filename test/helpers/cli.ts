/**
 * Runs a command as a child process without blocking the test worker. A long spawnSync freezes the
 * worker's event loop; vitest's worker→runner RPC times out after 60 s of that ("Timeout calling
 * onTaskUpdate") and fails the run although every test passed. The CLI and bench tests run
 * commands that take tens of seconds on a loaded 2-core machine, so they await this instead.
 */
import { spawn } from 'node:child_process';

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
