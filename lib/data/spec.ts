/**
 * Dataset descriptors: `--data fashion-mnist`, `fashion-mnist:DIR`, `mnist:DIR`, `cifar10:DIR`,
 * `image-folder:DIR`, or a plain DIR recognised by its layout, turned into the train and val specs
 * the native loader opens. Pure TypeScript (no addon needed); checks what it can without reading
 * the data (the descriptor, the options, that the folder exists) and names the bad part.
 */
import * as fs from 'fs';
import * as path from 'path';

export const DATASET_KINDS = ['fashion-mnist', 'mnist', 'cifar10', 'image-folder'] as const;
export type DatasetKind = (typeof DATASET_KINDS)[number];

/** Where Debian's dataset-fashion-mnist package installs the IDX files (`--data fashion-mnist`). */
export const DEFAULT_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** What the native layer opens: one split of one dataset, with its transforms. */
export interface DataSpec {
  kind: DatasetKind;
  root: string;
  split: 'train' | 'val';
  /**
   * Class-balanced subset of this many examples (0 or absent = all): classes take turns in class
   * order, each giving its next example in file order, until `limit` are taken; class counts differ
   * by at most 1 wherever the classes have enough examples. The subset keeps file order.
   */
  limit?: number;
  /** Random transforms for the train split (default true). false: train gets the val transform. */
  augment?: boolean;
  /** Random horizontal flip when augmenting. Default: on, except for MNIST digits. */
  hflip?: boolean;
  /** Zero padding of the random crop of 28/32 px data. Default 4 for CIFAR-10, 2 for (Fashion-)MNIST. */
  pad?: number;
  /** Square output size. Default: native (28/32) for IDX/CIFAR (another size resizes), 224 for folders. */
  imageSize?: number;
  /** Image folders' val transform: shorter side resized to this, then center crop. Default 256 for 224. */
  resize?: number;
  /**
   * Image folders: decode JPEGs reduced, as PIL's `Image.draft` does (libjpeg's DCT scaling by 1/2, 1/4
   * or 1/8, as far as the output size allows) and only over the rows and columns the crop reads. Several
   * times faster when images are much larger than the model's input; the pixels are then those
   * torchvision gives after `Image.draft`, not after a full decode. Default false (torchvision-exact).
   */
  fastDecode?: boolean;
  /** Normalize statistics per channel (or one value). Default: the dataset's own (ImageNet's for folders). */
  mean?: number[];
  std?: number[];
}

export interface DataOptions {
  /** Class-balanced subset of the train split (0/absent = all). */
  limitTrain?: number;
  /** Class-balanced subset of the val split (0/absent = all). */
  limitVal?: number;
  augment?: boolean;
  hflip?: boolean;
  pad?: number;
  imageSize?: number;
  /** Reduced JPEG decoding for image folders (see DataSpec.fastDecode). */
  fastDecode?: boolean;
  resize?: number;
  mean?: number | number[];
  std?: number | number[];
}

export interface DataSpecs {
  kind: DatasetKind;
  root: string;
  train: DataSpec;
  val: DataSpec;
}

/** A bad descriptor, option or folder. `path` is the folder or file concerned, when there is one. */
export class DataSpecError extends Error {
  override name = 'DataSpecError';
  constructor(
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

const ALIASES: Record<string, DatasetKind> = {
  'fashion-mnist': 'fashion-mnist',
  fashion_mnist: 'fashion-mnist',
  fashionmnist: 'fashion-mnist',
  mnist: 'mnist',
  cifar10: 'cifar10',
  'cifar-10': 'cifar10',
  'image-folder': 'image-folder',
  imagefolder: 'image-folder',
};

const isDir = (p: string): boolean => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
const isFile = (p: string): boolean => fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;

function checkInt(name: string, value: unknown, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(
      `${name} must be an integer >= ${min}, got ${typeof value === 'string' ? `'${value}'` : String(value)}`,
    );
  }
  return value;
}

function checkStats(name: string, value: unknown): number[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === 'number' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new RangeError(`${name} must be a number or a non-empty array of numbers`);
  }
  if (name === 'std' && list.some((v) => v <= 0)) throw new RangeError('std values must be > 0');
  return list as number[];
}

/** What a plain folder holds, judged by its layout; throws when it cannot tell. */
export function detectKind(dir: string): DatasetKind {
  if (isDir(path.join(dir, 'train'))) return 'image-folder';
  if (
    isFile(path.join(dir, 'data_batch_1.bin')) ||
    isFile(path.join(dir, 'test_batch.bin')) ||
    isDir(path.join(dir, 'cifar-10-batches-bin'))
  ) {
    return 'cifar10';
  }
  const idx = ['train-images-idx3-ubyte', 't10k-images-idx3-ubyte'].some(
    (f) => isFile(path.join(dir, f)) || isFile(path.join(dir, `${f}.gz`)),
  );
  if (idx) {
    throw new DataSpecError(
      `${dir} holds IDX files: say fashion-mnist:${dir} or mnist:${dir} (their normalization statistics differ)`,
      dir,
    );
  }
  throw new DataSpecError(
    `cannot tell what dataset ${dir} holds: expected ${dir}/train/<class>/*.jpg|jpeg|png (an image folder) or ` +
      `CIFAR-10 binary batches; or name the kind (fashion-mnist:DIR, mnist:DIR, cifar10:DIR, image-folder:DIR)`,
    dir,
  );
}

