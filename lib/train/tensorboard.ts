/**
 * TensorBoard event files: what `tensorboard --logdir` and its EventAccumulator read.
 *
 * A file is a sequence of TFRecords: uint64 length (little-endian), masked CRC32C of those 8 bytes,
 * the data, masked CRC32C of the data. Each record is one `Event` protobuf (tensorboard's
 * event.proto): the first holds `file_version: "brain.Event:2"`, the others a `Summary` of scalar
 * values (`simple_value`) or text (a string tensor for the text plugin), or a `SessionLog`.
 *
 * The protobuf wire format comes from @bufbuild/protobuf's BinaryWriter and CRC32C from crc-32;
 * the field numbers are tensorboard/compat/proto/{event,summary,tensor}.proto's.
 *
 * Event files are logs that TensorBoard reads while they grow, so records are appended (not written
 * atomically as the run's other files are): a kill can at worst cut the last record short, which
 * TensorBoard's reader stops at. A resumed run starts a new file with a SessionLog START at the step
 * it resumes from: TensorBoard then drops the steps at and after it from earlier files (those of
 * batches the interrupted run did after its last checkpoint), so the curves have no doubled steps.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

// crc-32 ships types for its CRC32 module only; its CRC32C module has the same API.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const CRC32C = require('crc-32/crc32c') as { buf(data: Uint8Array, seed?: number): number };

export const EVENT_FILE_PREFIX = 'events.out.tfevents.';

/** TFRecord's masked CRC32C: rotate right by 15 bits and add a constant, as tensorflow/core/lib/hash/crc32c.h. */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = CRC32C.buf(data) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord around `data`. */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + 4 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

/** A value of a Summary: a scalar, or text shown by TensorBoard's text plugin. */
export type SummaryValue = { tag: string; scalar: number } | { tag: string; text: string };

export interface EventFields {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values?: SummaryValue[];
  /** SessionLog status: 1 = START (TensorBoard purges the steps >= this event's step seen before). */
  sessionStatus?: 1 | 2 | 3;
}

const DT_STRING = 7;

function writeValue(w: BinaryWriter, v: SummaryValue): void {
  w.tag(1, WireType.LengthDelimited).fork(); // Summary.value
  w.tag(1, WireType.LengthDelimited).string(v.tag); // Value.tag
  if ('scalar' in v) {
    // Value.simple_value is a float32: values beyond its range are +-Infinity there (as in
    // PyTorch's SummaryWriter), not an error: an LR of 1e300 is still logged.
    w.tag(2, WireType.Bit32).float(Math.fround(v.scalar));
  } else {
    // Value.metadata { plugin_data { plugin_name: "text" } } and a scalar DT_STRING tensor.
    w.tag(9, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string('text').join();
    w.join();
    w.tag(8, WireType.LengthDelimited).fork();
    w.tag(1, WireType.Varint).int32(DT_STRING);
    w.tag(2, WireType.LengthDelimited).fork().join(); // tensor_shape {} (a scalar)
    w.tag(8, WireType.LengthDelimited).bytes(Buffer.from(v.text, 'utf8'));
    w.join();
  }
  w.join();
}

/** The `Event` protobuf (tensorboard/compat/proto/event.proto). */
export function encodeEvent(e: EventFields): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.Bit64).double(e.wallTime);
  if (e.step !== 0) w.tag(2, WireType.Varint).int64(e.step);
  if (e.fileVersion !== undefined) w.tag(3, WireType.LengthDelimited).string(e.fileVersion);
  if (e.values?.length) {
    w.tag(5, WireType.LengthDelimited).fork();
    for (const v of e.values) writeValue(w, v);
    w.join();
  }
  if (e.sessionStatus !== undefined)
    w.tag(7, WireType.LengthDelimited).fork().tag(1, WireType.Varint).int32(e.sessionStatus).join();
  return w.finish();
}

/**
 * The seconds field of a new event file's name: now, or one more than the newest file already in
 * the folder. TensorBoard reads a folder's files in name order, so a resumed run's file must sort
 * after the interrupted run's even when both start within the same second.
 */
function fileSeconds(dir: string): number {
  let newest = 0;
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    if (!name.startsWith(EVENT_FILE_PREFIX)) continue;
    const s = Number(name.slice(EVENT_FILE_PREFIX.length).split('.')[0]);
    if (Number.isFinite(s)) newest = Math.max(newest, s);
  }
  return Math.max(Math.floor(Date.now() / 1000), newest + 1);
}

/**
 * Appends events to one new file `events.out.tfevents.<seconds>.<host>.<pid>` in `dir`. Records
 * are buffered and written at flush() (each epoch end, and at most every `flushSeconds`), so a
 * batch costs no system call.
 */
export class EventFileWriter {
  readonly file: string;
  private pending: Buffer[] = [];
  private lastFlush = Date.now();
  private closed = false;

  constructor(dir: string, options: { flushSeconds?: number } = {}) {
    this.flushMs = (options.flushSeconds ?? 5) * 1000;
    const host = os.hostname().replace(/[^A-Za-z0-9_.-]/g, '_') || 'localhost';
    this.file = path.join(dir, `${EVENT_FILE_PREFIX}${fileSeconds(dir)}.${host}.${process.pid}`);
    fs.writeFileSync(
      this.file,
      tfRecord(encodeEvent({ wallTime: Date.now() / 1000, step: 0, fileVersion: 'brain.Event:2' })),
      { flag: 'wx' },
    );
  }

  private readonly flushMs: number;

  /** Scalars (and texts) at one step. */
  add(step: number, values: SummaryValue[], wallTime = Date.now() / 1000): void {
    if (this.closed || values.length === 0) return;
    this.pending.push(tfRecord(encodeEvent({ wallTime, step, values })));
    if (Date.now() - this.lastFlush >= this.flushMs) this.flush();
  }

  /** A SessionLog START at `step`: TensorBoard forgets the steps >= `step` it read before this. */
  sessionStart(step: number): void {
    if (this.closed) return;
    this.pending.push(tfRecord(encodeEvent({ wallTime: Date.now() / 1000, step, sessionStatus: 1 })));
  }

  flush(): void {
    this.lastFlush = Date.now();
    if (this.pending.length === 0) return;
    const data = Buffer.concat(this.pending);
    this.pending = [];
    fs.appendFileSync(this.file, data);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }
}
