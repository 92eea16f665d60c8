/**
 * `sgdr train --nproc N` as torchrun's standalone mode does it: N local ranks, each a process of its
 * own with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT set, on a
 * free loopback port. The launcher watches them: when one exits non-zero or is killed, it says which
 * and how, stops the others (SIGTERM, then SIGKILL after a grace period) and exits non-zero, so no
 * rank waits forever and none is left behind. The ranks watch it in turn (StopSignals' parent watch),
 * so a launcher that is itself killed leaves no orphans either.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';

export interface LaunchOptions {
  nproc: number;
  /** The command each rank runs: process.execPath and these arguments. */
  args: string[];
  masterAddr?: string;
  /** Default: a free port. */
  masterPort?: number;
  env?: NodeJS.ProcessEnv;
  /** After a rank fails, how long the others get to stop on SIGTERM before SIGKILL (default 10 s). */
  graceSeconds?: number;
  log?: (line: string) => void;
}

export interface LaunchResult {
  /** 0 when every rank succeeded; else the first failed rank's status (128 + signal number for a signal). */
  exitCode: number;
  /** The first rank that failed, and how. */
  failed?: { rank: number; code: number | null; signal: NodeJS.Signals | null };
}

/** A TCP port nothing listens on now (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export async function launchRanks(o: LaunchOptions): Promise<LaunchResult> {
  if (!Number.isInteger(o.nproc) || o.nproc < 1 || o.nproc > 1024)
    throw new RangeError(`nproc must be an integer in [1, 1024], got ${String(o.nproc)}`);
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const masterAddr = o.masterAddr ?? '127.0.0.1';
  const masterPort = o.masterPort ?? (await freePort(masterAddr));
  const graceMs = (o.graceSeconds ?? 10) * 1000;
  const children: Array<ChildProcess | undefined> = [];
  const running = new Set<number>();
  let failed: LaunchResult['failed'];
  let killTimer: NodeJS.Timeout | undefined;

  const stopOthers = (signal: NodeJS.Signals) => {
    for (const r of running) children[r]?.kill(signal);
  };
  // A SIGTERM to the launcher (a scheduler, kill) reaches every rank once. A Ctrl-C from the
  // terminal already reaches them all (same process group), so SIGINT is not sent again.
  const onTerm = () => stopOthers('SIGTERM');
  const onInt = () => {};
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);

  return await new Promise<LaunchResult>((resolve) => {
    for (let rank = 0; rank < o.nproc; rank++) {
      const child = spawn(process.execPath, o.args, {
        stdio: 'inherit',
        env: {
          ...(o.env ?? process.env),
          RANK: String(rank),
          LOCAL_RANK: String(rank),
          WORLD_SIZE: String(o.nproc),
          LOCAL_WORLD_SIZE: String(o.nproc),
          MASTER_ADDR: masterAddr,
          MASTER_PORT: String(masterPort),
          SGDR_LAUNCHER_PID: String(process.pid),
        },
      });
      children.push(child);
      running.add(rank);
      child.on('error', (err) => log(`sgdr: rank ${rank} could not start: ${err.message}`));
      child.on('exit', (code, signal) => {
        running.delete(rank);
        if ((code !== 0 || signal) && !failed) {
          failed = { rank, code, signal };
          const how = signal ? `was killed by ${signal}` : `exited with status ${String(code)}`;
          if (running.size > 0) {
            log(`sgdr: rank ${rank} of ${o.nproc} ${how}; stopping the other ${running.size} rank(s)`);
            stopOthers('SIGTERM');
            killTimer = setTimeout(() => stopOthers('SIGKILL'), graceMs);
            killTimer.unref();
          } else {
            log(`sgdr: rank ${rank} of ${o.nproc} ${how}`);
          }
        }
        if (running.size === 0) {
          if (killTimer) clearTimeout(killTimer);
          process.off('SIGTERM', onTerm);
          process.off('SIGINT', onInt);
          const exitCode = !failed
            ? 0
            : failed.signal
              ? 128 + (os.constants.signals[failed.signal] ?? 1)
              : (failed.code ?? 1) || 1;
          resolve({ exitCode, failed });
        }
      });
    }
  });
}
