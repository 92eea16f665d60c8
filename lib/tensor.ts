/// <reference types="node" preserve="true" />
/**
 * Tensor: a typed handle on a LibTorch tensor. Data crosses the boundary by copy (a typed array in,
 * a new typed array out), so JS never holds a view into memory LibTorch may free. dispose() frees
 * the native memory now (idempotent); otherwise the GC does, with the size reported to V8.
 */
import { native, type DType, type NativeTensor, type TypedArray } from './binding';
import { resolveDevice, type DeviceSpec } from './device';
import { NativeHandle } from './native-handle';

export type { DType, TypedArray };

export interface TensorOptions {
  /** Needed only where the typed array is ambiguous: 'float16'/'bfloat16' (Uint16Array), 'bool' (Uint8Array). */
  dtype?: DType;
  device?: DeviceSpec;
}

/** What toList() returns: a number (or boolean) for a 0-d tensor, else arrays nested as the shape. */
export type NestedList = number | boolean | NestedList[];

function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export class Tensor extends NativeHandle<NativeTensor> {
  /** @internal */
  readonly native: NativeTensor;

  /** @internal Wraps a native tensor (library use). */
  constructor(handle: NativeTensor) {
    super();
    this.native = handle;
  }

  /** Copies `data` into a new tensor of the given shape (row-major). */
  static fromArray(data: TypedArray, shape: readonly number[], options: TensorOptions = {}): Tensor {
    if (!Array.isArray(shape)) throw new TypeError('shape must be an array of non-negative integers');
    const device = options.device === undefined ? undefined : resolveDevice(options.device);
    return new Tensor(native().NativeTensor.fromArray(data, [...shape], options.dtype, device));
  }

  get shape(): number[] {
    return this.native.shape();
  }

  get dtype(): DType {
    return this.native.dtype();
  }

  /** Where it lives, as LibTorch names it: 'cpu' or 'cuda:N'. */
  get device(): 'cpu' | `cuda:${number}` {
    return this.native.device() as 'cpu' | `cuda:${number}`;
  }

  /** Number of elements. */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** A copy of the data in the tensor's own element type. */
  toArray(): TypedArray {
    return this.native.toArray();
  }

  /** A copy of the data converted to float32. */
  toFloat32Array(): Float32Array {
    return this.native.toArray('float32') as Float32Array;
  }

  /**
   * The data as nested arrays of the tensor's shape (PyTorch's tolist()): a [2, 3] tensor gives
   * [[a, b, c], [d, e, f]]; a 0-d tensor gives its number. int64 values become numbers (exact up
   * to 2^53); bool values become true/false.
   */
  toList(): NestedList {
    const shape = this.shape;
    const flat = this.toArray();
    const bool = this.dtype === 'bool';
    const at = (i: number): number | boolean => {
      const v = flat[i]!;
      return bool ? v !== 0 : Number(v);
    };
    if (shape.length === 0) return at(0);
    const strides = stridesOf(shape);
    const build = (dim: number, offset: number): NestedList[] => {
      const out: NestedList[] = new Array(shape[dim]!);
      for (let i = 0; i < shape[dim]!; i++) {
        const o = offset + i * strides[dim]!;
        out[i] = dim === shape.length - 1 ? at(o) : build(dim + 1, o);
      }
      return out;
    };
    return build(0, 0);
  }

  /**
   * Softmax along `dim` (default the last): class probabilities from logits. Computed in float64
   * on the host, stable (the maximum is subtracted first), returned as float32 on this tensor's
   * device. Meant for results (logits of a batch), not for the training hot path.
   */
  softmax(dim = -1): Tensor {
    const { outer, size, inner } = this.splitAt(dim, 'softmax');
    const x = this.toFloat32Array();
    const out = new Float32Array(x.length);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        const base = o * size * inner + j;
        let max = -Infinity;
        for (let k = 0; k < size; k++) max = Math.max(max, x[base + k * inner]!);
        let sum = 0;
        for (let k = 0; k < size; k++) sum += Math.exp(x[base + k * inner]! - max);
        for (let k = 0; k < size; k++) out[base + k * inner] = Math.exp(x[base + k * inner]! - max) / sum;
      }
    }
    return Tensor.fromArray(out, this.shape, { device: this.device });
  }

  /**
   * Indices of the maxima along `dim` (default the last), as an int64 tensor without that dim
   * (computed on the host, returned on this tensor's device). As torch.argmax: the first index of the maximum wins, and NaN counts as the
   * maximum.
   */
  argmax(dim = -1): Tensor {
    const { outer, size, inner, dim: d } = this.splitAt(dim, 'argmax');
    if (size === 0) throw new RangeError(`argmax: dimension ${d} of shape [${this.shape.join(', ')}] is empty`);
    const x = this.toFloat32Array();
    const out = new BigInt64Array(outer * inner);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        const base = o * size * inner + j;
        let best = 0;
        let bestValue = x[base]!;
        for (let k = 1; k < size && !Number.isNaN(bestValue); k++) {
          const v = x[base + k * inner]!;
          if (v > bestValue || Number.isNaN(v)) {
            best = k;
            bestValue = v;
          }
        }
        out[o * inner + j] = BigInt(best);
      }
    }
    const shape = this.shape.filter((_, i) => i !== d);
    return Tensor.fromArray(out, shape, { device: this.device });
  }

  /** The sizes before, at and after `dim` (negative counts from the end), checked. */
  private splitAt(dim: number, op: string): { outer: number; size: number; inner: number; dim: number } {
    const shape = this.shape;
    if (shape.length === 0) throw new RangeError(`${op}: a 0-d tensor has no dimension ${dim}`);
    if (!Number.isInteger(dim) || dim < -shape.length || dim >= shape.length) {
      throw new RangeError(
        `${op}: dim must be an integer in [${-shape.length}, ${shape.length - 1}] for shape [${shape.join(', ')}], got ${String(dim)}`,
      );
    }
    const d = dim < 0 ? dim + shape.length : dim;
    const outer = shape.slice(0, d).reduce((a, b) => a * b, 1);
    const inner = shape.slice(d + 1).reduce((a, b) => a * b, 1);
    return { outer, size: shape[d]!, inner, dim: d };
  }

  /** A copy on another device. */
  to(device: DeviceSpec): Tensor {
    return new Tensor(this.native.to(resolveDevice(device)));
  }
}
