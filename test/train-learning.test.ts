// Learning on real data, as PyTorch does: ResNet-18 (imagenet stem, 1 input channel) on the first
// 2,048 Fashion-MNIST training images (class-balanced subset), batch 64, SGD momentum 0.9, weight
// decay 5e-4, lr 0.05, SGDR T_0=1 T_mult=2 per batch, 7 epochs, evaluated on 1,000 test images.
// PyTorch reaches ~84% here (71% after epoch 1); the README states what this gives.
//
// On the exact path (no lever that rounds differently from PyTorch), so that the run is PyTorch's
// arithmetic on whichever LibTorch line the suite runs against. With the levers on, the same seeded
// run rounds differently from the first step, and over 7 epochs on 2,048 images that chaos moves
// the final accuracy by several points: measured 82.4% on 1.13 and 75.0% on 2.13 with the levers,
// 82.3% on 2.13 on the exact path. The levers' own correctness is test/bench-levers.test.ts.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FASHION_MNIST_DIR, runTraining } from '../lib';

process.env.SGDR_EXACT = '1'; // read when the addon loads, before runTraining

const available = fs.existsSync(DEFAULT_FASHION_MNIST_DIR);
if (!available && process.env.CI)
  throw new Error(`${DEFAULT_FASHION_MNIST_DIR} is missing: scripts/setup.sh installs dataset-fashion-mnist`);

describe.runIf(available)('learning on Fashion-MNIST', () => {
  it('7 epochs of SGDR reach >= 80% validation accuracy', async () => {
    const result = await runTraining({
      data: 'fashion-mnist',
      arch: 'resnet18',
      stem: 'imagenet',
      epochs: 7,
      batchSize: 64,
      schedule: { type: 'warm-restarts', lr: 0.05, t0: 1, tMult: 2 },
      optimizer: { type: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
      limitTrain: 2048,
      limitVal: 1000,
      augment: false,
      seed: 0,
      device: 'cpu',
    });
    const acc = result.history.map((r) => r.val_acc!);
    console.log(`val_acc per epoch: ${acc.map((a) => (a * 100).toFixed(1)).join(' ')}`);
    expect(acc[0]!).toBeGreaterThan(0.55);
    expect(acc[6]!).toBeGreaterThanOrEqual(0.8);
  }, 600_000); // ~1 minute on an idle 2-core machine; much longer when the machine is shared
});
