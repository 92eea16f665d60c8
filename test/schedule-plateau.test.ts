/**
 * PlateauRestarts (`--scheduler plateau-restarts`): SGDR bit for bit while nothing plateaus; restart
 * points by hand and against PyTorch's own ReduceLROnPlateau (the "improved" rule); the cosine after
 * a plateau restart; exact resume from state(); k-decay inside its cycles; bad values named.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  PlateauRestarts,
  ScheduleParamError,
  scheduleFromSpec,
  scheduleFromState,
  stepTime,
  WarmRestarts,
  type PlateauRestartsSpec,
} from '../lib/schedule';
import { runCommand } from './helpers/cli';
import { tempDir } from './helpers/native';
import { requireTorchOrSkip, runPython } from './helpers/python';

/** A deterministic pseudo-random loss history: a decaying trend with noise and flat stretches. */
function history(n: number, seed: number): number[] {
  let x = (seed * 2654435761) % 4294967296;
  const rand = () => (x = (1103515245 * x + 12345) % 2147483648) / 2147483648;
  const out: number[] = [];
  let level = 2;
  for (let i = 0; i < n; i++) {
    if (rand() < 0.6) level *= 0.9 + 0.1 * rand();
    // Some epochs repeat the loss within the threshold: the relative 1e-4 must not count them.
    out.push(rand() < 0.2 && out.length ? out[out.length - 1]! * (1 - 5e-5) : level * (1 + 0.05 * (rand() - 0.5)));
  }
  return out;
}

const feed = (s: PlateauRestarts, losses: number[]) => losses.forEach((v, j) => s.observe(j + 1, v));

