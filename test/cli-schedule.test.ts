/**
 * `sgdr schedule` as a user runs it (node bin/sgdr.js, on the compiled dist/): the PyTorch
 * reference through --json, one-line errors naming the flag, tables, and the Figure 1 SVG/PNG.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../lib/cli/args';
import { command } from '../lib/cli/schedule';
import { palette } from '../lib/plot';

const ROOT = path.resolve(__dirname, '..');
// In the repository, written by test/reference/lr_schedules.py (PyTorch's own schedulers).
const REFERENCE = path.resolve(__dirname, 'reference/lr-schedules.pytorch.json');
const work = mkdtempSync(path.join(tmpdir(), 'sgdr-schedule-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function sgdr(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/sgdr.js'), 'schedule', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface ReferenceCase {
  name: string;
  scheduler: string;
  steps_per_epoch?: number;
  params: Record<string, number>;
  epochs: number;
  lr: number[];
}

/** The command line that reproduces a reference case. */
function flagsOf(c: ReferenceCase): string[] {
  const p = c.params;
  const common = [
    '--lr',
    String(p.base_lr),
    '--epochs',
    String(c.epochs),
    '--steps-per-epoch',
    String(c.steps_per_epoch ?? 1),
    '--json',
  ];
  if (c.scheduler === 'StepLR')
    return ['--scheduler', 'step', '--step-size', String(p.step_size), '--gamma', String(p.gamma), ...common];
  return [
    '--scheduler',
    'warm-restarts',
    '--t0',
    String(p.T_0),
    '--t-mult',
    String(p.T_mult),
    '--eta-min',
    String(p.eta_min),
    ...common,
  ];
}

describe('sgdr schedule --json against the PyTorch reference (test/reference/lr-schedules.pytorch.json)', () => {
  const cases = (JSON.parse(readFileSync(REFERENCE, 'utf8')) as { cases: ReferenceCase[] }).cases;
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = sgdr(...flagsOf(c));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { lr: number[] };
    expect(Object.keys(out)).toEqual(['lr']);
    expect(out.lr).toHaveLength(c.lr.length);
    const worst = Math.max(...out.lr.map((v, i) => Math.abs(v - c.lr[i]!) / Math.abs(c.lr[i]!)));
    expect(worst).toBeLessThanOrEqual(1e-12);
  });

  it('gives eta_max at the exact restarts t=111 (T_0=1, T_mult=10) and t=121 (T_0=1, T_mult=3)', () => {
    for (const [tMult, t] of [
      [10, 111],
      [3, 121],
    ] as const) {
      const out = JSON.parse(
        sgdr('--lr', '0.1', '--t0', '1', '--t-mult', String(tMult), '--epochs', String(t + 1), '--json').stdout,
      );
      expect(out.lr[t]).toBe(0.1);
    }
  });
});

