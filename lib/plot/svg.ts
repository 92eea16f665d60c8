/** SVG text: numbers to two decimals, escaped strings, and a text element. */

export const r2 = (v: number): string => String(Math.round(v * 100) / 100);

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function text(x: number, y: number, content: string, attrs: string): string {
  return `<text x="${r2(x)}" y="${r2(y)}" ${attrs}>${esc(content)}</text>`;
}
