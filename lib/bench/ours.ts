/**
 * Our side of every workload: a torchvision-shaped ResNet with SGD (momentum 0.9, weight decay 5e-4)
 * and the NativeTrainer over random images resident in memory, timed in JS around the native calls.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { native, type NativeDataset, type NativeTrainer } from '../binding';
import type { DeviceSpec } from '../device';
import { resnet, type ResNet, type ResNetArch } from '../nn/resnet';
import { SGD } from '../optim/optimizer';
import type { BenchOptions } from './options';
import { syntheticDataset } from './native';

/** A workload's JSON result (snake_case keys; `sgdr bench --json` prints it). */
export type Json = Record<string, unknown>;

/** Our side of a training or evaluation workload: model, optimizer and trainer over in-memory data. */
export class Ours {
  readonly model: ResNet;
  readonly optimizer: SGD;
  readonly trainer: NativeTrainer;
  readonly trainSet: NativeDataset;
  readonly valSet: NativeDataset;
  readonly lrs: Float64Array;

  constructor(
    readonly o: BenchOptions,
    batchesPerEpoch: number,
  ) {
    this.model = resnet(o.arch as ResNetArch, {
      numClasses: o.numClasses,
      inChannels: o.channels,
      stem: 'imagenet',
      device: o.device as DeviceSpec,
      seed: 0,
    });
    this.optimizer = new SGD(this.model, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
    const spec = {
      kind: 'synthetic' as const,
      size: batchesPerEpoch * o.batchSize,
      channels: o.channels,
      imageSize: o.imageSize,
      numClasses: o.numClasses,
      distinct: Math.min(batchesPerEpoch * o.batchSize, 1024),
      seed: 0,
    };
    this.trainSet = syntheticDataset(spec);
    this.valSet = syntheticDataset({ ...spec, split: 'val', seed: 1 });
    this.trainer = new (native().NativeTrainer)(this.model.native, this.optimizer.native, {
      train: this.trainSet,
      val: this.valSet,
      batchSize: o.batchSize,
      seed: 0,
      workers: o.workers,
    });
    this.lrs = new Float64Array(this.trainer.batchesPerEpoch()).fill(0.05);
  }

  /** `steps` batches of the epoch loop (the last `steps` of an epoch), wall time around runEpoch(). */
  async train(steps: number, epoch: number): Promise<{ seconds: number; images: number }> {
    const t0 = process.hrtime.bigint();
    const r = await this.trainer.runEpoch({ epoch, lrs: this.lrs, startBatch: this.lrs.length - steps });
    return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, images: r.count };
  }

  /** One evaluation pass over the validation set (inference mode), wall time around evaluate(). */
  async evaluate(): Promise<{ seconds: number; images: number }> {
    const t0 = process.hrtime.bigint();
    const r = await this.trainer.evaluate();
    return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, images: r.count };
  }

  close(): void {
    this.trainer.close();
    this.model.dispose();
    this.trainSet.dispose();
    this.valSet.dispose();
  }
}

export function ips(r: { seconds: number; images: number }): number {
  return r.images / r.seconds;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sgdr-bench-${prefix}-`));
}
