// Every command's --help prints the defaults a run really uses (issue 13): the parser and the help
// text read one flag table per command, and the runtime flags (--batch-size, --threads, --device,
// --workers, --jobs) come from one table for all commands (lib/cli/runtime-flags.ts). Each test
// takes the defaults --help prints and compares them with what the command resolves from no flags.
import { DEFAULT_DIST_TIMEOUT_SECONDS } from '../lib/distributed/options';
import { DEFAULT_OVERLAP } from '../lib/train/fit-options';
import * as os from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import { command as bench, benchOptionsFromFlags, flagSpecs as benchFlags } from '../lib/cli/bench';
import { command as compare, experimentRuntime, flagSpecs as compareFlags } from '../lib/cli/compare';
import { command as demo, flagSpecs as demoFlags } from '../lib/cli/demo';
import { command as lrFind, flagSpecs as lrFindFlags, lrFindSettings } from '../lib/cli/lr-find';
import { command as schedule } from '../lib/cli/schedule';
import { scheduleFlagSpecs, scheduleFromFlags } from '../lib/cli/schedule-flags';
import { command as train, configFromFlags, flagSpecs as trainFlags } from '../lib/cli/train';
import { runtimeFlagNames, runtimeFlags, type RuntimeCommand } from '../lib/cli/runtime-flags';
import type { FlagSpecs } from '../lib/cli/args';
import type { Command } from '../lib/cli/main';
import { WORKLOAD_DEFAULTS, WORKLOADS } from '../lib/bench/options';
import { DEFAULT_PYTHON } from '../lib/bench/pytorch';
import { LR_FIND_DEFAULTS } from '../lib/train/lr-find';
import { DEFAULT_SGD_MOMENTUM } from '../lib/train/run';

/** What `sgdr <command> --help` prints (run in this process, as bin/sgdr.js runs it). */
async function helpOf(command: Command): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    expect(await command.run(['--help'])).toBe(0);
  } finally {
    spy.mockRestore();
  }
  return out;
}

/**
 * The `--name <kind>   help (default X)` lines of a --help text: flag → X for one-value defaults
 * ("5e-4 for sgd, 0.01 for adamw" is prose), and flag → text for `(default: text)`.
 */
function shownDefaults(help: string): { values: Record<string, string>; texts: Record<string, string> } {
  const values: Record<string, string> = {};
  const texts: Record<string, string> = {};
  for (const line of help.split('\n')) {
    const value = line.match(/^ {2}--([a-z0-9-]+)(?: <\w+>)? .*\(default ([^():\s,]+)\)$/);
    if (value) values[value[1]!] = value[2]!;
    const text = line.match(/^ {2}--([a-z0-9-]+)(?: <\w+>)? .*\(default: (.+)\)$/);
    if (text) texts[text[1]!] = text[2]!;
  }
  return { values, texts };
}

/** Every one-value default --help shows is the value the command used, and none goes unchecked. */
function expectShownAreUsed(shown: Record<string, string>, used: Record<string, unknown>, skip: string[] = []): void {
  expect(Object.keys(shown).length).toBeGreaterThan(0);
  for (const [flag, text] of Object.entries(shown)) {
    if (skip.includes(flag)) continue;
    expect(flag in used, `--${flag} prints a default the test does not check`).toBe(true);
    expect(String(used[flag]), `--${flag}`).toBe(text);
  }
}

const commands: Array<[RuntimeCommand, Command, FlagSpecs]> = [
  ['train', train, trainFlags],
  ['lr-find', lrFind, lrFindFlags],
  ['bench', bench, benchFlags],
  ['compare', compare, compareFlags],
  ['demo', demo, demoFlags],
];

