// 1,000 forward passes must not grow RSS by more than 5% after warm-up: outputs freed by dispose()
// and, for the second half, by the garbage collector alone (native memory is reported to V8).
import { describe, expect, it } from 'vitest';
import { resnet, Tensor } from '../lib';

describe('memory', () => {
  it('1,000 forward passes grow RSS by < 5% after warm-up', async () => {
    const model = resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'cifar' }).eval();
    const input = Tensor.fromArray(new Float32Array(2 * 8 * 8).fill(0.5), [2, 1, 8, 8]);
    for (let i = 0; i < 100; i++) (await model.forward(input)).dispose();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 500; i++) (await model.forward(input)).dispose();
    for (let i = 0; i < 500; i++) await model.forward(input); // left to the finalizers
    const after = process.memoryUsage().rss;
    const growth = (after - before) / before;
    console.log(`RSS ${(before / 2 ** 20).toFixed(1)} MiB -> ${(after / 2 ** 20).toFixed(1)} MiB (${(growth * 100).toFixed(2)}%)`);
    expect(growth).toBeLessThan(0.05);
    model.dispose();
  });
});
