/**
 * `sgdr bench`: training throughput of our real training path, side by side with eager PyTorch on
 * the same LibTorch (see lib/bench and BENCHMARKS.md).
 *
 *   sgdr bench [--workload w1|w2|w3|eval|glue|rss] [--arch A --batch-size B --image-size S --channels C]
 *              [--steps N --rounds R --warmup W --threads T] [--reference auto|none|pytorch]
 *              [--compile auto|on|off] [--lever NAME=on|off ...] [--rss-steps N] [--data DIR] [--json]
 *
 * --json prints one JSON object with `images_per_second` (ours) and, when PyTorch ran, `pytorch`
 * and `ratio` (median of the per-round ratios, ours / eager PyTorch); with torch.compile as the
 * second reference (PyTorch 2.x), `pytorch_compile` and `ratio_compile` (ours / compiled) as well,
 * else `pytorch_compile: null` and `compile_skipped` (why).
 */
import { capThreads, flagValue, formatFlags, parseCommandFlags, UsageError } from './args';
import type { FlagSpecs, ParsedFlags } from './args';
import type { Command } from './main';
import { archList, isResNetArch } from '../nn/archs';
import { LEVER_NAMES } from '../bench/native';
import { defaultOptions, WORKLOADS, type BenchOptions, type Workload } from '../bench/options';
import { runtimeFlags } from './runtime-flags';

/** The defaults that do not depend on the workload (lib/bench/options.ts): --help prints them from here. */
const fixed = defaultOptions();
const WORKLOAD_S = "the workload's";

export const flagSpecs: FlagSpecs = {
  workload: {
    kind: 'string',
    help: 'w1 (ResNet-18, batch 64, 3x32x32) | w2 (ResNet-50, 32, 3x64x64) | w3 (JPEG loader) | eval | glue | rss | levers',
    default: fixed.workload,
  },
  arch: { kind: 'string', help: archList(' | '), defaultText: WORKLOAD_S },
  ...runtimeFlags('bench', 'batch-size'),
  'image-size': { kind: 'integer', help: 'input height and width', defaultText: WORKLOAD_S, min: 8 },
  channels: { kind: 'integer', help: 'input channels', default: fixed.channels, min: 1 },
  'num-classes': { kind: 'integer', help: 'classes', default: fixed.numClasses, min: 1 },
  steps: {
    kind: 'integer',
    help: 'timed steps per round, each side (rss: steps per epoch)',
    defaultText: WORKLOAD_S,
    min: 1,
  },
  rounds: { kind: 'integer', help: 'paired rounds, alternating ours and PyTorch', defaultText: WORKLOAD_S, min: 1 },
  warmup: { kind: 'integer', help: 'untimed steps before the first round, each side', defaultText: WORKLOAD_S, min: 0 },
  ...runtimeFlags('bench', 'threads', 'device'),
  reference: {
    kind: 'string',
    help: 'auto (PyTorch when --python has torch) | none | pytorch (required)',
    default: fixed.reference,
  },
  compile: {
    kind: 'string',
    help: 'torch.compile (inductor) as a second reference: auto (when the reference torch is 2.x; w1, w2, eval) | on (required) | off',
    default: fixed.compile,
  },
  python: { kind: 'string', help: 'the Python with torch for the reference', default: fixed.python },
  'reference-env': {
    kind: 'string',
    repeat: true,
    help: "NAME=VALUE in the PyTorch process's environment (repeatable), e.g. GLIBC_TUNABLES=...",
  },
  lever: {
    kind: 'string',
    repeat: true,
    help: `NAME=on|off for ${LEVER_NAMES.join(', ')} (repeatable; default all on)`,
  },
  'rss-steps': {
    kind: 'integer',
    help: 'rss: training steps watched after the warm-up',
    default: fixed.rssSteps,
    min: 1,
  },
  data: { kind: 'string', help: 'w3: an image folder (DIR/train/<class>/*.jpg)', defaultText: 'synthetic JPEGs' },
  ...runtimeFlags('bench', 'workers'),
  floor: { kind: 'boolean', help: 'measure the matmul rate and the compute floor (default on; --no-floor)' },
  json: { kind: 'boolean', help: 'print one JSON object' },
};

const HELP = `usage: sgdr bench [flags]

Throughput of the training step (images/s) through our trainer, and of eager PyTorch on the same
LibTorch with the same model, batch, shape, threads and optimizer, in alternating rounds; on
PyTorch 2.x also of torch.compile(model) (inductor), the three in a rotating order each round.

${formatFlags(flagSpecs)}`;

