/**
 * One error class for every problem with the *contents* of a torch.save file, so callers can tell
 * "this file is bad" (TorchFileError) apart from "you called the API wrongly" (TypeError/RangeError).
 */
export class TorchFileError extends Error {
  override name = 'TorchFileError';
}

/** The input ended before the structure being read did: always says "truncated". */
export function truncated(what: string): TorchFileError {
  return new TorchFileError(`truncated or corrupt PyTorch file: ${what}`);
}

/** The input is structurally wrong (bad opcode, bad header, inconsistent sizes): says "corrupt". */
export function corrupt(what: string): TorchFileError {
  return new TorchFileError(`corrupt PyTorch file: ${what}`);
}
