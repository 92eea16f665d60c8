/// <reference types="node" preserve="true" />
/**
 * Dataset: one opened split (its files listed and checked, small datasets read into memory). Opening
 * validates everything that can be checked without decoding images, so a bad dataset fails before
 * training starts; an undecodable image fails the batch that holds it.
 */
import { native, type NativeDataset, type SampleCrop } from '../binding';
import { Tensor } from '../tensor';
import { DataLoader, type DataLoaderOptions } from './loader';
import { parseDataSpec, type DataOptions, type DataSpec } from './spec';
import { NativeHandle } from '../native-handle';

export class Dataset extends NativeHandle<NativeDataset> {
  /** @internal */
  readonly native: NativeDataset;
  readonly spec: DataSpec;

  /** Opens one split; throws naming the missing or corrupt file or folder. */
  static open(spec: DataSpec): Dataset {
    return new Dataset(spec);
  }

  /** @internal Use Dataset.open() or openData(). */
  constructor(spec: DataSpec) {
    super();
    if (spec === null || typeof spec !== 'object') throw new TypeError('spec must be a DataSpec object');
    this.native = new (native().NativeDataset)({ ...spec });
    this.spec = { ...spec, root: this.native.info().root };
  }

  get kind(): DataSpec['kind'] {
    return this.spec.kind;
  }

  get split(): 'train' | 'val' {
    return this.spec.split;
  }

  /** Number of examples (after `limit`). */
  get size(): number {
    return this.native.info().size;
  }

  get numClasses(): number {
    return this.native.info().numClasses;
  }

  get channels(): number {
    return this.native.info().channels;
  }

  get height(): number {
    return this.native.info().height;
  }

  get width(): number {
    return this.native.info().width;
  }

  get classNames(): string[] {
    return this.native.info().classNames;
  }

  /** Whether samples get random transforms (the train split with augment on). */
  get augmenting(): boolean {
    return this.native.info().augment;
  }

  /** The labels of the examples, in dataset order. */
  labels(): Int32Array {
    return this.native.labels();
  }

  /** Where example `index` comes from: an image path, or "FILE #k" for IDX/CIFAR. */
  source(index: number): string {
    return this.native.source(index);
  }

  /**
   * Example `index` transformed as a loader would in `epoch` with `seed`: a float32 [C, H, W] tensor.
   * Runs on the calling thread (one image); for batches use loader().
   */
  get(index: number, options: { seed?: number; epoch?: number } = {}): Tensor {
    return new Tensor(this.native.get(index, options.seed ?? 0, options.epoch ?? 0));
  }

  /**
   * The random crop and flip example `index` gets in `epoch` with `seed` (augmenting image folders;
   * null otherwise), in the full-size image's pixels, with the JPEG decode scale fastDecode picks.
   * Lets a script check or reproduce the augmentation, e.g. against torchvision.
   */
  crop(index: number, options: { seed?: number; epoch?: number } = {}): SampleCrop | null {
    return this.native.crop(index, options.seed ?? 0, options.epoch ?? 0);
  }

  /** A batch loader over this dataset (its threads start now; dispose() it when done). */
  loader(options: DataLoaderOptions): DataLoader {
    return new DataLoader(this, options);
  }
}

/** Both splits of a dataset, opened (and so validated) together. */
export interface OpenedData {
  train: Dataset;
  val: Dataset;
  dispose(): void;
}

/** parseDataSpec() + open both splits: every problem with the data surfaces here, before training. */
export function openData(descriptor: string, options: DataOptions = {}): OpenedData {
  const specs = parseDataSpec(descriptor, options);
  const train = Dataset.open(specs.train);
  let val: Dataset;
  try {
    val = Dataset.open(specs.val);
  } catch (err) {
    train.dispose();
    throw err;
  }
  return {
    train,
    val,
    dispose() {
      train.dispose();
      val.dispose();
    },
  };
}
