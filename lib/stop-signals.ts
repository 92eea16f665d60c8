/// <reference types="node" preserve="true" />
/**
 * How a training process stops when it is asked to: SIGINT (Ctrl-C), SIGTERM (kill, docker stop,
 * a job scheduler), SIGHUP (the terminal or ssh connection went away), and its launcher dying.
 *
 * - The first request stops after the current batch, with a checkpoint of the exact position; the
 *   command then exits 128 + the signal's number (130, 143, 129), as a shell expects of a process
 *   that a signal ended.
 * - A second request while a checkpoint is being written waits for that write (a few seconds), so
 *   no half-written temporary file is left; without a write in flight it exits at once. A third
 *   exits at once in any case, removing the temporary files of writes in flight. The checkpoint on
 *   disk is either the previous one or the new one, never a partial one (atomic-file.ts).
 *
 * Node resets an inherited "ignore SIGHUP" at start-up, so `nohup` does not keep a Node process
 * alive: the handler here at least turns the hang-up into a checkpoint. Use tmux, screen or setsid
 * to keep a run going after a disconnect.
 */
import { removeWritesInFlight, writesInFlight, writesSettled } from './atomic-file';
import { loadedNative } from './binding';

export type StopReason = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'parent-exited' | 'output-closed';

/** 128 + the signal number: what a shell reports for a process a signal ended. */
export const STOP_EXIT_CODES: Readonly<Record<StopReason, number>> = {
  SIGINT: 130,
  SIGTERM: 143,
  SIGHUP: 129,
  // The launcher (npm, a wrapper script) is gone: as if the terminal had hung up.
  'parent-exited': 129,
  // Nobody reads the output any more (`sgdr train | head`): as SIGPIPE would end it.
  'output-closed': 141,
};

/** Exit codes a stopped (not failed) training process may end with. */
export const STOPPED_EXIT_CODES: ReadonlySet<number> = new Set(Object.values(STOP_EXIT_CODES));

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

let active: StopSignals | undefined;

/** The StopSignals of the work in progress in this process, if any. */
export function activeStopSignals(): StopSignals | undefined {
  return active;
}

export interface StopOptions {
  /** Writes one line for the user (stderr). */
  log: (line: string) => void;
  /** What the first request does, said to the user ("stopping after the current batch ..."). */
  firstMessage: string;
  /** Where the run can be continued from ("continue with: sgdr train --resume DIR"). */
  resumeHint: string;
  /** Called on the second request, before this process waits or exits (e.g. to pass it on to children). */
  onSecond?: (reason: StopReason) => void;
  /** Waits for these before exiting on a second request (e.g. child processes finishing their writes). */
  beforeExit?: () => Promise<void>;
  /** Watch the parent process and stop when it exits (set when launched by npm). */
  watchParent?: boolean;
  /** Injected for tests; default process.exit. */
  exit?: (code: number) => void;
}

/**
 * Installs the handlers; `signal` aborts on the first request. Call dispose() when the work has
 * ended, then exit with exitCode() when `reason` is set.
 */
export class StopSignals {
  private readonly controller = new AbortController();
  readonly signal: AbortSignal = this.controller.signal;
  reason: StopReason | undefined;
  private requests = 0;
  private readonly handlers = new Map<string, () => void>();
  private parentTimer: NodeJS.Timeout | undefined;
  private readonly exit: (code: number) => void;

  constructor(private readonly o: StopOptions) {
    this.exit = o.exit ?? exitProcess;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the one instance the process-wide handlers reach
    active = this;
    for (const name of SIGNALS) {
      const handler = () => this.request(name);
      this.handlers.set(name, handler);
      process.on(name, handler);
    }
    if (o.watchParent) {
      const parent = process.ppid;
      // Re-parented (to init or a subreaper): whoever started this process has exited.
      this.parentTimer = setInterval(() => {
        if (process.ppid !== parent) this.request('parent-exited');
      }, 1000);
      this.parentTimer.unref();
    }
  }

  /** The code the command should exit with after a stop (0 when there was none). */
  exitCode(): number {
    return this.reason ? STOP_EXIT_CODES[this.reason] : 0;
  }

  /** A stop request from elsewhere (e.g. the output stream closed). */
  request(reason: StopReason): void {
    // A closed output or a gone parent keeps reporting itself; only a new request counts again.
    if (this.requests > 0 && (reason === 'parent-exited' || reason === 'output-closed')) return;
    this.requests++;
    if (this.requests === 1) {
      this.reason = reason;
      this.o.log(`\n${describe(reason)}: ${this.o.firstMessage}`);
      this.controller.abort();
      return;
    }
    const code = STOP_EXIT_CODES[this.reason ?? reason];
    if (this.requests === 2) {
      this.o.onSecond?.(reason);
      const writing = writesInFlight();
      if (writing.length || this.o.beforeExit) {
        this.o.log(
          `${describe(reason)} again: exiting once the file being written is complete` +
            `${writing.length ? ` (${writing.length} write(s) in flight)` : ''}; once more exits at once. ${this.o.resumeHint}`,
        );
        void Promise.all([writesSettled(), this.o.beforeExit?.()]).finally(() => this.exit(code));
        return;
      }
      this.o.log(`${describe(reason)} again: exiting now, without waiting for the batch. ${this.o.resumeHint}`);
      this.exit(code);
      return;
    }
    removeWritesInFlight();
    this.o.log(
      `${describe(reason)} a third time: exiting now (the checkpoint on disk is the previous one). ${this.o.resumeHint}`,
    );
    this.exit(code);
  }

  dispose(): void {
    if (active === this) active = undefined;
    for (const [name, handler] of this.handlers) process.removeListener(name, handler);
    this.handlers.clear();
    if (this.parentTimer) clearInterval(this.parentTimer);
  }
}

/**
 * process.exit() runs exit handlers and C++ static destructors while a native trainer thread may
 * still be inside LibTorch: a segfault (rc 139). With the addon loaded, it ends the process itself.
 */
function exitProcess(code: number): void {
  const addon = loadedNative();
  if (addon?.exitNow) addon.exitNow(code);
  process.exit(code);
}

function describe(reason: StopReason): string {
  if (reason === 'parent-exited') return 'the process that started sgdr has exited';
  if (reason === 'output-closed') return 'the output was closed';
  if (reason === 'SIGHUP') return 'SIGHUP (the terminal hung up)';
  return reason;
}

/** True when launched by `npm run` / `npm exec`: then the parent is npm and its exit means stop. */
export function launchedByNpm(): boolean {
  return Boolean(process.env.npm_lifecycle_event || process.env.npm_command);
}
