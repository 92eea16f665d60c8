/**
 * Training checkpoints: one PyTorch-format file (torch.load reads it) holding the model's state dict,
 * the optimizer state (momentum buffers / Adam moments), the schedule state, the data position and
 * the metrics so far. Written atomically (temp file + rename) by the torch-file writer, so a crash
 * mid-write leaves the previous checkpoint intact.
 *
 * No RNG state is needed beyond the seed: batch order and augmentation are pure functions of
 * (seed, epoch, example), and ResNets draw no random numbers while training.
 */
import * as fs from 'fs';
import type { ResNet } from '../nn/resnet';
import type { Optimizer } from '../optim/optimizer';
import type { ScheduleState } from '../schedule';
import {
  orderedDict,
  readTorchFile,
  stateDictEntries,
  withoutPath,
  writeTorchFile,
  type TensorRecord,
  type TorchValue,
} from '../serialization';
import type { EpochMetrics } from './metrics';

export const CHECKPOINT_FORMAT = 'libtorch-sgdr-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface SnapshotInfo {
  /** Cycle index that ended (0-based) and the 1-based epoch it ended with. */
  cycle: number;
  epoch: number;
  /** Weights file (a plain state dict; absent when not kept) and the validation probabilities file, relative to the run folder. */
  file?: string;
  probabilities?: string;
}

/** Where training stands: enough to continue exactly. */
export interface TrainingPosition {
  /** Completed epochs; training continues with 0-based epoch `epoch`. */
  epoch: number;
  /** Batches already done in that epoch (0 at an epoch boundary; > 0 after an abort). */
  batch: number;
  /** Sums of the partly done epoch. */
  partial: { lossSum: number; correct: number; count: number; seconds: number; skipped?: number } | null;
  history: EpochMetrics[];
  snapshots: SnapshotInfo[];
  best: { epoch: number; val_loss: number } | null;
  /** With SWA: models averaged so far and their 1-based epochs (the average itself is the checkpoint's swa_average). */
  swa?: { count: number; epochs: number[] };
  /** The run's settings; resuming with different ones is refused. */
  config: Record<string, unknown>;
}

export interface Checkpoint {
  model: Map<string, TensorRecord>;
  optimizer: TorchValue;
  schedule: ScheduleState;
  position: TrainingPosition;
  /** With SWA: the running average of the parameters. */
  swaAverage?: Map<string, TensorRecord>;
}

export async function saveCheckpoint(
  file: string,
  model: ResNet,
  optimizer: Optimizer,
  schedule: ScheduleState,
  position: TrainingPosition,
  state?: Map<string, TensorRecord>,
  swaAverage?: Map<string, TensorRecord>,
): Promise<void> {
  await writeTorchFile(file, {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    model: orderedDict(state ?? model.stateDict()),
    optimizer: optimizer.stateDict(),
    // JSON keeps these exactly as they were (numbers are float64 either way) and readable from Python.
    schedule: JSON.stringify(schedule),
    position: JSON.stringify(position),
    // In the same file as the position that counts its models, so the two never disagree.
    ...(swaAverage ? { swa_average: orderedDict(swaAverage) } : {}),
  });
}

/** The schedule and position JSON a checkpoint may hold (a run's history is ~300 characters an epoch). */
const MAX_JSON_CHARS = 8 * 2 ** 20;

export async function loadCheckpoint(file: string): Promise<Checkpoint> {
  if (!fs.existsSync(file)) throw new Error(`checkpoint not found: ${file}`);
  let value: TorchValue;
  try {
    value = await readTorchFile(file);
  } catch (err) {
    throw new Error(`cannot read checkpoint ${file}: ${withoutPath((err as Error).message, file)}`);
  }
  const get = (key: string): TorchValue | undefined => (value instanceof Map ? value.get(key) : undefined);
  if (get('format') !== CHECKPOINT_FORMAT) throw new Error(`${file} is not a libtorch-sgdr training checkpoint`);
  if (get('version') !== CHECKPOINT_VERSION)
    throw new Error(`${file} has checkpoint version ${String(get('version'))}, expected ${CHECKPOINT_VERSION}`);
  // A damaged or crafted checkpoint is named, whichever part of it is wrong.
  let model: Map<string, TensorRecord>;
  try {
    model = stateDictEntries(get('model') ?? null);
  } catch (err) {
    throw new Error(`${file}: the checkpoint's model: ${(err as Error).message}`);
  }
  const json = <T>(key: string): T => {
    const text = get(key);
    if (typeof text !== 'string') throw new Error(`${file}: the checkpoint's '${key}' is not a JSON string`);
    // JSON.parse builds up to ~30 bytes of heap per byte ('[[],[],...]'); real ones are kilobytes.
    if (text.length > MAX_JSON_CHARS) {
      throw new Error(
        `${file}: the checkpoint's '${key}' is ${text.length} characters of JSON, more than the ${MAX_JSON_CHARS} a checkpoint has`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new Error(`${file}: the checkpoint's '${key}' is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`${file}: the checkpoint's '${key}' is not a JSON object`);
    }
    return parsed as T;
  };
  const optimizer = get('optimizer');
  if (optimizer === undefined) throw new Error(`${file}: the checkpoint has no optimizer state`);
  let swaAverage: Map<string, TensorRecord> | undefined;
  if (get('swa_average') !== undefined) {
    try {
      swaAverage = stateDictEntries(get('swa_average')!);
    } catch (err) {
      throw new Error(`${file}: the checkpoint's swa_average: ${(err as Error).message}`);
    }
  }
  return {
    model,
    optimizer,
    schedule: json<ScheduleState>('schedule'),
    position: json<TrainingPosition>('position'),
    ...(swaAverage ? { swaAverage } : {}),
  };
}
