/** lib/plot: ticks, SVG structure (series, bands, gaps, log axes, legend) and PNG rendering. */
import { Resvg } from '@resvg/resvg-js';
import { describe, expect, it } from 'vitest';
import { linearTicks, logTicks, palette, powerOfTen, renderPng, renderSvg, type Figure } from '../lib/plot';

const count = (svg: string, needle: string): number => svg.split(needle).length - 1;

describe('ticks', () => {
  it('linear: 1-2-5 steps, labels with the same decimals, typographic minus', () => {
    expect(linearTicks(0, 0.1, 5)).toMatchObject({
      major: [0, 0.02, 0.04, 0.06, 0.08, 0.1],
      labels: ['0.00', '0.02', '0.04', '0.06', '0.08', '0.10'],
    });
    expect(linearTicks(0, 200, 5).major).toEqual([0, 50, 100, 150, 200]);
    expect(linearTicks(-1.2, 1.3, 5).labels).toEqual(['−1.0', '−0.5', '0.0', '0.5', '1.0']);
    expect(linearTicks(-0.004, 0.104, 6).major).toEqual([0, 0.02, 0.04, 0.06, 0.08, 0.1]);
  });

  it('log: decades labelled as powers of ten with 2…9 minor ticks; 1-2-5 labels inside one decade', () => {
    const t = logTicks(1e-4, 0.2, 6);
    expect(t.major).toEqual([1e-4, 1e-3, 1e-2, 1e-1]);
    expect(t.labels).toEqual(['10⁻⁴', '10⁻³', '10⁻²', '10⁻¹']);
    expect(t.minor).toContain(2e-4);
    expect(t.minor).toContain(0.2);
    expect(t.minor).toHaveLength(3 * 8 + 1);
    expect(logTicks(1e-12, 1, 4)).toMatchObject({ labels: ['10⁻¹²', '10⁻⁸', '10⁻⁴', '10⁰'], minor: [] });
    expect(logTicks(0.3, 2.5, 5)).toMatchObject({ major: [0.5, 1, 2], labels: ['0.5', '1', '2'] });
    expect(powerOfTen(-10)).toBe('10⁻¹⁰');
  });
});

const x = Array.from({ length: 101 }, (_, i) => i);
const figure: Figure = {
  title: 'Loss & <accuracy>',
  panels: [
    {
      title: 'linear',
      x: { label: 'Epochs' },
      y: { label: 'Loss' },
      series: [
        {
          label: 'mean ± std',
          x,
          y: x.map((i) => 2 * Math.exp(-i / 30)),
          lower: x.map((i) => 1.8 * Math.exp(-i / 30)),
          upper: x.map((i) => 2.2 * Math.exp(-i / 30)),
        },
        {
          label: 'raw',
          x,
          y: x.map((i) => (i === 50 ? Number.NaN : 1 + Math.sin(i / 5) / 4)),
          opacity: 0.4,
          legend: false,
        },
        { label: 'baseline', x, y: x.map(() => 1.5), dash: true },
      ],
    },
    {
      title: 'log',
      x: { label: 'Epochs' },
      y: { label: 'Loss', scale: 'log' },
      series: [{ label: 'mean ± std', x, y: x.map((i) => (i % 10 === 0 ? 0 : Math.exp(-i / 10))) }],
    },
  ],
};

describe('renderSvg', () => {
  const svg = renderSvg(figure);

  it('draws one group per series, bands, and a legend entry per shown label', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(count(svg, '<g class="panel"')).toBe(2);
    expect(count(svg, '<g class="series"')).toBe(4);
    expect(count(svg, 'class="band"')).toBe(1);
    expect(count(svg, '<g class="legend-entry"')).toBe(2); // 'raw' opts out; 'mean ± std' appears once
    expect(svg).toContain('stroke-dasharray');
    expect(svg).toContain('Loss &amp; &lt;accuracy&gt;');
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('keeps one colour per label across panels', () => {
    const colours = [
      ...svg.matchAll(/data-label="mean ± std"[^>]*>\s*<path d="[^"]*" fill="none" stroke="(#[0-9A-Fa-f]{6})"/g),
    ].map((m) => m[1]);
    expect(colours).toHaveLength(2);
    expect(colours[0]).toBe(colours[1]);
  });

  it('leaves a gap at NaN and clips non-positive values off a log axis', () => {
    const raw = svg.match(/data-label="raw"[^>]*><path d="([^"]*)"/)![1]!;
    expect(count(raw, 'M')).toBe(2);
    const log = svg.split('<g class="panel" data-title="log">')[1]!;
    expect(log).toContain('10⁻');
    expect(log).toContain('clip-path="url(#sgdr-plot-clip-1)"');
  });

  it('is a valid SVG document resvg can parse and size', () => {
    const r = new Resvg(svg);
    expect(r.width).toBeGreaterThan(900);
    expect(r.height).toBeGreaterThan(300);
  });

  it('rejects a figure without panels, and a log axis limit ≤ 0', () => {
    expect(() => renderSvg({ panels: [] })).toThrow(TypeError);
    expect(() => renderSvg({ panels: [{ y: { scale: 'log', min: 0 }, series: [] }] })).toThrow(
      /axis min must be a finite number > 0 on a log axis/,
    );
  });
});

describe('renderPng', () => {
  it('renders a PNG at twice the SVG size, with the series colours and text drawn', () => {
    const svg = renderSvg(figure);
    const png = renderPng(svg);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const r = new Resvg(svg);
    expect(png.readUInt32BE(16)).toBe(r.width * 2);
    expect(png.readUInt32BE(20)).toBe(r.height * 2);

    // The same pixels, to look at: the colours of the two opaque series, and dark text.
    const image = new Resvg(svg, {
      fitTo: { mode: 'zoom', value: 2 },
      font: { fontFiles: ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'], loadSystemFonts: false },
      background: '#fff',
    }).render();
    const pixels = image.pixels;
    const hits = (hex: string) => {
      const [r0, g0, b0] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      let n = 0;
      for (let i = 0; i < pixels.length; i += 4)
        if (pixels[i] === r0 && pixels[i + 1] === g0 && pixels[i + 2] === b0) n++;
      return n;
    };
    for (const colour of [palette[0]!, palette[2]!]) expect(hits(colour)).toBeGreaterThan(200);
    expect(hits('#222222')).toBeGreaterThan(500);
    expect(png.length).toBeGreaterThan(20_000);
  });

  it('rejects a bad scale', () => {
    expect(() => renderPng(renderSvg(figure), { scale: 0 })).toThrow(RangeError);
  });
});
