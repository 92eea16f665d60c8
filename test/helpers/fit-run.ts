/**
 * The small fit() run the training tests share: ResNet-18 (imagenet stem, 1 input channel, weights
 * seed 7) on an IDX folder the test wrote, SGD lr 0.05 momentum 0.9, batch 16, seed 3, SGDR T_0=1
 * T_mult=2 unless `options` say otherwise. The model and data sets are disposed afterwards.
 */
import {
  fit,
  openData,
  resnet,
  SGD,
  WarmRestarts,
  type EpochMetrics,
  type FitOptions,
  type SGDOptions,
} from '../../lib';

export async function fitSmall(
  data: string,
  outDir: string | undefined,
  options: Partial<FitOptions> & { sgd?: Omit<SGDOptions, 'lr' | 'momentum'> } = {},
) {
  const { sgd, ...overrides } = options;
  const { train, val } = openData(`fashion-mnist:${data}`, { augment: true });
  const model = resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'imagenet', seed: 7 });
  const optimizer = new SGD(model, { lr: 0.05, momentum: 0.9, ...sgd });
  try {
    return await fit({
      model,
      optimizer,
      schedule: new WarmRestarts({ lr: 0.05, t0: 1, tMult: 2 }),
      train,
      val,
      epochs: 4,
      batchSize: 16,
      seed: 3,
      outDir,
      ...overrides,
    });
  } finally {
    model.dispose();
    train.dispose();
    val.dispose();
  }
}

/** Metrics rows without their timings, which differ between runs when nothing else may. */
export const withoutTimings = (rows: EpochMetrics[]) =>
  rows.map(({ seconds: _s, images_per_second: _ips, ...rest }) => rest);