describe('sgdr schedule errors: exit 1, one line naming the flag', () => {
  // The dispatcher prints a UsageError or RangeError as one line and exits 1 (checked end to end
  // below); in process, each bad flag must raise one whose one-line message names the flag.
  it.each([
    ['--t0', ['--t0', '0']],
    ['--t0', ['--t0', 'abc']],
    ['--t-mult', ['--t-mult', '0.5']],
    ['--lr', ['--lr', '-1']],
    ['--lr', ['--lr', 'inf']],
    ['--eta-min', ['--eta-min', '-0.1']],
    ['--eta-min', ['--lr', '0.1', '--eta-min', '0.5']],
    ['--steps-per-epoch', ['--steps-per-epoch', '0']],
    ['--decay', ['--decay', '1.5']],
    ['--decay', ['--decay', '0']],
    ['--warmup', ['--t0', '5', '--warmup', '5']],
    ['--cycle-limit', ['--cycle-limit', '0']],
    ['--gamma', ['--scheduler', 'step', '--step-size', '30', '--gamma', '0']],
    ['--step-size', ['--scheduler', 'step']],
    ['--milestones', ['--scheduler', 'multistep', '--milestones', '60,x']],
    ['--scheduler', ['--scheduler', 'cosine']],
    ['--t0', ['--scheduler', 'step', '--step-size', '3', '--t0', '4']],
    ['--plot', ['--plot', 'out.jpg']],
    ['--epochs', ['--epochs', '0']],
    ['--bogus', ['--bogus', '1']],
    ['--t0', ['--figure1', '--t0', '3']],
    ['--y-scale', ['--y-scale', 'sqrt']],
  ])('%s  (%j)', async (flag, args) => {
    const error = await command.run(args).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error instanceof UsageError || error instanceof RangeError).toBe(true);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toContain(flag);
  });

  it.each([
    ['--t-mult', ['--t-mult', '0.5']],
    ['--steps-per-epoch', ['--steps-per-epoch', '0', '--json']],
  ])('end to end: %s exits 1 with one line on stderr and nothing on stdout', (flag, args) => {
    const r = sgdr(...args);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^sgdr schedule: ${flag} must be `));
  });

  it('names the config file and the entry of a bad spec', () => {
    const file = path.join(work, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify([
        { type: 'constant', lr: 0.1 },
        { type: 'warm-restarts', lr: 0.1, t0: 10, tMult: 0 },
      ]),
    );
    const r = sgdr('--config', file);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      `sgdr schedule: --config ${file}: schedules[1].tMult must be a finite number ≥ 1, got 0`,
    );
    writeFileSync(file, '{ not json');
    expect(sgdr('--config', file).stderr).toMatch(/^sgdr schedule: --config .*bad\.json: .*JSON/);
  });
});

describe('sgdr schedule tables', () => {
  it('prints one row per step with cycle and restarts', () => {
    const r = sgdr('--lr', '0.1', '--t0', '2', '--t-mult', '2', '--epochs', '7', '--steps-per-epoch', '2');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('# SGDR T0=2, Tmult=2: 7 epochs × 2 steps');
    expect(lines).toHaveLength(2 + 14 + 1);
    expect(lines.filter((l) => l.endsWith('← restart'))).toHaveLength(2);
    expect(lines[2 + 4]).toMatch(/^\s+4\s+2\s+0\.1\s+1\s+← restart$/);
    expect(lines.at(-1)).toBe('# restarts at epochs 2, 6');
  });

  it('prints several schedules side by side', () => {
    const r = sgdr('--figure1', '--epochs', '3');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('# ['))).toHaveLength(7);
    expect(lines.at(-1)!.trim().split(/\s+/)).toHaveLength(8);
  });

  it('--help lists the flags', () => {
    const r = sgdr('--help');
    expect(r.status).toBe(0);
    for (const flag of ['--t-mult', '--steps-per-epoch', '--plot', '--figure1', '--config', '--warmup-every-restart'])
      expect(r.stdout).toContain(flag);
  });
});

/** Decodes an 8-bit RGBA, non-interlaced PNG (what resvg writes) into its pixels. */
function decodePng(png: Buffer): { width: number; height: number; pixels: Uint8Array } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  let offset = 8;
  let width = 0;
  let height = 0;
  const data: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const body = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      expect([body[8], body[9], body[12]]).toEqual([8, 6, 0]); // 8-bit, RGBA, not interlaced
    } else if (type === 'IDAT') data.push(body);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * 4;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= 4 ? pixels[y * stride + i - 4]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + i]! : 0;
      const c = i >= 4 && y > 0 ? pixels[(y - 1) * stride + i - 4]! : 0;
      const p = a + b - c;
      const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter]!;
      pixels[y * stride + i] = (line[i]! + predictor) & 0xff;
    }
  }
  return { width, height, pixels };
}

describe('sgdr schedule --figure1 --plot', () => {
  it('writes the SVG: linear and log panels, 7 schedules each, one legend', () => {
    const file = path.join(work, 'figure1.svg');
    const r = sgdr('--figure1', '--plot', file);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`wrote ${file}: 7 schedules over 200 epochs, linear and log LR axis\n`);
    const svg = readFileSync(file, 'utf8');
    const panels = svg.split('<g class="panel"').slice(1);
    expect(panels).toHaveLength(2);
    for (const panel of panels) expect(panel.split('<g class="series"').length - 1).toBe(7);
    expect(svg.split('<g class="legend-entry"').length - 1).toBe(7);
    expect(svg).toContain('10⁻¹');
    expect(svg).toContain('SGDR T0=1, Tmult=2');
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('writes the PNG: a valid image in which every schedule is drawn in its colour', () => {
    const file = path.join(work, 'figure1.png');
    expect(sgdr('--figure1', '--plot', file).status).toBe(0);
    const { width, height, pixels } = decodePng(readFileSync(file));
    expect(width).toBeGreaterThan(1500);
    expect(height).toBeGreaterThan(700);
    const counts = new Map<number, number>();
    for (let i = 0; i < pixels.length; i += 4) {
      const rgb = (pixels[i]! << 16) | (pixels[i + 1]! << 8) | pixels[i + 2]!;
      counts.set(rgb, (counts.get(rgb) ?? 0) + 1);
    }
    const pixelsOf = (hex: string) => counts.get(parseInt(hex.slice(1), 16)) ?? 0;
    // 7 series: palette colours 1..7, each with far more pixels than its legend swatch alone.
    expect(palette.filter((c) => pixelsOf(c) > 1500)).toEqual(palette.slice(0, 7));
    expect(pixelsOf(palette[7]!)).toBe(0);
  });

  it('--config examples/figure1.json gives the same schedules as --figure1', () => {
    const preset = JSON.parse(sgdr('--figure1', '--json').stdout);
    const config = JSON.parse(sgdr('--config', 'examples/figure1.json', '--json').stdout);
    expect(config).toEqual(preset);
    expect(preset.schedules).toHaveLength(7);
    expect(preset.schedules[0].lr).toHaveLength(200);
  });

  it('draws a single schedule with a log LR axis', () => {
    const file = path.join(work, 'one.svg');
    const r = sgdr('--t0', '10', '--t-mult', '2', '--epochs', '150', '--log-y', '--plot', file);
    expect(r.status).toBe(0);
    const svg = readFileSync(file, 'utf8');
    expect(svg.split('<g class="series"').length - 1).toBe(1);
    expect(svg).toContain('10⁻²');
    expect(svg).not.toContain('class="legend"');
  });
});
