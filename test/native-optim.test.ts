// Optimizer steps against PyTorch: same initial weights, same batches, two steps; every parameter
// and buffer afterwards must equal PyTorch's.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTorchFile, resnet, SGD, AdamW, stateDictEntries, Tensor, trainStep, type Optimizer } from '../lib';
import { native } from '../lib/binding';
import { runPython, requireTorchOrSkip } from './helpers/python';
import { readFloat32, readInt64, referenceScript, relativeL2, tempDir } from './helpers/native';

const hasTorch = requireTorchOrSkip(true);
// Bit-for-bit comparisons with PyTorch run the exact path: no lever that rounds differently
// (native/perf/levers.h; read when the addon loads).
process.env.SGDR_EXACT = '1';

function asNumbers(data: ArrayLike<number | bigint>): number[] {
  return Array.from(data as ArrayLike<number>, (v) => Number(v));
}

describe.runIf(hasTorch)('optimizer steps equal PyTorch', () => {
  const cases: Array<[string, (m: ReturnType<typeof resnet>) => Optimizer]> = [
    ['sgd', (m) => new SGD(m, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 })],
    ['sgd-nesterov', (m) => new SGD(m, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4, nesterov: true })],
    ['adamw', (m) => new AdamW(m, { lr: 1e-3, weightDecay: 0.05 })],
  ];
  for (const [kind, makeOptimizer] of cases) {
    it(`${kind}: parameters after two steps equal PyTorch's (bit for bit, but AdamW on 2.x: 1e-6)`, async () => {
      const dir = tempDir(kind);
      const pyLosses = (await runPython(referenceScript('optimizer_step.py'), [dir, kind])).stdout
        .trim()
        .split(' ')
        .map(Number);
      const model = resnet('resnet18', { numClasses: 10 });
      await model.loadStateDict(path.join(dir, 'initial.pth'));
      model.train();
      const optimizer = makeOptimizer(model);
      const losses: number[] = [];
      for (let i = 0; i < 2; i++) {
        const x = Tensor.fromArray(readFloat32(path.join(dir, `x${i}.bin`)), [8, 3, 32, 32]);
        const y = Tensor.fromArray(readInt64(path.join(dir, `y${i}.bin`)), [8]);
        losses.push((await trainStep(model, optimizer, x, y)).loss);
      }
      for (let i = 0; i < 2; i++) expect(Math.abs(losses[i]! - pyLosses[i]!) / pyLosses[i]!).toBeLessThan(1e-5);
      const expected = stateDictEntries(await readTorchFile(path.join(dir, 'after.pth')));
      const ours = model.stateDict();
      let worst = 0;
      let worstName = '';
      for (const [name, ref] of expected) {
        const err = relativeL2(asNumbers(ours.get(name)!.data), asNumbers(ref.data));
        if (err > worst) [worst, worstName] = [err, name];
      }
      // The comparison is only meaningful if the steps moved the weights.
      const initial = stateDictEntries(await readTorchFile(path.join(dir, 'initial.pth')));
      const moved = relativeL2(asNumbers(expected.get('fc.weight')!.data), asNumbers(initial.get('fc.weight')!.data));
      expect(moved).toBeGreaterThan(1e-4);
      console.log(
        `${kind}: worst relative L2 error ${worst.toExponential(2)} (${worstName}); losses ${losses.join(', ')}`,
      );
      // SGD is bit-identical on every line. AdamW is bit-identical to PyTorch 1.13; PyTorch 2.x's
      // Python AdamW updates the first moment with exp_avg.lerp_(grad, 1 - beta1) where LibTorch's C++
      // AdamW (ours) keeps exp_avg.mul_(beta1).add_(grad, 1 - beta1): the same value, rounded
      // differently. Measured on 2.13 and 2.14: worst relative L2 4.3e-8 (layer1.0.bn1.bias) after two steps.
      const torch2 = Number(native().libtorchVersion.split('.')[0]) >= 2;
      expect(worst).toBeLessThanOrEqual(kind === 'adamw' && torch2 ? 1e-6 : 0);
      model.dispose();
    });
  }
});

describe('optimizer and model options', () => {
  it('parameter groups: per-group LR get/set, frozen parameters excluded', () => {
    const model = resnet('resnet18', { numClasses: 10 });
    const opt = new SGD(model, { lr: 0.1, momentum: 0.9 }, [{ prefixes: ['fc.'], options: { lr: 0.01 } }]);
    expect(opt.groupCount).toBe(2);
    expect(opt.getLr(0)).toBe(0.1);
    expect(opt.getLr(1)).toBe(0.01);
    opt.setLr(0.5, 1);
    expect(opt.getLr(1)).toBe(0.5);
    opt.setLr(0.2);
    expect([opt.getLr(0), opt.getLr(1)]).toEqual([0.2, 0.2]);
    expect(() => opt.getLr(2)).toThrow(RangeError);
    const frozen = model.setRequiresGrad(['layer'], false);
    expect(frozen).toBeGreaterThan(0);
    expect(model.parameterCount(true)).toBeLessThan(model.parameterCount());
    model.dispose();
  });
});

describe('optimizer state round trip', () => {
  for (const kind of ['sgd', 'adamw'] as const) {
    it(`${kind}: state saved to a torch file and restored continues identically`, async () => {
      const { writeTorchFile } = await import('../lib');
      const dir = tempDir(`optstate-${kind}`);
      const make = (m: ReturnType<typeof resnet>) =>
        kind === 'sgd'
          ? new SGD(m, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: true })
          : new AdamW(m, { lr: 1e-3 });
      const x = Tensor.fromArray(
        Float32Array.from({ length: 4 * 3 * 16 * 16 }, (_, i) => Math.sin(i)),
        [4, 3, 16, 16],
      );
      const y = Tensor.fromArray(new BigInt64Array([0n, 1n, 2n, 3n]), [4]);
      const a = resnet('resnet18', { numClasses: 4, stem: 'cifar', seed: 5 }).train();
      const optA = make(a);
      await trainStep(a, optA, x, y);
      await a.saveStateDict(path.join(dir, 'model.pth'));
      await writeTorchFile(path.join(dir, 'opt.pth'), optA.stateDict());
      const b = resnet('resnet18', { numClasses: 4, stem: 'cifar', seed: 99 }).train();
      await b.loadStateDict(path.join(dir, 'model.pth'));
      const optB = make(b);
      optB.setLr(0.3);
      optB.loadStateDict(await readTorchFile(path.join(dir, 'opt.pth')));
      expect(optB.lr).toBe(optA.lr);
      const la = (await trainStep(a, optA, x, y)).loss;
      const lb = (await trainStep(b, optB, x, y)).loss;
      expect(lb).toBe(la);
      const wa = a.stateDict().get('layer1.0.conv1.weight')!.data as Float32Array;
      const wb = b.stateDict().get('layer1.0.conv1.weight')!.data as Float32Array;
      expect(relativeL2(wb, wa)).toBe(0);
      expect(() => optB.loadStateDict({ state: {}, param_groups: [] })).toThrow(/parameter groups/);
    });
  }
});