describe('PlateauRestarts', () => {
  it('with no plateau it is SGDR bit for bit: every batch, every cycle (T_0=1, T_mult=2, K=7; T_0=2.5, T_mult=1.5)', () => {
    for (const o of [
      { lr: 0.05, t0: 1, tMult: 2, etaMin: 1e-4 },
      { lr: 0.1, t0: 2.5, tMult: 1.5, decay: 0.8 },
    ]) {
      const sgdr = new WarmRestarts({ ...o, stepsPerEpoch: 7 });
      const plateau = new PlateauRestarts({ ...o, patience: 3, stepsPerEpoch: 7 });
      feed(
        plateau,
        Array.from({ length: 40 }, (_, i) => 1 / (i + 1)),
      ); // always improving
      expect(plateau.plateauRestarts).toEqual([]);
      for (let n = 0; n < 40 * 7; n++) {
        const t = stepTime(n, 7);
        expect(plateau.lrAt(t)).toBe(sgdr.lrAt(t));
        expect(plateau.cycleIndexAt(t)).toBe(sgdr.cycleIndexAt(t));
      }
      expect(plateau.cycles(40).map(({ plateau: _p, ...c }) => c)).toEqual(sgdr.cycles(40));
    }
  });

  it('restarts after `patience` epochs without improvement, and anneals the new cycle from its start', () => {
    const s = new PlateauRestarts({ lr: 0.1, t0: 10, patience: 2 });
    // Epoch 1 and 2 improve, 3 and 4 do not: "not improved for 2 epochs" after epoch 4.
    expect(s.observe(1, 1.0)).toBeUndefined();
    expect(s.observe(2, 0.9)).toBeUndefined();
    expect(s.observe(3, 0.95)).toBeUndefined();
    const restart = s.observe(4, 0.91);
    expect(restart).toMatchObject({ t: 4, cycle: { index: 1, start: 4, peak: 0.1, plateau: true } });
    expect(s.plateauRestarts).toEqual([4]);
    expect(s.lrAt(3.5)).toBe(new WarmRestarts({ lr: 0.1, t0: 10 }).lrAt(3.5));
    expect(s.lrAt(4)).toBe(0.1);
    expect(s.lrAt(6.5)).toBe(new WarmRestarts({ lr: 0.1, t0: 10 }).lrAt(2.5));
    expect(s.cycles(30).map((c) => [c.start, c.end, c.plateau])).toEqual([
      [0, 4, false],
      [4, 14, true],
      [14, 24, false],
      [24, 34, false],
    ]);
    // The new cycle has its own best: the higher loss right after the restart is an improvement.
    s.observe(5, 1.3);
    s.observe(6, 1.31);
    expect(s.observe(7, 1.2)).toBeUndefined();
  });

  it('T_mult grows the cosine period per cycle, plateau or not; decay lowers the peaks', () => {
    const s = new PlateauRestarts({ lr: 0.1, t0: 4, tMult: 2, decay: 0.5, patience: 1 });
    feed(s, [1, 1.1]); // restart after epoch 2
    const c1 = s.cycle(1)!;
    expect([c1.start, c1.end, c1.peak]).toEqual([2, 10, 0.05]);
    expect(s.lrAt(6)).toBe(new WarmRestarts({ lr: 0.1, t0: 4, tMult: 2, decay: 0.5 }).lrAt(4 + 4)); // T_cur 4 of 8 in cycle 1
  });

  it('a cap inside an epoch (real T_0) starts a cycle whose first loss is the epoch it began in', () => {
    const s = new PlateauRestarts({ lr: 0.1, t0: 2.5, patience: 1 });
    feed(s, [1, 0.9]);
    expect(s.observe(3, 0.95)).toBeUndefined(); // cycle 1 began at 2.5: 0.95 is its first loss
    expect(s.observe(4, 0.96)?.t).toBe(4); // not improved once: patience 1
    expect(s.cycles(10).map((c) => [c.start, c.end])).toEqual([
      [0, 2.5],
      [2.5, 4],
      [4, 6.5],
      [6.5, 9],
      [9, 11.5],
    ]);
  });

  it('a cap at an epoch end is a restart there, not a plateau', () => {
    const s = new PlateauRestarts({ lr: 0.1, t0: 3, patience: 2 });
    feed(s, [1, 1.1]);
    expect(s.observe(3, 1.2)).toMatchObject({ t: 3, cycle: { index: 1, start: 3, plateau: false } });
    expect(s.plateauRestarts).toEqual([]);
  });

  it('threshold: relative by default (1e-4), absolute with thresholdMode abs', () => {
    const rel = new PlateauRestarts({ lr: 0.1, t0: 100, patience: 1 });
    feed(rel, [1]);
    expect(rel.observe(2, 1 - 5e-5)).toBeDefined(); // less than 1e-4 better: not an improvement
    const abs = new PlateauRestarts({ lr: 0.1, t0: 100, patience: 1, threshold: 0.05, thresholdMode: 'abs' });
    feed(abs, [1, 0.94]);
    expect(abs.plateauRestarts).toEqual([]);
    expect(abs.observe(3, 0.9)?.t).toBe(3);
  });

  it("the improvement rule is PyTorch's ReduceLROnPlateau (mode min, rel 1e-4): restarts where a fresh one per cycle first acts", async (ctx) => {
    if (!requireTorchOrSkip()) return ctx.skip();
    const cases = [1, 2, 3, 4].map((patience) => ({ patience, losses: history(120, patience) }));
    // ReduceLROnPlateau acts once the bad epochs exceed its patience; ours restarts when they reach
    // `patience`: its patience − 1. A new scheduler per cycle is the per-cycle best.
    const script = `
import json, sys, torch
cases = json.loads(sys.argv[1])
out = []
for c in cases:
    restarts, start = [], 0
    while start < len(c["losses"]):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        rop = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=c["patience"] - 1, threshold=1e-4, threshold_mode="rel")
        end = None
        for j in range(start, len(c["losses"])):
            rop.step(c["losses"][j])
            if opt.param_groups[0]["lr"] < 1.0:
                end = j + 1
                break
        if end is None:
            break
        restarts.append(end)
        start = end
    out.append(restarts)
print(json.dumps(out))
`;
    const { stdout } = await runPython(script, [JSON.stringify(cases)]);
    const expected = JSON.parse(stdout) as number[][];
    cases.forEach((c, i) => {
      const s = new PlateauRestarts({ lr: 0.1, t0: 1000, patience: c.patience });
      feed(s, c.losses);
      expect(s.plateauRestarts).toEqual(expected[i]);
      expect(expected[i]!.length).toBeGreaterThan(0);
    });
    // Enough restarts that the rule is exercised, not just its first use.
    expect(expected.flat().length).toBeGreaterThan(20);
  });

  it('resumes exactly from state(): the same LRs and restart points as without interruption', () => {
    const spec: PlateauRestartsSpec = {
      type: 'plateau-restarts',
      lr: 0.05,
      t0: 4,
      tMult: 2,
      etaMin: 1e-4,
      patience: 2,
      stepsPerEpoch: 5,
    };
    const losses = history(30, 9);
    const drive = (
      s: ReturnType<typeof scheduleFromSpec>,
      from: number,
      to: number,
      lrs: number[],
      restarts: number[],
    ) => {
      for (let e = from; e < to; e++) {
        for (let i = 0; i < 5; i++) {
          if (e + i > 0) {
            const r = s.step();
            if (r.restart) restarts.push(r.t);
          }
          lrs.push(s.lr);
        }
        (s as PlateauRestarts).observe(e + 1, losses[e]!);
      }
    };
    const straight = scheduleFromSpec(spec);
    const lrA: number[] = [];
    const resA: number[] = [];
    drive(straight, 0, 30, lrA, resA);
    const first = scheduleFromSpec(spec);
    const lrB: number[] = [];
    const resB: number[] = [];
    drive(first, 0, 13, lrB, resB);
    const saved = JSON.parse(JSON.stringify(first.state()));
    expect(saved.valLosses).toHaveLength(13);
    const resumed = scheduleFromState(saved);
    drive(resumed, 13, 30, lrB, resB);
    expect(lrB).toEqual(lrA);
    expect(resB).toEqual(resA);
    expect((resumed as PlateauRestarts).plateauRestarts).toEqual((straight as PlateauRestarts).plateauRestarts);
    expect((straight as PlateauRestarts).plateauRestarts.length).toBeGreaterThan(1);
    expect(() => scheduleFromSpec(spec).restore({ ...saved, valLosses: [1, 'x'] })).toThrow(/valLosses/);
  });

  it('k-decay bends the cosine of every cycle, before and after a plateau', () => {
    const s = new PlateauRestarts({ lr: 0.1, t0: 10, patience: 1, kDecay: 2 });
    const k = new WarmRestarts({ lr: 0.1, t0: 10, kDecay: 2 });
    feed(s, [1, 1]);
    expect(s.lrAt(1.5)).toBe(k.lrAt(1.5));
    expect(s.lrAt(5)).toBe(k.lrAt(3));
    expect(s.spec()).toMatchObject({ kDecay: 2 });
  });

  it('observe takes epochs in order, once each, and finite losses only', () => {
    const s = new PlateauRestarts({ lr: 0.1, t0: 10, patience: 2 });
    expect(() => s.observe(2, 1)).toThrow('observe: expected the validation loss of epoch 1, got epoch 2');
    s.observe(1, 1);
    expect(() => s.observe(1, 1)).toThrow(/expected the validation loss of epoch 2/);
    expect(() => s.observe(2, NaN)).toThrow(/must be a finite number, got NaN/);
  });

  it.each([
    [{ patience: 0 }, 'patience must be an integer ≥ 1, got 0'],
    [{ patience: 1.5 }, 'patience must be an integer ≥ 1, got 1.5'],
    [{ patience: undefined }, 'patience must be an integer ≥ 1, got undefined'],
    [{ patience: 2, threshold: -1 }, 'threshold must be a finite number ≥ 0, got -1'],
    [{ patience: 2, threshold: 1 }, "threshold must be < 1 with thresholdMode 'rel', got 1"],
    [{ patience: 2, thresholdMode: 'max' }, `thresholdMode must be 'rel' or 'abs', got "max"`],
    [{ patience: 2, kDecay: 0 }, 'kDecay must be a finite number > 0, got 0'],
    [{ patience: 2, t0: 0 }, 't0 must be a finite number > 0, got 0'],
  ])('%j is refused: %s', (extra, message) => {
    let caught: unknown;
    try {
      scheduleFromSpec({ type: 'plateau-restarts', lr: 0.1, t0: 10, ...extra } as PlateauRestartsSpec);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ScheduleParamError);
    expect((caught as Error).message).toBe(message);
  });

  it('has the spec fields of a restart schedule only', () => {
    expect(() =>
      scheduleFromSpec({ type: 'plateau-restarts', lr: 0.1, t0: 2, patience: 2, warmup: 1 } as never),
    ).toThrow(/unknown field "warmup" in a "plateau-restarts" schedule spec/);
  });
});

