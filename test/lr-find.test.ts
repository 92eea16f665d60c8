// lrFind() and `sgdr lr-find`: the exponential sweep and its endpoints, fastai's debiased EMA, the
// 4x stop rule, the suggestion rules, weights and optimizer restored bit for bit, and the files.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lrFind, lrFindSchedule, openData, resnet, SGD, suggestLr } from '../lib';
import { lrFindResultOf } from '../lib/train/lr-find-file';
import { runCommand } from './helpers/cli';
import { tempDir } from './helpers/native';
import { writeIdxDataset } from './helpers/idx';

const ROOT = path.resolve(__dirname, '..');
const data = writeIdxDataset(path.join(tempDir('lr-find-data'), 'd'), 96, 40);

async function find(extra: Partial<Parameters<typeof lrFind>[0]> = {}) {
  const { train, val } = openData(`fashion-mnist:${data}`);
  const model = resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'imagenet', seed: 5 });
  const optimizer = new SGD(model, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  try {
    const before = { weights: model.stateDict(), optimizer: optimizer.stateDict(), lr: optimizer.getLr(0) };
    const result = await lrFind({ model, optimizer, train, batchSize: 16, iterations: 24, ...extra });
    return {
      result,
      before,
      after: {
        weights: model.stateDict(),
        optimizer: optimizer.stateDict(),
        lr: optimizer.getLr(0),
        training: model.training,
      },
    };
  } finally {
    model.dispose();
    train.dispose();
    val.dispose();
  }
}

