/**
 * Tensor records: the plain, framework-free form in which tensors leave (and enter) a torch.save
 * file. The native addon copies these into LibTorch tensors, so the contract is strict: `data` is
 * a contiguous, row-major typed array of exactly product(shape) elements whose type matches
 * `dtype` (half and bfloat16 as raw 16-bit words, bool as 0/1 bytes).
 */
import { corrupt, TorchFileError } from './errors';

export type Dtype =
  'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export type TensorData =
  Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** The typed array each dtype uses. */
export interface DataForDtype {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  int64: BigInt64Array;
  int32: Int32Array;
  int16: Int16Array;
  int8: Int8Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

export interface TensorRecord<D extends Dtype = Dtype> {
  dtype: D;
  shape: number[];
  data: DataForDtype[D];
  /** Set (true) only for tensors saved with requires_grad=True; absent otherwise. */
  requiresGrad?: boolean;
}

type TypedArrayCtor = {
  new (length: number): TensorData;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};

export interface DtypeInfo {
  itemsize: number;
  ArrayType: TypedArrayCtor;
  /** The legacy typed-storage class torch.save names in a storage's persistent id. */
  storage: string;
}

export const DTYPES: Readonly<Record<Dtype, DtypeInfo>> = {
  float32: { itemsize: 4, ArrayType: Float32Array, storage: 'FloatStorage' },
  float64: { itemsize: 8, ArrayType: Float64Array, storage: 'DoubleStorage' },
  float16: { itemsize: 2, ArrayType: Uint16Array, storage: 'HalfStorage' },
  bfloat16: { itemsize: 2, ArrayType: Uint16Array, storage: 'BFloat16Storage' },
  int64: { itemsize: 8, ArrayType: BigInt64Array as unknown as TypedArrayCtor, storage: 'LongStorage' },
  int32: { itemsize: 4, ArrayType: Int32Array, storage: 'IntStorage' },
  int16: { itemsize: 2, ArrayType: Int16Array, storage: 'ShortStorage' },
  int8: { itemsize: 1, ArrayType: Int8Array, storage: 'CharStorage' },
  uint8: { itemsize: 1, ArrayType: Uint8Array, storage: 'ByteStorage' },
  bool: { itemsize: 1, ArrayType: Uint8Array, storage: 'BoolStorage' },
};

export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, value);
}

/** Structural check used by the writer and stateDictEntries (records need no class). */
export function isTensorRecord(value: unknown): value is TensorRecord {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<TensorRecord>;
  return isDtype(v.dtype) && Array.isArray(v.shape) && ArrayBuffer.isView(v.data);
}

/** product(shape); throws RangeError on a dimension that is not a non-negative safe integer. */
export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(`tensor shape [${shape.join(', ')}] has an invalid dimension ${String(d)}`);
    }
    n *= d;
  }
  return n;
}

/** Row-major strides as torch computes them (a zero-size dimension counts as 1). */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= Math.max(shape[i]!, 1);
  }
  return strides;
}

/**
 * Validates and builds a tensor record. Throws TypeError when `data` is not the typed array the
 * dtype uses, RangeError when its length is not product(shape).
 */
export function tensorRecord<D extends Dtype>(
  dtype: D,
  shape: readonly number[],
  data: DataForDtype[D],
): TensorRecord<D> {
  checkTensorRecord({ dtype, shape: [...shape], data } as TensorRecord);
  return { dtype, shape: [...shape], data };
}

/** The validation behind tensorRecord, reused by the writer on records built by hand. */
export function checkTensorRecord(record: TensorRecord, where = 'tensor'): void {
  if (!isDtype(record.dtype)) {
    throw new TypeError(
      `${where}: unknown dtype ${JSON.stringify(record.dtype)} (expected one of ${Object.keys(DTYPES).join(', ')})`,
    );
  }
  if (!Array.isArray(record.shape)) throw new TypeError(`${where}: shape must be an array of integers`);
  const info = DTYPES[record.dtype];
  const data: unknown = record.data;
  if (!(data instanceof info.ArrayType)) {
    const got = ArrayBuffer.isView(data) ? data.constructor.name : data === null ? 'null' : typeof data;
    throw new TypeError(`${where}: dtype ${record.dtype} needs a ${info.ArrayType.name} but data is a ${got}`);
  }
  const n = numelOf(record.shape);
  if ((data as TensorData).length !== n) {
    throw new RangeError(
      `${where}: data has ${(data as TensorData).length} elements but shape [${record.shape.join(', ')}] needs ${n}`,
    );
  }
}

