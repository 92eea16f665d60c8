/** How much JS heap one pickle may build, and what each kind of value costs against that. */
import { TorchFileError } from './errors';

/**
 * What the values one pickle builds may cost, in estimated bytes of JS heap. Every opcode consumes
 * input, but one byte can still build a 200-byte Map (EMPTY_DICT), and a memoized list passed to
 * OrderedDict() again and again is copied each time; a 10 MB crafted pickle could otherwise fill
 * gigabytes of heap, and V8 aborts the process (a signal, not an error) when its heap cannot grow.
 * Each opcode and allow-listed call charges what it builds (V8's sizes, measured: a Map about
 * 200 bytes, an array 48, a Map entry 32, an array slot 8-10), so a pickle is refused with a
 * TorchFileError long before memory runs out (64 MiB: under a 2 GB address-space limit V8 fails to grow
 * its heap well before 256 MiB once a model is loaded). Real files cost far less: ResNet-18's state
 * dict 0.2 MB, ResNet-152's 1.5 MB.
 */
export const PICKLE_HEAP_BUDGET = 64 * 2 ** 20;

export const COST = {
  slot: 8,
  number: 16,
  string: 24,
  bytes: 200,
  array: 48,
  tuple: 80,
  map: 200,
  set: 170,
  entry: 32,
  object: 64,
} as const;

export class PickleBudget {
  used = 0;
  constructor(readonly limit = PICKLE_HEAP_BUDGET) {}
  /** Adds `bytes` (an estimate of heap built) and throws once the total passes the limit. */
  charge(bytes: number, what = 'the pickle'): void {
    this.used += bytes;
    if (this.used > this.limit) {
      throw new TorchFileError(
        `${what} would build more than ${this.limit / 2 ** 20} MiB of Python objects (a guard against crafted ` +
          'files that exhaust memory; a state dict or checkpoint needs a few MB)',
      );
    }
  }
}
