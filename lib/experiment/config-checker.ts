/**
 * Checking the values of a parsed JSON/YAML config one key at a time: each check returns the value
 * with its type, or throws an ExperimentConfigError that names the key path and says what was
 * expected and what was found (`epochs: must be an integer, got string "7"`).
 */
import { ExperimentConfigError } from './config';

export type Json = unknown;

/** What a value is, for messages: `string "7"`, `an array`, `null`. */
export const kindOf = (v: Json): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'an array'
      : typeof v === 'object'
        ? 'an object'
        : `${typeof v} ${JSON.stringify(v)}`;

/** Checks one value at a time; each failure is an ExperimentConfigError naming its key path. */
export class Checker {
  constructor(readonly file?: string) {}

  fail(keyPath: string, detail: string): never {
    throw new ExperimentConfigError(keyPath, detail, this.file);
  }

  object(v: Json, keyPath: string, known: readonly string[]): Record<string, Json> {
    if (!v || typeof v !== 'object' || Array.isArray(v)) this.fail(keyPath, `must be an object, got ${kindOf(v)}`);
    const o = v as Record<string, Json>;
    const unknown = Object.keys(o).find((k) => !known.includes(k));
    if (unknown !== undefined) this.fail(join(keyPath, unknown), `unknown key (known here: ${known.join(', ')})`);
    return o;
  }

  string(v: Json, keyPath: string): string {
    if (typeof v !== 'string' || v.trim() === '') this.fail(keyPath, `must be a non-empty string, got ${kindOf(v)}`);
    return v;
  }

  oneOf<T extends string>(v: Json, keyPath: string, options: readonly T[]): T {
    if (typeof v !== 'string' || !options.includes(v as T))
      this.fail(keyPath, `must be one of ${options.join(', ')}, got ${kindOf(v)}`);
    return v as T;
  }

  boolean(v: Json, keyPath: string): boolean {
    if (typeof v !== 'boolean') this.fail(keyPath, `must be true or false, got ${kindOf(v)}`);
    return v;
  }

  number(
    v: Json,
    keyPath: string,
    check: { min?: number; above?: number; max?: number; integer?: boolean } = {},
  ): number {
    const what = check.integer ? 'an integer' : 'a number';
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(keyPath, `must be ${what}, got ${kindOf(v)}`);
    if (check.integer && !Number.isInteger(v)) this.fail(keyPath, `must be an integer, got ${v}`);
    if (check.min !== undefined && v < check.min) this.fail(keyPath, `must be ${what} ≥ ${check.min}, got ${v}`);
    if (check.above !== undefined && v <= check.above) this.fail(keyPath, `must be ${what} > ${check.above}, got ${v}`);
    if (check.max !== undefined && v > check.max) this.fail(keyPath, `must be ${what} ≤ ${check.max}, got ${v}`);
    return v;
  }

  numbers(v: Json, keyPath: string): number | number[] {
    if (Array.isArray(v)) return v.map((x, i) => this.number(x, `${keyPath}[${i}]`));
    return this.number(v, keyPath);
  }
}

/** The key path of `key` inside `keyPath` (`schedules[1]` + `tMult`). */
export const join = (keyPath: string, key: string): string => (keyPath ? `${keyPath}.${key}` : key);