describe('sgdr schedule --scheduler plateau-restarts', () => {
  const ROOT = path.resolve(__dirname, '..');
  const sgdr = (...args: string[]) =>
    runCommand(process.execPath, [path.join(ROOT, 'bin/sgdr.js'), 'schedule', ...args], { cwd: ROOT });
  const dir = tempDir('plateau-cli');

  it('replays --val-loss (a metrics.jsonl, a JSON list or plain numbers) and marks the plateau restarts', async () => {
    const losses = [1.0, 0.9, 0.95, 0.91, 0.8, 0.7, 0.72, 0.71];
    const files = {
      'metrics.jsonl': losses.map((v, i) => JSON.stringify({ epoch: i + 1, lr: 0.1, val_loss: v })).join('\n') + '\n',
      'losses.json': JSON.stringify(losses),
      'losses.txt': losses.join('\n'),
    };
    const expected = new PlateauRestarts({ lr: 0.1, t0: 5, patience: 2 });
    feed(expected, losses);
    for (const [name, text] of Object.entries(files)) {
      writeFileSync(path.join(dir, name), text);
      const json = await sgdr(
        '--scheduler',
        'plateau-restarts',
        '--t0',
        '5',
        '--patience',
        '2',
        '--epochs',
        '12',
        '--json',
        '--val-loss',
        path.join(dir, name),
      );
      expect(json.stderr).toBe('');
      expect((JSON.parse(json.stdout) as { lr: number[] }).lr).toEqual(
        Array.from({ length: 12 }, (_, e) => expected.lrAt(e)),
      );
    }
    const table = await sgdr(
      '--scheduler',
      'plateau-restarts',
      '--t0',
      '5',
      '--patience',
      '2',
      '--epochs',
      '12',
      '--val-loss',
      path.join(dir, 'losses.txt'),
    );
    expect(table.stdout).toContain('# replaying 8 validation loss(es)');
    expect(table.stdout.match(/← restart \(plateau\)/g)).toHaveLength(2);
    expect(table.stdout).toContain('# restarts at epochs 4, 8');
  });

  it('without --val-loss the preview is SGDR and says so', async () => {
    const r = await sgdr('--scheduler', 'plateau-restarts', '--t0', '3', '--patience', '2', '--epochs', '9');
    expect(r.stdout).toContain('assumes no plateau');
    expect(r.stdout).toContain('# restarts at epochs 3, 6');
  });

  it.each([
    [['--t0', '5', '--epochs', '3'], '--patience is required for --scheduler plateau-restarts'],
    [['--patience', '0'], '--patience must be an integer ≥ 1, got 0'],
    [['--patience', '2', '--threshold-mode', 'up'], `--threshold-mode must be 'rel' or 'abs', got "up"`],
    [['--patience', '2', '--warmup', '1'], '--warmup does not apply to --scheduler plateau-restarts'],
    [
      ['--patience', '2', '--val-loss', '/nonexistent/losses.txt'],
      '--val-loss /nonexistent/losses.txt: file not found',
    ],
  ])('%j: %s', async (args, message) => {
    const r = await sgdr('--scheduler', 'plateau-restarts', ...args);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`sgdr schedule: ${message}`);
  });

  it('a bad entry of --val-loss is named by its place', async () => {
    writeFileSync(path.join(dir, 'bad.jsonl'), '{"val_loss": 1}\n{"val_loss": null}\n');
    const r = await sgdr(
      '--scheduler',
      'plateau-restarts',
      '--patience',
      '2',
      '--val-loss',
      path.join(dir, 'bad.jsonl'),
    );
    expect(r.stderr.trim()).toBe(
      `sgdr schedule: --val-loss ${path.join(dir, 'bad.jsonl')}: line 2's val_loss is not a finite number (null)`,
    );
    const w = await sgdr('--scheduler', 'warm-restarts', '--val-loss', path.join(dir, 'bad.jsonl'));
    expect(w.stderr.trim()).toBe(
      'sgdr schedule: --val-loss applies to --scheduler plateau-restarts only, not warm-restarts',
    );
  });
});
