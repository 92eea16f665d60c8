/**
 * A small, strict flag parser shared by every `sgdr` command.
 *
 * Why not a dependency: each command must reject unknown flags and bad values with one line that
 * names the flag, and must know which flags are booleans; that is a few dozen lines here.
 */
import * as os from 'node:os';

/** Error whose message is shown to the user as-is (one line, no stack trace). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export type FlagKind = 'string' | 'number' | 'integer' | 'boolean';

export interface FlagSpec {
  kind: FlagKind;
  /** One-line help text. */
  help: string;
  /** Flag may be given several times; values are collected in an array. */
  repeat?: boolean;
  /**
   * The value a run uses when the flag is not given. --help prints it from here and the command
   * reads it from here (flagDefault), so the two cannot disagree. A default that is not one value
   * ("the training batch size") stays in the help text instead.
   */
  default?: string | number | boolean;
  /**
   * A default that is not one value ("the machine's cores"): --help prints it as `(default: …)`,
   * and the flag reads as absent, so the command (or the library under it) works it out at run time.
   */
  defaultText?: string;
  /** The least value a number flag takes; the parser refuses a smaller one, naming the flag. */
  min?: number;
}

export type FlagSpecs = Record<string, FlagSpec>;
export type ParsedFlags = Record<string, string | number | boolean | Array<string | number> | undefined>;

/** Parses `--name value`, `--name=value` and boolean `--name` / `--no-name` flags. */
export function parseFlags(argv: string[], specs: FlagSpecs): { flags: ParsedFlags; positional: string[] } {
  const flags: ParsedFlags = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const spec = specs[name];
    if (!spec && name.startsWith('no-') && specs[name.slice(3)]?.kind === 'boolean') {
      flags[name.slice(3)] = false;
      continue;
    }
    if (!spec) throw new UsageError(`unknown flag --${name}`);
    if (spec.kind === 'boolean') {
      if (value === undefined) flags[name] = true;
      else if (value === 'true' || value === '1') flags[name] = true;
      else if (value === 'false' || value === '0') flags[name] = false;
      else throw new UsageError(`--${name} takes true or false, got '${value}'`);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
    }
    const parsed = convert(name, spec.kind, value);
    if (spec.min !== undefined && typeof parsed === 'number' && parsed < spec.min) {
      throw new UsageError(`--${name} must be >= ${spec.min}, got ${parsed}`);
    }
    if (spec.repeat) {
      const list = (flags[name] as Array<string | number> | undefined) ?? [];
      list.push(parsed);
      flags[name] = list;
    } else {
      flags[name] = parsed;
    }
  }
  return { flags, positional };
}

function convert(name: string, kind: FlagKind, value: string): string | number {
  if (kind === 'string') return value;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${value}'`);
  if (kind === 'integer' && !Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got '${value}'`);
  return n;
}

/** Every command takes --help: the parser and the help text add it, last. */
const helpFlag: FlagSpecs = { help: { kind: 'boolean', help: 'show this help' } };

/** Help text for a command's flags, one per line, --help last. */
export function formatFlags(specs: FlagSpecs): string {
  const rows = Object.entries({ ...specs, ...helpFlag }).map(([name, s]) => {
    const arg = s.kind === 'boolean' ? '' : ` <${s.kind === 'string' ? 'value' : s.kind}>`;
    const shown =
      s.default !== undefined
        ? `${s.help} (default ${String(s.default)})`
        : s.defaultText !== undefined
          ? `${s.help} (default: ${s.defaultText})`
          : s.help;
    return [`  --${name}${arg}`, shown] as const;
  });
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  return rows.map(([a, h]) => a.padEnd(width) + h).join('\n');
}

/** The default of a flag from its spec; a flag without one is a programming error. */
export function flagDefault<T extends string | number | boolean>(specs: FlagSpecs, name: string): T {
  const value = specs[name]?.default;
  if (value === undefined) throw new Error(`flag --${name} has no default in its table`);
  return value as T;
}

/** The flag's value as given, else its default from the table (which must have one). */
export function flagValue<T extends string | number | boolean>(flags: ParsedFlags, specs: FlagSpecs, name: string): T {
  return (flags[name] as T | undefined) ?? flagDefault<T>(specs, name);
}

/** A copy of `specs` with other defaults (sgdr train trains with other schedule defaults than sgdr schedule prints). */
export function withDefaults(specs: FlagSpecs, defaults: Record<string, string | number | boolean>): FlagSpecs {
  const out: FlagSpecs = { ...specs };
  for (const [name, value] of Object.entries(defaults)) {
    if (!out[name]) throw new Error(`withDefaults: no flag --${name}`);
    out[name] = { ...out[name]!, default: value };
  }
  return out;
}

/**
 * A command's flags: prints the help text and returns undefined for --help (the command then exits
 * 0), and refuses positional arguments, which no command takes.
 */
export function parseCommandFlags(argv: string[], specs: FlagSpecs, help: () => string): ParsedFlags | undefined {
  const { flags, positional } = parseFlags(argv, { ...specs, ...helpFlag });
  if (flags.help) {
    process.stdout.write(help() + '\n');
    return undefined;
  }
  if (positional.length > 0) throw new UsageError(`unexpected argument '${positional[0]}' (flags start with --)`);
  return flags;
}

/** The cores of this machine: more LibTorch threads than that only add contention. */
export function machineCores(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/**
 * A --threads value capped at the cores of this machine, saying so in one stderr line: `--threads
 * 1000` started some 1,800 threads that spent their time switching and never finished a batch.
 */
export function capThreads(
  threads: number | undefined,
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): number | undefined {
  const cores = machineCores();
  if (threads === undefined || !(threads > cores)) return threads;
  log(`--threads ${threads} capped at ${cores}, the cores of this machine`);
  return cores;
}
