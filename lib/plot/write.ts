/** Writing a figure to a file, in the format its extension names. */
import { writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { renderSvg, type Figure } from './chart';
import { renderPng, type PngOptions } from './png';

export type FigureFormat = 'svg' | 'png';

/** The format a file name asks for, or undefined if it is neither .svg nor .png. */
export function figureFormat(file: string): FigureFormat | undefined {
  const ext = extname(file).toLowerCase();
  return ext === '.svg' ? 'svg' : ext === '.png' ? 'png' : undefined;
}

/** Writes `figure` to `file` (.svg or .png) and returns the format written. */
export function writeFigure(file: string, figure: Figure, options: PngOptions = {}): FigureFormat {
  const format = figureFormat(file);
  if (!format) throw new RangeError(`${file}: a figure file must end in .svg or .png`);
  const svg = renderSvg(figure);
  writeFileSync(file, format === 'svg' ? svg : renderPng(svg, options));
  return format;
}
