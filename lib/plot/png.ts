/// <reference types="node" preserve="true" />
/**
 * SVG → PNG through resvg. resvg draws text only with fonts it has been given, so it is pointed at
 * the first of a few common sans-serif files that exists; where none does it falls back to the
 * system's fonts (slower to load, and text may be missing if there are none at all).
 */
import { existsSync } from 'node:fs';
import type { ResvgRenderOptions } from '@resvg/resvg-js';

const FONT_CANDIDATES: ReadonlyArray<{ family: string; files: string[] }> = [
  {
    family: 'DejaVu Sans',
    files: ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'],
  },
  { family: 'DejaVu Sans', files: ['/usr/share/fonts/TTF/DejaVuSans.ttf', '/usr/share/fonts/TTF/DejaVuSans-Bold.ttf'] },
  {
    family: 'Liberation Sans',
    files: [
      '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf',
      '/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf',
    ],
  },
  {
    family: 'Arial',
    files: ['/Library/Fonts/Arial.ttf', 'C:\\Windows\\Fonts\\arial.ttf', 'C:\\Windows\\Fonts\\arialbd.ttf'],
  },
];

let fontOptions: ResvgRenderOptions['font'] | undefined;

function fonts(): ResvgRenderOptions['font'] {
  if (!fontOptions) {
    for (const { family, files } of FONT_CANDIDATES) {
      const present = files.filter((f) => existsSync(f));
      if (present.length > 0) {
        fontOptions = {
          loadSystemFonts: false,
          fontFiles: present,
          defaultFontFamily: family,
          sansSerifFamily: family,
        };
        break;
      }
    }
    fontOptions ??= { loadSystemFonts: true };
  }
  return fontOptions;
}

export interface PngOptions {
  /** Pixels per SVG unit (default 2, for sharp lines and text on screens and in print). */
  scale?: number;
}

/** Renders an SVG document to PNG bytes. */
export function renderPng(svg: string, options: PngOptions = {}): Buffer {
  const scale = options.scale ?? 2;
  if (!(scale > 0 && Number.isFinite(scale))) throw new RangeError(`scale must be a finite number > 0, got ${scale}`);
  // Loaded here, not at import: printing a schedule or writing an SVG needs no native renderer.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose, see above
  const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    font: fonts(),
    background: '#ffffff',
    logLevel: 'off',
  });
  return resvg.render().asPng();
}
