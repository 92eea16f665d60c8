/**
 * The LR range test on disk: DIR/lr-find.json (snake_case, the file contract of `sgdr lr-find`:
 * {"lr": [...], "loss": [...], "suggested_lr": x, "method": "...", ...}) and its figure as
 * DIR/lr-find.svg and DIR/lr-find.png. `sgdr lr-find` and an experiment's `lrFind` write the same
 * files, and the experiment report reads lr-find.json back to draw its figure.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeTextAtomic, writeViaTemp } from '../atomic-file';
import { renderPng, renderSvg } from '../plot';
import { LR_SUGGESTIONS, type LrFindResult, type LrSuggestion } from './lr-find';
import { lrFindFigure, SUGGESTION_NAMES, type LrMark } from './lr-find-figure';

export const LR_FIND_JSON = 'lr-find.json';

export interface LrFindDocument {
  lr: number[];
  /** The smoothed (debiased EMA) loss of every step. */
  loss: number[];
  raw_loss: number[];
  suggested_lr: number | null;
  /** The step the suggestion was read at (an index into lr and loss), or null. */
  suggested_index: number | null;
  method: LrSuggestion;
  method_description: string;
  stopped: LrFindResult['stopped'];
  start_lr: number;
  end_lr: number;
  iterations: number;
  beta: number;
  diverge_factor: number;
  /** What was swept: data, arch, batch size, optimizer (and, from an experiment, its seed). */
  [extra: string]: unknown;
}

export function lrFindDocument(result: LrFindResult, extra: Record<string, unknown> = {}): LrFindDocument {
  return {
    lr: result.lr,
    loss: result.loss,
    raw_loss: result.rawLoss,
    suggested_lr: result.suggestedLr,
    suggested_index: result.suggestedIndex,
    method: result.method,
    method_description: SUGGESTION_NAMES[result.method],
    stopped: result.stopped,
    start_lr: result.startLr,
    end_lr: result.endLr,
    iterations: result.iterations,
    beta: result.beta,
    diverge_factor: result.divergeFactor,
    ...extra,
  };
}

const numbers = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number' || x === null);

/**
 * The LrFindResult a document holds (for its figure). JSON turns a non-finite loss into null: it
 * comes back as NaN. A document that is not one (hand-edited, torn) is refused naming the field.
 */
export function lrFindResultOf(doc: unknown, file = LR_FIND_JSON): LrFindResult {
  const d = doc as Partial<LrFindDocument> | null;
  const bad = (field: string, why: string): never => {
    throw new Error(`${file}: not an LR range test record: ${field} ${why}`);
  };
  if (!d || typeof d !== 'object' || Array.isArray(d)) bad('the document', 'must be an object');
  for (const k of ['lr', 'loss', 'raw_loss'] as const) if (!numbers(d![k])) bad(k, 'must be a list of numbers');
  if (d!.lr!.length === 0 || d!.loss!.length !== d!.lr!.length || d!.raw_loss!.length !== d!.lr!.length)
    bad('lr, loss and raw_loss', 'must be non-empty and of one length');
  if (!LR_SUGGESTIONS.includes(d!.method as LrSuggestion)) bad('method', `must be ${LR_SUGGESTIONS.join(' or ')}`);
  const index = d!.suggested_index ?? null;
  if (index !== null && !(Number.isInteger(index) && index >= 0 && index < d!.lr!.length))
    bad('suggested_index', `must be an index into lr, got ${JSON.stringify(index)}`);
  const nan = (xs: Array<number | null>) => xs.map((x) => (x === null ? NaN : x));
  return {
    lr: d!.lr!,
    loss: nan(d!.loss!),
    rawLoss: nan(d!.raw_loss!),
    suggestedLr: typeof d!.suggested_lr === 'number' ? d!.suggested_lr : null,
    suggestedIndex: index,
    method: d!.method!,
    stopped: d!.stopped ?? 'completed',
    startLr: d!.start_lr ?? d!.lr![0]!,
    endLr: d!.end_lr ?? d!.lr![d!.lr!.length - 1]!,
    iterations: d!.iterations ?? d!.lr!.length,
    beta: d!.beta ?? 0.98,
    divergeFactor: d!.diverge_factor ?? 4,
  };
}

/** How the sweep ended, in words (for the terminal and the report). */
export function lrFindEnding(result: Pick<LrFindResult, 'stopped' | 'lr' | 'divergeFactor'>): string {
  const steps = result.lr.length;
  if (result.stopped === 'diverged')
    return `stopped after ${steps} steps: the smoothed loss passed ${result.divergeFactor}x its best`;
  return result.stopped === 'aborted' ? `stopped after ${steps} steps` : `all ${steps} steps`;
}

/** Reads DIR/lr-find.json (undefined when there is none). */
export function readLrFindDocument(dir: string): LrFindDocument | undefined {
  const file = path.join(dir, LR_FIND_JSON);
  if (!fs.existsSync(file)) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  lrFindResultOf(doc, file);
  return doc as LrFindDocument;
}

/** Writes DIR/lr-find.json, lr-find.svg and lr-find.png (each atomically); the JSON file's path. */
export async function writeLrFindFiles(
  dir: string,
  result: LrFindResult,
  options: { extra?: Record<string, unknown>; title?: string; marks?: LrMark[] } = {},
): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const jsonFile = path.join(dir, LR_FIND_JSON);
  await writeTextAtomic(jsonFile, JSON.stringify(lrFindDocument(result, options.extra)) + '\n');
  const svg = renderSvg(lrFindFigure(result, options.title, options.marks));
  await writeTextAtomic(path.join(dir, 'lr-find.svg'), svg);
  await writeViaTemp(path.join(dir, 'lr-find.png'), (tmp) => fs.promises.writeFile(tmp, renderPng(svg)));
  return jsonFile;
}