/** The options a run measures with: the workload's defaults, then the flags (each checked, named when bad). */
export function benchOptionsFromFlags(flags: ParsedFlags): BenchOptions {
  const value = <T extends string | number | boolean>(name: string): T => flagValue<T>(flags, flagSpecs, name);
  const workload = value<string>('workload');
  if (!(WORKLOADS as readonly string[]).includes(workload)) {
    throw new UsageError(`--workload must be one of ${WORKLOADS.join(', ')}, got '${workload}'`);
  }
  const o = defaultOptions(workload as Workload);
  const given = (name: string): number | undefined => flags[name] as number | undefined;
  if (flags.arch !== undefined) {
    const arch = flags.arch as string;
    if (!isResNetArch(arch)) {
      throw new UsageError(`--arch must be ${archList()}, got '${arch}'`);
    }
    o.arch = arch;
  }
  o.batchSize = given('batch-size') ?? o.batchSize;
  o.imageSize = given('image-size') ?? o.imageSize;
  o.channels = value('channels');
  o.numClasses = value('num-classes');
  o.steps = given('steps') ?? o.steps;
  o.rounds = given('rounds') ?? o.rounds;
  o.warmup = given('warmup') ?? o.warmup;
  o.threads = capThreads(given('threads')) ?? o.threads;
  o.rssSteps = value('rss-steps');
  o.workers = given('workers') ?? o.workers;
  if (flags.floor === false) o.floor = false;
  const device = value<string>('device');
  if (!/^(cpu|cuda|cuda:\d+)$/.test(device))
    throw new UsageError(`--device must be cpu, cuda or cuda:N, got '${device}'`);
  o.device = device === 'cuda' ? 'cuda:0' : device;
  const reference = value<string>('reference');
  if (!['auto', 'none', 'pytorch'].includes(reference))
    throw new UsageError(`--reference must be auto, none or pytorch, got '${reference}'`);
  o.reference = reference as BenchOptions['reference'];
  const compile = value<string>('compile');
  if (!['auto', 'on', 'off'].includes(compile))
    throw new UsageError(`--compile must be auto, on or off, got '${compile}'`);
  if (compile === 'on' && !['w1', 'w2', 'eval'].includes(workload)) {
    throw new UsageError(`--compile on applies to the w1, w2 and eval workloads, not '${workload}'`);
  }
  o.compile = compile as BenchOptions['compile'];
  o.python = value('python');
  for (const spec of (flags['reference-env'] as string[] | undefined) ?? []) {
    const eq = spec.indexOf('=');
    if (eq < 1) throw new UsageError(`--reference-env must be NAME=VALUE, got '${spec}'`);
    o.referenceEnv = { ...(o.referenceEnv ?? {}), [spec.slice(0, eq)]: spec.slice(eq + 1) };
  }
  if (flags.data !== undefined) o.data = flags.data as string;
  for (const spec of (flags.lever as string[] | undefined) ?? []) {
    const m = /^([A-Za-z]+)=(on|off|true|false|1|0)$/.exec(spec);
    if (!m || !(LEVER_NAMES as readonly string[]).includes(m[1]!)) {
      throw new UsageError(`--lever must be NAME=on|off with NAME one of ${LEVER_NAMES.join(', ')}, got '${spec}'`);
    }
    o.levers[m[1] as keyof typeof o.levers] = ['on', 'true', '1'].includes(m[2]!);
  }
  return o;
}

async function run(argv: string[]): Promise<number> {
  const flags = parseCommandFlags(argv, flagSpecs, () => HELP);
  if (!flags) return 0;
  const o = benchOptionsFromFlags(flags);
  o.log = (line) => process.stderr.write(`sgdr bench: ${line}\n`);
  // Loaded only now, so `sgdr bench --help` and flag errors never load the addon.
  const { runBench } = await import('../bench');
  const result = await runBench(o);
  process.stdout.write((flags.json ? JSON.stringify(result) : formatResult(result)) + '\n');
  return 0;
}

/** The text output (without --json): one line per figure. */
export function formatResult(r: Record<string, unknown>): string {
  const lines: string[] = [];
  const f = (v: unknown) => (typeof v === 'number' ? String(v) : JSON.stringify(v));
  lines.push(
    `workload ${f(r.workload)}: ${f(r.arch)}, batch ${f(r.batch_size)}, ${f(r.channels)}x${f(r.image_size)}x${f(r.image_size)}, ` +
      `${f(r.threads)} thread(s), ${f(r.device)}, levers ${f(r.levers)}`,
  );
  lines.push(`ours:    ${f(r.images_per_second)} images/s`);
  const py = r.pytorch as { images_per_second: number; torch: string } | null | undefined;
  const pc = r.pytorch_compile as { images_per_second: number; compile_seconds: number | null } | null | undefined;
  if (py && pc) {
    lines.push(
      `PyTorch: ${py.images_per_second} images/s eager, ${pc.images_per_second} images/s torch.compile ` +
        `(torch ${py.torch}; inductor, compiled in ${f(pc.compile_seconds)} s)`,
    );
    lines.push(`ratio:   ${f(r.ratio)} vs eager, ${f(r.ratio_compile)} vs torch.compile (medians of paired rounds)`);
  } else if (py) {
    lines.push(
      `PyTorch: ${py.images_per_second} images/s (torch ${py.torch})\nratio:   ${f(r.ratio)} (median of paired rounds)`,
    );
    if (r.compile_skipped) lines.push(`torch.compile: not run (${f(r.compile_skipped)})`);
  } else if (r.reference_skipped) lines.push(`PyTorch: not run (${f(r.reference_skipped)})`);
  const floor = r.floor as Record<string, number> | undefined;
  if (floor)
    lines.push(
      `floor:   ${floor.floor_images_per_second} images/s at ${floor.matmul_gflops} GFLOP/s matmul; ours = ${floor.percent_of_floor}% of it`,
    );
  for (const key of ['loader', 'glue_percent', 'rss_growth_percent', 'ratio_to_model', 'page_faults_per_step']) {
    if (r[key] !== undefined) lines.push(`${key}: ${f(r[key])}`);
  }
  return lines.join('\n');
}

export const command: Command = {
  summary: 'throughput of the training step, side by side with PyTorch on the same LibTorch',
  run,
};
