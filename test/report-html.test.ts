/**
 * The experiment report: figures as SVG and PNG that show something, one self-contained HTML page,
 * and that page rendered by headless Chromium (Debian's `chromium`) into a screenshot that is not
 * blank. In CI (process.env.CI) a missing Chromium is a failure, not a skip.
 */
import { spawnSync } from 'node:child_process';
import { runCommand } from './helpers/cli';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeExperiment, writeReport, type ReportFiles } from '../lib/experiment';
import { decodePng, palette, summarizeImage } from '../lib/plot';
import { writeSyntheticExperiment } from './experiment-helpers';
import { tempDir } from './helpers/native';

function findChromium(): string | undefined {
  for (const candidate of [
    process.env.CHROMIUM,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
  ]) {
    if (candidate && fs.existsSync(candidate)) return candidate;
  }
  const which = spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() ? which.stdout.trim() : undefined;
}

const chromium = findChromium();

/** Pixels of a colour (exact RGB) in an RGBA buffer. */
function countColour(pixels: Uint8Array, hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let n = 0;
  for (let i = 0; i < pixels.length; i += 4) if (pixels[i] === r && pixels[i + 1] === g && pixels[i + 2] === b) n++;
  return n;
}

describe('experiment report', () => {
  let outDir: string;
  let files: ReportFiles;

  beforeAll(() => {
    outDir = tempDir('report');
    const config = writeSyntheticExperiment(outDir);
    files = writeReport(config, analyzeExperiment(config, outDir), outDir);
  });

  it('writes every figure as SVG and PNG, each drawn in the schedules’ colours', () => {
    expect(files.figures.map((f) => f.name)).toEqual(['lr-schedules', 'loss', 'smoothed', 'accuracy', 'ensemble']);
    for (const f of files.figures) {
      const svg = fs.readFileSync(f.svgFile, 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg).not.toMatch(/NaN|Infinity|undefined/);
      const image = decodePng(fs.readFileSync(f.pngFile));
      const summary = summarizeImage(image);
      expect(summary.inked, f.name).toBeGreaterThan(0.02);
      expect(countColour(image.pixels, palette[0]!), `${f.name}: blue`).toBeGreaterThan(300);
      expect(countColour(image.pixels, palette[1]!), `${f.name}: vermillion`).toBeGreaterThan(200);
    }
    const loss = fs.readFileSync(files.figures[1]!.svgFile, 'utf8');
    const panels = loss.split('<g class="panel"').length - 1;
    expect(panels).toBeGreaterThanOrEqual(2); // validation loss (+ a zoom when early values dwarf the end) and training loss
    expect(loss.split('class="band"').length - 1).toBe(panels * 3); // a band per schedule in every panel
    expect(loss).toContain('class="markers" data-label="SGDR T0=1, Tmult=2"'); // cycle ends marked
    expect(fs.readFileSync(files.figures[2]!.svgFile, 'utf8')).toContain('bandwidth 0.5 epochs');
  });

  it('is one self-contained HTML page: inline figures and CSS, nothing fetched', () => {
    const html = fs.readFileSync(files.html, 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html.split('src="data:image/svg+xml;base64,').length - 1).toBe(5);
    expect(html).not.toMatch(/<script|<link|src="https?:|url\(http|@import/i);
    expect(html).toContain('bandwidth 0.5 epochs');
    expect(html).toContain('95% interval');
    expect(html).toContain('SGDR T0=1, Tmult=2 − Step ×0.1 at 4, 6');
    expect(html).toContain('<h2>At the end of each cycle</h2>');
    expect(html).toMatch(/&quot;seeds&quot;: \[\s*0,\s*1,\s*2,\s*3\s*\]/);
  });

  it.runIf(chromium || process.env.CI)(
    'renders in headless Chromium to a screenshot that is not blank',
    async () => {
      expect(chromium, "chromium is not installed (scripts/setup.sh installs Debian's chromium package)").toBeTruthy();
      const shot = path.join(outDir, 'screenshot.png');
      const profile = tempDir('chromium');
      const r = await runCommand(
        chromium!,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--hide-scrollbars',
          `--user-data-dir=${profile}`,
          `--screenshot=${shot}`,
          '--window-size=1200,1600',
          pathToFileURL(files.html).href,
        ],
        { timeoutMs: 90_000 },
      );
      fs.rmSync(profile, { recursive: true, force: true });
      expect(fs.existsSync(shot), `chromium wrote no screenshot (exit ${r.status}): ${r.stderr?.slice(-500)}`).toBe(
        true,
      );
      const image = decodePng(fs.readFileSync(shot));
      expect([image.width, image.height]).toEqual([1200, 1600]);
      const s = summarizeImage(image);
      // A blank page is one colour; this one has text, tables and the first figures.
      expect(s.colours).toBeGreaterThan(100);
      expect(s.inked).toBeGreaterThan(0.03);
      expect(s.coloured).toBeGreaterThan(0.002);
      expect(countColour(image.pixels, palette[0]!) + countColour(image.pixels, palette[1]!)).toBeGreaterThan(100);
    },
    120_000,
  );
});

describe('decodePng', () => {
  it('refuses what is not an 8-bit PNG', () => {
    expect(() => decodePng(Buffer.from('not a png'))).toThrow(/signature/);
  });
});
