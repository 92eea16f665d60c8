/**
 * A pickle writer for protocol 2, the protocol torch.save uses, emitting the same opcodes CPython's
 * pickler would for the same values (BINUNICODE strings, OrderedDict via REDUCE + BUILD, bytes via
 * _codecs.encode, batched APPENDS/SETITEMS). Values that are not plain data reach the output only
 * through the `reduce` hook (torch-writer.ts turns tensor records into _rebuild_tensor_v2 calls).
 */
import { isTorchFrozenSet, isTorchTuple, OrderedDict, TorchDtype, TorchFloat } from './values';

/** A reference to a Python global, written as GLOBAL 'module\nname\n'. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}

/** `func(*args)`, optionally followed by BUILD with `state`. `args` is written as a tuple. */
export class PyReduce {
  constructor(
    readonly func: PyGlobal,
    readonly args: readonly unknown[],
    readonly state?: unknown,
  ) {}
}

/** An object the unpickler's persistent_load resolves (torch storages): `pid` then BINPERSID. */
export class PyPersistent {
  constructor(readonly pid: unknown) {}
}

export interface PickleWriteOptions {
  /** Returns a reduction for objects it recognizes (called once per object, result memoized). */
  reduce?: (value: object, path: string) => PyReduce | undefined;
  /** Write every dict (Map or plain object) as collections.OrderedDict. */
  orderedDicts?: boolean;
}

const BATCH = 1000; // CPython's batch size for APPENDS / SETITEMS

