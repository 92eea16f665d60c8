/**
 * What every wrapper of a native object (Tensor, ResNet, Dataset, DataLoader) shares: dispose()
 * frees the native memory now rather than at the next garbage collection, `disposed` says whether
 * it has been, and `using` (Symbol.dispose) disposes at the end of a block. A use after dispose()
 * throws a DisposedError from the native side.
 */
export interface NativeObject {
  dispose(): void;
  isDisposed(): boolean;
}

export abstract class NativeHandle<N extends NativeObject = NativeObject> {
  /** @internal */
  abstract readonly native: N;

  get disposed(): boolean {
    return this.native.isDisposed();
  }

  /** Frees the native memory now. Safe to call more than once. */
  dispose(): void {
    this.native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
