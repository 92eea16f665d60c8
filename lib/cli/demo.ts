/**
 * `sgdr demo` (`npm run demo`): the built-in experiment, SGDR (T_0 = 1, T_mult = 2) against step
 * decay with ResNet-18 on a Fashion-MNIST subset over 3 seeds, sized for 5 minutes on 2 CPU cores.
 * Writes the runs, figures and report.html into --out (default runs/demo) and ends by printing
 * where the report is. Run it again to resume or, once finished, just to rebuild the report.
 */
import { DEMO_CONFIG_JSON, demoConfig } from '../experiment';
import { flagValue, formatFlags, parseCommandFlags, type FlagSpecs } from './args';
import { compareAndReport } from './compare';
import type { Command } from './main';
import { runtimeFlags } from './runtime-flags';

export const flagSpecs: FlagSpecs = {
  out: { kind: 'string', help: 'experiment folder', default: 'runs/demo' },
  ...runtimeFlags('demo', 'jobs', 'threads', 'device', 'workers'),
  'print-config': {
    kind: 'boolean',
    help: 'print the demo config (a starting point for sgdr compare --config) and exit',
  },
  json: { kind: 'boolean', help: 'print results.json to stdout at the end' },
};

function help(): string {
  return [
    'usage: sgdr demo [--out DIR] [--jobs N]',
    '',
    `${DEMO_CONFIG_JSON.description}`,
    '2 to 4 minutes on 2 CPU cores (docs/demo.md). Prints where the HTML report is at the end.',
    '',
    formatFlags(flagSpecs),
  ].join('\n');
}

export const command: Command = {
  summary: 'the built-in experiment: SGDR vs step decay, ResNet-18, Fashion-MNIST subset, 3 seeds (2–4 min on 2 cores)',
  async run(argv) {
    const flags = parseCommandFlags(argv, flagSpecs, help);
    if (!flags) return 0;
    if (flags['print-config']) {
      process.stdout.write(JSON.stringify(DEMO_CONFIG_JSON, null, 2) + '\n');
      return 0;
    }
    const config = demoConfig();
    const outDir = flagValue<string>(flags, flagSpecs, 'out');
    return compareAndReport({ config, outDir, flags, specs: flagSpecs });
  },
};
