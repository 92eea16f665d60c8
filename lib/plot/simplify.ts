/**
 * Drops points that a rendered line would not show: Ramer–Douglas–Peucker in pixel space. A schedule
 * sampled at every batch has tens of thousands of points on a few hundred pixels; most lie on
 * straight runs, and dropping them keeps the SVG small without visibly changing the curve.
 */

/** Points [x0, y0, x1, y1, ...] in px; returns the kept subset, first and last always kept. */
export function simplify(xy: number[], tolerance: number): number[] {
  const n = xy.length / 2;
  if (n <= 2) return xy;
  const keep = new Uint8Array(n);
  keep[0] = keep[n - 1] = 1;
  const stack: Array<[number, number]> = [[0, n - 1]];
  while (stack.length > 0) {
    const [a, b] = stack.pop()!;
    const ax = xy[2 * a]!,
      ay = xy[2 * a + 1]!,
      bx = xy[2 * b]!,
      by = xy[2 * b + 1]!;
    const dx = bx - ax,
      dy = by - ay;
    const len2 = dx * dx + dy * dy;
    let worst = -1;
    let worstDistance = tolerance;
    for (let i = a + 1; i < b; i++) {
      const px = xy[2 * i]! - ax,
        py = xy[2 * i + 1]! - ay;
      // Distance to the segment, not its line: a spike that doubles back along the line must stay.
      const u = len2 === 0 ? 0 : Math.min(1, Math.max(0, (px * dx + py * dy) / len2));
      const d = Math.hypot(px - u * dx, py - u * dy);
      if (d > worstDistance) {
        worstDistance = d;
        worst = i;
      }
    }
    if (worst >= 0) {
      keep[worst] = 1;
      stack.push([a, worst], [worst, b]);
    }
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (keep[i]) out.push(xy[2 * i]!, xy[2 * i + 1]!);
  return out;
}
