/**
 * Native work finishes on another thread, so its errors carry no JS stack. Capturing the caller's
 * stack before going async (as sharp does) makes a failed `await model.forward(x)` point at the
 * user's line instead of at nothing.
 */
export async function withCallerStack<T>(work: () => Promise<T>): Promise<T> {
  const caller = new Error();
  try {
    return await work();
  } catch (err) {
    if (err instanceof Error && caller.stack) {
      const frames = caller.stack.split('\n').slice(2).join('\n');
      err.stack = `${err.name}: ${err.message}\n${frames}`;
    }
    throw err;
  }
}

/**
 * Training diverged: a batch's loss was NaN or infinite. `epoch` and `batch` are 1-based, as
 * everywhere in the CLI. The run folder keeps its last finite checkpoint: nothing is written from the
 * diverged weights.
 */
export class DivergenceError extends Error {
  override name = 'DivergenceError';
  readonly epoch: number;
  readonly batch: number;
  readonly loss: number;
  constructor(epoch: number, batch: number, loss: number, message?: string) {
    super(message ?? `training diverged: non-finite loss (${String(loss)}) at epoch ${epoch}, batch ${batch}`);
    this.epoch = epoch;
    this.batch = batch;
    this.loss = loss;
  }
}

/** A run folder holds files of another run: reuse it with `resume` or `overwrite`. */
export class RunFolderInUseError extends Error {
  override name = 'RunFolderInUseError';
  readonly dir: string;
  readonly files: string[];
  constructor(dir: string, files: string[], message: string) {
    super(message);
    this.dir = dir;
    this.files = files;
  }
}

/**
 * A Tensor, model, data set or data loader was used after `dispose()`. Thrown by the native
 * addon (which is given this class when it loads), so `err instanceof DisposedError` holds for
 * every such use; `code` is 'ERR_SGDR_DISPOSED'.
 */
export class DisposedError extends Error {
  override name = 'DisposedError';
  readonly code = 'ERR_SGDR_DISPOSED';
}

/**
 * A value as an error message shows it: strings quoted and called strings, so `epochs: '2'` reads
 * "got '2' (a string)" rather than a "got 2" that looks right; undefined, null, NaN, arrays and
 * objects by what they are.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}' (a string)`;
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'function') return 'a function';
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}
