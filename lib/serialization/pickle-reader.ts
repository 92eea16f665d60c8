/**
 * A pickle virtual machine (protocols 0-5, the opcodes torch.save files contain) that never runs
 * code: every GLOBAL goes through `hooks.findGlobal`, which returns a JS stand-in from an
 * allow-list or throws. Python objects become JS values (see values.ts). Bad input ends in a
 * TorchFileError naming the offset; every opcode consumes input, so it cannot loop forever, and
 * what it builds is charged to a PickleBudget (pickle-budget.ts), so it cannot exhaust memory.
 *
 * Over 400 lines on purpose: the VM is one function, a switch over the opcodes that share its
 * stack, memo and marks as closures; split into files, each opcode would take that state as
 * arguments and the switch would read no better.
 */
import { COST, PickleBudget } from './pickle-budget';
import { corrupt, truncated, TorchFileError } from './errors';
import { OrderedDict, TorchFloat, torchFrozenSet, torchTuple, isTorchTuple } from './values';
import type { TorchKey, TorchValue } from './values';

/** A Python callable or class from the allow-list: REDUCE calls `call`, NEWOBJ calls `newObj`. */
export class PyCallable {
  constructor(
    readonly qualname: string,
    readonly call?: (args: unknown[]) => unknown,
    readonly newObj?: (args: unknown[]) => unknown,
  ) {}
}

export interface UnpickleHooks {
  /** Returns the stand-in for `module.name` (a PyCallable or a constant) or throws. */
  findGlobal(module: string, name: string): unknown;
  /** BINPERSID / PERSID: torch's storages. Absent → persistent ids are rejected. */
  persistentLoad?(pid: unknown): unknown;
  /** 'wrap' returns Python floats as TorchFloat so they stay floats when written back. */
  floats?: 'number' | 'wrap';
  /** Shared with the allow-listed callables (and other pickles of the same file); a fresh one if absent. */
  budget?: PickleBudget;
}

export interface UnpickleResult {
  value: unknown;
  /** Offset just past the STOP opcode (legacy torch files hold several pickles back to back). */
  end: number;
}

/**
 * A real copy as a plain Uint8Array. (Input is often a Node Buffer, whose slice() is a view, not
 * a copy.)
 */
export function copyBytes(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.byteLength);
  out.set(b);
  return out;
}

const utf8 = new TextDecoder('utf-8');
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Python ints: JS numbers when exactly representable, bigints otherwise. */
function intValue(v: bigint): number | bigint {
  return v <= SAFE && v >= -SAFE ? Number(v) : v;
}

/**
 * Little-endian two's complement, as LONG1/LONG4 store it. Goes through one hex string: shifting
 * a BigInt byte by byte would be quadratic in a (hostile) multi-megabyte LONG4.
 */
