/**
 * `sgdr compare` end to end on tiny generated IDX data: every schedule × seed trained in child
 * processes (--jobs 2), the report written, the aggregate equal to a recomputation from the runs'
 * metrics.jsonl, finished runs skipped, interrupted ones resumed, and bad configs refused with one
 * line naming the key path. Uses the compiled CLI (npm test builds dist/ first).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCommand, type CommandResult } from './helpers/cli';
import { writeIdxDataset } from './helpers/idx';
import { tempDir } from './helpers/native';

const root = path.join(__dirname, '..');
const bin = path.join(root, 'bin', 'sgdr.js');
const env = { ...process.env, CI: '1' };

function sgdr(args: string[]): Promise<CommandResult> {
  return runCommand(process.execPath, [bin, ...args], { cwd: root, env, timeoutMs: 170_000 });
}

const readRows = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + (x - avg(xs)) ** 2, 0) / (xs.length - 1));

describe('sgdr compare', () => {
  let work: string;
  let configFile: string;
  let config: Record<string, any>;
  const out = () => path.join(work, 'exp');

  beforeAll(() => {
    work = tempDir('compare');
    const data = writeIdxDataset(path.join(work, 'data'), 160, 80);
    config = {
      name: 'tiny compare',
      data: { source: `fashion-mnist:${data}`, limitTrain: 96, limitVal: 40, augment: false },
      model: { arch: 'resnet18', stem: 'imagenet' },
      optimizer: { type: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
      epochs: 2,
      batchSize: 32,
      seeds: [0, 1],
      schedules: [
        { label: 'SGDR T0=1, Tmult=1', type: 'warm-restarts', lr: 0.05, t0: 1, tMult: 1 },
        { label: 'Step', type: 'step', lr: 0.05, stepSize: 1, gamma: 0.1 },
      ],
    };
    configFile = path.join(work, 'experiment.json');
    fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  });

  it('trains every schedule × seed and writes the report; the aggregate equals a recomputation', async () => {
    const r = await sgdr(['compare', '--config', configFile, '--out', out(), '--jobs', '2', '--threads', '1']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/4 runs × 2 epochs; 2 at a time with 1 thread\(s\) each/);
    expect(r.stderr).toMatch(/SGDR T0=1, Tmult=1 · seed 1\s+epoch 2\/2 .*cycle end .*ensemble/);
    expect(r.stderr).toContain(`report: ${path.join(out(), 'report.html')}`);

    const runDirs = ['sgdr-t0-1-tmult-1', 'step'].flatMap((s) =>
      [0, 1].map((seed) => path.join(out(), 'runs', s, `seed-${seed}`)),
    );
    for (const dir of runDirs) {
      for (const f of ['run.json', 'metrics.jsonl', 'summary.json', 'checkpoint.pth'])
        expect(fs.existsSync(path.join(dir, f)), `${dir}/${f}`).toBe(true);
      expect(readRows(path.join(dir, 'metrics.jsonl')).map((row) => row.epoch)).toEqual([1, 2]);
    }
    for (const f of ['report.html', 'results.json', 'results.csv', 'experiment.json'])
      expect(fs.existsSync(path.join(out(), f))).toBe(true);
    const figures = fs.readdirSync(path.join(out(), 'figures'));
    expect(figures.filter((f) => f.endsWith('.png')).length).toBeGreaterThanOrEqual(3);
    expect(figures.filter((f) => f.endsWith('.svg')).length).toBeGreaterThanOrEqual(3);

    const results = JSON.parse(fs.readFileSync(path.join(out(), 'results.json'), 'utf8'));
    for (const [i, slug] of ['sgdr-t0-1-tmult-1', 'step'].entries()) {
      const rows = [0, 1].map((seed) => readRows(path.join(out(), 'runs', slug, `seed-${seed}`, 'metrics.jsonl')));
      const s = results.schedules[i];
      for (const e of [1, 2]) {
        for (const m of ['train_loss', 'val_loss', 'val_acc']) {
          const xs = rows.map((rr) => rr[e - 1]![m]!);
          expect(s.curves[m].mean[e - 1]).toBeCloseTo(avg(xs), 12);
          expect(s.curves[m].std[e - 1]).toBeCloseTo(sd(xs), 12);
        }
      }
      expect(s.final.val_loss.mean).toBeCloseTo(avg(rows.map((rr) => rr[1]!.val_loss!)), 12);
    }
    const diff = results.comparisons.find((c: any) => c.metric === 'final_val_loss');
    const d = [0, 1].map(
      (seed) =>
        readRows(path.join(out(), 'runs', 'sgdr-t0-1-tmult-1', `seed-${seed}`, 'metrics.jsonl'))[1]!.val_loss! -
        readRows(path.join(out(), 'runs', 'step', `seed-${seed}`, 'metrics.jsonl'))[1]!.val_loss!,
    );
    expect(diff.difference.mean).toBeCloseTo(avg(d), 12);
    // SGDR with T_0 = 1 ends a cycle every epoch: snapshots, and an ensemble of 2 after epoch 2.
    expect(results.schedules[0].ensemble.size).toBe(2);
    // Same seed, same initial weights and batches: epoch 1 of both schedules starts from the same LR and data.
    const a = readRows(path.join(runDirs[0]!, 'metrics.jsonl'))[0]!;
    const b = readRows(path.join(runDirs[2]!, 'metrics.jsonl'))[0]!;
    expect(a.lr).toBe(b.lr);
  });

  it('skips finished runs and resumes a started one', async () => {
    const dir = path.join(out(), 'runs', 'step', 'seed-1');
    const before = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8');
    fs.rmSync(path.join(dir, 'summary.json'));
    const r = await sgdr(['compare', '--config', configFile, '--out', out()]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/3 already finished \(skipped\); 1 to resume/);
    expect(r.stderr).toMatch(/Step · seed 1\s+start \(resuming after epoch 2\)/);
    expect(r.stderr).toMatch(/1 run\(s\) trained, 3 already finished/);
    expect(fs.existsSync(path.join(dir, 'summary.json'))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')).toBe(before);
  });

  it('--report-only rebuilds the report from the folder alone', async () => {
    fs.rmSync(path.join(out(), 'report.html'));
    const r = await sgdr(['compare', '--report-only', '--out', out(), '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).schedules).toHaveLength(2);
    expect(fs.existsSync(path.join(out(), 'report.html'))).toBe(true);
  });

  it('refuses to continue runs trained under another config', async () => {
    const changed = JSON.parse(JSON.stringify(config));
    changed.schedules[1].gamma = 0.5;
    const file = path.join(work, 'changed.json');
    fs.writeFileSync(file, JSON.stringify(changed));
    const r = await sgdr(['compare', '--config', file, '--out', out()]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/runs\/step\/seed-0 was trained with a different 'schedule'/);
  });

  it('stops on Ctrl-C with checkpoints, and the next call finishes the interrupted runs', async () => {
    const longer = { ...config, epochs: 3, seeds: [5] };
    const file = path.join(work, 'longer.json');
    fs.writeFileSync(file, JSON.stringify(longer));
    const dir = path.join(work, 'interrupted');
    const child = spawn(
      process.execPath,
      [bin, 'compare', '--config', file, '--out', dir, '--jobs', '2', '--threads', '1'],
      { cwd: root, env },
    );
    let stderr = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        // Interrupt once the first epoch of some run is in: the runs are mid-training.
        if (/epoch 1\/3/.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/stopped \(checkpoint kept\)/);
    const r = await sgdr(['compare', '--config', file, '--out', dir]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming after epoch [12]/);
    for (const s of ['sgdr-t0-1-tmult-1', 'step']) {
      expect(readRows(path.join(dir, 'runs', s, 'seed-5', 'metrics.jsonl')).map((row) => row.epoch)).toEqual([1, 2, 3]);
    }
  });

  it('bad configs: one line naming the key path', async () => {
    const cases: Array<[(c: Record<string, any>) => void, RegExp]> = [
      [(c) => (c.seeds = []), /bad\.json: seeds: is empty/],
      [(c) => (c.schedules[1].type = 'cosine'), /bad\.json: schedules\[1\]\.type: unknown schedule string "cosine"/],
      [(c) => (c.optimizer.lr = 0.1), /bad\.json: optimizer\.lr: unknown key/],
      [(c) => (c.epochs = 'two'), /bad\.json: epochs: must be an integer, got string "two"/],
      // Checked before any run starts.
      [
        (c) => (c.data.source = 'fashion-mnist:/nonexistent/fmnist'),
        /data\.source: fashion-mnist: folder not found: \/nonexistent\/fmnist/,
      ],
    ];
    for (const [mutate, message] of cases) {
      const c = JSON.parse(JSON.stringify(config));
      mutate(c);
      const file = path.join(work, 'bad.json');
      fs.writeFileSync(file, JSON.stringify(c));
      const r = await sgdr(['compare', '--config', file, '--out', path.join(work, 'never')]);
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    expect((await sgdr(['compare', '--config', path.join(work, 'missing.json')])).stderr).toMatch(
      /--config: file not found/,
    );
    expect((await sgdr(['compare'])).stderr).toMatch(/--config is required/);
    expect(fs.existsSync(path.join(work, 'never'))).toBe(false);
  });

  it('a diverging schedule is reported as diverged, left out of mean ± std, and the others still train (--jobs 1 and 2)', async () => {
    const mixed = {
      ...config,
      name: 'mixed',
      epochs: 2,
      seeds: [0],
      schedules: [
        { label: 'Blow-up', type: 'step', lr: 1e6, stepSize: 1, gamma: 0.1 },
        { label: 'Sane', type: 'step', lr: 0.05, stepSize: 1, gamma: 0.1 },
      ],
    };
    const file = path.join(work, 'mixed.json');
    fs.writeFileSync(file, JSON.stringify(mixed));
    for (const jobs of ['1', '2']) {
      const dir = path.join(work, `mixed-${jobs}`);
      const r = await sgdr(['compare', '--config', file, '--out', dir, '--jobs', jobs, '--threads', '1']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/TypeError|FAILED/);
      expect(r.stderr).toMatch(/Blow-up · seed 0\s+DIVERGED: training diverged: .*epoch 1, batch \d+/);
      expect(r.stderr).toMatch(/1 run\(s\) trained, 0 already finished, 1 diverged/);
      expect(r.stderr).toMatch(/^\s+Blow-up\s+diverged \(1 of 1 run\(s\)/m);
      expect(r.stderr).toMatch(/^\s+Sane\s+final val loss \d/m);
      // The sane schedule was trained to the end and has its numbers; the diverged one has none.
      expect(readRows(path.join(dir, 'runs', 'sane', 'seed-0', 'metrics.jsonl')).map((row) => row.epoch)).toEqual([
        1, 2,
      ]);
      const results = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'));
      const [blow, sane] = results.schedules;
      expect(blow).toMatchObject({ label: 'Blow-up', diverged: 1, finished: 0 });
      expect(sane).toMatchObject({ label: 'Sane', diverged: 0, finished: 1 });
      expect(Number.isFinite(sane.final.val_loss.mean)).toBe(true);
      expect(results.runs.find((x: { label: string }) => x.label === 'Blow-up')).toMatchObject({
        status: 'diverged',
        divergence: { epoch: 1 },
      });
      const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
      expect(html).toMatch(/1 diverged, excluded/);
      expect(html).toMatch(/diverged<div class="spec">non-finite loss at epoch 1, batch \d+/);
      // No worker outlives the experiment.
      const workers = fs
        .readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir);
          } catch {
            return false;
          }
        });
      expect(workers).toEqual([]);
      // Run again: the diverged run is final (not retrained), the report is rebuilt.
      const again = await sgdr(['compare', '--config', file, '--out', dir]);
      expect(again.status, again.stderr).toBe(0);
      expect(again.stderr).toMatch(/1 already finished \(skipped\); 1 diverged before \(skipped\)/);
    }
  });
  it('--devices gives each worker its device (a pinned core set here); placement.json and the report say where each run ran', async () => {
    const one = { ...config, name: 'placed', epochs: 1, seeds: [0] };
    const file = path.join(work, 'placed.json');
    fs.writeFileSync(file, JSON.stringify(one));
    const dir = path.join(work, 'placed');
    const r = await sgdr(['compare', '--config', file, '--out', dir, '--devices', 'cpu,cpus:0']);
    expect(r.status, r.stderr).toBe(0);
    // Two devices: two workers, one run each (the queue's order), the second pinned to core 0.
    expect(r.stderr).toMatch(/2 at a time/);
    const placements = ['sgdr-t0-1-tmult-1', 'step'].map(
      (slug) =>
        JSON.parse(fs.readFileSync(path.join(dir, 'runs', slug, 'seed-0', 'placement.json'), 'utf8')) as {
          label: string;
          worker: number;
        },
    );
    expect(placements.map((p) => p.label).sort()).toEqual(['cpu', 'cpus:0']);
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toMatch(/<th>Device<\/th>/);
    expect(html).toMatch(/cpus:0<div class="spec">worker \d<\/div>/);
    const bad = await sgdr(['compare', '--config', file, '--out', path.join(work, 'bad'), '--devices', 'cpus:99']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--devices: 'cpus:99': core 99 does not exist/);
  }, 300_000);
});
