/**
 * Hyper-parameter checks for the schedules.
 *
 * A bad hyper-parameter throws a ScheduleParamError: a RangeError whose `param` names the option
 * (`t0`, `tMult`, ...) so that callers with their own vocabulary (the CLI's `--t-mult`, a config
 * file's `schedules[2].tMult`) can restate it without parsing the message.
 */
export class ScheduleParamError extends RangeError {
  override name = 'RangeError';
  constructor(
    /** The option name as the library spells it, e.g. `tMult`. */
    readonly param: string,
    /** What was expected and what came, e.g. `must be a number ≥ 1, got 0.5`. */
    readonly detail: string,
  ) {
    super(`${param} ${detail}`);
  }
}

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

function check(param: string, value: unknown, ok: boolean, expected: string): number {
  if (typeof value !== 'number' || Number.isNaN(value) || !ok) {
    throw new ScheduleParamError(param, `must be ${expected}, got ${show(value)}`);
  }
  return value;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A finite number > 0. */
export function positive(param: string, value: unknown): number {
  return check(param, value, isNum(value) && value > 0, 'a finite number > 0');
}

/** A finite number ≥ 0. */
export function nonNegative(param: string, value: unknown): number {
  return check(param, value, isNum(value) && value >= 0, 'a finite number ≥ 0');
}

/** A finite number in [lo, hi] (hi inclusive), described as `expected` in the error. */
export function within(param: string, value: unknown, lo: number, hi: number, expected: string): number {
  return check(param, value, isNum(value) && value >= lo && value <= hi, expected);
}

/** A finite number in (0, 1]: a multiplicative decay factor. */
export function decayFactor(param: string, value: unknown): number {
  return check(param, value, isNum(value) && value > 0 && value <= 1, 'a number in (0, 1]');
}

/** An integer ≥ 1. */
export function countAtLeastOne(param: string, value: unknown): number {
  return check(param, value, Number.isInteger(value) && (value as number) >= 1, 'an integer ≥ 1');
}

/** A time in fractional epochs handed to `lrAt` and friends. */
export function epochTime(value: unknown, param = 't'): number {
  return check(param, value, isNum(value) && value >= 0, 'a finite number of epochs ≥ 0');
}