/** The dataset kind (or alias) within edit distance 2 of `word`, if any. */
function closestKind(word: string): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of new Set([...DATASET_KINDS, ...Object.keys(ALIASES)])) {
    const d = editDistance(word, name);
    if (d <= 2 && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * Parses a dataset descriptor into the train and val specs. Throws a DataSpecError naming the
 * descriptor or folder, or a RangeError naming the bad option.
 */
export function parseDataSpec(descriptor: string, options: DataOptions = {}): DataSpecs {
  if (typeof descriptor !== 'string' || descriptor.trim() === '') {
    throw new TypeError('the dataset must be a string such as fashion-mnist, cifar10:DIR or image-folder:DIR');
  }
  let kind: DatasetKind;
  let root: string;
  const colon = descriptor.indexOf(':');
  const prefix = (colon < 0 ? descriptor : descriptor.slice(0, colon)).toLowerCase();
  if (ALIASES[prefix] !== undefined) {
    kind = ALIASES[prefix]!;
    const rest = colon < 0 ? '' : descriptor.slice(colon + 1);
    if (rest === '') {
      if (kind !== 'fashion-mnist') throw new DataSpecError(`${kind} needs a folder: ${kind}:DIR`);
      root = DEFAULT_FASHION_MNIST_DIR;
    } else {
      root = path.resolve(rest);
    }
  } else if (isDir(descriptor)) {
    root = path.resolve(descriptor);
    kind = detectKind(root);
  } else if (colon > 0 && /^[a-z][a-z0-9_-]*$/i.test(prefix)) {
    throw new DataSpecError(
      `unknown dataset kind '${prefix}' in '${descriptor}' (expected ${DATASET_KINDS.join(', ')}, or a folder)`,
    );
  } else if (colon < 0 && /^[a-z][a-z0-9_-]*$/i.test(descriptor)) {
    // A bare word that is neither a kind nor a folder is most likely a misspelt kind.
    const near = closestKind(prefix);
    throw new DataSpecError(
      `unknown dataset '${descriptor}': not a dataset kind (${DATASET_KINDS.join(', ')}; all but fashion-mnist take :DIR) ` +
        `nor a folder (${path.resolve(descriptor)} does not exist)${near ? `; did you mean '${near}'?` : ''}`,
      path.resolve(descriptor),
    );
  } else {
    throw new DataSpecError(`dataset folder not found: ${path.resolve(descriptor)}`, path.resolve(descriptor));
  }
  if (!isDir(root)) {
    const hint =
      root === DEFAULT_FASHION_MNIST_DIR ? ' (install the dataset-fashion-mnist package or use fashion-mnist:DIR)' : '';
    throw new DataSpecError(`${kind}: folder not found: ${root}${hint}`, root);
  }
  if (options === null || typeof options !== 'object') throw new TypeError('data options must be an object');
  const limitTrain = checkInt('limitTrain', options.limitTrain, 0);
  const limitVal = checkInt('limitVal', options.limitVal, 0);
  const common: Omit<DataSpec, 'split' | 'limit'> = { kind, root };
  if (options.augment !== undefined) {
    if (typeof options.augment !== 'boolean') throw new TypeError('augment must be a boolean');
    common.augment = options.augment;
  }
  if (options.hflip !== undefined) {
    if (typeof options.hflip !== 'boolean') throw new TypeError('hflip must be a boolean');
    common.hflip = options.hflip;
  }
  if (options.fastDecode !== undefined) {
    if (typeof options.fastDecode !== 'boolean') throw new TypeError('fastDecode must be a boolean');
    common.fastDecode = options.fastDecode;
  }
  const pad = checkInt('pad', options.pad, 0);
  if (pad !== undefined) common.pad = pad;
  const imageSize = checkInt('imageSize', options.imageSize, 1);
  if (imageSize !== undefined) common.imageSize = imageSize;
  const resize = checkInt('resize', options.resize, 1);
  if (resize !== undefined) common.resize = resize;
  const mean = checkStats('mean', options.mean);
  if (mean) common.mean = mean;
  const std = checkStats('std', options.std);
  if (std) common.std = std;
  return {
    kind,
    root,
    train: { ...common, split: 'train', ...(limitTrain ? { limit: limitTrain } : {}) },
    val: { ...common, split: 'val', ...(limitVal ? { limit: limitVal } : {}) },
  };
}
