/**
 * Text width estimates for layout. An SVG string has no layout engine to ask, so the margins and the
 * legend are sized from the advance widths of DejaVu Sans (the font the PNGs are rendered with;
 * Liberation Sans and Arial are narrower, so estimates err towards more room).
 */

// Advance widths in em of DejaVu Sans, for the characters plot labels use.
const widths: Record<string, number> = {
  ' ': 0.318, '.': 0.318, ',': 0.318, ':': 0.337, ';': 0.337, '-': 0.361, '−': 0.838, '+': 0.838, '=': 0.838,
  '×': 0.838, '±': 0.838, '(': 0.39, ')': 0.39, '[': 0.39, ']': 0.39, '/': 0.337, '%': 0.95, '_': 0.5, "'": 0.275,
  a: 0.613, b: 0.635, c: 0.55, d: 0.635, e: 0.615, f: 0.352, g: 0.635, h: 0.634, i: 0.278, j: 0.278, k: 0.579,
  l: 0.278, m: 0.974, n: 0.634, o: 0.612, p: 0.635, q: 0.635, r: 0.411, s: 0.521, t: 0.392, u: 0.634, v: 0.592,
  w: 0.818, x: 0.592, y: 0.592, z: 0.525, A: 0.684, B: 0.686, C: 0.698, D: 0.77, E: 0.632, F: 0.575, G: 0.775,
  H: 0.752, I: 0.295, J: 0.295, K: 0.656, L: 0.557, M: 0.863, N: 0.748, O: 0.787, P: 0.603, Q: 0.787, R: 0.695,
  S: 0.635, T: 0.611, U: 0.732, V: 0.684, W: 0.989, X: 0.685, Y: 0.611, Z: 0.685, 'η': 0.634, 'μ': 0.636,
  'σ': 0.634, '⁰': 0.401, '¹': 0.401, '²': 0.401, '³': 0.401, '⁴': 0.401, '⁵': 0.401, '⁶': 0.401, '⁷': 0.401,
  '⁸': 0.401, '⁹': 0.401, '⁻': 0.528,
};
const digit = 0.636;
const other = 0.62;

/** Estimated width in px of `text` at `fontSize` px (bold text is about 10% wider). */
export function textWidth(text: string, fontSize: number, bold = false): number {
  let em = 0;
  for (const ch of text) em += ch >= '0' && ch <= '9' ? digit : (widths[ch] ?? other);
  return em * fontSize * (bold ? 1.1 : 1);
}
