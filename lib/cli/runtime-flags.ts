/**
 * The runtime flags, one table: --batch-size, --threads, --device, --workers and --jobs, each with
 * every command's default side by side. A command's flag table takes its rows from here
 * (runtimeFlags), so its parser and its --help read one default; where two commands differ (bench
 * measures on cpu, train picks the device itself), they differ here, in the same row.
 */
import type { FlagKind, FlagSpec, FlagSpecs } from './args';

/** The commands that take runtime flags. */
export type RuntimeCommand = 'train' | 'lr-find' | 'bench' | 'compare' | 'demo';
export type RuntimeFlag = 'batch-size' | 'threads' | 'device' | 'workers' | 'jobs';

/** A default: the value a command uses when the flag is not given, or what it is when not one value. */
interface Default {
  default?: string | number;
  /** A default that is not one value ("the machine's cores"): the command works it out at run time. */
  defaultText?: string;
}

/** How one command takes a flag: the row's help and default, or its own where given. */
interface Use extends Default {
  help?: string;
}

interface Row extends Default {
  kind: FlagKind;
  help: string;
  min?: number;
  /** The commands that take the flag. */
  uses: Partial<Record<RuntimeCommand, Use>>;
}

/** sgdr compare and sgdr demo train several runs at once: their runtime flags are per run. */
const perRun = {
  threads: { help: 'LibTorch threads per run', defaultText: "the machine's cores / jobs" },
  device: { defaultText: "the config's, else auto" },
  workers: { help: 'data loader threads per run' },
};

const ROWS: Record<RuntimeFlag, Row> = {
  'batch-size': {
    kind: 'integer',
    help: 'training batch size',
    min: 1,
    default: 64,
    uses: {
      train: {},
      'lr-find': { help: 'training batch size (use the one you will train with)' },
      bench: { help: 'batch size', defaultText: "the workload's" },
    },
  },
  jobs: {
    kind: 'integer',
    help: 'runs trained at once, each in its own process',
    min: 1,
    // The demo runs two at once with the cores split between them: on 2 cores, two 1-thread runs
    // train about twice as many images per second as one 2-thread run (docs/demo.md).
    uses: { compare: { default: 1 }, demo: { default: 2 } },
  },
  threads: {
    kind: 'integer',
    help: 'LibTorch threads',
    min: 1,
    defaultText: "the machine's cores",
    uses: {
      train: {},
      'lr-find': {},
      bench: { help: 'LibTorch threads for both sides' },
      compare: perRun.threads,
      demo: perRun.threads,
    },
  },
  // A benchmark names what it measures: no auto.
  device: {
    kind: 'string',
    help: 'auto | cpu | cuda | cuda:N',
    default: 'auto',
    uses: {
      train: {},
      'lr-find': {},
      bench: { help: 'cpu | cuda | cuda:N', default: 'cpu' },
      compare: perRun.device,
      demo: perRun.device,
    },
  },
  workers: {
    kind: 'integer',
    help: 'data loader threads',
    min: 0,
    defaultText: 'automatic',
    uses: { train: {}, 'lr-find': {}, bench: {}, compare: perRun.workers, demo: perRun.workers },
  },
};

/**
 * The flag specs of the runtime flags `names` as `command` takes them, in that order (its --help
 * lists them so). A flag the command does not take is a programming error.
 */
export function runtimeFlags(command: RuntimeCommand, ...names: RuntimeFlag[]): FlagSpecs {
  const out: FlagSpecs = {};
  for (const name of names) {
    const row = ROWS[name];
    const use = row.uses[command];
    if (!use) throw new Error(`sgdr ${command} takes no --${name} (lib/cli/runtime-flags.ts)`);
    const spec: FlagSpec = { kind: row.kind, help: use.help ?? row.help };
    if (row.min !== undefined) spec.min = row.min;
    // A command's own default, of either kind, replaces the row's.
    const own = use.default !== undefined || use.defaultText !== undefined;
    const value = own ? use.default : row.default;
    const text = own ? use.defaultText : row.defaultText;
    if (value !== undefined) spec.default = value;
    if (text !== undefined) spec.defaultText = text;
    out[name] = spec;
  }
  return out;
}

/** The runtime flags `command` takes, by name (for tests that check every command's table). */
export function runtimeFlagNames(command: RuntimeCommand): RuntimeFlag[] {
  return (Object.keys(ROWS) as RuntimeFlag[]).filter((name) => ROWS[name].uses[command] !== undefined);
}
