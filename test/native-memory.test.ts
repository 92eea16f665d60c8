// 1,000 forward passes must not grow RSS by more than 5% after warm-up: outputs freed by dispose()
// and, for the second half, by the garbage collector alone (native memory is reported to V8, so
// V8 collects when it grows). Each output is 1 MiB ([64, 4096] float32), so the 500 outputs left
// to the finalizers hold 500 MiB if they leak: several times the 5% budget, which the test checks
// first, with outputs it holds on purpose.
import { describe, expect, it } from 'vitest';
import { resnet, Tensor } from '../lib';

const MiB = 2 ** 20;

describe('memory', () => {
  it('1,000 forward passes grow RSS by < 5% after warm-up, and a leak of their outputs would show', async () => {
    const model = resnet('resnet18', { numClasses: 4096, inChannels: 1, stem: 'cifar' }).eval();
    const input = Tensor.fromArray(new Float32Array(64 * 8 * 8).fill(0.5), [64, 1, 8, 8]);
    const outputBytes = 64 * 4096 * 4;
    for (let i = 0; i < 100; i++) (await model.forward(input)).dispose();
    const before = process.memoryUsage().rss;

    // The control: 100 outputs held (100 MiB) must show as growth, or the bound below proves nothing.
    const held: Tensor[] = [];
    for (let i = 0; i < 100; i++) held.push(await model.forward(input));
    const holding = process.memoryUsage().rss;
    for (const t of held) t.dispose();
    console.log(`control: 100 outputs held: RSS +${((holding - before) / MiB).toFixed(1)} MiB`);
    expect(holding - before).toBeGreaterThan(0.8 * 100 * outputBytes);
    // What the finalizer half below would hold if finalizers leaked, against the 5% budget.
    expect((500 * outputBytes) / before).toBeGreaterThan(0.25);

    const start = process.memoryUsage().rss;
    for (let i = 0; i < 500; i++) (await model.forward(input)).dispose();
    for (let i = 0; i < 500; i++) await model.forward(input); // left to the finalizers
    const after = process.memoryUsage().rss;
    const growth = (after - start) / start;
    console.log(
      `RSS ${(start / MiB).toFixed(1)} MiB -> ${(after / MiB).toFixed(1)} MiB (${(growth * 100).toFixed(2)}%)`,
    );
    expect(growth).toBeLessThan(0.05);
    input.dispose();
    model.dispose();
  });
});