describe('the runtime flags: one table for every command', () => {
  it.each(commands)(
    'sgdr %s takes its runtime flags from the table and prints their defaults',
    async (name, cmd, specs) => {
      const names = runtimeFlagNames(name);
      expect(names.length).toBeGreaterThan(0);
      const rows = runtimeFlags(name, ...names);
      const { values, texts } = shownDefaults(await helpOf(cmd));
      for (const flag of names) {
        expect(specs[flag], `--${flag}`).toEqual(rows[flag]);
        const row = rows[flag]!;
        if (row.default !== undefined) expect(values[flag], `--${flag}`).toBe(String(row.default));
        else expect(texts[flag], `--${flag}`).toBe(row.defaultText);
      }
    },
  );

  it('commands that differ in a default differ in the one table, and keep what they had', () => {
    expect(runtimeFlags('train', 'device').device!.default).toBe('auto');
    expect(runtimeFlags('bench', 'device').device!.default).toBe('cpu');
    expect(runtimeFlags('compare', 'jobs').jobs!.default).toBe(1);
    expect(runtimeFlags('demo', 'jobs').jobs!.default).toBe(2);
    expect(runtimeFlags('train', 'batch-size')['batch-size']!.default).toBe(64);
    expect(runtimeFlags('bench', 'batch-size')['batch-size']!.defaultText).toBe("the workload's");
    expect(() => runtimeFlags('compare', 'batch-size')).toThrow(/sgdr compare takes no --batch-size/);
  });
});