/** Host byte order; storages are little-endian and views are taken without swapping. */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A typed view over a storage's bytes: zero-copy when the bytes are aligned for the element type
 * (torch aligns zip entries to 64 bytes), a copy otherwise (typed arrays require alignment).
 */
export function typedView(dtype: Dtype, bytes: Uint8Array, copy: boolean): TensorData {
  const { itemsize, ArrayType } = DTYPES[dtype];
  const length = Math.floor(bytes.byteLength / itemsize);
  if (!copy && bytes.byteOffset % itemsize === 0) {
    return new ArrayType(bytes.buffer, bytes.byteOffset, length);
  }
  // A fresh ArrayBuffer (not Buffer#slice, which would be a view into the same memory).
  const own = new Uint8Array(length * itemsize);
  own.set(bytes.subarray(0, length * itemsize));
  return new ArrayType(own.buffer, 0, length);
}

/**
 * Elements a tensor may have beyond its storage's (overlapping views such as expand()'s stride 0)
 * while materialized as a contiguous copy: small broadcast buffers pass, a crafted file whose tiny
 * storage claims billions of elements does not.
 */
export const MAX_OVERLAP_BYTES = 1 << 20;

/**
 * Checks a (storage, offset, shape, stride) view the way torch's set_() does, before anything is
 * allocated: sizes, strides and the offset are non-negative safe integers, one stride per size, and
 * the largest index, offset + Σ (size_i − 1)·stride_i, lies inside the storage (computed so that it
 * cannot overflow). A view with more elements than its storage holds (stride 0 or other overlap)
 * would be materialized as a copy bigger than the data in the file: refused unless it is small
 * (MAX_OVERLAP_BYTES). Returns the element count.
 */
export function checkTensorView(
  storageNumel: number,
  itemsize: number,
  offset: unknown,
  shape: readonly unknown[],
  stride: readonly unknown[],
): number {
  const rank = shape.length;
  const list = (v: readonly unknown[]): string =>
    `[${v.slice(0, 8).map(String).join(', ')}${v.length > 8 ? `, ... (${v.length} in all)` : ''}]`;
  const view = (): string => `(offset ${String(offset)}, shape ${list(shape)}, stride ${list(stride)})`;
  if (stride.length !== rank) throw corrupt(`tensor has ${rank} sizes but ${stride.length} strides`);
  for (let i = 0; i < rank; i++) {
    const d = shape[i];
    const s = stride[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
      throw corrupt(`tensor size ${String(d)} is invalid ${view()}`);
    if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0)
      throw corrupt(`tensor stride ${String(s)} is invalid ${view()}`);
  }
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw corrupt(`tensor storage offset ${String(offset)} is invalid`);
  }
  // Element count, stopping as soon as it passes any bound that matters (no overflow).
  const cap = Math.max(storageNumel, Math.floor(MAX_OVERLAP_BYTES / itemsize));
  let numel = 1;
  let atLeast = false; // numel is only a lower bound once it passed the cap
  for (let i = 0; i < rank; i++) {
    const d = shape[i] as number;
    if (d === 0) return 0; // torch checks nothing else for an empty view
    if (numel > cap) {
      atLeast ||= d > 1;
      continue; // keep scanning for a zero size
    }
    numel = numel * d;
  }
  // Largest index, each step checked against what is left of the storage.
  let room = storageNumel - 1 - offset; // how far past the offset an index may go
  if (room < 0) throw corrupt(`tensor view ${view()} starts past its storage of ${storageNumel} elements`);
  for (let i = 0; i < rank; i++) {
    const d = shape[i] as number;
    const s = stride[i] as number;
    if (d <= 1 || s === 0) continue;
    if (d - 1 > Math.floor(room / s)) {
      throw corrupt(`tensor view ${view()} reaches past its storage of ${storageNumel} elements`);
    }
    room -= (d - 1) * s;
  }
  if (numel > storageNumel && numel > cap) {
    throw corrupt(
      `tensor view ${view()} has ${atLeast || numel > Number.MAX_SAFE_INTEGER ? 'at least ' : ''}` +
        `${Math.min(numel, Number.MAX_SAFE_INTEGER)} elements but its storage ` +
        `holds only ${storageNumel}: its strides overlap (e.g. stride 0), and reading it would allocate far more ` +
        `than the file holds; save tensor.contiguous() instead`,
    );
  }
  return numel;
}

