// model.evaluate() and model.predict() against PyTorch on the same weights and data, and the Tensor
// ops results need (softmax, argmax, toList) against torch's.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dataset, openData, resnet, SGD, Tensor, trainStep } from '../lib';
import { writeIdxDataset } from './helpers/idx';
import { readFloat32, referenceScript, tempDir } from './helpers/native';
import { requireTorchOrSkip, runPython } from './helpers/python';

const hasTorch = requireTorchOrSkip(true);

describe('Tensor ops for results', () => {
  it('toList nests the data as the shape; 0-d gives the number; bool gives booleans', () => {
    const t = Tensor.fromArray(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    expect(t.toList()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(Tensor.fromArray(new Float32Array([7]), []).toList()).toBe(7);
    expect(Tensor.fromArray(new BigInt64Array([3n, -2n]), [2, 1]).toList()).toEqual([[3], [-2]]);
    expect(Tensor.fromArray(new Uint8Array([1, 0]), [2], { dtype: 'bool' }).toList()).toEqual([true, false]);
    expect(Tensor.fromArray(new Float32Array(0), [2, 0]).toList()).toEqual([[], []]);
  });

  it('a bad dim names the op, the shape and the value', () => {
    const t = Tensor.fromArray(new Float32Array(6), [2, 3]);
    expect(() => t.softmax(2)).toThrow('softmax: dim must be an integer in [-2, 1] for shape [2, 3], got 2');
    expect(() => t.argmax(-3)).toThrow('argmax: dim must be an integer in [-2, 1] for shape [2, 3], got -3');
    expect(() => Tensor.fromArray(new Float32Array(0), [2, 0]).argmax(1)).toThrow(
      'argmax: dimension 1 of shape [2, 0] is empty',
    );
  });

  it.runIf(hasTorch)(
    "softmax and argmax equal torch's along every dim (ties: first index; NaN is the maximum)",
    async () => {
      const shape = [3, 4, 5];
      const data = new Float32Array(60).map((_, i) => Math.sin(i * 12.9898) * 30);
      // Ties and a NaN along the last dim of row [0, 0], a huge logit that overflows a naive exp.
      data[1] = data[3] = 100;
      data[7] = NaN;
      data[12] = 1e4;
      const t = Tensor.fromArray(data, shape);
      const script = `
import json, sys, math, torch
x = torch.tensor(json.loads(sys.argv[1]), dtype=torch.float32).reshape(3, 4, 5)
x.view(-1)[7] = float('nan')
out = {}
for d in range(-3, 3):
    s = torch.softmax(x, dim=d)
    out[str(d)] = {"softmax": [None if math.isnan(v) else v for v in s.flatten().tolist()], "argmax": x.argmax(dim=d).flatten().tolist(), "shape": list(x.argmax(dim=d).shape)}
print(json.dumps(out))`;
      const plain = Array.from(data, (v) => (Number.isNaN(v) ? 0 : v));
      const expected = JSON.parse((await runPython(script, [JSON.stringify(plain)])).stdout) as Record<
        string,
        { softmax: Array<number | null>; argmax: number[]; shape: number[] }
      >;
      for (let d = -3; d < 3; d++) {
        const e = expected[String(d)]!;
        const s = t.softmax(d);
        expect(s.shape).toEqual(shape);
        const got = s.toFloat32Array();
        e.softmax.forEach((v, i) => {
          if (v === null) expect(Number.isNaN(got[i]!), `softmax dim ${d} [${i}]`).toBe(true);
          else expect(Math.abs(got[i]! - v), `softmax dim ${d} [${i}]`).toBeLessThanOrEqual(1e-6);
        });
        const a = t.argmax(d);
        expect(a.dtype).toBe('int64');
        expect(a.shape).toEqual(e.shape);
        expect(Array.from(a.toArray() as BigInt64Array, Number), `argmax dim ${d}`).toEqual(e.argmax);
      }
    },
  );
});

describe.runIf(hasTorch)('model.evaluate() and model.predict() against PyTorch', () => {
  it('loss, accuracy, confusion matrix and probabilities equal torchvision on the same weights', async () => {
    const dir = tempDir('evaluate');
    const data = writeIdxDataset(path.join(dir, 'data'), 200, 70);
    // A few training steps, so the predictions differ by class and the confusion matrix is not one column.
    const { train, val } = openData(`fashion-mnist:${data}`, { augment: false });
    const model = resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'imagenet', seed: 4 });
    const opt = new SGD(model, { lr: 0.01, momentum: 0.9 });
    const loader = train.loader({ batchSize: 50, seed: 1 });
    for (let epoch = 0; epoch < 2; epoch++) {
      for await (const b of loader.epoch(epoch)) {
        await trainStep(model, opt, b.images, b.labels);
        b.dispose();
      }
    }
    loader.dispose();
    const weights = path.join(dir, 'weights.pth');
    await model.saveStateDict(weights);
    model.train();
    await runPython(referenceScript('model_evaluate.py'), [data, weights, dir]);
    const ref = JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8')) as {
      loss: number;
      accuracy: number;
      confusion: number[][];
    };

    // A batch size that does not divide the 70 examples: the last batch is partial.
    const result = await model.evaluate(val, { batchSize: 32 });
    expect(model.training).toBe(true); // its mode is restored
    console.log(
      `evaluate: loss ${result.loss.toFixed(6)} (torch ${ref.loss.toFixed(6)}), accuracy ${result.accuracy} (torch ${ref.accuracy})`,
    );
    expect(result.count).toBe(70);
    expect(Math.abs(result.loss - ref.loss) / ref.loss).toBeLessThanOrEqual(1e-5);
    expect(result.accuracy).toBeCloseTo(ref.accuracy, 6);
    expect(result.confusionMatrix).toEqual(ref.confusion);
    expect(new Set(ref.confusion.map((row) => row.indexOf(Math.max(...row)))).size).toBeGreaterThan(1);
    expect(result.perClassAccuracy[3]).toBeCloseTo(ref.confusion[3]![3]! / 7, 12);
    expect(result.classNames).toEqual(val.classNames);

    const refProbs = readFloat32(path.join(dir, 'probabilities.bin'));
    const probs = await model.predict(val, { batchSize: 16 });
    expect(probs.shape).toEqual([70, 10]);
    const p = probs.toFloat32Array();
    let maxDiff = 0;
    for (let i = 0; i < p.length; i++) maxDiff = Math.max(maxDiff, Math.abs(p[i]! - refProbs[i]!));
    console.log(`predict: max |p - p_torch| = ${maxDiff.toExponential(2)}`);
    expect(maxDiff).toBeLessThanOrEqual(1e-5);
    const rows = probs.toList() as number[][];
    for (const row of rows) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // argmax of the probabilities is the confusion matrix's column, per example.
    const predicted = Array.from(probs.argmax(1).toArray() as BigInt64Array, Number);
    const labels = val.labels();
    const confusion = Array.from({ length: 10 }, () => new Array(10).fill(0));
    predicted.forEach((c, i) => confusion[labels[i]!]![c]++);
    expect(confusion).toEqual(ref.confusion);

    // A tensor of images: the same probabilities as the data set's first examples.
    const images = Array.from({ length: 5 }, (_, i) => val.get(i));
    const batch = Tensor.fromArray(
      Float32Array.from(images.flatMap((im) => Array.from(im.toFloat32Array()))),
      [5, 1, 28, 28],
    );
    const fromTensor = (await model.predict(batch)).toFloat32Array();
    for (let i = 0; i < 50; i++) expect(Math.abs(fromTensor[i]! - refProbs[i]!)).toBeLessThanOrEqual(1e-4);
    const one = await model.predict(images[2]!);
    expect(one.shape).toEqual([1, 10]);

    // Bad input names what is wrong.
    await expect(model.predict(Tensor.fromArray(new Float32Array(4), [2, 2]))).rejects.toThrow(
      'predict takes images [N, C, H, W] or one image [C, H, W], got shape [2, 2]',
    );
    await expect(model.predict(Tensor.fromArray(new Float32Array(3 * 28 * 28), [1, 3, 28, 28]))).rejects.toThrow(
      'the images have 3 channel(s), the model takes 1',
    );
    await expect(model.evaluate(val, { batchSize: 0 })).rejects.toThrow('batchSize must be an integer >= 1, got 0');
    await expect(model.evaluate({} as Dataset)).rejects.toThrow('evaluate takes a Dataset');
    const small = resnet('resnet18', { numClasses: 5, inChannels: 1 });
    await expect(small.evaluate(val)).rejects.toThrow('the data has 10 classes, the model has numClasses 5');
    small.dispose();
    for (const im of images) im.dispose();
    model.dispose();
    train.dispose();
    val.dispose();
  }, 300_000);
});
