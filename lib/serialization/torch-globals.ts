/**
 * The allow-list of Python globals a torch.save file may name. Each maps to a JS stand-in; any
 * other global is refused with an error that names it (and, for the usual suspects, says what to
 * do instead). Nothing from the file is ever executed.
 */
import { TorchFileError } from './errors';
import { COST, PickleBudget } from './pickle-budget';
import { copyBytes, describe, PyCallable } from './pickle-reader';
import { DTYPES, isDtype } from './tensor';
import type { Dtype } from './tensor';
import { OrderedDict, TorchDtype, torchFrozenSet, torchTuple } from './values';
import type { TorchKey, TorchValue } from './values';

/** `torch.FloatStorage` and friends: only their element type matters to the reader. */
export class StorageType {
  constructor(
    readonly qualname: string,
    readonly dtype: Dtype,
  ) {}
}

export interface TensorRebuilder {
  /** torch._utils._rebuild_tensor(_v2): returns the (possibly still data-less) tensor record. */
  rebuildTensor(storage: unknown, offset: unknown, size: unknown, stride: unknown, requiresGrad: unknown): unknown;
  /** torch._utils._rebuild_parameter: marks an already-rebuilt tensor. */
  rebuildParameter(tensor: unknown, requiresGrad: unknown): unknown;
}

const DTYPE_ALIASES: Record<string, Dtype> = {
  float: 'float32',
  double: 'float64',
  half: 'float16',
  long: 'int64',
  int: 'int32',
  short: 'int16',
};

const STORAGE_TYPES = new Map<string, Dtype>(
  (Object.keys(DTYPES) as Dtype[]).map((d) => [DTYPES[d].storage, d] as const),
);

function iterableItems(v: unknown, who: string): unknown[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v;
  if (v instanceof Set) return [...v];
  if (v instanceof Map) return [...v.keys()];
  throw new TorchFileError(`${who} called with a ${describe(v)}`);
}

function nonTensorHint(module: string, name: string): string {
  const q = `${module}.${name}`;
  if (module === '__main__' || module.startsWith('torch.nn.modules') || module.startsWith('torchvision.models')) {
    return (
      `the file pickles a whole Python object (${q}), not a state dict; ` +
      'in Python, load it and save model.state_dict() instead'
    );
  }
  if (module.startsWith('__torch__')) {
    return `the file is a TorchScript archive (it names ${q}); save model.state_dict() with torch.save instead`;
  }
  if (module.startsWith('numpy')) return `numpy objects (${q}) are not supported; store tensors or Python numbers`;
  if (module === 'torch._utils' || module === 'torch') {
    return `unsupported torch object ${q} (only dense tensors of ${Object.keys(DTYPES).join('/')} are supported)`;
  }
  return `unsupported Python global ${q} in pickle: only tensors, containers and plain values are read, and code from the file is never run`;
}

/**
 * `budget` is the pickle's (UnpickleHooks.budget): every call below charges what it builds, since a
 * memoized argument can be passed to it any number of times.
 */
