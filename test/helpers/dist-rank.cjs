// One rank of a data-parallel test job, started by test/distributed-*.test.ts with torchrun's
// environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT). It runs the library as a user's script
// does (the compiled dist/) and prints one JSON line: what the test compares across ranks.
//   node dist-rank.cjs fit DATA EPOCHS SEED_PER_RANK [sync]
//                                                        fit() data-parallel (sync: with SyncBatchNorm), then a hash
//                                                        of every parameter and buffer
//   node dist-rank.cjs grad DATA BN                      one trainStep on this rank's half of a batch; BN: eval (running
//                                                        statistics), train (per replica) or sync (SyncBatchNorm)
//   node dist-rank.cjs hang DATA                         fit() for a long time (the test kills a rank)
'use strict';
const crypto = require('node:crypto');
const lib = require('../../dist/index.js');

function hashState(model) {
  const h = crypto.createHash('sha256');
  for (const [name, rec] of model.stateDict()) {
    h.update(name);
    h.update(Buffer.from(rec.data.buffer, rec.data.byteOffset, rec.data.byteLength));
  }
  return h.digest('hex');
}

function weights(model) {
  const out = {};
  for (const [name, rec] of model.stateDict()) if (rec.dtype === 'float32') out[name] = Array.from(rec.data);
  return out;
}

async function main() {
  const [mode, data, epochsArg, seedPerRank, bnArg] = process.argv.slice(2);
  lib.setNumThreads(1);
  const group = await lib.initProcessGroup({ timeoutSeconds: 60 });
  const rank = group ? group.rank : 0;
  if (mode === 'grad') {
    // The same weights on every rank (seed 5) and in the single process. In eval mode BN uses its
    // running statistics, so the replicas' gradients are those of their halves of the batch; with
    // SyncBatchNorm the batch statistics are the whole batch's, as in the single process.
    const bn = epochsArg || 'eval';
    const model = lib.resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'cifar', seed: 5 });
    if (bn === 'eval') model.eval();
    const optimizer = new lib.SGD(model, { lr: 1, momentum: 0, weightDecay: 0 });
    const n = 8,
      side = 12;
    const x = Float32Array.from({ length: n * side * side }, (_, i) => Math.sin(i * 0.37) * 0.8);
    const y = BigInt64Array.from({ length: n }, (_, i) => BigInt((i * 3) % 10));
    const world = group ? group.worldSize : 1;
    const per = n / world;
    const input = lib.Tensor.fromArray(x.slice(rank * per * side * side, (rank + 1) * per * side * side), [
      per,
      1,
      side,
      side,
    ]);
    const target = lib.Tensor.fromArray(y.slice(rank * per, (rank + 1) * per), [per], { dtype: 'int64' });
    const { loss } = await lib.trainStep(model, optimizer, input, target, {
      processGroup: group,
      syncBatchNorm: bn === 'sync',
    });
    process.stdout.write(JSON.stringify({ rank, loss, weights: rank === 0 ? weights(model) : undefined }) + '\n');
  } else {
    const { train, val } = lib.openData(`fashion-mnist:${data}`, { augment: true, imageSize: 12 });
    const seed = seedPerRank === 'differ' ? 11 + 100 * rank : 11;
    const model = lib.resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'cifar', seed });
    const before = hashState(model);
    const optimizer = new lib.SGD(model, { lr: 0.05, momentum: 0.9 });
    const epochs = Number(epochsArg || 2);
    const result = await lib.fit({
      model,
      optimizer,
      schedule: new lib.WarmRestarts({ lr: 0.05, t0: 1, tMult: 2 }),
      train,
      val,
      epochs: mode === 'hang' ? 1000 : epochs,
      batchSize: 8,
      seed: 3,
      processGroup: group,
      syncBatchNorm: bnArg === 'sync',
      callbacks: { onEpochBegin: (e) => process.stdout.write(JSON.stringify({ rank, epochBegin: e }) + '\n') },
    });
    const last = result.history[result.history.length - 1];
    process.stdout.write(JSON.stringify({ rank, before, after: hashState(model), last }) + '\n');
  }
  if (group) await group.close();
}

main().catch((err) => {
  process.stderr.write(`dist-rank: ${err.message}\n`);
  process.exit(1);
});