function decodeLong(bytes: Uint8Array): number | bigint {
  const n = bytes.length;
  if (n === 0) return 0;
  let hex = '';
  for (let i = n - 1; i >= 0; i--) hex += HEX[bytes[i]!];
  let v = BigInt(`0x${hex}`);
  if (bytes[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
  return intValue(v);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Decimal literals of the text opcodes; CPython also caps int() of text at 4300 digits. */
function decimalInt(s: string, op: number): number | bigint {
  if (s.length > 4400 || !/^[-+]?\d+$/.test(s)) throw corrupt(`bad integer literal at offset ${op}`);
  return intValue(BigInt(s));
}

function hashableKey(key: unknown, at: number): TorchKey {
  if (
    key === null ||
    typeof key === 'string' ||
    typeof key === 'number' ||
    typeof key === 'bigint' ||
    typeof key === 'boolean' ||
    isTorchTuple(key)
  ) {
    return key as TorchKey;
  }
  if (key instanceof TorchFloat) return key.value;
  throw corrupt(`unhashable dict key or set member (${describe(key)}) at pickle offset ${at}`);
}

export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return isTorchTuple(v) ? 'tuple' : 'list';
  if (v instanceof Map) return 'dict';
  if (v instanceof PyCallable) return v.qualname;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

export function unpickle(buf: Uint8Array, start: number, hooks: UnpickleHooks): UnpickleResult {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const len = buf.length;
  const wrapFloats = hooks.floats === 'wrap';
  let pos = start;
  let op = start;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const budget = hooks.budget ?? new PickleBudget();
  const charge = (bytes: number): void => budget.charge(bytes, `the pickle (at offset ${op})`);

  const need = (n: number): number => {
    if (n < 0 || pos + n > len) {
      throw truncated(`pickle data ends inside an opcode at offset ${op} (needs ${n} more bytes)`);
    }
    const at = pos;
    pos += n;
    return at;
  };
  const bytes = (n: number): Uint8Array => buf.subarray(need(n), pos);
  const u8 = (): number => buf[need(1)]!;
  const u16 = (): number => dv.getUint16(need(2), true);
  const u32 = (): number => dv.getUint32(need(4), true);
  const u64 = (): number => {
    const v = dv.getBigUint64(need(8), true);
    if (v > BigInt(len)) throw truncated(`pickle length ${v} at offset ${op} exceeds the data`);
    return Number(v);
  };
  const line = (): string => {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) throw truncated(`pickle text argument at offset ${op} has no newline`);
    const s = utf8.decode(buf.subarray(pos, nl));
    pos = nl + 1;
    return s.endsWith('\r') ? s.slice(0, -1) : s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) throw corrupt(`pickle stack underflow at offset ${op}`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw corrupt(`pickle stack underflow at offset ${op}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) throw corrupt(`pickle MARK missing at offset ${op}`);
    stack = prev;
    return items;
  };
  const getMemo = (i: number): unknown => {
    if (!memo.has(i)) throw corrupt(`pickle memo entry ${i} used before it was set (offset ${op})`);
    return memo.get(i);
  };
  const asList = (v: unknown, what: string): unknown[] => {
    if (!Array.isArray(v) || isTorchTuple(v)) throw corrupt(`${what} on a ${describe(v)} at offset ${op}`);
    return v;
  };
  const asDict = (v: unknown, what: string): Map<TorchKey, unknown> => {
    if (!(v instanceof Map)) throw corrupt(`${what} on a ${describe(v)} at offset ${op}`);
    return v;
  };
  const setItems = (d: Map<TorchKey, unknown>, items: unknown[]): void => {
    if (items.length % 2 !== 0) throw corrupt(`pickle SETITEMS with an odd item count at offset ${op}`);
    for (let i = 0; i < items.length; i += 2) d.set(hashableKey(items[i], op), items[i + 1]);
  };
  const tuple = (items: unknown[]): unknown[] => torchTuple(items as TorchValue[]);
  const callable = (f: unknown, what: string): PyCallable => {
    if (!(f instanceof PyCallable)) throw corrupt(`pickle ${what} applied to a ${describe(f)} at offset ${op}`);
    return f;
  };
  const persistent = (pid: unknown): unknown => {
    if (!hooks.persistentLoad) throw corrupt(`unexpected persistent id in pickle at offset ${op}`);
    return hooks.persistentLoad(pid);
  };
  // Charged once the bytes are known to be there, so a bogus length still reads as "truncated".
  const str = (n: number): string => {
    const b = bytes(n);
    charge(COST.string + n);
    return utf8.decode(b);
  };
  const byteString = (n: number): Uint8Array => {
    const b = bytes(n);
    charge(COST.bytes + n);
    return copyBytes(b);
  };

  try {
    for (;;) {
      op = pos;
      const code = u8();
      switch (code) {
        case 0x80: // PROTO
          if (u8() > 5) throw new TorchFileError(`unsupported pickle protocol ${buf[pos - 1]} at offset ${op}`);
          break;
        case 0x95: // FRAME: a length hint only
          u64();
          break;
        case 0x2e: // STOP
          return { value: pop(), end: pos };

        // --- constants and numbers
        case 0x4e: // NONE
          charge(COST.slot);
          stack.push(null);
          break;
        case 0x88: // NEWTRUE
          charge(COST.slot);
          stack.push(true);
          break;
        case 0x89: // NEWFALSE
          charge(COST.slot);
          stack.push(false);
          break;
        case 0x4a: // BININT
          charge(COST.number);
          stack.push(dv.getInt32(need(4), true));
          break;
        case 0x4b: // BININT1
          charge(COST.slot);
          stack.push(u8());
          break;
        case 0x4d: // BININT2
          charge(COST.slot);
          stack.push(u16());
          break;
        case 0x8a: {
          // LONG1
          const b = bytes(u8());
          charge(COST.number + b.length);
          stack.push(decodeLong(b));
          break;
        }
        case 0x8b: {
          // LONG4
          const n = dv.getInt32(need(4), true);
          if (n < 0) throw corrupt(`negative LONG4 length at offset ${op}`);
          const b = bytes(n);
          charge(COST.number + 3 * n); // the hex string and the BigInt
          stack.push(decodeLong(b));
          break;
        }
        case 0x47: {
          // BINFLOAT: big-endian IEEE double
          const f = dv.getFloat64(need(8), false);
          charge(COST.number + (wrapFloats ? COST.object : 0));
          stack.push(wrapFloats ? new TorchFloat(f) : f);
          break;
        }
        case 0x49: {
          // INT (text): also how protocol 0 spells True/False
          const s = line();
          charge(COST.number + s.length);
          if (s === '01') stack.push(true);
          else if (s === '00') stack.push(false);
          else stack.push(decimalInt(s, op));
          break;
        }
        case 0x4c: {
          // LONG (text)
          charge(COST.number + 4400);
          stack.push(decimalInt(line().replace(/L$/, ''), op));
          break;
        }
        case 0x46: {
          // FLOAT (text)
          const f = Number(line());
          charge(COST.number + (wrapFloats ? COST.object : 0));
          stack.push(wrapFloats ? new TorchFloat(f) : f);
          break;
        }

        // --- strings and bytes
        case 0x58: // BINUNICODE
          stack.push(str(u32()));
          break;
        case 0x8c: // SHORT_BINUNICODE
          stack.push(str(u8()));
          break;
        case 0x8d: // BINUNICODE8
          stack.push(str(u64()));
          break;
        case 0x54: // BINSTRING (Python 2 str; torch.load decodes these as UTF-8)
          stack.push(str(dv.getInt32(need(4), true)));
          break;
        case 0x55: // SHORT_BINSTRING
          stack.push(str(u8()));
          break;
        case 0x42: // BINBYTES
          stack.push(byteString(u32()));
          break;
        case 0x43: // SHORT_BINBYTES
          stack.push(byteString(u8()));
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          stack.push(byteString(u64()));
          break;

        // --- containers
        case 0x28: // MARK
          charge(COST.array);
          metastack.push(stack);
          stack = [];
          break;
        case 0x29: // EMPTY_TUPLE
          charge(COST.tuple);
          stack.push(tuple([]));
          break;
        case 0x74: {
          // TUPLE (popMark swaps `stack`, so take the items before touching it)
          const items = popMark();
          charge(COST.tuple);
          stack.push(tuple(items));
          break;
        }
        case 0x85: // TUPLE1
          charge(COST.tuple + COST.slot);
          stack.push(tuple([pop()]));
          break;
        case 0x86: {
          // TUPLE2
          charge(COST.tuple + 2 * COST.slot);
          const b = pop();
          stack.push(tuple([pop(), b]));
          break;
        }
        case 0x87: {
          // TUPLE3
          charge(COST.tuple + 3 * COST.slot);
          const c = pop();
          const b = pop();
          stack.push(tuple([pop(), b, c]));
          break;
        }
        case 0x5d: // EMPTY_LIST
          charge(COST.array);
          stack.push([]);
          break;
        case 0x6c: {
          // LIST
          const items = popMark();
          stack.push(items);
          break;
        }
        case 0x61: {
          // APPEND
          charge(COST.slot);
          const v = pop();
          asList(top(), 'APPEND').push(v);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = popMark();
          const list = asList(top(), 'APPENDS');
          charge(items.length * COST.slot);
          for (const v of items) list.push(v);
          break;
        }
        case 0x7d: // EMPTY_DICT
          charge(COST.map);
          stack.push(new Map());
          break;
        case 0x64: {
          // DICT
          const items = popMark();
          charge(COST.map + (items.length / 2) * COST.entry);
          const d = new Map<TorchKey, unknown>();
          setItems(d, items);
          stack.push(d);
          break;
        }
        case 0x73: {
          // SETITEM
          charge(COST.entry);
          const v = pop();
          const k = pop();
          asDict(top(), 'SETITEM').set(hashableKey(k, op), v);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = popMark();
          charge((items.length / 2) * COST.entry);
          setItems(asDict(top(), 'SETITEMS'), items);
          break;
        }
        case 0x8f: // EMPTY_SET
          charge(COST.set);
          stack.push(new Set());
          break;
        case 0x90: {
          // ADDITEMS
          const items = popMark();
          charge(items.length * COST.entry);
          const s = top();
          if (!(s instanceof Set)) throw corrupt(`ADDITEMS on a ${describe(s)} at offset ${op}`);
          for (const v of items) s.add(hashableKey(v, op));
          break;
        }
        case 0x91: {
          // FROZENSET
          const items = popMark();
          charge(COST.set + COST.entry * items.length);
          stack.push(torchFrozenSet(new Set(items.map((v) => hashableKey(v, op)))));
          break;
        }

        // --- stack and memo
        case 0x30: // POP
          if (stack.length > 0) stack.pop();
          else popMark(); // Python pops a MARK when the stack is empty
          break;
        case 0x31: // POP_MARK
          popMark();
          break;
        case 0x32: // DUP
          charge(COST.slot);
          stack.push(top());
          break;
        case 0x71: // BINPUT
          charge(COST.entry);
          memo.set(u8(), top());
          break;
        case 0x72: // LONG_BINPUT
          charge(COST.entry);
          memo.set(u32(), top());
          break;
        case 0x94: // MEMOIZE
          charge(COST.entry);
          memo.set(memo.size, top());
          break;
        case 0x70: {
          // PUT (text)
          const s = line();
          if (!/^\d+$/.test(s)) throw corrupt(`bad PUT index at offset ${op}`);
          charge(COST.entry);
          memo.set(Number(s), top());
          break;
        }
        case 0x68: // BINGET
          charge(COST.slot);
          stack.push(getMemo(u8()));
          break;
        case 0x6a: // LONG_BINGET
          charge(COST.slot);
          stack.push(getMemo(u32()));
          break;
        case 0x67: {
          // GET (text)
          const s = line();
          if (!/^\d+$/.test(s)) throw corrupt(`bad GET index at offset ${op}`);
          charge(COST.slot);
          stack.push(getMemo(Number(s)));
          break;
        }

        // --- objects: all through the allow-list
        case 0x63: {
          // GLOBAL
          const module = line();
          const name = line();
          charge(COST.slot + COST.string * 2 + module.length + name.length);
          stack.push(hooks.findGlobal(module, name));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = pop();
          const module = pop();
          if (typeof module !== 'string' || typeof name !== 'string') {
            throw corrupt(`STACK_GLOBAL needs two strings at offset ${op}`);
          }
          charge(COST.slot);
          stack.push(hooks.findGlobal(module, name));
          break;
        }
        case 0x52: {
          // REDUCE
          const args = pop();
          const f = callable(pop(), 'REDUCE');
          if (!Array.isArray(args)) throw corrupt(`REDUCE arguments are a ${describe(args)} at offset ${op}`);
          if (!f.call) throw new TorchFileError(`${f.qualname} cannot be called (pickle offset ${op})`);
          charge(COST.object);
          stack.push(f.call(args));
          break;
        }
        case 0x81: {
          // NEWOBJ
          const args = pop();
          const cls = callable(pop(), 'NEWOBJ');
          if (!Array.isArray(args)) throw corrupt(`NEWOBJ arguments are a ${describe(args)} at offset ${op}`);
          const make = cls.newObj ?? cls.call;
          if (!make) throw new TorchFileError(`${cls.qualname} cannot be instantiated (pickle offset ${op})`);
          charge(COST.object);
          stack.push(make(args));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX
          const kwargs = pop();
          const args = pop();
          const cls = callable(pop(), 'NEWOBJ_EX');
          if (!Array.isArray(args) || !(kwargs instanceof Map))
            throw corrupt(`bad NEWOBJ_EX arguments at offset ${op}`);
          if (kwargs.size > 0) throw new TorchFileError(`${cls.qualname} with keyword arguments is not supported`);
          const make = cls.newObj ?? cls.call;
          if (!make) throw new TorchFileError(`${cls.qualname} cannot be instantiated (pickle offset ${op})`);
          charge(COST.object);
          stack.push(make(args));
          break;
        }
        case 0x62: {
          // BUILD: only OrderedDict instance attributes (a state dict's _metadata) are expected.
          const state = pop();
          build(top(), state, op, charge);
          break;
        }
        case 0x51: // BINPERSID
          charge(COST.object);
          stack.push(persistent(pop()));
          break;
        case 0x50: // PERSID (text)
          charge(COST.object);
          stack.push(persistent(line()));
          break;

        default:
          throw corrupt(`unknown or unsupported pickle opcode 0x${code.toString(16).padStart(2, '0')} at offset ${op}`);
      }
    }
  } catch (e) {
    if (e instanceof TorchFileError) throw e;
    // Anything else (a DataView RangeError, a hook's TypeError) still means the data is bad.
    throw corrupt(`${(e as Error).message} (pickle offset ${op})`);
  }
}

function build(obj: unknown, state: unknown, at: number, charge: (bytes: number) => void): void {
  // Python's BUILD with a (dict_state, slot_state) tuple; either half may be None.
  let dictState = state;
  let slotState: unknown = null;
  if (isTorchTuple(state) && state.length === 2) [dictState, slotState] = state;
  if (obj instanceof OrderedDict) {
    for (const s of [dictState, slotState]) {
      if (s === null) continue;
      if (!(s instanceof Map)) throw corrupt(`OrderedDict state is a ${describe(s)} at offset ${at}`);
      charge(s.size * COST.entry);
      for (const [k, v] of s) {
        if (typeof k !== 'string') throw corrupt(`OrderedDict attribute name is not a string at offset ${at}`);
        (obj.attributes ??= new Map()).set(k, v as TorchValue);
      }
    }
    return;
  }
  if ((dictState === null || (dictState instanceof Map && dictState.size === 0)) && slotState === null) return;
  throw new TorchFileError(`cannot restore the state of a ${describe(obj)} (pickle BUILD at offset ${at})`);
}
