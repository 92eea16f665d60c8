/**
 * TensorBoard event files, read back by TensorBoard's own reader (EventAccumulator from the
 * tensorboard wheel, in the venv scripts/setup-tensorboard.sh makes): a 2-schedule × 2-seed
 * `sgdr compare` writes one run folder per schedule × seed, whose epoch scalars equal
 * metrics.jsonl, whose batch scalars follow the schedule, and whose cycle ends are text. An
 * interrupted and resumed run reads back without the batches trained after its last checkpoint.
 *
 * Without the venv the reader tests skip locally (saying so) and fail under CI=true, naming the
 * script that makes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  fit,
  openData,
  resnet,
  scheduleFromSpec,
  SGD,
  WarmRestarts,
  type EpochMetrics,
  type ScheduleSpec,
} from '../lib';
import { encodeEvent, maskedCrc32c, tfRecord } from '../lib/train/tensorboard';
import { runCommand } from './helpers/cli';
import { writeIdxDataset } from './helpers/idx';
import { tempDir } from './helpers/native';

const root = path.join(__dirname, '..');
const TB_PYTHON = process.env.SGDR_TENSORBOARD_PYTHON || path.join(root, '.venv', 'tensorboard', 'bin', 'python');

function probeTensorBoard(): { ok: boolean; why: string } {
  if (!fs.existsSync(TB_PYTHON)) return { ok: false, why: `${TB_PYTHON} does not exist` };
  const r = spawnSync(
    TB_PYTHON,
    ['-c', 'from tensorboard.backend.event_processing.event_accumulator import EventAccumulator'],
    { encoding: 'utf8', timeout: 120_000 },
  );
  return {
    ok: r.status === 0,
    why: r.error ? r.error.message : (r.stderr || '').trim().split('\n').pop() || `exit ${r.status}`,
  };
}

const probe = probeTensorBoard();
if (!probe.ok) {
  const why = `TensorBoard's reader is not available (${probe.why}); make it with: bash scripts/setup-tensorboard.sh`;
  if (process.env.CI) throw new Error(`${why} — CI must run the TensorBoard reader tests`);
  console.warn(`skipping the TensorBoard reader tests: ${why}`);
}

interface ReadBack {
  scalars: Record<string, Array<[number, number]>>;
  texts: Record<string, Array<[number, string]>>;
}

/** EventAccumulator over each folder: every scalar (step, value) and every text tensor, no sampling. */
async function readEvents(dirs: string[]): Promise<ReadBack[]> {
  const script = `
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util
out = []
for d in sys.argv[1:]:
    ea = EventAccumulator(d, size_guidance={"scalars": 0, "tensors": 0})
    ea.Reload()
    tags = ea.Tags()
    out.append({
        "scalars": {t: [[e.step, e.value] for e in ea.Scalars(t)] for t in tags["scalars"]},
        "texts": {t: [[e.step, tensor_util.make_ndarray(e.tensor_proto).item().decode()] for e in ea.Tensors(t)] for t in tags["tensors"]},
    })
print(json.dumps(out))`;
  const r = await runCommand(TB_PYTHON, ['-c', script, ...dirs], { timeoutMs: 170_000 });
  if (r.status !== 0) throw new Error(`EventAccumulator failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ReadBack[];
}

const readRows = (dir: string) =>
  fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EpochMetrics);

/**
 * Every number of every metrics.jsonl row, as float32 (TensorBoard's simple_value), by epoch/<key>,
 * at the step of the epoch's last batch (epoch · K).
 */
function expectEpochScalarsEqualMetrics(read: ReadBack, rows: EpochMetrics[], batches: number): void {
  const expected: Record<string, Array<[number, number]>> = {};
  for (const row of rows) {
    for (const [key, value] of Object.entries(row)) {
      if (typeof value !== 'number' && typeof value !== 'boolean') continue;
      (expected[`epoch/${key}`] ??= []).push([
        row.epoch * batches,
        Math.fround(typeof value === 'boolean' ? Number(value) : value),
      ]);
    }
  }
  const got = Object.fromEntries(Object.entries(read.scalars).filter(([t]) => t.startsWith('epoch/')));
  expect(got).toEqual(expected);
}

describe('TensorBoard event files: framing', () => {
  it('TFRecord: uint64 length, masked CRC32C of it, the data, masked CRC32C of the data', () => {
    // CRC32C's check value (RFC 3720 / iSCSI): "123456789" -> 0xE3069283, masked as TFRecord does.
    const crc = 0xe3069283;
    expect(maskedCrc32c(Buffer.from('123456789'))).toBe(((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0);
    const data = encodeEvent({ wallTime: 1.5, step: 3, values: [{ tag: 'a', scalar: 0.25 }] });
    const rec = tfRecord(data);
    expect(rec.length).toBe(8 + 4 + data.length + 4);
    expect(rec.readBigUInt64LE(0)).toBe(BigInt(data.length));
    expect(rec.readUInt32LE(8)).toBe(maskedCrc32c(rec.subarray(0, 8)));
    expect(rec.readUInt32LE(12 + data.length)).toBe(maskedCrc32c(data));
  });
});

const work = tempDir('tensorboard');
const data = writeIdxDataset(path.join(work, 'data'), 64, 32);

describe('the per-batch accuracy batch/accuracy logs', () => {
  it("is each batch's: weighted by batch size, the batches give the epoch's train_acc", async () => {
    const { train, val } = openData(`fashion-mnist:${data}`, { augment: false });
    const model = resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'imagenet', seed: 5 });
    const seen = new Map<string, number>();
    try {
      // 64 examples in batches of 24: 24, 24 and 16, so the weights matter.
      const r = await fit({
        model,
        optimizer: new SGD(model, { lr: 0.02, momentum: 0.9 }),
        schedule: new WarmRestarts({ lr: 0.02, t0: 1, tMult: 1 }),
        train,
        val,
        epochs: 2,
        batchSize: 24,
        seed: 0,
        callbacks: { onBatchEnd: (p) => seen.set(`${p.epoch}:${p.batch}`, p.accuracy * (p.batch === 3 ? 16 : 24)) },
      });
      let checked = 0;
      for (const row of r.history) {
        const correct = [1, 2, 3].map((b) => seen.get(`${row.epoch}:${b}`));
        if (correct.some((c) => c === undefined)) continue; // an update dropped while JS was busy
        checked++;
        expect(correct.every((c) => Math.abs(c! - Math.round(c!)) < 1e-9)).toBe(true);
        expect(correct.reduce((a, b) => a! + b!, 0)! / 64).toBeCloseTo(row.train_acc, 12);
      }
      expect(checked).toBeGreaterThan(0);
    } finally {
      model.dispose();
      train.dispose();
      val.dispose();
    }
  }, 120_000);
});

describe.runIf(probe.ok)("TensorBoard's EventAccumulator reads our event files", () => {
  it('sgdr compare, 2 schedules × 2 seeds × 2 epochs: one run folder each; epoch scalars = metrics.jsonl; batch LR = the schedule', async () => {
    const config = {
      name: 'tensorboard overlay',
      data: { source: `fashion-mnist:${data}`, augment: false },
      model: { arch: 'resnet18', stem: 'imagenet' },
      optimizer: { type: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
      epochs: 2,
      batchSize: 16,
      seeds: [0, 1],
      schedules: [
        { label: 'SGDR', type: 'warm-restarts', lr: 0.05, t0: 1, tMult: 1 },
        { label: 'Step', type: 'step', lr: 0.05, stepSize: 1, gamma: 0.1 },
      ],
    };
    const configFile = path.join(work, 'experiment.json');
    fs.writeFileSync(configFile, JSON.stringify(config));
    const out = path.join(work, 'exp');
    const r = await runCommand(
      process.execPath,
      [
        path.join(root, 'bin', 'sgdr.js'),
        'compare',
        '--config',
        configFile,
        '--out',
        out,
        '--jobs',
        '2',
        '--threads',
        '1',
      ],
      { cwd: root, timeoutMs: 300_000, env: { ...process.env, SGDR_QUIET: '1' } },
    );
    expect(r.status, r.stderr).toBe(0);
    const runs = ['sgdr', 'step'].flatMap((s) =>
      [0, 1].map((seed) => ({
        dir: path.join(out, 'runs', s, `seed-${seed}`),
        schedule: config.schedules[s === 'sgdr' ? 0 : 1]!,
      })),
    );
    for (const run of runs)
      expect(
        fs.readdirSync(run.dir).filter((f) => f.startsWith('events.out.tfevents.')),
        run.dir,
      ).toHaveLength(1);
    const read = await readEvents(runs.map((x) => x.dir));
    const batches = 64 / 16;
    read.forEach((rb, i) => {
      const run = runs[i]!;
      const rows = readRows(run.dir);
      expect(rows).toHaveLength(2);
      expectEpochScalarsEqualMetrics(rb, rows, batches);
      // Per batch, at step = batches trained: the LR is the schedule's at t = (step - 1) / K.
      const schedule = scheduleFromSpec(run.schedule as ScheduleSpec);
      const lr = rb.scalars['batch/lr']!;
      expect(lr.length).toBeGreaterThanOrEqual(2); // progress updates may be dropped when JS is busy; most arrive
      for (const [step, value] of lr) {
        expect(step).toBeGreaterThanOrEqual(1);
        expect(step).toBeLessThanOrEqual(2 * batches);
        expect(value, `${run.dir} batch ${step}`).toBe(Math.fround(schedule.lrAt((step - 1) / batches)));
      }
      expect(rb.scalars['batch/loss']!.map(([s]) => s)).toEqual(lr.map(([s]) => s));
      for (const [, acc] of rb.scalars['batch/accuracy']!) expect(acc >= 0 && acc <= 1).toBe(true);
      for (const [step, c] of rb.scalars['batch/cycle']!) expect(c).toBe(schedule.cycleIndexAt((step - 1) / batches));
      // Cycle ends: text at the epoch that ends the cycle (SGDR T_0 = 1: every epoch; step decay: none).
      if (run.schedule.type === 'warm-restarts') {
        expect(rb.texts.cycle_end!.map(([s]) => s)).toEqual([batches, 2 * batches]);
        expect(rb.texts.cycle_end![1]![1]).toMatch(
          /^cycle 2 \(T_i = 1 epochs\) ended with epoch 2; val_loss \d+\.\d{4}, val_acc [\d.]+%; snapshot snapshot-cycle-2\.pth; ensemble of 2: val_loss/,
        );
      } else {
        expect(rb.texts.cycle_end).toBeUndefined();
      }
    });
    // The seeds of one schedule differ (they are separate runs TensorBoard can overlay).
    expect(read[0]!.scalars['epoch/val_loss']).not.toEqual(read[1]!.scalars['epoch/val_loss']);
  }, 400_000);

  it('an interrupted run resumed mid-epoch: TensorBoard drops the batches after the checkpoint, no step twice', async () => {
    const dir = tempDir('tensorboard-resume');
    const go = async (signal?: AbortSignal, onBatch?: (epoch: number, batch: number) => void) => {
      const { train, val } = openData(`fashion-mnist:${data}`, { augment: false });
      const model = resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'imagenet', seed: 2 });
      try {
        return await fit({
          model,
          optimizer: new SGD(model, { lr: 0.05, momentum: 0.9 }),
          schedule: new WarmRestarts({ lr: 0.05, t0: 1, tMult: 2 }),
          train,
          val,
          epochs: 3,
          batchSize: 16,
          seed: 1,
          outDir: dir,
          resume: true,
          signal,
          callbacks: onBatch ? { onBatchEnd: (p) => onBatch(p.epoch, p.batch) } : undefined,
        });
      } finally {
        model.dispose();
        train.dispose();
        val.dispose();
      }
    };
    // Stopped mid-epoch 2 (a checkpoint of that position); its checkpoint and metrics kept aside.
    const first = new AbortController();
    expect(
      (
        await go(first.signal, (epoch, batch) => {
          if (epoch >= 2 && batch >= 2) first.abort();
        })
      ).aborted,
    ).toBe(true);
    const kept = ['checkpoint.pth', 'metrics.jsonl'].map((f) => [f, fs.readFileSync(path.join(dir, f))] as const);
    // Resumed, and stopped again in epoch 3: its event file now holds epoch 2's end and more batches.
    const second = new AbortController();
    expect(
      (
        await go(second.signal, (epoch, batch) => {
          if (epoch >= 3 && batch >= 2) second.abort();
        })
      ).aborted,
    ).toBe(true);
    // As if that second process had been killed (SIGKILL) before it wrote a checkpoint: back to the first.
    for (const [f, bytes] of kept) fs.writeFileSync(path.join(dir, f), bytes);
    const done = await go();
    expect(done.history).toHaveLength(3);
    const files = fs
      .readdirSync(dir)
      .filter((f) => f.startsWith('events.out.tfevents.'))
      .sort();
    expect(files).toHaveLength(3);
    const [rb] = await readEvents([dir]);
    // Epoch 2 and the batches after the first stop were logged twice; TensorBoard keeps the last run's.
    expectEpochScalarsEqualMetrics(rb!, readRows(dir), 4);
    const steps = rb!.scalars['batch/loss']!.map(([s]) => s);
    expect(new Set(steps).size).toBe(steps.length);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    expect(steps[steps.length - 1]).toBe(3 * 4);
  }, 300_000);
});
