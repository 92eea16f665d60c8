/**
 * Optimizers over a model's trainable parameters: LibTorch's SGD, Adam and AdamW (the same update
 * rules as PyTorch's), with per-parameter-group learning rates.
 */
import { native, type NativeOptimizer, type NativeOptimizerOptions } from '../binding';
import type { ResNet } from '../nn/resnet';

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

  protected constructor(kind: 'sgd' | 'adam' | 'adamw', model: ResNet, options: NativeOptimizerOptions,
    groups: Array<ParamGroup<NativeOptimizerOptions>> = []) {
    if (!model || typeof model !== 'object' || !('native' in model)) throw new TypeError('model must be a ResNet');
    if (!options || typeof options !== 'object') throw new TypeError('optimizer options must be an object');
    this.native = new (native().NativeOptimizer)(model.native, kind, options,
      groups.map((g) => ({ ...(g.options ?? {}), prefixes: g.prefixes })));
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

  /** Drops all gradients (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    this.native.zeroGrad();
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
