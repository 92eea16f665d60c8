/**
 * The built-in demo (`npm run demo`): SGDR (T_0 = 1, T_mult = 2) against step decay on a
 * Fashion-MNIST subset with ResNet-18, 3 seeds, sized to finish within 5 minutes on 2 CPU cores.
 * The numbers behind the sizing are in docs/demo.md.
 */
import type { ExperimentConfig } from './config';
import { parseExperimentConfig } from './parse-config';

/** The demo experiment as JSON (what `sgdr demo` writes to experiment.json). */
export const DEMO_CONFIG_JSON = {
  name: 'SGDR vs step decay on Fashion-MNIST (demo)',
  description:
    'ResNet-18 on a class-balanced Fashion-MNIST subset, SGD with momentum; SGDR with T_0 = 1, T_mult = 2 ' +
    '(cycles end after epochs 1, 3 and 7) against step decay (×0.1 after epochs 4 and 6), every schedule on the same 3 seeds.',
  data: { source: 'fashion-mnist', limitTrain: 1024, limitVal: 500 },
  model: { arch: 'resnet18', stem: 'imagenet' },
  optimizer: { type: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
  epochs: 7,
  batchSize: 64,
  evalBatchSize: 250,
  seeds: [0, 1, 2],
  schedules: [
    { label: 'SGDR T0=1, Tmult=2', type: 'warm-restarts', lr: 0.05, t0: 1, tMult: 2, etaMin: 0 },
    { label: 'Step decay ×0.1 at 4, 6', type: 'multistep', lr: 0.05, milestones: [4, 6], gamma: 0.1 },
  ],
  analysis: { baseline: 'Step decay ×0.1 at 4, 6' },
  // The report needs only the numbers: finished runs drop their weight files (≈ 270 MB a run).
  keep: { checkpoint: false, best: false, snapshots: false },
};

export function demoConfig(): ExperimentConfig {
  return parseExperimentConfig(JSON.parse(JSON.stringify(DEMO_CONFIG_JSON)), 'the built-in demo config');
}