describe('lrFind()', () => {
  let completed: Awaited<ReturnType<typeof find>>;

  it('sweeps exponentially from startLr to endLr, both included', () => {
    const lrs = lrFindSchedule(1e-7, 10, 100);
    expect(lrs).toHaveLength(100);
    expect(lrs[0]).toBe(1e-7);
    expect(lrs[99]).toBe(10);
    const ratio = (10 / 1e-7) ** (1 / 99);
    for (let i = 1; i < 100; i++) expect(lrs[i]! / lrs[i - 1]!).toBeCloseTo(ratio, 10);
  });

  it("on small data: every step at the planned LR, the smoothed loss is fastai's debiased EMA, and nothing is changed afterwards", async () => {
    completed = await find({ startLr: 1e-5, endLr: 1e-2, divergeFactor: 1e6 });
    const r = completed.result;
    expect(r.stopped).toBe('completed');
    expect(r.lr).toEqual(lrFindSchedule(1e-5, 1e-2, 24));
    // AvgSmoothLoss: val = lerp(loss, val, beta); value = val / (1 − beta^i).
    let val = 0;
    r.rawLoss.forEach((loss, i) => {
      val = 0.98 * val + (1 - 0.98) * loss;
      expect(r.loss[i]).toBe(val / (1 - 0.98 ** (i + 1)));
    });
    // Debiased: the first value is the first loss (up to the rounding of 0.02·loss / 0.02).
    expect(Math.abs(r.loss[0]! - r.rawLoss[0]!) / r.rawLoss[0]!).toBeLessThan(1e-15);
    // Weights, BatchNorm statistics (running means and num_batches_tracked) and optimizer restored bit for bit.
    const { before, after } = completed;
    expect([...after.weights.keys()]).toEqual([...before.weights.keys()]);
    let compared = 0;
    for (const [name, t] of before.weights) {
      expect(
        Buffer.from((after.weights.get(name)!.data as Float32Array).buffer).equals(
          Buffer.from((t.data as Float32Array).buffer),
        ),
        name,
      ).toBe(true);
      compared++;
    }
    expect(compared).toBeGreaterThan(100);
    expect(JSON.stringify(after.optimizer, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).toBe(
      JSON.stringify(before.optimizer, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
    );
    expect(after.lr).toBe(0.05);
  });

  it('stops as soon as the smoothed loss exceeds divergeFactor × its best', async () => {
    const { result: r } = await find({ startLr: 1e-3, endLr: 1e3, divergeFactor: 1.05 });
    expect(r.stopped).toBe('diverged');
    expect(r.lr.length).toBeLessThan(24);
    const last = r.loss[r.loss.length - 1]!;
    const bestBefore = Math.min(...r.loss.slice(0, -1));
    expect(!Number.isFinite(last) || last > 1.05 * bestBefore).toBe(true);
    // No earlier step met the rule.
    let best = Infinity;
    for (const v of r.loss.slice(0, -1)) {
      best = Math.min(best, v);
      expect(v).toBeLessThanOrEqual(1.05 * best);
    }
  });

  it('rejects bad options, naming them', async () => {
    await expect(find({ startLr: 0 })).rejects.toThrow('startLr must be a finite number > 0, got 0');
    await expect(find({ startLr: 1, endLr: 0.1 })).rejects.toThrow('endLr must be larger than startLr (1), got 0.1');
    await expect(find({ iterations: 1 })).rejects.toThrow('iterations must be an integer ≥ 2, got 1');
    await expect(find({ suggestion: 'valley' as never })).rejects.toThrow(
      "suggestion must be one of steepest, minimum, got 'valley'",
    );
  });
});

describe('suggestLr', () => {
  // A textbook curve: flat, then falling fastest at lr 1e-3, lowest at 1e-1, then blowing up with a dip.
  const lrs = lrFindSchedule(1e-7, 10, 81);
  const losses = lrs.map((lr) => {
    const x = Math.log10(lr);
    if (x < -1) return 2.3 - 1.5 / (1 + Math.exp(-(x + 3) * 3));
    return 0.8 + 3 * (x + 1) ** 2 - (Math.abs(x - 0.5) < 0.06 ? 1 : 0);
  });
  it('steepest: the LR of the steepest fall, ignoring dips past the minimum', () => {
    const s = suggestLr(lrs, losses, 'steepest')!;
    expect(Math.log10(s.lr)).toBeCloseTo(-3, 0);
  });
  it('minimum: a tenth of the LR at the lowest loss', () => {
    const s = suggestLr(lrs, losses, 'minimum')!;
    expect(s.lr).toBeCloseTo(lrs[s.index]! / 10, 15);
    expect(Math.log10(lrs[s.index]!)).toBeCloseTo(-1, 0);
  });
  it('none from too short a sweep', () => {
    expect(suggestLr([1e-3], [2], 'steepest')).toBeNull();
  });
});

describe('sgdr lr-find', () => {
  it('writes lr-find.json, .png and .svg with the suggestion marked, shows progress, prints the train command', async () => {
    const out = path.join(tempDir('lr-find-cli'), 'find');
    const r = await runCommand(
      process.execPath,
      [
        path.join(ROOT, 'bin/sgdr.js'),
        'lr-find',
        '--data',
        `fashion-mnist:${data}`,
        '--arch',
        'resnet18',
        '--batch-size',
        '16',
        '--iterations',
        '20',
        '--suggestion',
        'minimum',
        '--out',
        out,
      ],
      { cwd: ROOT, timeoutMs: 300_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(fs.readFileSync(path.join(out, 'lr-find.json'), 'utf8')) as {
      lr: number[];
      loss: number[];
      suggested_lr: number;
      suggested_index: number;
      method: string;
    };
    expect(doc.method).toBe('minimum');
    // 'minimum': a tenth of the LR the lowest smoothed loss was read at.
    expect(doc.suggested_lr).toBeCloseTo(doc.lr[doc.suggested_index]! / 10, 15);
    // The record reads back as the sweep it came from (what the experiment report draws).
    const back = lrFindResultOf(doc);
    expect(back).toMatchObject({ lr: doc.lr, loss: doc.loss, suggestedLr: doc.suggested_lr, method: 'minimum' });
    expect(doc.lr[0]).toBe(1e-7);
    expect(doc.lr.length).toBe(doc.loss.length);
    expect(doc.lr.length).toBeLessThanOrEqual(20);
    expect(doc.suggested_lr).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/lr-find 10\/20 {2}lr /);
    expect(r.stderr).toContain(`--scheduler warm-restarts --lr ${Number(doc.suggested_lr.toPrecision(3))}`);
    const svg = fs.readFileSync(path.join(out, 'lr-find.svg'), 'utf8');
    expect(svg).toContain('suggested LR');
    expect(svg).toContain('minimum of the smoothed loss / 10');
    expect(fs.readFileSync(path.join(out, 'lr-find.png')).subarray(1, 4).toString()).toBe('PNG');
  });

  it('a record that is not one is refused, naming the field', () => {
    const good = {
      lr: [1e-3, 1e-2],
      loss: [2, 1.5],
      raw_loss: [2, 1.4],
      suggested_lr: 1e-3,
      suggested_index: 0,
      method: 'steepest',
    };
    expect(lrFindResultOf(good).suggestedIndex).toBe(0);
    // JSON writes a non-finite loss as null: it reads back as NaN.
    expect(lrFindResultOf({ ...good, loss: [2, null] }).loss[1]).toBeNaN();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...good, lr: 'x' }, /lr must be a list of numbers/],
      [{ ...good, loss: [2] }, /lr, loss and raw_loss must be non-empty and of one length/],
      [{ ...good, method: 'valley' }, /method must be steepest or minimum/],
      [{ ...good, suggested_index: 2 }, /suggested_index must be an index into lr, got 2/],
    ];
    for (const [doc, message] of cases) expect(() => lrFindResultOf(doc, 'x/lr-find.json')).toThrow(message);
    expect(() => lrFindResultOf(null)).toThrow(
      /lr-find.json: not an LR range test record: the document must be an object/,
    );
  });

  it.each([
    [['--arch', 'resnet18'], '--out DIR is required'],
    [['--out', '/tmp/x', '--suggestion', 'valley'], "--suggestion must be steepest or minimum, got 'valley'"],
    [['--out', '/tmp/x', '--start-lr', '1', '--end-lr', '0.5'], '--end-lr must be larger than --start-lr (1), got 0.5'],
    [['--out', '/tmp/x', '--iterations', '1'], '--iterations must be >= 2, got 1'],
  ])('%j: %s', async (args, message) => {
    const r = await runCommand(process.execPath, [path.join(ROOT, 'bin/sgdr.js'), 'lr-find', ...args], { cwd: ROOT });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toContain(message);
  });
});
