/// <reference types="node" preserve="true" />
/**
 * Progress for long work. On a terminal: one live bar per epoch (batches, loss, LR, images/s, ETA)
 * redrawn in place and replaced by the epoch's summary line. Elsewhere (CI logs, pipes): plain lines,
 * a few per epoch, never carriage returns.
 */
import type { BatchProgress } from '../train/fit';
import type { EpochMetrics } from '../train/metrics';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0
    ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`
    : `${m}:${String(sec).padStart(2, '0')}`;
}

const fmtLr = (lr: number): string => (lr === 0 ? '0' : lr >= 1e-3 ? lr.toFixed(4) : lr.toExponential(2));
const pct = (v: number | null | undefined): string =>
  v === null || v === undefined ? '-' : `${(v * 100).toFixed(1)}%`;

export class EpochProgress {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #epochs: number;
  readonly #prefix: string;
  #lastPlain = 0;
  #started = Date.now();

  constructor(epochs: number, options: { stream?: NodeJS.WriteStream; prefix?: string } = {}) {
    this.#out = options.stream ?? process.stderr;
    this.#tty = Boolean(this.#out.isTTY) && !process.env.CI;
    this.#epochs = epochs;
    this.#prefix = options.prefix ?? '';
  }

  epochBegin(): void {
    this.#started = Date.now();
    this.#lastPlain = Date.now();
  }

  batch(p: BatchProgress): void {
    const eta = p.imagesPerSecond > 0 ? ((p.batches - p.batch) / p.batch) * ((Date.now() - this.#started) / 1000) : NaN;
    const status = `loss ${p.loss.toFixed(4)}  lr ${fmtLr(p.lr)}  ${Math.round(p.imagesPerSecond)} img/s  ETA ${formatDuration(eta)}`;
    if (this.#tty) {
      const width = 24;
      const filled = Math.round((p.batch / p.batches) * width);
      const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? '>' : '') + ' '.repeat(width - filled);
      const line = `${this.#prefix}epoch ${p.epoch}/${this.#epochs} [${bar}] ${p.batch}/${p.batches}  ${status}`;
      this.#out.write(`\r${line.slice(0, (this.#out.columns || 120) - 1)}\x1b[K`);
    } else if (Date.now() - this.#lastPlain > 10_000) {
      // Without a terminal, a line every 10 s at most keeps logs readable and shows life.
      this.#lastPlain = Date.now();
      this.#out.write(`${this.#prefix}epoch ${p.epoch}/${this.#epochs} batch ${p.batch}/${p.batches}  ${status}\n`);
    }
  }

  epochEnd(m: EpochMetrics): void {
    if (this.#tty) this.#out.write('\r\x1b[K');
    const val = m.val_loss === null ? '' : `  val_loss ${m.val_loss.toFixed(4)} acc ${pct(m.val_acc)}`;
    const ens =
      m.ensemble_val_loss === undefined
        ? ''
        : `  | cycle end: snapshot; ensemble of ${m.ensemble_size} val_loss ${m.ensemble_val_loss.toFixed(4)} acc ${pct(m.ensemble_val_acc)}`;
    this.#out.write(
      `${this.#prefix}epoch ${m.epoch}/${this.#epochs}  train_loss ${m.train_loss.toFixed(4)} acc ${pct(m.train_acc)}${val}` +
        `  lr ${fmtLr(m.lr)}→${fmtLr(m.lr_end)}  ${m.seconds.toFixed(1)} s  ${Math.round(m.images_per_second)} img/s${ens}\n`,
    );
  }
}