describe('sgdr train --help and a run agree', () => {
  it('every default --help prints is the value a run with no flags uses', async () => {
    const { values: shown, texts } = shownDefaults(await helpOf(train));
    // The three: --help said 0.1 / 10 / 1 while a run used 0.05 / 1 / 2.
    expect(shown).toMatchObject({ lr: '0.05', t0: '1', 't-mult': '2' });
    const config = configFromFlags({});
    const schedule = config.schedule as {
      type: string;
      lr: number;
      t0: number;
      tMult: number;
      etaMin?: number;
      decay?: number;
      warmup?: number;
      kDecay?: number;
    };
    expectShownAreUsed(
      shown,
      {
        data: config.data,
        arch: config.arch,
        stem: config.stem,
        epochs: config.epochs,
        'batch-size': config.batchSize,
        scheduler: schedule.type,
        lr: schedule.lr,
        t0: schedule.t0,
        't-mult': schedule.tMult,
        // The library's own defaults when a flag is not given: the schedule's etaMin/decay/warmup, SGD's momentum.
        'eta-min': schedule.etaMin ?? 0,
        decay: schedule.decay ?? 1,
        warmup: schedule.warmup ?? 0,
        optimizer: config.optimizer?.type,
        momentum: config.optimizer?.momentum ?? DEFAULT_SGD_MOMENTUM,
        seed: config.seed,
        device: config.device,
        'k-decay': schedule.kDecay ?? 1,
        ensemble: config.ensemble ?? 'last',
        'keep-snapshots': config.keep?.snapshots ?? true,
        'swa-cycle': (config.swa as { cycle?: number } | undefined)?.cycle ?? 1,
        // Data parallelism's: what fit() and ProcessGroup.connect take when no value is given.
        overlap: DEFAULT_OVERLAP,
        'dist-timeout': DEFAULT_DIST_TIMEOUT_SECONDS,
      },
      ['gamma'], // step/multistep only: checked below
    );
    const step = configFromFlags({ scheduler: 'step', 'step-size': 2 }).schedule as { gamma?: number };
    expect(String(step.gamma ?? 0.1)).toBe(shown.gamma);
    // Defaults that are not one value are left to the library: nothing is filled in for them.
    expect(texts).toMatchObject({ threads: "the machine's cores", workers: 'automatic' });
    expect([config.threads, config.workers, config.evalBatchSize, config.limitTrain, config.imageSize]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe("sgdr schedule's help defaults are the ones it uses", () => {
  it('lr, t0, t-mult and the scheduler', async () => {
    const { values: shown } = shownDefaults(await helpOf(schedule));
    expect(shown).toMatchObject({ lr: '0.1', t0: '10', 't-mult': '1', scheduler: 'warm-restarts' });
    const s = scheduleFromFlags({}, scheduleFlagSpecs);
    expect(s.lrAt(0)).toBe(Number(shown.lr));
    expect((s.spec() as { t0: number }).t0).toBe(Number(shown.t0));
    expect(
      s
        .cycles(30)
        .map((c) => c.length)
        .slice(0, 3),
    ).toEqual([10, 10, 10]); // T_mult 1
  });
});

describe('sgdr lr-find --help and a sweep agree', () => {
  it("every default --help prints is the sweep's, the model's and the data's as they are used", async () => {
    const { values: shown, texts } = shownDefaults(await helpOf(lrFind));
    const o = lrFindSettings({ out: 'unused' });
    expectShownAreUsed(shown, {
      data: o.data,
      arch: o.arch,
      stem: o.stem,
      'batch-size': o.batchSize,
      'start-lr': o.startLr,
      'end-lr': o.endLr,
      iterations: o.iterations,
      beta: o.beta,
      'diverge-factor': o.divergeFactor,
      suggestion: o.suggestion,
      optimizer: o.optimizer.type,
      // optimizerFor() (lib/train/run.ts) fills in SGD's momentum, as for sgdr train.
      momentum: o.optimizer.momentum ?? DEFAULT_SGD_MOMENTUM,
      seed: o.seed,
      device: o.device,
    });
    // The sweep's defaults are the library's (lrFind() uses the same object).
    expect([o.startLr, o.endLr, o.iterations, o.beta, o.divergeFactor, o.suggestion, o.seed]).toEqual([
      LR_FIND_DEFAULTS.startLr,
      LR_FIND_DEFAULTS.endLr,
      LR_FIND_DEFAULTS.iterations,
      LR_FIND_DEFAULTS.beta,
      LR_FIND_DEFAULTS.divergeFactor,
      LR_FIND_DEFAULTS.suggestion,
      LR_FIND_DEFAULTS.seed,
    ]);
    expect(texts).toMatchObject({ threads: "the machine's cores", workers: 'automatic', 'limit-train': 'all' });
    expect([o.threads, o.workers, o.limitTrain, o.imageSize]).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe('sgdr bench --help and a measurement agree', () => {
  it('every default --help prints is an option the run measures with', async () => {
    const { values: shown, texts } = shownDefaults(await helpOf(bench));
    const o = benchOptionsFromFlags({});
    expectShownAreUsed(shown, {
      workload: o.workload,
      channels: o.channels,
      'num-classes': o.numClasses,
      device: o.device,
      reference: o.reference,
      compile: o.compile,
      python: o.python,
      'rss-steps': o.rssSteps,
    });
    expect(o.python).toBe(DEFAULT_PYTHON);
    // The described ones: the machine's cores, automatic loader threads, and the workload's sizes.
    expect(texts).toMatchObject({
      threads: "the machine's cores",
      workers: 'automatic',
      'batch-size': "the workload's",
    });
    expect(o.threads).toBe(os.cpus().length || 1);
    expect(o.workers).toBe(0);
    for (const workload of WORKLOADS) {
      const w = benchOptionsFromFlags({ workload });
      const d = WORKLOAD_DEFAULTS[workload];
      expect([w.arch, w.batchSize, w.imageSize, w.steps, w.rounds, w.warmup], workload).toEqual([
        d.arch,
        d.batchSize,
        d.imageSize,
        d.steps,
        d.rounds,
        d.warmup,
      ]);
    }
    expect(Object.keys(texts)).toEqual(
      expect.arrayContaining(['arch', 'batch-size', 'image-size', 'steps', 'rounds', 'warmup']),
    );
  });
});

describe('sgdr compare and sgdr demo: --help and the experiment runner agree', () => {
  it.each([
    ['compare', compare, compareFlags, 1],
    ['demo', demo, demoFlags, 2],
  ] as const)('sgdr %s runs --jobs %i at once unless told otherwise', async (_name, cmd, specs, jobs) => {
    const { values: shown, texts } = shownDefaults(await helpOf(cmd));
    expect(shown.jobs).toBe(String(jobs));
    const runtime = experimentRuntime({}, specs);
    expect(runtime.jobs).toBe(jobs);
    // Threads, device and loader threads left to the runner and the config, as the help says.
    expect(texts).toMatchObject({
      threads: "the machine's cores / jobs",
      device: "the config's, else auto",
      workers: 'automatic',
    });
    expect([runtime.threads, runtime.device, runtime.workers]).toEqual([undefined, undefined, undefined]);
  });

  it('an explicit --jobs wins over the default', () => {
    expect(experimentRuntime({ jobs: 3 }, demoFlags).jobs).toBe(3);
  });
});
