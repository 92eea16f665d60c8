/**
 * `sgdr` command-line entry point: dispatches to one module per command.
 * Every command returns an exit code; a UsageError or RangeError becomes one line on stderr.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { activeStopSignals } from '../stop-signals';
import { UsageError } from './args';

export interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

// Commands are loaded lazily so `sgdr schedule` never loads the native addon.
/* eslint-disable @typescript-eslint/no-require-imports -- lazy on purpose, see above */
const commands: Record<string, () => Command> = {
  schedule: () => require('./schedule').command as Command,
  train: () => require('./train').command as Command,
  compare: () => require('./compare').command as Command,
  demo: () => require('./demo').command as Command,
  bench: () => require('./bench').command as Command,
  'lr-find': () => require('./lr-find').command as Command,
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** This package's version, from its package.json (dist/cli/ and lib/cli/ are both two folders below it). */
export function packageVersion(): string {
  const file = path.join(__dirname, '..', '..', 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

function usage(): string {
  const lines = Object.entries(commands).map(([name, load]) => `  ${name.padEnd(10)} ${load().summary}`);
  return `usage: sgdr <command> [flags]\n       sgdr --version\n\ncommands:\n${lines.join('\n')}\n\nRun 'sgdr <command> --help' for a command's flags.`;
}

/** Errors of a write to an output that nobody reads any more (a closed pipe, a hung-up terminal). */
const OUTPUT_GONE = new Set(['EPIPE', 'EIO', 'ENXIO', 'ECONNRESET', 'ERR_STREAM_DESTROYED']);

/**
 * A reader that goes away (`sgdr schedule --json | head -c 10`) makes the next write fail with
 * EPIPE (EIO for a terminal that hung up), emitted as an 'error' event that nobody handled: a
 * stack trace. The output is no longer wanted, so stop quietly, as a command killed by SIGPIPE
 * would, for every command at once; a training run first checkpoints (stop-signals.ts), and
 * its later lines go nowhere.
 */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const marked = stream as { sgdrQuietPipe?: boolean };
    if (marked.sgdrQuietPipe) continue; // main() ran before in this process
    marked.sgdrQuietPipe = true;
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (!err.code || !OUTPUT_GONE.has(err.code)) throw err;
      const stop = activeStopSignals();
      if (stop) stop.request('output-closed');
      else process.exit(0);
    });
  }
}

export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 1;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`sgdr: unknown command '${name}' (try: ${Object.keys(commands).join(', ')})\n`);
    return 1;
  }
  try {
    return await load().run(rest);
  } catch (err) {
    if (err instanceof UsageError || err instanceof RangeError || err instanceof TypeError) {
      process.stderr.write(`sgdr ${name}: ${err.message}\n`);
      return 1;
    }
    if (process.env.SGDR_DEBUG) throw err;
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`sgdr ${name}: ${message.split('\n')[0]}\n`);
    return 1;
  }
}
