/**
 * A run folder's files: which files a run owns (only those are ever counted or deleted), claiming a
 * folder for a new run, its disk use, and the summary and metrics fit() writes there.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeTextAtomic } from '../atomic-file';
import { RunFolderInUseError } from '../errors';
import { outputFolderProblem } from '../folders';
import type { DiskUse, FitResult } from './fit-options';
import type { EpochMetrics } from './metrics';

/** Sizes of the run's files in `dir` (see runFiles), less `without`. */
export function runDiskUse(dir: string, without: readonly string[] = []): DiskUse {
  const sizes = runFiles(dir, true)
    .filter((f) => f !== 'summary.json' && !without.includes(f))
    .map((f) => [f, fs.statSync(path.join(dir, f)).size] as const)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return { bytes: sizes.reduce((a, [, n]) => a + n, 0), files: Object.fromEntries(sizes) };
}

export const CHECKPOINT_FILE = 'checkpoint.pth';
/** The SWA model of a run (a plain state dict, BatchNorm statistics recomputed). */
export const SWA_FILE = 'swa.pth';
/** Written into the run folder when training diverged: { epoch, batch, loss, message }. */
export const DIVERGED_FILE = 'diverged.json';

/**
 * The files of a run in `dir`: what fit() writes (metrics.jsonl, summary.json, diverged.json, every
 * .pth: checkpoint, best, cycle snapshots and their validation probabilities), TensorBoard event
 * files, and with `runConfig` the run.json of runTraining. Nothing else is ever counted or deleted.
 */
export function runFiles(dir: string, runConfig = false): string[] {
  if (!fs.existsSync(dir)) return [];
  const fixed = new Set(['metrics.jsonl', 'summary.json', DIVERGED_FILE, ...(runConfig ? ['run.json'] : [])]);
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter(
      (f) => f.isFile() && (fixed.has(f.name) || f.name.endsWith('.pth') || f.name.startsWith('events.out.tfevents.')),
    )
    .map((f) => f.name)
    .sort();
}

/** Deletes the files of a run in `dir` (see runFiles); returns their names. */
export function clearRunFiles(dir: string, runConfig = false): string[] {
  const files = runFiles(dir, runConfig);
  for (const f of files) fs.rmSync(path.join(dir, f), { force: true });
  return files;
}

/**
 * Makes `dir` ready for a new run: refuses one that holds files of another run unless `overwrite`
 * (then clears them). With `resume` the files are the run to continue and stay.
 */
export function claimRunFolder(
  dir: string,
  options: { resume?: boolean; overwrite?: boolean; runConfig?: boolean },
): void {
  ensureWritable(dir);
  if (options.resume) return;
  if (options.overwrite) {
    clearRunFiles(dir, options.runConfig);
    return;
  }
  const files = runFiles(dir, options.runConfig);
  if (files.length) {
    const shown = files.length > 3 ? `${files.slice(0, 3).join(', ')}, …` : files.join(', ');
    throw new RunFolderInUseError(
      dir,
      files,
      `${dir} holds another run (${shown}): continue it with resume, or pass overwrite to replace it`,
    );
  }
}

/** Creates the run folder and checks that files can be written there, or fails with one line naming it. */
export function ensureWritable(dir: string): void {
  const problem = outputFolderProblem(dir, { keep: true });
  if (problem) throw new Error(`cannot write to the output folder ${dir}: ${problem}`);
}

/** Rewritten whole each epoch (atomically), so it always matches the checkpoint beside it. */
export async function writeMetrics(dir: string, rows: EpochMetrics[]): Promise<void> {
  await writeTextAtomic(path.join(dir, 'metrics.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

export async function writeSummary(dir: string, result: FitResult, config: Record<string, unknown>): Promise<void> {
  const last = result.history[result.history.length - 1];
  const lastEnsemble = [...result.history].reverse().find((r) => r.ensemble_val_loss !== undefined);
  const summary = {
    config,
    world_size: typeof config.worldSize === 'number' ? config.worldSize : 1,
    epochs: result.history.length,
    final: last ?? null,
    best: result.best,
    snapshots: result.snapshots,
    ensemble: lastEnsemble
      ? {
          val_loss: lastEnsemble.ensemble_val_loss,
          val_acc: lastEnsemble.ensemble_val_acc,
          size: lastEnsemble.ensemble_size,
          epoch: lastEnsemble.epoch,
          method: lastEnsemble.ensemble_method ?? 'last',
          members: lastEnsemble.ensemble_members,
        }
      : null,
    ...(result.swa !== undefined
      ? {
          swa: result.swa,
          swa_val_loss: result.swa?.val_loss ?? null,
          swa_val_acc: result.swa?.val_acc ?? null,
        }
      : {}),
    seconds: result.history.reduce((a, r) => a + r.seconds, 0),
    ...(result.skippedBatches !== undefined ? { skipped_batches: result.skippedBatches } : {}),
    ...(result.disk ? { disk: result.disk } : {}),
  };
  await writeTextAtomic(path.join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
}
