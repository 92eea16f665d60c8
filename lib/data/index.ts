/** The data layer's public names. */
export { Dataset, openData, type OpenedData } from './dataset';
export type { SampleCrop } from '../binding';
export { DataLoader, type Batch, type DataLoaderOptions } from './loader';
export {
  parseDataSpec,
  detectKind,
  DataSpecError,
  DATASET_KINDS,
  DEFAULT_FASHION_MNIST_DIR,
  type DataSpec,
  type DataOptions,
  type DataSpecs,
  type DatasetKind,
} from './spec';