class ByteSink {
  buf = new Uint8Array(1 << 12);
  length = 0;
  private dv = new DataView(this.buf.buffer);

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  u16(v: number): void {
    this.reserve(2);
    this.dv.setUint16(this.length, v, true);
    this.length += 2;
  }
  i32(v: number): void {
    this.reserve(4);
    this.dv.setInt32(this.length, v, true);
    this.length += 4;
  }
  u32(v: number): void {
    this.reserve(4);
    this.dv.setUint32(this.length, v, true);
    this.length += 4;
  }
  f64be(v: number): void {
    this.reserve(8);
    this.dv.setFloat64(this.length, v, false);
    this.length += 8;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Minimal little-endian two's complement, exactly as CPython's encode_long. */
function encodeLong(x: bigint): Uint8Array {
  if (x === 0n) return new Uint8Array(0);
  const bitLength = (x < 0n ? -x : x).toString(2).length;
  let n = (bitLength >> 3) + 1;
  const out: number[] = [];
  let v = x < 0n ? (1n << BigInt(8 * n)) + x : x;
  for (let i = 0; i < n; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  if (x < 0n && n > 1 && out[n - 1] === 0xff && (out[n - 2]! & 0x80) !== 0) {
    out.pop();
    n--;
  }
  return Uint8Array.from(out);
}

const ORDERED_DICT = new PyGlobal('collections', 'OrderedDict');
// Protocol 2 pickles name builtins by their Python 2 module, as CPython does with fix_imports.
const SET = new PyGlobal('__builtin__', 'set');
const FROZENSET = new PyGlobal('__builtin__', 'frozenset');
const CODECS_ENCODE = new PyGlobal('_codecs', 'encode');

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Serializes `value` as a protocol-2 pickle. Throws TypeError naming the path of anything unpicklable. */
export function pickle(value: unknown, options: PickleWriteOptions = {}): Uint8Array {
  const out = new ByteSink();
  const encoder = new TextEncoder();
  const memo = new Map<unknown, number>(); // object identity → memo index
  const strings = new Map<string, number>(); // strings are memoized by value
  const globals = new Map<string, number>();
  const tuplesInProgress = new Set<unknown>();
  let nextMemo = 0;

  const put = (): number => {
    const i = nextMemo++;
    if (i < 256) {
      out.byte(0x71); // BINPUT
      out.byte(i);
    } else {
      out.byte(0x72); // LONG_BINPUT
      out.u32(i);
    }
    return i;
  };
  const get = (i: number): void => {
    if (i < 256) {
      out.byte(0x68); // BINGET
      out.byte(i);
    } else {
      out.byte(0x6a); // LONG_BINGET
      out.u32(i);
    }
  };

  const saveInt = (n: number | bigint): void => {
    if (typeof n === 'number' && n >= 0 && n <= 0xff) {
      out.byte(0x4b); // BININT1
      out.byte(n);
    } else if (typeof n === 'number' && n >= 0 && n <= 0xffff) {
      out.byte(0x4d); // BININT2
      out.u16(n);
    } else if (typeof n === 'number' && n >= -0x80000000 && n <= 0x7fffffff) {
      out.byte(0x4a); // BININT
      out.i32(n);
    } else {
      const bytes = encodeLong(BigInt(n));
      if (bytes.length < 256) {
        out.byte(0x8a); // LONG1
        out.byte(bytes.length);
      } else {
        out.byte(0x8b); // LONG4
        out.i32(bytes.length);
      }
      out.bytes(bytes);
    }
  };
  const saveFloat = (f: number): void => {
    out.byte(0x47); // BINFLOAT
    out.f64be(f);
  };
  const saveString = (s: string): void => {
    const known = strings.get(s);
    if (known !== undefined) return get(known);
    const b = encoder.encode(s);
    out.byte(0x58); // BINUNICODE
    out.u32(b.length);
    out.bytes(b);
    strings.set(s, put());
  };
  const saveGlobal = (g: PyGlobal): void => {
    const k = `${g.module}\n${g.name}\n`;
    const known = globals.get(k);
    if (known !== undefined) return get(known);
    out.byte(0x63); // GLOBAL
    out.bytes(encoder.encode(k));
    globals.set(k, put());
  };
  const saveTupleItems = (items: readonly unknown[], path: string): void => {
    const n = items.length;
    if (n === 0) {
      out.byte(0x29); // EMPTY_TUPLE
      return;
    }
    if (n > 3) out.byte(0x28); // MARK
    items.forEach((v, i) => save(v, `${path}[${i}]`));
    out.byte(n === 1 ? 0x85 : n === 2 ? 0x86 : n === 3 ? 0x87 : 0x74); // TUPLE1-3 / TUPLE
  };
  const saveReduce = (r: PyReduce, path: string, origin?: object): void => {
    saveGlobal(r.func);
    saveTupleItems(r.args, `${path}<args>`);
    out.byte(0x52); // REDUCE
    const index = put();
    if (origin !== undefined) memo.set(origin, index);
    if (r.state !== undefined) {
      save(r.state, `${path}<state>`);
      out.byte(0x62); // BUILD
    }
  };
  const batched = (count: number, each: (i: number) => void, single: number, multi: number): void => {
    for (let start = 0; start < count; start += BATCH) {
      const end = Math.min(count, start + BATCH);
      if (end - start === 1) {
        each(start);
        out.byte(single);
      } else {
        out.byte(0x28); // MARK
        for (let i = start; i < end; i++) each(i);
        out.byte(multi);
      }
    }
  };
  const saveDictItems = (entries: Array<[unknown, unknown]>, path: string): void => {
    batched(
      entries.length,
      (i) => {
        const [k, v] = entries[i]!;
        checkKey(k, path);
        save(k, `${path}<key>`);
        save(v, `${path}[${JSON.stringify(typeof k === 'bigint' ? k.toString() : k) ?? String(k)}]`);
      },
      0x73, // SETITEM
      0x75, // SETITEMS
    );
  };

  function checkKey(k: unknown, path: string): void {
    if (
      k === null ||
      typeof k === 'string' ||
      typeof k === 'number' ||
      typeof k === 'bigint' ||
      typeof k === 'boolean' ||
      k instanceof TorchFloat ||
      isTorchTuple(k)
    ) {
      return;
    }
    throw new TypeError(`cannot save a dict key of type ${typeof k} at ${path}: Python keys must be hashable`);
  }

  function save(v: unknown, path: string): void {
    switch (typeof v) {
      case 'boolean':
        out.byte(v ? 0x88 : 0x89); // NEWTRUE / NEWFALSE
        return;
      case 'number':
        if (Number.isInteger(v)) saveInt(Object.is(v, -0) ? 0 : v);
        else saveFloat(v);
        return;
      case 'bigint':
        saveInt(v);
        return;
      case 'string':
        saveString(v);
        return;
      case 'object':
        break;
      default:
        throw new TypeError(`cannot save ${v === undefined ? 'undefined' : `a ${typeof v}`} at ${path}`);
    }
    if (v === null) {
      out.byte(0x4e); // NONE
      return;
    }
    if (v instanceof TorchFloat) return saveFloat(v.value);
    if (v instanceof TorchDtype) return saveGlobal(new PyGlobal('torch', v.dtype));
    if (v instanceof PyGlobal) return saveGlobal(v);
    if (v instanceof PyPersistent) {
      save(v.pid, `${path}<pid>`);
      out.byte(0x51); // BINPERSID
      return;
    }
    if (v instanceof PyReduce) return saveReduce(v, path);

    const seen = memo.get(v);
    if (seen !== undefined) return get(seen);

    const reduced = options.reduce?.(v, path);
    if (reduced) return saveReduce(reduced, path, v);

    if (Array.isArray(v)) {
      if (isTorchTuple(v)) {
        if (tuplesInProgress.has(v)) throw new TypeError(`cannot save a tuple that contains itself at ${path}`);
        tuplesInProgress.add(v);
        saveTupleItems(v, path);
        tuplesInProgress.delete(v);
        memo.set(v, put());
        return;
      }
      out.byte(0x5d); // EMPTY_LIST
      memo.set(v, put());
      batched(v.length, (i) => save(v[i], `${path}[${i}]`), 0x61 /* APPEND */, 0x65 /* APPENDS */);
      return;
    }
    if (v instanceof Map || isPlainObject(v)) {
      const entries: Array<[unknown, unknown]> = v instanceof Map ? [...v.entries()] : Object.entries(v);
      if (v instanceof OrderedDict || options.orderedDicts) {
        // CPython: OrderedDict.__reduce__ → (OrderedDict, (), vars(self) or None, None, items)
        saveGlobal(ORDERED_DICT);
        out.byte(0x29); // EMPTY_TUPLE
        out.byte(0x52); // REDUCE
        memo.set(v, put());
        saveDictItems(entries, path);
        const attrs = v instanceof OrderedDict ? v.attributes : undefined;
        if (attrs && attrs.size > 0) {
          out.byte(0x7d); // EMPTY_DICT
          put();
          saveDictItems([...attrs.entries()], `${path}<attributes>`);
          out.byte(0x62); // BUILD
        }
        return;
      }
      out.byte(0x7d); // EMPTY_DICT
      memo.set(v, put());
      saveDictItems(entries, path);
      return;
    }
    if (v instanceof Set) {
      // CPython protocol 2: (set, (list(items),)) via REDUCE.
      saveGlobal(isTorchFrozenSet(v) ? FROZENSET : SET);
      const items = [...v];
      items.forEach((k) => checkKey(k, path));
      out.byte(0x5d); // EMPTY_LIST
      put();
      batched(items.length, (i) => save(items[i], `${path}{${i}}`), 0x61, 0x65);
      out.byte(0x85); // TUPLE1
      put();
      out.byte(0x52); // REDUCE
      memo.set(v, put());
      return;
    }
    if (v instanceof Uint8Array && v.constructor === Uint8Array) {
      // CPython protocol 2: bytes → _codecs.encode(latin1 text, 'latin1'). CPython writes b'' as
      // bytes(), a global that torch.load(weights_only=True) refuses; _codecs.encode('', 'latin1') is
      // the same b'' and is allowed, so empty bytes take that form too.
      saveGlobal(CODECS_ENCODE);
      let text = '';
      for (let i = 0; i < v.length; i += 0x8000) {
        text += String.fromCharCode(...v.subarray(i, i + 0x8000));
      }
      save(text, path);
      save('latin1', path);
      out.byte(0x86); // TUPLE2
      put();
      out.byte(0x52);
      memo.set(v, put());
      return;
    }
    if (ArrayBuffer.isView(v)) {
      throw new TypeError(
        `cannot save a bare ${v.constructor.name} at ${path}: wrap tensor data with tensorRecord(dtype, shape, data)`,
      );
    }
    throw new TypeError(`cannot save a ${(v as object).constructor?.name ?? 'object'} at ${path}`);
  }

  out.byte(0x80); // PROTO 2
  out.byte(2);
  save(value, 'value');
  out.byte(0x2e); // STOP
  return out.result();
}
