/**
 * The JavaScript shapes Python values take when they go through a torch.save file.
 *
 * Python has distinctions JavaScript lacks (tuple vs list, float 1.0 vs int 1, OrderedDict vs
 * dict). The reader maps onto plain JS values for convenience and the writer accepts plain JS
 * values, but each distinction has an explicit opt-in form so a file can round-trip faithfully:
 *   - tuples are arrays registered in a WeakSet (`torchTuple`, `isTorchTuple`) — still arrays;
 *   - `TorchFloat` forces a Python float where a JS number happens to be integral;
 *   - `OrderedDict` is a Map subclass that also carries the Python instance attributes that
 *     `OrderedDict.__reduce__` pickles (a state dict's `_metadata`), kept out of the entries.
 */
import type { TensorRecord } from './tensor';

/** Python values usable as dict keys / set members. Tuples are compared by identity (JS Map). */
export type TorchKey = string | number | bigint | boolean | null | TorchValue[];

export type TorchDict = Map<TorchKey, TorchValue>;

export interface TorchPlainObject {
  [key: string]: TorchValue;
}

export type TorchValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | TorchFloat
  | TorchDtype
  | TensorRecord
  | TorchValue[]
  | TorchDict
  | Set<TorchKey>
  | TorchPlainObject;

/** A number that must be written as a Python float even when it is integral (an LR of 1). */
export class TorchFloat {
  constructor(readonly value: number) {
    if (typeof value !== 'number') throw new TypeError(`TorchFloat expects a number, got ${typeof value}`);
  }
  valueOf(): number {
    return this.value;
  }
  toJSON(): number {
    return this.value;
  }
}

export function torchFloat(value: number): TorchFloat {
  return new TorchFloat(value);
}

/** A `torch.float32`-style dtype object stored as a value (e.g. in a checkpoint's config). */
export class TorchDtype {
  constructor(readonly dtype: string) {}
  toString(): string {
    return `torch.${this.dtype}`;
  }
}

/**
 * `collections.OrderedDict`. `attributes` holds the instance `__dict__` Python pickles alongside
 * the items (for `nn.Module.state_dict()` that is `{'_metadata': OrderedDict(...)}`, which
 * `load_state_dict` needs for version-dependent key upgrades).
 */
export class OrderedDict extends Map<TorchKey, TorchValue> {
  attributes: Map<string, TorchValue> | undefined;

  /** The `_metadata` attribute of a state dict, if the file had one. */
  get metadata(): TorchValue | undefined {
    return this.attributes?.get('_metadata');
  }
}

export function orderedDict(
  entries?: Iterable<readonly [TorchKey, TorchValue]> | Record<string, TorchValue>,
): OrderedDict {
  const d = new OrderedDict();
  if (entries === undefined) return d;
  const it =
    Symbol.iterator in Object(entries)
      ? (entries as Iterable<readonly [TorchKey, TorchValue]>)
      : Object.entries(entries as Record<string, TorchValue>);
  for (const [k, v] of it) d.set(k, v);
  return d;
}

const tuples = new WeakSet<object>();

/** Marks `items` (the same array, not a copy) as a Python tuple and returns it. */
export function torchTuple<T extends TorchValue[]>(items: T): T {
  tuples.add(items);
  return items;
}

export function isTorchTuple(value: unknown): value is TorchValue[] {
  return Array.isArray(value) && tuples.has(value);
}

const frozensets = new WeakSet<object>();

/** Marks a Set as a Python frozenset (otherwise a Set is written as `set`). */
export function torchFrozenSet<T extends Set<TorchKey>>(items: T): T {
  frozensets.add(items);
  return items;
}

export function isTorchFrozenSet(value: unknown): value is Set<TorchKey> {
  return value instanceof Set && frozensets.has(value);
}
