/** Out-of-memory failures, named: the batch that did not fit and the option to lower. */
import type { DeviceSpec } from '../device';
import type { ResNet } from '../nn/resnet';
import { Tensor } from '../tensor';
import type { DatasetHandle } from './fit-options';
import { evaluate } from './step';

/** LibTorch's and the C++ runtime's ways of saying that an allocation failed. */
const OUT_OF_MEMORY =
  /std::bad_alloc|bad_alloc|DefaultCPUAllocator|not enough memory|can't allocate memory|out of memory|Cannot allocate memory|Array buffer allocation failed|Invalid typed array length/i;

/** An allocation failure becomes one line naming the batch and the option to lower; others pass. */
export function outOfMemory(err: unknown, what: string, option: string): unknown {
  const message = err instanceof Error ? err.message : String(err);
  if (!OUT_OF_MEMORY.test(message)) return err;
  return new RangeError(`out of memory for a ${what}: lower ${option} (${message.split('\n')[0]!.slice(0, 160)})`);
}

/**
 * A validation batch larger than the training batches would otherwise first run after a whole
 * epoch of training, and fail there for lack of memory. One inference pass on a batch of zeros of
 * that size, before training, fails now instead.
 */
export async function probeEvalBatch(model: ResNet, val: DatasetHandle, batch: number): Promise<void> {
  const shape = val as Partial<{ channels: number; height: number; width: number }>;
  if (!shape.channels || !shape.height || !shape.width) return;
  const what = `validation batch of ${batch} images`;
  let input: Tensor | undefined;
  let target: Tensor | undefined;
  try {
    input = Tensor.fromArray(
      new Float32Array(batch * shape.channels * shape.height * shape.width),
      [batch, shape.channels, shape.height, shape.width],
      { device: model.device as DeviceSpec },
    );
    target = Tensor.fromArray(new BigInt64Array(batch), [batch], { device: model.device as DeviceSpec });
    // In eval mode, as validation runs: BatchNorm uses (and leaves) its running statistics.
    const wasTraining = model.training;
    model.eval();
    try {
      await evaluate(model, input, target);
    } finally {
      model.train(wasTraining);
    }
  } catch (err) {
    throw outOfMemory(err, what, 'evalBatchSize (--eval-batch-size)');
  } finally {
    input?.dispose();
    target?.dispose();
  }
}
