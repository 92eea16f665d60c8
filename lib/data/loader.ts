/// <reference types="node" preserve="true" />
/**
 * DataLoader: batches of a Dataset, prepared ahead on native threads and delivered in order.
 * Batch b of epoch e — which examples, in which order, with which augmentation — depends only on
 * (dataset, batchSize, shuffle, dropLast, seed, e, b): never on timing or the number of workers,
 * so a run resumed with startEpoch(e, b) sees exactly the batches the interrupted run would have.
 */
import type { NativeDataLoader } from '../binding';
import { withCallerStack } from '../errors';
import { Tensor } from '../tensor';
import type { Dataset } from './dataset';
import { NativeHandle } from '../native-handle';

export interface DataLoaderOptions {
  batchSize: number;
  /** Shuffle each epoch (a permutation drawn from (seed, epoch)). Default: true for train, false for val. */
  shuffle?: boolean;
  /** Drop the last incomplete batch (PyTorch's drop_last). Default false. */
  dropLast?: boolean;
  /** Seeds the order and the augmentation. Default 0. */
  seed?: number;
  /** Loader threads; 0/absent = automatic (2 for in-memory data, up to 8 for image folders). */
  workers?: number;
  /** Batches prepared ahead of the consumer (at least one per worker). Default 4. */
  prefetch?: number;
}

/** The options a loader runs with: every default filled in, workers resolved (0 becomes the count chosen). */
export type ResolvedLoaderOptions = Required<
  Pick<DataLoaderOptions, 'batchSize' | 'shuffle' | 'dropLast' | 'seed' | 'workers'>
>;

export interface Batch {
  /** float32 [B, C, H, W], normalized. */
  images: Tensor;
  /** int64 [B] class indices. */
  labels: Tensor;
  /** The batch's number within its epoch. */
  index: number;
  /** Frees both tensors now. */
  dispose(): void;
}

export class DataLoader extends NativeHandle<NativeDataLoader> implements AsyncIterable<Batch> {
  /** @internal */
  readonly native: NativeDataLoader;
  readonly dataset: Dataset;

  /** @internal Use dataset.loader(). */
  constructor(dataset: Dataset, options: DataLoaderOptions) {
    super();
    if (options === null || typeof options !== 'object') throw new TypeError('loader options must be an object');
    this.dataset = dataset;
    this.native = dataset.native.loader({ ...options });
  }

  get batchesPerEpoch(): number {
    return this.native.batchesPerEpoch();
  }

  /** The options in effect (workers resolved). */
  get options(): ResolvedLoaderOptions {
    return this.native.options();
  }

  /**
   * Starts epoch `epoch` at batch `startBatch`, dropping whatever was prepared. Without a call,
   * the first next() starts epoch 0.
   */
  startEpoch(epoch: number, startBatch = 0): this {
    this.native.startEpoch(epoch, startBatch);
    return this;
  }

  /** The next batch of the epoch, or null at its end. Rejects (naming the image) on a bad image. */
  next(): Promise<Batch | null> {
    return withCallerStack(async () => {
      const b = await this.native.next();
      if (b === null) return null;
      const images = new Tensor(b.images);
      const labels = new Tensor(b.labels);
      return {
        images,
        labels,
        index: b.index,
        dispose() {
          images.dispose();
          labels.dispose();
        },
      };
    });
  }

  /** The batches of epoch `epoch` from `startBatch` on. */
  async *epoch(epoch: number, startBatch = 0): AsyncGenerator<Batch> {
    this.startEpoch(epoch, startBatch);
    yield* this;
  }

  /** The remaining batches of the current epoch. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Batch> {
    for (;;) {
      const batch = await this.next();
      if (batch === null) return;
      yield batch;
    }
  }
}
