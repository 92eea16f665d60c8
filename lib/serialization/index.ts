/**
 * Pure-TypeScript reading and writing of PyTorch `torch.save` files (see torch-reader.ts and
 * torch-writer.ts). LibTorch's C++ pickle_load cannot read `torch.save(model.state_dict())`, so
 * weights reach the native addon as TensorRecords from here.
 */
export { readTorch, readTorchFile, withoutPath } from './torch-reader';
export type { ReadOptions } from './torch-reader';
export { writeTorch, writeTorchFile } from './torch-writer';
export type { WriteOptions } from './torch-writer';
export { stateDictEntries, STATE_DICT_WRAPPER_KEYS } from './state-dict';
export { tensorRecord, isTensorRecord, DTYPES, contiguousStrides, firstNonFiniteTensor } from './tensor';
export type { Dtype, TensorData, TensorRecord, DataForDtype } from './tensor';
export {
  OrderedDict,
  orderedDict,
  TorchFloat,
  torchFloat,
  TorchDtype,
  torchTuple,
  isTorchTuple,
  torchFrozenSet,
  isTorchFrozenSet,
} from './values';
export type { TorchValue, TorchKey, TorchDict, TorchPlainObject } from './values';
export { TorchFileError } from './errors';
