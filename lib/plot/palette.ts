/**
 * Series colours: the Okabe–Ito palette, distinguishable with the common colour-vision
 * deficiencies and in greyscale print. Yellow is last because it is faint on white.
 */
export const palette: readonly string[] = [
  '#0072B2', // blue
  '#D55E00', // vermillion
  '#009E73', // bluish green
  '#CC79A7', // reddish purple
  '#E69F00', // orange
  '#56B4E9', // sky blue
  '#000000', // black
  '#F0E442', // yellow
];

/** Dash patterns that tell series apart once the palette has been used up. */
const dashes: readonly (string | undefined)[] = [undefined, '7 4', '2 3', '9 3 2 3'];

/** Colour and default dash of the n-th series of a figure. */
export function seriesStyle(n: number): { color: string; dash: string | undefined } {
  return { color: palette[n % palette.length]!, dash: dashes[Math.floor(n / palette.length) % dashes.length] };
}