/**
 * Materializes a (storage, offset, shape, stride) view as a contiguous row-major array.
 * Contiguous views are `subarray`s of the storage (no copy); strided ones are gathered, copying
 * whole innermost runs at once where the innermost dimensions are contiguous. `allocate`, when
 * given, is told the element count before any copy is made (the reader's budget).
 */
export function materialize(
  storage: TensorData,
  offset: number,
  shape: readonly number[],
  stride: readonly number[],
  copy: boolean,
  allocate?: (numel: number) => void,
): TensorData {
  const rank = shape.length;
  const numel = checkTensorView(storage.length, storage.BYTES_PER_ELEMENT, offset, shape, stride);
  const Ctor = storage.constructor as TypedArrayCtor;
  if (numel === 0) return new Ctor(0);

  // Contiguous iff every dimension of size > 1 has the row-major stride.
  const expected = contiguousStrides(shape);
  let contiguous = true;
  for (let i = 0; i < rank; i++) {
    if (shape[i]! > 1 && stride[i] !== expected[i]) {
      contiguous = false;
      break;
    }
  }
  if (contiguous) {
    const view = storage.subarray(offset, offset + numel) as TensorData;
    if (!copy) return view;
    allocate?.(numel);
    return view.slice() as TensorData;
  }

  allocate?.(numel);
  let out: TensorData;
  try {
    out = new Ctor(numel);
  } catch (e) {
    throw new TorchFileError(`cannot allocate a tensor of ${numel} elements: ${(e as Error).message}`);
  }
  // `inner` trailing dimensions form one contiguous run of `run` elements.
  let inner = 0;
  let run = 1;
  for (let i = rank - 1; i >= 0; i--) {
    if (shape[i] === 1) {
      inner++;
      continue;
    }
    if (stride[i] !== run) break;
    run *= shape[i]!;
    inner++;
  }
  const outer = rank - inner;
  const src = storage as unknown as { [i: number]: number | bigint; subarray(a: number, b: number): TensorData };
  const dst = out as unknown as { [i: number]: number | bigint; set(a: TensorData, o: number): void };
  const idx = new Array<number>(outer).fill(0);
  const last = outer - 1;
  let base = offset;
  let o = 0;
  if (run > 1) {
    // Odometer over the outer dimensions, copying each run with one set().
    while (o < numel) {
      dst.set(src.subarray(base, base + run), o);
      o += run;
      let k = last;
      while (k >= 0) {
        base += stride[k]!;
        if (++idx[k]! < shape[k]!) break;
        base -= stride[k]! * shape[k]!;
        idx[k] = 0;
        k--;
      }
    }
  } else {
    // Innermost stride is not 1 (e.g. a transpose): walk the last dimension element by element.
    const n = shape[last]!;
    const s = stride[last]!;
    while (o < numel) {
      for (let j = 0, p = base; j < n; j++, p += s) dst[o++] = src[p]!;
      let k = last - 1;
      while (k >= 0) {
        base += stride[k]!;
        if (++idx[k]! < shape[k]!) break;
        base -= stride[k]! * shape[k]!;
        idx[k] = 0;
        k--;
      }
    }
  }
  return out;
}

/**
 * The first tensor of a state dict holding a NaN or an infinity (floating dtypes only; half and
 * bfloat16 words are checked by their exponent bits), or undefined when all are finite.
 */
export function firstNonFiniteTensor(entries: Iterable<[string, TensorRecord]>): string | undefined {
  for (const [name, t] of entries) {
    const d = t.data as ArrayLike<number>;
    if (t.dtype === 'float32' || t.dtype === 'float64') {
      for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) return name;
    } else if (t.dtype === 'float16') {
      for (let i = 0; i < d.length; i++) if ((d[i]! & 0x7c00) === 0x7c00) return name;
    } else if (t.dtype === 'bfloat16') {
      for (let i = 0; i < d.length; i++) if ((d[i]! & 0x7f80) === 0x7f80) return name;
    }
  }
  return undefined;
}
