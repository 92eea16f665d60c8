import { Tensor, resnet, SGD, WarmRestarts, fit, openData } from 'libtorch-sgdr';

async function main(): Promise<void> {
  // Training with SGDR: the LR of every batch is the schedule's lrAt(epoch + batch / K)
  const { train, val } = openData('fashion-mnist', { limitTrain: 2048, limitVal: 1000, augment: false });
  const net = resnet('resnet18', { numClasses: 10, inChannels: 1, seed: 0 });   // the imagenet stem
  const result = await fit({
    model: net,
    optimizer: new SGD(net, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 }),
    schedule: new WarmRestarts({ lr: 0.05, t0: 1, tMult: 2 }),
    train, val, epochs: 7, batchSize: 64, seed: 0,
    outDir: 'runs/ts',                // checkpoints, metrics.jsonl, best.pth, cycle snapshots
    overwrite: true,                  // replace the run a previous start left there
    callbacks: { onEpochEnd: (m) => console.log(m.epoch, m.val_loss, m.val_acc) },
  });
  console.log('best epoch', result.best);

  // Inference from a state dict file: best.pth here, or torch.save(model.state_dict()) from PyTorch
  const model = resnet('resnet18', { numClasses: 10, inChannels: 1, device: 'auto' });
  await model.loadStateDict('runs/ts/best.pth');
  model.eval();
  const x = Tensor.fromArray(new Float32Array(2 * 1 * 28 * 28), [2, 1, 28, 28]);
  const y = await model.forward(x);   // off the JS thread
  console.log(y.shape, y.toFloat32Array());
  x.dispose(); y.dispose();           // or let the GC do it
  for (const d of [model, net, train, val]) d.dispose();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
