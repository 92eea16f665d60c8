/**
 * One training step and one evaluation pass, each off the JS thread. fit() (the epoch loop) is
 * built on the same native pieces; these are for custom loops, tests and benchmarks.
 */
import type { ProcessGroup } from '../distributed/process-group';
import { native } from '../binding';
import { withCallerStack } from '../errors';
import type { ResNet } from '../nn/resnet';
import type { Optimizer } from '../optim/optimizer';
import { Tensor } from '../tensor';

function checkTensor(value: unknown, what: string): asserts value is Tensor {
  if (!(value instanceof Tensor)) throw new TypeError(`${what} must be a Tensor`);
}

/** forward → cross-entropy → backward → optimizer step. `target` holds int64 class indices. */
export function trainStep(
  model: ResNet,
  optimizer: Optimizer,
  input: Tensor,
  target: Tensor,
  options: {
    processGroup?: ProcessGroup;
    /** With processGroup: BatchNorm normalises with the global batch's statistics (SyncBatchNorm). */
    syncBatchNorm?: boolean;
  } = {},
): Promise<{ loss: number }> {
  return withCallerStack(async () => {
    checkTensor(input, 'input');
    checkTensor(target, 'target');
    if (optimizer?.model !== model) {
      throw new TypeError(
        "trainStep(): the optimizer was built for another model's parameters, so the step would not change this model",
      );
    }
    // Data-parallel: gradients averaged over the group's ranks before the step; the loss is the global batch's.
    return native().trainStep(model.native, optimizer.native, input.native, target.native, {
      processGroup: options.processGroup?.native,
      syncBatchNorm: options.syncBatchNorm ?? false,
    });
  });
}

export interface EvaluationResult {
  /** Mean cross-entropy over the batch. */
  loss: number;
  correct: number;
  count: number;
}

/** Mean loss and correct predictions on a batch, in inference mode (no autograd). */
export function evaluate(model: ResNet, input: Tensor, target: Tensor): Promise<EvaluationResult> {
  return withCallerStack(async () => {
    checkTensor(input, 'input');
    checkTensor(target, 'target');
    return native().evaluate(model.native, input.native, target.native);
  });
}
