/**
 * Optimizers over a model's trainable parameters: LibTorch's SGD, Adam and AdamW (the same update
 * rules as PyTorch's), with per-parameter-group learning rates.
 */
import { native, type NativeOptimizer, type NativeOptimizerOptions } from '../binding';
import type { ResNet } from '../nn/resnet';
import { isTensorRecord, TorchFloat, torchFloat, type TorchValue } from '../serialization';

export interface ParamGroup<O> {
  /** Parameters whose names start with one of these prefixes join this group (e.g. ['fc.']). */
  prefixes: string[];
  /** Overrides of the optimizer's options for this group. */
  options?: Partial<O>;
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
}

export abstract class Optimizer {
  /** @internal */
  readonly native: NativeOptimizer;
  /** @internal The model whose parameters this optimizer steps: fit() and trainStep() refuse another. */
  readonly model: ResNet;

  protected constructor(
    kind: 'sgd' | 'adam' | 'adamw',
    model: ResNet,
    options: NativeOptimizerOptions,
    groups: Array<ParamGroup<NativeOptimizerOptions>> = [],
  ) {
    if (!model || typeof model !== 'object' || !('native' in model)) throw new TypeError('model must be a ResNet');
    if (!options || typeof options !== 'object') throw new TypeError('optimizer options must be an object');
    this.native = new (native().NativeOptimizer)(
      model.native,
      kind,
      options,
      groups.map((g) => ({ ...(g.options ?? {}), prefixes: g.prefixes })),
    );
    this.model = model;
  }

  /** Parameter groups: group 0 holds every trainable parameter no other group claims. */
  get groupCount(): number {
    return this.native.groupCount();
  }

  /** The learning rate of a group (default 0). */
  getLr(group = 0): number {
    return this.native.getLr(group);
  }

  /** Sets the learning rate of one group, or of every group when `group` is omitted. */
  setLr(lr: number, group?: number): void {
    this.native.setLr(lr, group);
  }

  get lr(): number {
    return this.getLr(0);
  }

  set lr(value: number) {
    this.setLr(value);
  }

  /** Sets the weight decay of every group. */
  setWeightDecay(weightDecay: number): void {
    this.native.setWeightDecay(weightDecay);
  }

  /** Drops all gradients (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    this.native.zeroGrad();
  }

  /**
   * Momentum buffers / Adam moments and per-group hyper-parameters, laid out like PyTorch's
   * optimizer.state_dict() ({ state: {index: {...}}, param_groups: [...] }), ready for a checkpoint.
   */
  stateDict(): TorchValue {
    const exported = this.native.exportState() as {
      kind: string;
      state: Array<Record<string, unknown> & { index: number }>;
      param_groups: Array<Record<string, unknown>>;
    };
    const state = new Map<number, TorchValue>();
    for (const { index, ...fields } of exported.state) state.set(index, new Map(Object.entries(fields)) as TorchValue);
    const floats = new Set(['lr', 'momentum', 'dampening', 'weight_decay', 'eps']);
    const groups = exported.param_groups.map((g) => {
      const out: Record<string, TorchValue> = {};
      for (const [k, v] of Object.entries(g)) {
        if (floats.has(k)) out[k] = torchFloat(v as number);
        else if (k === 'betas') out[k] = (v as number[]).map(torchFloat);
        else out[k] = v as TorchValue;
      }
      return out;
    });
    return { kind: exported.kind, state, param_groups: groups };
  }

  /** Restores what stateDict() returned (possibly after a round trip through a file). */
  loadStateDict(value: TorchValue): void {
    const plain = toPlain(value) as {
      kind?: string;
      state?: Record<string, Record<string, unknown>>;
      param_groups?: unknown[];
    };
    if (!plain || typeof plain !== 'object' || !plain.state || !Array.isArray(plain.param_groups)) {
      throw new TypeError("optimizer state must have 'state' and 'param_groups'");
    }
    const state = Object.entries(plain.state).map(([index, fields]) => ({ ...fields, index: Number(index) }));
    this.native.importState({ kind: plain.kind, state, param_groups: plain.param_groups });
  }
}

/** How deep optimizer state may nest (real state is 4 levels: state / index / field / value). */
const MAX_STATE_DEPTH = 64;

/**
 * Maps (as read from a torch file) become plain objects; tensors, arrays and numbers stay. The
 * state comes from a file, so it may be cyclic (a pickle can append a list to itself), nested a
 * million levels deep, or use '__proto__' as a key: each is refused or kept as a plain key,
 * instead of overflowing the stack or setting a prototype.
 */
function toPlain(value: unknown, depth = 0, open = new Set<unknown>()): unknown {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || isTensorRecord(value)) return value;
  if (value instanceof TorchFloat) return value.value;
  if (depth > MAX_STATE_DEPTH) throw new Error(`optimizer state is nested more than ${MAX_STATE_DEPTH} levels deep`);
  if (open.has(value)) throw new Error('optimizer state contains itself (a cyclic list or dict)');
  open.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => toPlain(v, depth + 1, open));
    const out: Record<string, unknown> = {};
    const entries = value instanceof Map ? [...value] : Object.entries(value);
    for (const [k, v] of entries) {
      Object.defineProperty(out, String(k), {
        value: toPlain(v, depth + 1, open),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  } finally {
    open.delete(value);
  }
}

/** SGD with momentum, dampening, Nesterov and (L2) weight decay, exactly as torch.optim.SGD. */
export class SGD extends Optimizer {
  constructor(model: ResNet, options: SGDOptions, groups: Array<ParamGroup<SGDOptions>> = []) {
    super('sgd', model, options, groups);
  }
}

/** Adam (L2 weight decay added to the gradient), as torch.optim.Adam. */
export class Adam extends Optimizer {
  constructor(model: ResNet, options: AdamOptions = {}, groups: Array<ParamGroup<AdamOptions>> = []) {
    super('adam', model, options, groups);
  }
}

/** AdamW (decoupled weight decay, Loshchilov & Hutter), as torch.optim.AdamW; weightDecay defaults to 0.01. */
export class AdamW extends Optimizer {
  constructor(model: ResNet, options: AdamOptions = {}, groups: Array<ParamGroup<AdamOptions>> = []) {
    super('adamw', model, options, groups);
  }
}
