/**
 * stateDictEntries: from whatever a checkpoint file holds, the flat `name → tensor` map a model
 * loads. Accepts a bare state dict (PyTorch's OrderedDict), the usual training-checkpoint
 * wrappers, and DataParallel's `module.` prefix; says what to do when there is no state dict.
 */
import { TorchFileError } from './errors';
import { isTensorRecord } from './tensor';
import type { TensorRecord } from './tensor';
import { isTorchTuple } from './values';
import type { TorchValue } from './values';

/** Checkpoint keys that commonly hold the model's state dict, in the order they are tried. */
export const STATE_DICT_WRAPPER_KEYS = ['state_dict', 'model_state_dict', 'model'] as const;

const HINT = 'save the model with torch.save(model.state_dict(), path)';

function entriesOf(v: TorchValue): Array<[unknown, TorchValue]> | undefined {
  if (v instanceof Map) return [...v.entries()];
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && !(v instanceof Set)) {
    const proto = Object.getPrototypeOf(v);
    if ((proto === Object.prototype || proto === null) && !isTensorRecord(v)) return Object.entries(v);
  }
  return undefined;
}

/** A state dict: at least one tensor and nothing but tensors (modules' `_extra_state` excepted). */
function asStateDict(entries: Array<[unknown, TorchValue]>): Map<string, TensorRecord> | undefined {
  const out = new Map<string, TensorRecord>();
  for (const [k, v] of entries) {
    if (typeof k !== 'string') return undefined;
    if (isTensorRecord(v)) out.set(k, v);
    else if (!k.endsWith('_extra_state')) return undefined;
  }
  return out.size > 0 ? out : undefined;
}

function kind(v: TorchValue): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return isTorchTuple(v) ? 'tuple' : 'list';
  if (isTensorRecord(v)) return 'single tensor';
  if (v instanceof Set) return 'set';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v === 'object' ? 'dict' : typeof v;
}

export function stateDictEntries(value: TorchValue): Map<string, TensorRecord> {
  const top = entriesOf(value);
  if (!top) throw new TorchFileError(`the file holds a ${kind(value)}, not a state dict; ${HINT}`);
  let found = asStateDict(top);
  if (!found) {
    const byKey = new Map(top);
    for (const key of STATE_DICT_WRAPPER_KEYS) {
      const inner = byKey.get(key);
      const innerEntries = inner === undefined ? undefined : entriesOf(inner);
      found = innerEntries && asStateDict(innerEntries);
      if (found) break;
    }
  }
  if (!found) {
    const keys = top.slice(0, 8).map(([k]) => JSON.stringify(String(k)));
    throw new TorchFileError(
      top.length === 0
        ? `the file holds an empty dict: no tensors to load; ${HINT}`
        : `the file holds no state dict: its top-level keys are ${keys.join(', ')}${top.length > 8 ? ', ...' : ''}, ` +
            `which are neither all tensors nor a ${STATE_DICT_WRAPPER_KEYS.map((k) => `'${k}'`).join('/')} entry ` +
            `holding one; ${HINT}`,
    );
  }
  // nn.DataParallel / DistributedDataParallel save every name under "module.".
  const names = [...found.keys()];
  if (names.every((n) => n.startsWith('module.'))) {
    return new Map(names.map((n) => [n.slice('module.'.length), found!.get(n)!]));
  }
  return found;
}
