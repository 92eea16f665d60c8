// ResNet outputs against torchvision: weights from torch.save(model.state_dict()), eval mode.
import * as path from 'node:path';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resnet, Tensor, type ResNetArch } from '../lib';
import { runPython, requireTorchOrSkip } from './helpers/python';
import { readFloat32, referenceScript, relativeL2, tempDir } from './helpers/native';

const hasTorch = requireTorchOrSkip(true);

describe.runIf(hasTorch)('ResNet parity with torchvision', () => {
  for (const [arch, size] of [
    ['resnet18', 64],
    ['resnet50', 64],
  ] as const) {
    it(`${arch}: eval output equals torchvision's (rel L2 <= 1e-4)`, async () => {
      const dir = tempDir(arch);
      await runPython(referenceScript('resnet_outputs.py'), [dir, arch, '4', String(size)]);
      const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'));
      expect(Math.abs(meta.bn1_running_mean_sum)).toBeGreaterThan(1e-3); // BN statistics are non-trivial
      const model = resnet(arch, { numClasses: 10 });
      const result = await model.loadStateDict(path.join(dir, 'weights.pth'));
      expect(result).toEqual({ missing: [], unexpected: [] });
      model.eval();
      const x = Tensor.fromArray(readFloat32(path.join(dir, 'input.bin')), meta.input_shape);
      const y = await model.forward(x);
      expect(y.shape).toEqual(meta.output_shape);
      const err = relativeL2(y.toFloat32Array(), readFloat32(path.join(dir, 'output.bin')));
      console.log(`${arch}: relative L2 error vs torchvision = ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(1e-4);
      x.dispose();
      y.dispose();
      model.dispose();
    });
  }

  it('state dict names, order and shapes equal torchvision for every arch', async () => {
    const script = `
import json
from torchvision_compat import torchvision
out = {}
for arch in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]:
    sd = getattr(torchvision.models, arch)().state_dict()
    out[arch] = [[k, list(v.shape)] for k, v in sd.items()]
print(json.dumps(out))`;
    const expected = JSON.parse((await runPython(script)).stdout) as Record<string, Array<[string, number[]]>>;
    for (const [arch, keys] of Object.entries(expected)) {
      const model = resnet(arch as ResNetArch);
      expect(model.stateDictKeys().map((k) => [k.name, k.shape])).toEqual(keys);
      model.dispose();
    }
  });

  it('saveStateDict writes a file PyTorch loads into torchvision', async () => {
    const dir = tempDir('save');
    const model = resnet('resnet18', { numClasses: 7, seed: 3 });
    const file = path.join(dir, 'ours.pth');
    await model.saveStateDict(file);
    const script = `
import sys, torch, collections
from torchvision_compat import torchvision
sd = torch.load(sys.argv[1])
assert isinstance(sd, collections.OrderedDict), type(sd)
m = torchvision.models.resnet18(num_classes=7)
m.load_state_dict(sd)
print(float(sd["fc.weight"].sum()), int(sd["bn1.num_batches_tracked"]))`;
    const [sum, tracked] = (await runPython(script, [file])).stdout.trim().split(' ').map(Number);
    const fc = model.stateDict().get('fc.weight')!.data as Float32Array;
    expect(sum).toBeCloseTo(
      fc.reduce((a, b) => a + b, 0),
      4,
    );
    expect(tracked).toBe(0);
    model.dispose();
  });
});
