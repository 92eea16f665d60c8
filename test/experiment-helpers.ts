/**
 * Synthetic experiment folders for the experiment and report tests: run folders laid out as
 * `sgdr compare` leaves them (run.json, metrics.jsonl rows as fit() writes them, summary.json),
 * with loss curves shaped by each schedule's LR and seed-dependent noise. No training involved.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseExperimentConfig, planRuns, writeExperimentFile, type ExperimentConfig } from '../lib/experiment';
import { scheduleFromSpec } from '../lib/schedule';
import type { EpochMetrics } from '../lib/train/metrics';
import { rng } from './helpers/idx';

export const SYNTHETIC_CONFIG = {
  name: 'Synthetic SGDR vs step',
  data: { source: 'fashion-mnist', limitTrain: 512, limitVal: 256 },
  model: { arch: 'resnet18', stem: 'imagenet' },
  optimizer: { type: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
  epochs: 7,
  batchSize: 64,
  seeds: [0, 1, 2, 3],
  schedules: [
    { label: 'SGDR T0=1, Tmult=2', type: 'warm-restarts', lr: 0.05, t0: 1, tMult: 2 },
    { label: 'Step ×0.1 at 4, 6', type: 'multistep', lr: 0.05, milestones: [4, 6], gamma: 0.1 },
    { label: 'Constant', type: 'constant', lr: 0.01 },
  ],
};

/** Writes the config's runs under outDir; `epochsOf(label, seed)` may stop a run early (unfinished). */
export function writeSyntheticExperiment(
  outDir: string,
  json: object = SYNTHETIC_CONFIG,
  epochsOf: (label: string, seed: number) => number = () => Infinity,
): ExperimentConfig {
  const config = parseExperimentConfig(JSON.parse(JSON.stringify(json)));
  writeExperimentFile(outDir, config);
  for (const run of planRuns(config, outDir)) {
    fs.mkdirSync(run.dir, { recursive: true });
    fs.writeFileSync(path.join(run.dir, 'run.json'), JSON.stringify(run.config, null, 2) + '\n');
    const schedule = scheduleFromSpec(run.config.schedule);
    const ends = new Set(
      schedule
        .cycles(config.epochs)
        .filter((c) => Number.isFinite(c.end) && c.end <= config.epochs)
        .map((c) => Math.ceil(c.end - 1e-9)),
    );
    const rand = rng(1000 * run.seed + 17 * run.scheduleIndex + 1);
    const seedShift = (rng(run.seed + 99)() - 0.5) * 0.08;
    const rows: EpochMetrics[] = [];
    const n = Math.min(config.epochs, epochsOf(run.label, run.seed));
    const ensembleProbs: number[] = [];
    for (let e = 1; e <= n; e++) {
      const lrEnd = schedule.lrAt(e - 1e-3);
      const base = 0.3 + 0.6 * Math.exp(-e / 2.5) + seedShift;
      const valLoss = base + 3 * lrEnd + (rand() - 0.5) * 0.04;
      const trainLoss = base - 0.05 + 2 * lrEnd + (rand() - 0.5) * 0.02;
      const row: EpochMetrics = {
        epoch: e,
        lr: schedule.lrAt(e - 1),
        lr_end: lrEnd,
        train_loss: trainLoss,
        train_acc: Math.min(1, 1 - trainLoss / 1.6),
        val_loss: valLoss,
        val_acc: Math.min(1, 1 - valLoss / 1.5),
        seconds: 2 + rand(),
        images_per_second: 300 + 50 * rand(),
        cycle: schedule.cycleIndexAt(e - 0.5),
        cycle_end: ends.has(e),
      };
      if (ends.has(e)) {
        ensembleProbs.push(valLoss);
        const window = ensembleProbs.slice(-3);
        row.ensemble_val_loss = window.reduce((a, b) => a + b, 0) / window.length - 0.02 * (window.length - 1);
        row.ensemble_val_acc = Math.min(1, 1 - row.ensemble_val_loss / 1.5);
        row.ensemble_size = window.length;
      }
      rows.push(row);
    }
    if (rows.length)
      fs.writeFileSync(path.join(run.dir, 'metrics.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    if (n === config.epochs)
      fs.writeFileSync(path.join(run.dir, 'summary.json'), JSON.stringify({ epochs: n, final: rows[n - 1] }) + '\n');
  }
  return config;
}
