/**
 * `--val-loss FILE`: the validation losses that a restarts-on-plateau preview replays. A run's
 * metrics.jsonl (its val_loss column), a JSON list of numbers or {"val_loss": [...]}, or plain
 * numbers separated by commas or white space. Every bad entry is named by its place in the file.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './args';

export function readValLosses(file: string): number[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    throw new UsageError(
      `--val-loss ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message.split('\n')[0]}`,
    );
  }
  const fail = (what: string) => new UsageError(`--val-loss ${file}: ${what}`);
  const check = (values: unknown[], where: (i: number) => string): number[] => {
    values.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw fail(`${where(i)} is not a finite number (${JSON.stringify(v) ?? String(v)})`);
    });
    if (values.length === 0) throw fail('holds no validation losses');
    return values as number[];
  };
  const trimmed = text.trim();
  if (file.endsWith('.jsonl')) {
    const lines = trimmed.split('\n').filter((l) => l.trim() !== '');
    const rows = lines.map((line, i) => {
      try {
        return JSON.parse(line) as { val_loss?: unknown };
      } catch {
        throw fail(`line ${i + 1} is not JSON`);
      }
    });
    return check(
      rows.map((r) => r?.val_loss),
      (i) => `line ${i + 1}'s val_loss`,
    );
  }
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      throw fail((err as Error).message.split('\n')[0]!);
    }
    const list = Array.isArray(value) ? value : (value as { val_loss?: unknown })?.val_loss;
    if (!Array.isArray(list)) throw fail('expected a list of numbers or {"val_loss": [...]}');
    return check(list, (i) => `entry ${i + 1}`);
  }
  const parts = trimmed.split(/[\s,]+/).filter((p) => p !== '');
  return check(
    parts.map((p) => (/^[-+0-9.eE]+$/.test(p) ? Number(p) : p)),
    (i) => `entry ${i + 1}`,
  );
}
