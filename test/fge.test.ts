// Fast Geometric Ensembling: the LR equals fge.py's (utils.cyclic_learning_rate, per batch at
// iter/num_iters), models are collected where fge.py collects them (epoch % c + 1 == c / 2), and the
// FGE ensemble's prediction is the mean of its members' softmax outputs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  cycleEnds,
  FgeSchedule,
  fit,
  openData,
  readTorchFile,
  resnet,
  scheduleFromSpec,
  SGD,
  Tensor,
  type TensorRecord,
} from '../lib';
import { removeTempDirs, tempDir } from './helpers/native';
import { writeIdxDataset } from './helpers/idx';
import { PYTHON, runPython } from './helpers/python';
import { runCommand } from './helpers/cli';

const ROOT = path.resolve(__dirname, '..');
const sgdr = (args: string[]) => runCommand(process.execPath, [path.join(ROOT, 'bin/sgdr.js'), ...args], { cwd: ROOT });

afterAll(removeTempDirs);

// dnn-mode-connectivity utils.py's cyclic_learning_rate and fge.py's training loop, transcribed: the
// LR of every batch and the epochs after which a model joins the ensemble.
const FGE_PY = `
import json, sys
def cyclic_learning_rate(epoch, cycle, alpha_1, alpha_2):
    def schedule(iter):
        t = ((epoch % cycle) + iter) / cycle
        if t < 0.5:
            return alpha_1 * (1.0 - 2.0 * t) + alpha_2 * 2.0 * t
        else:
            return alpha_1 * (2.0 * t - 1.0) + alpha_2 * (2.0 - 2.0 * t)
    return schedule
epochs, cycle, lr1, lr2, num_iters = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
lrs, collected = [], []
for epoch in range(epochs):
    s = cyclic_learning_rate(epoch, cycle, lr1, lr2)
    lrs += [s(i / num_iters) for i in range(num_iters)]
    if (epoch % cycle + 1) == cycle // 2:
        collected.append(epoch + 1)
print(json.dumps({"lr": lrs, "collected": collected}))
`;

describe('FGE schedule', () => {
  it.runIf(fs.existsSync(PYTHON))("equals fge.py's LR batch by batch and collects after the same epochs", async () => {
    for (const [cycle, K] of [
      [2, 5],
      [4, 7],
      [6, 3],
    ] as const) {
      const epochs = 3 * cycle;
      const ref = JSON.parse(
        (await runPython(FGE_PY, [String(epochs), String(cycle), '0.05', '0.0005', String(K)])).stdout,
      ) as { lr: number[]; collected: number[] };
      const s = new FgeSchedule({ lr: 0.05, lr2: 0.0005, cycle, stepsPerEpoch: K });
      let worst = 0;
      for (let e = 0; e < epochs; e++)
        for (let i = 0; i < K; i++) worst = Math.max(worst, Math.abs(s.lrAt(e + i / K) - ref.lr[e * K + i]!));
      expect(worst).toBeLessThan(1e-15);
      expect([...cycleEnds(s, epochs).keys()]).toEqual(ref.collected);
    }
  });

  it('is continuous (no jump at its cycle boundaries), round-trips its spec, and names bad values', () => {
    const s = new FgeSchedule({ lr: 0.1, lr2: 0.001, cycle: 4 });
    expect(s.lrAt(0)).toBe(0.1);
    expect(s.lrAt(2)).toBeCloseTo(0.001, 15);
    expect(s.lrAt(4)).toBe(0.1);
    expect(s.cycles(8).map((c) => [c.start, c.end])).toEqual([
      [0, 2],
      [2, 6],
      [6, 10],
    ]);
    expect(scheduleFromSpec(s.spec()).spec()).toEqual(s.spec());
    expect(() => new FgeSchedule({ lr: 0.1, lr2: 0.001, cycle: 3 })).toThrow(
      /cycle must be an even integer ≥ 2 .* got 3/,
    );
    expect(() => new FgeSchedule({ lr: 0.01, lr2: 0.1, cycle: 2 })).toThrow(/lr2 must be ≤ lr \(0.01\)/);
  });

  it('sgdr schedule --scheduler fge prints it; a missing --fge-lr2 is named', async () => {
    const out = await sgdr([
      'schedule',
      '--scheduler',
      'fge',
      '--lr',
      '0.05',
      '--fge-lr2',
      '0.0005',
      '--fge-cycle',
      '2',
      '--epochs',
      '2',
      '--steps-per-epoch',
      '2',
      '--json',
    ]);
    expect(out.status).toBe(0);
    const lr = (JSON.parse(out.stdout) as { lr: number[] }).lr;
    expect(lr.map((v) => Number(v.toPrecision(12)))).toEqual([0.05, 0.02525, 0.0005, 0.02525]);
    const bad = await sgdr(['schedule', '--scheduler', 'fge', '--lr', '0.05', '--fge-cycle', '2', '--epochs', '2']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--fge-lr2 is required for --scheduler fge/);
  });
});