export function makeFindGlobal(
  rebuild: TensorRebuilder,
  budget: PickleBudget = new PickleBudget(),
): (module: string, name: string) => unknown {
  const charge = (bytes: number, who: string): void => budget.charge(bytes, `the pickle (calling ${who})`);
  const orderedDictClass = new PyCallable('collections.OrderedDict', (args) => {
    const d = new OrderedDict();
    const items = iterableItems(args[0], 'OrderedDict');
    charge(COST.map + items.length * COST.entry, 'OrderedDict');
    for (const pair of items) {
      if (!Array.isArray(pair) || pair.length !== 2)
        throw new TorchFileError('OrderedDict called with a non-pair item');
      d.set(pair[0] as TorchKey, pair[1] as TorchValue);
    }
    return d;
  });
  const makeSet = (frozen: boolean) =>
    new PyCallable(frozen ? 'builtins.frozenset' : 'builtins.set', (args) => {
      const items = iterableItems(args[0], 'set');
      charge(COST.set + items.length * COST.entry, 'set');
      const s = new Set(items as TorchKey[]);
      return frozen ? torchFrozenSet(s) : s;
    });
  const bytesClass = new PyCallable('builtins.bytes', (args) => {
    if (args.length === 0) return new Uint8Array(0);
    if (args[0] instanceof Uint8Array) {
      charge(COST.bytes + args[0].length, 'bytes');
      return copyBytes(args[0]);
    }
    const items = iterableItems(args[0], 'bytes');
    charge(COST.bytes + items.length, 'bytes');
    if (!items.every((b) => typeof b === 'number' && Number.isInteger(b) && b >= 0 && b < 256)) {
      throw new TorchFileError('bytes() called with values outside 0..255');
    }
    return Uint8Array.from(items as number[]);
  });
  // Protocol 2 spells bytes as _codecs.encode(latin1_text, 'latin1').
  const codecsEncode = new PyCallable('_codecs.encode', (args) => {
    const [text, encoding] = args;
    if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
      throw new TorchFileError(
        `_codecs.encode is only supported as (str, 'latin1'), got (${describe(text)}, ${String(encoding)})`,
      );
    }
    charge(COST.bytes + text.length, '_codecs.encode');
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0xff) throw new TorchFileError('_codecs.encode: text is not latin-1');
      out[i] = c;
    }
    return out;
  });
  // A tensor record, its shape and the closure that fills it later.
  const tensorCost = (size: unknown): number =>
    4 * COST.object + (Array.isArray(size) ? 2 * size.length * COST.slot : 0);
  const rebuildTensorV2 = new PyCallable('torch._utils._rebuild_tensor_v2', (a) => {
    charge(tensorCost(a[2]), 'torch._utils._rebuild_tensor_v2');
    return rebuild.rebuildTensor(a[0], a[1], a[2], a[3], a[4] ?? false);
  });
  const rebuildTensor = new PyCallable('torch._utils._rebuild_tensor', (a) => {
    charge(tensorCost(a[2]), 'torch._utils._rebuild_tensor');
    return rebuild.rebuildTensor(a[0], a[1], a[2], a[3], false);
  });
  const rebuildParameter = new PyCallable('torch._utils._rebuild_parameter', (a) =>
    rebuild.rebuildParameter(a[0], a[1]),
  );
  const rebuildParameterWithState = new PyCallable('torch._utils._rebuild_parameter_with_state', (a) =>
    rebuild.rebuildParameter(a[0], a[1]),
  );
  // Tensor subclasses / Python state: _rebuild_from_type_v2(func, new_type, args, state).
  const tensorClass = new PyCallable('torch.Tensor');
  const parameterClass = new PyCallable('torch.nn.parameter.Parameter');
  const rebuildFromType = new PyCallable('torch._tensor._rebuild_from_type_v2', (a) => {
    const [func, type, args] = a;
    if (!(func instanceof PyCallable) || !func.call || !Array.isArray(args)) {
      throw new TorchFileError('malformed torch._tensor._rebuild_from_type_v2 call');
    }
    if (type !== tensorClass && type !== parameterClass) {
      throw new TorchFileError(`tensor subclass ${describe(type)} is not supported`);
    }
    return func.call(args);
  });
  const sizeClass = new PyCallable('torch.Size', (a) => {
    const items = iterableItems(a[0], 'torch.Size');
    charge(COST.tuple + items.length * COST.slot, 'torch.Size');
    return torchTuple([...items] as TorchValue[]);
  });
  const deviceClass = new PyCallable('torch.device', (a) => {
    const [type, index] = a;
    if (typeof type !== 'string') throw new TorchFileError('torch.device called without a device string');
    return typeof index === 'number' ? `${type}:${index}` : type;
  });

  const fixed = new Map<string, unknown>([
    ['collections.OrderedDict', orderedDictClass],
    ['builtins.set', makeSet(false)],
    ['__builtin__.set', makeSet(false)],
    ['builtins.frozenset', makeSet(true)],
    ['__builtin__.frozenset', makeSet(true)],
    ['builtins.bytes', bytesClass],
    ['__builtin__.bytes', bytesClass],
    ['builtins.bytearray', bytesClass],
    ['__builtin__.bytearray', bytesClass],
    ['_codecs.encode', codecsEncode],
    ['torch._utils._rebuild_tensor_v2', rebuildTensorV2],
    ['torch._utils._rebuild_tensor', rebuildTensor],
    ['torch._utils._rebuild_parameter', rebuildParameter],
    ['torch._utils._rebuild_parameter_with_state', rebuildParameterWithState],
    ['torch._tensor._rebuild_from_type_v2', rebuildFromType],
    ['torch.Tensor', tensorClass],
    ['torch._tensor.Tensor', tensorClass],
    ['torch.nn.parameter.Parameter', parameterClass],
    ['torch.Size', sizeClass],
    ['torch.device', deviceClass],
  ]);

  return (module: string, name: string): unknown => {
    const known = fixed.get(`${module}.${name}`);
    if (known !== undefined) return known;
    if (module === 'torch' || module === 'torch.cuda') {
      const storageDtype = STORAGE_TYPES.get(name);
      if (storageDtype) return new StorageType(`${module}.${name}`, storageDtype);
    }
    if (module === 'torch') {
      const dtype = DTYPE_ALIASES[name] ?? (isDtype(name) ? name : undefined);
      if (dtype) return new TorchDtype(dtype);
    }
    throw new TorchFileError(nonTensorHint(module, name));
  };
}

/** For pickles that may only hold plain values (legacy headers, storage key lists). */
export function refuseGlobals(module: string, name: string): never {
  throw new TorchFileError(`unexpected Python global ${module}.${name} in a torch.save header`);
}
