#!/usr/bin/env node
'use strict';
// Loads the addon (SGDR_ADDON_PATH picks a non-default build, e.g. the node-gyp one) and runs one
// forward pass and one training step: proof that a build links and works.
const lib = require('../dist');
const { addonPath } = require('../dist/binding');

(async () => {
  const model = lib.resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'cifar', seed: 0 });
  const x = lib.Tensor.fromArray(new Float32Array(4 * 28 * 28).fill(0.5), [4, 1, 28, 28]);
  const y = lib.Tensor.fromArray(new BigInt64Array([0n, 1n, 2n, 3n]), [4]);
  const opt = new lib.SGD(model, { lr: 0.05, momentum: 0.9 });
  model.train();
  const { loss } = await lib.trainStep(model, opt, x, y);
  model.eval();
  const out = await model.forward(x);
  if (!Number.isFinite(loss) || out.shape.join('x') !== '4x10') throw new Error('smoke test produced wrong results');
  console.log(
    `smoke test ok: ${addonPath()} (LibTorch ${require(addonPath()).libtorchVersion}), loss ${loss.toFixed(4)}`,
  );
})().catch((err) => {
  console.error(`smoke test failed: ${err.message}`);
  process.exit(1);
});