describe("FGE in fit(): the ensemble is the mean of the members' softmax", () => {
  it('cycle 2 over 4 epochs: models after epochs 1 and 3, ensemble of both (all collected by default)', async () => {
    const dir = tempDir('fge-fit');
    const data = writeIdxDataset(path.join(dir, 'data'), 96, 40);
    const { train, val } = openData(`fashion-mnist:${data}`, { augment: false });
    const model = resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'imagenet', seed: 5 });
    const optimizer = new SGD(model, { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
    const out = path.join(dir, 'run');
    const r = await fit({
      model,
      optimizer,
      schedule: new FgeSchedule({ lr: 0.05, lr2: 0.0005, cycle: 2 }),
      train,
      val,
      epochs: 4,
      batchSize: 16,
      outDir: out,
    });
    expect(r.snapshots.map((s) => s.epoch)).toEqual([1, 3]);
    const row = r.history[2]!;
    expect(row.ensemble_size).toBe(2);

    // Each member's softmax, recomputed from its saved weights, then averaged.
    const n = val.size;
    const images = new Float32Array(n * 28 * 28);
    for (let i = 0; i < n; i++) {
      const t = val.get(i);
      images.set(t.toFloat32Array(), i * 28 * 28);
      t.dispose();
    }
    const labels = val.labels();
    const input = Tensor.fromArray(images, [n, 1, 28, 28]);
    const mean = new Float64Array(n * 10);
    for (const s of r.snapshots) {
      await model.loadStateDict(path.join(out, s.file!));
      model.eval();
      const logits = await model.forward(input);
      const z = logits.toFloat32Array();
      logits.dispose();
      const saved = ((await readTorchFile(path.join(out, s.probabilities!))) as Map<string, TensorRecord>).get(
        'probabilities',
      )!.data as Float32Array;
      for (let i = 0; i < n; i++) {
        const row = z.subarray(i * 10, i * 10 + 10);
        const max = Math.max(...row);
        const e = Array.from(row, (v) => Math.exp(v - max));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let c = 0; c < 10; c++) {
          expect(Math.abs(e[c]! / sum - saved[i * 10 + c]!)).toBeLessThan(1e-5);
          mean[i * 10 + c]! += e[c]! / sum / r.snapshots.length;
        }
      }
    }
    let nll = 0;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      // The ensemble's loss clamps the true class's probability at 1e-12, as ensembleMetrics does (a few
      // epochs of 96 images leave some examples confidently wrong).
      nll -= Math.log(Math.max(mean[i * 10 + labels[i]!]!, 1e-12));
      let best = 0;
      for (let c = 1; c < 10; c++) if (mean[i * 10 + c]! > mean[i * 10 + best]!) best = c;
      if (best === labels[i]) correct++;
    }
    expect(Math.abs(nll / n - row.ensemble_val_loss!)).toBeLessThan(1e-5);
    expect(row.ensemble_val_acc).toBe(correct / n);
    input.dispose();
    model.dispose();
    train.dispose();
    val.dispose();
  }, 240_000);
});
