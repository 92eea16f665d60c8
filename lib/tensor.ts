/// <reference types="node" preserve="true" />
/**
 * Tensor: a typed handle on a LibTorch tensor. Data crosses the boundary by copy (a typed array in,
 * a new typed array out), so JS never holds a view into memory LibTorch may free. dispose() frees
 * the native memory now (idempotent); otherwise the GC does, with the size reported to V8.
 */
import { native, type DType, type NativeTensor, type TypedArray } from './binding';
import { resolveDevice, type DeviceSpec } from './device';

export type { DType, TypedArray };

export interface TensorOptions {
  /** Needed only where the typed array is ambiguous: 'float16'/'bfloat16' (Uint16Array), 'bool' (Uint8Array). */
  dtype?: DType;
  device?: DeviceSpec;
}

export class Tensor {
  /** @internal */
  readonly native: NativeTensor;

  /** @internal Wraps a native tensor (library use). */
  constructor(handle: NativeTensor) {
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

  get device(): string {
    return this.native.device();
  }

  /** Number of elements. */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get disposed(): boolean {
    return this.native.isDisposed();
  }

  /** A copy of the data in the tensor's own element type. */
  toArray(): TypedArray {
    return this.native.toArray();
  }

  /** A copy of the data converted to float32. */
  toFloat32Array(): Float32Array {
    return this.native.toArray('float32') as Float32Array;
  }

  /** A copy on another device. */
  to(device: DeviceSpec): Tensor {
    return new Tensor(this.native.to(resolveDevice(device)));
  }

  /** Frees the native memory now. Safe to call more than once. */
  dispose(): void {
    this.native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
