/**
 * Inference over whole data sets: model.evaluate(dataset) (loss, accuracy, confusion matrix) and
 * model.predict(dataset | tensor) (class probabilities), so a user does not write the loop over
 * loader() batches. The model runs in evaluation mode (BatchNorm's running statistics, no autograd)
 * and is put back in the mode it was in.
 *
 * The loss is computed here in float64 from the logits (log-softmax with the maximum subtracted),
 * which equals PyTorch's F.cross_entropy on the same logits to float32 rounding.
 */
import type { Dataset } from '../data/dataset';
import { Tensor } from '../tensor';
import type { ResNet } from './resnet';

export interface InferenceOptions {
  /** Images per forward pass (default 256). */
  batchSize?: number;
  /** Loader threads (0/absent: automatic). */
  workers?: number;
}

export interface ModelEvaluation {
  /** Mean cross-entropy over the examples. */
  loss: number;
  /** Fraction of examples whose most probable class is their label. */
  accuracy: number;
  /** Examples evaluated. */
  count: number;
  /**
   * confusionMatrix[t][p]: examples of true class t predicted as class p (rows: labels, columns:
   * predictions, as scikit-learn's confusion_matrix). numClasses × numClasses.
   */
  confusionMatrix: number[][];
  /** Per class: correct / examples of that class (NaN for a class with no examples). */
  perClassAccuracy: number[];
  /** The data set's class names, in class-index order. */
  classNames: string[];
}

/** Duck-typed so lib/nn does not load lib/data: what evaluate/predict need of a Dataset. */
function isDataset(value: unknown): value is Dataset {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Dataset).loader === 'function' &&
    typeof (value as Dataset).numClasses === 'number'
  );
}

function checkBatchSize(options: InferenceOptions): number {
  const b = options.batchSize ?? 256;
  if (typeof b !== 'number' || !Number.isInteger(b) || b < 1)
    throw new RangeError(`batchSize must be an integer >= 1, got ${typeof b === 'string' ? `'${b}'` : String(b)}`);
  return b;
}

function checkDataFits(model: ResNet, data: Dataset, what: string): void {
  if (data.channels !== model.inChannels) {
    throw new RangeError(
      `${what}: the data has ${data.channels} channel(s) per image, the model takes ${model.inChannels} (its inChannels)`,
    );
  }
  if (data.numClasses > model.numClasses) {
    throw new RangeError(
      `${what}: the data has ${data.numClasses} classes, the model has numClasses ${model.numClasses}`,
    );
  }
}

/** Runs `work` with the model in evaluation mode, then restores its mode. */
async function inEvalMode<T>(model: ResNet, work: () => Promise<T>): Promise<T> {
  const wasTraining = model.training;
  model.eval();
  try {
    return await work();
  } finally {
    model.train(wasTraining);
  }
}

/** Calls `each(logits, labels)` for every batch of the data set, in data set order. */
async function forEachBatch(
  model: ResNet,
  data: Dataset,
  options: InferenceOptions,
  each: (logits: Float32Array, labels: BigInt64Array, n: number) => void,
): Promise<void> {
  const loader = data.loader({ batchSize: checkBatchSize(options), shuffle: false, workers: options.workers });
  try {
    for await (const batch of loader.epoch(0)) {
      try {
        const input = model.device === batch.images.device ? batch.images : batch.images.to(model.device);
        const logits = await model.forward(input);
        if (input !== batch.images) input.dispose();
        try {
          each(logits.toFloat32Array(), batch.labels.toArray() as BigInt64Array, batch.labels.shape[0]!);
        } finally {
          logits.dispose();
        }
      } finally {
        batch.dispose();
      }
    }
  } finally {
    loader.dispose();
  }
}

export async function evaluateModel(
  model: ResNet,
  data: Dataset,
  options: InferenceOptions = {},
): Promise<ModelEvaluation> {
  if (!isDataset(data)) throw new TypeError('evaluate takes a Dataset (from Dataset.open() or openData())');
  checkDataFits(model, data, 'evaluate');
  const classes = model.numClasses;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let lossSum = 0;
  let correct = 0;
  let count = 0;
  await inEvalMode(model, () =>
    forEachBatch(model, data, options, (logits, labels, n) => {
      for (let i = 0; i < n; i++) {
        const row = i * classes;
        let max = -Infinity;
        let predicted = 0;
        for (let c = 0; c < classes; c++) {
          const v = logits[row + c]!;
          if (v > max) {
            max = v;
            predicted = c;
          }
        }
        let sum = 0;
        for (let c = 0; c < classes; c++) sum += Math.exp(logits[row + c]! - max);
        const label = Number(labels[i]);
        // -log softmax(x)[label] = log(sum exp(x - max)) - (x[label] - max)
        lossSum += Math.log(sum) - (logits[row + label]! - max);
        confusion[label]![predicted]!++;
        if (predicted === label) correct++;
      }
      count += n;
    }),
  );
  const names = data.classNames;
  return {
    loss: count ? lossSum / count : NaN,
    accuracy: count ? correct / count : NaN,
    count,
    confusionMatrix: confusion,
    perClassAccuracy: confusion.map((row, t) => {
      const total = row.reduce((a, b) => a + b, 0);
      return total ? row[t]! / total : NaN;
    }),
    classNames: Array.from({ length: classes }, (_, c) => names[c] ?? String(c)),
  };
}

/**
 * Class probabilities, float32 [N, numClasses] on the CPU: softmax of the logits. A Dataset is
 * run in batches, in its order; a Tensor [N, C, H, W] (or one image [C, H, W]) in one pass.
 */
export async function predictModel(
  model: ResNet,
  input: Dataset | Tensor,
  options: InferenceOptions = {},
): Promise<Tensor> {
  if (input instanceof Tensor) {
    const shape = input.shape;
    if (shape.length !== 3 && shape.length !== 4) {
      throw new RangeError(`predict takes images [N, C, H, W] or one image [C, H, W], got shape [${shape.join(', ')}]`);
    }
    if (shape[shape.length - 3] !== model.inChannels) {
      throw new RangeError(
        `predict: the images have ${shape[shape.length - 3]} channel(s), the model takes ${model.inChannels} (its inChannels)`,
      );
    }
    const batch =
      shape.length === 3 ? Tensor.fromArray(input.toFloat32Array(), [1, ...shape], { device: model.device }) : input;
    try {
      const logits = await inEvalMode(model, () => model.forward(batch));
      try {
        const probs = logits.softmax(1);
        if (probs.device === 'cpu') return probs;
        const onCpu = probs.to('cpu');
        probs.dispose();
        return onCpu;
      } finally {
        logits.dispose();
      }
    } finally {
      if (batch !== input) batch.dispose();
    }
  }
  if (!isDataset(input)) throw new TypeError('predict takes a Dataset or a Tensor of images');
  checkDataFits(model, input, 'predict');
  const classes = model.numClasses;
  const out = new Float32Array(input.size * classes);
  let offset = 0;
  await inEvalMode(model, () =>
    forEachBatch(model, input, options, (logits, _labels, n) => {
      for (let i = 0; i < n; i++) {
        const row = i * classes;
        let max = -Infinity;
        for (let c = 0; c < classes; c++) max = Math.max(max, logits[row + c]!);
        let sum = 0;
        for (let c = 0; c < classes; c++) sum += Math.exp(logits[row + c]! - max);
        for (let c = 0; c < classes; c++) out[offset + row + c] = Math.exp(logits[row + c]! - max) / sum;
      }
      offset += n * classes;
    }),
  );
  return Tensor.fromArray(out.subarray(0, offset), [offset / classes, classes]);
}
