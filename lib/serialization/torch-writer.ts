/**
 * writeTorch: the zip layout torch.save (>= 1.6) produces, so PyTorch's torch.load reads our
 * checkpoints: `archive/data.pkl` (pickle protocol 2), `archive/byteorder`, one
 * `archive/data/<key>` per tensor storage (raw little-endian, 64-byte aligned), `archive/version`.
 * Every tensor record becomes its own contiguous storage (offset 0, row-major strides); the same
 * record object — or the same data array — written twice shares one storage.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { writeViaTemp } from '../atomic-file';
import { pickle, PyGlobal, PyPersistent, PyReduce } from './pickle-writer';
import { buildZip, type ZipWriteEntry } from './zip-write';
import { checkTensorRecord, contiguousStrides, DTYPES, HOST_LITTLE_ENDIAN, isTensorRecord, numelOf } from './tensor';
import type { Dtype, TensorData, TensorRecord } from './tensor';
import { torchTuple } from './values';
import type { TorchValue } from './values';

export interface WriteOptions {
  /** Write every dict as collections.OrderedDict (OrderedDict instances always are). */
  orderedDicts?: boolean;
  /** The folder inside the zip (torch.save uses "archive" for buffers, the file stem for paths). */
  archiveName?: string;
  /** Write zip64 records even when not needed (readers' tests). */
  forceZip64?: boolean;
}

const REBUILD_TENSOR_V2 = new PyGlobal('torch._utils', '_rebuild_tensor_v2');
const ORDERED_DICT = new PyGlobal('collections', 'OrderedDict');

/** Anything with `data` that is a typed array and a `shape` is meant as a tensor: validate it as one. */
function looksLikeTensor(v: object): boolean {
  const r = v as Partial<TensorRecord>;
  return 'dtype' in r && 'shape' in r && ArrayBuffer.isView(r.data);
}

/** The archive as chunks (tensor data is referenced, not copied). */
export function torchArchiveChunks(value: TorchValue, options: WriteOptions = {}): Uint8Array[] {
  if (!HOST_LITTLE_ENDIAN) throw new Error('writing torch files requires a little-endian host');
  const archive = options.archiveName ?? 'archive';
  if (!/^[A-Za-z0-9_.-]+$/.test(archive))
    throw new RangeError(`archiveName ${JSON.stringify(archive)} is not a plain name`);
  const storages: Array<{ key: string; bytes: Uint8Array }> = [];
  // One storage per data array and dtype (float16 and bfloat16 both use Uint16Array).
  const keyOfData = new Map<TensorData, Map<Dtype, string>>();

  const reduce = (v: object, where: string): PyReduce | undefined => {
    if (!isTensorRecord(v) && !looksLikeTensor(v)) return undefined;
    const t = v as TensorRecord;
    checkTensorRecord(t, where);
    const numel = numelOf(t.shape);
    let byDtype = keyOfData.get(t.data);
    if (!byDtype) keyOfData.set(t.data, (byDtype = new Map()));
    let key = byDtype.get(t.dtype);
    if (key === undefined) {
      key = String(storages.length);
      byDtype.set(t.dtype, key);
      storages.push({ key, bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) });
    }
    const pid = torchTuple(['storage', new PyGlobal('torch', DTYPES[t.dtype].storage), key, 'cpu', numel] as never);
    return new PyReduce(REBUILD_TENSOR_V2, [
      new PyPersistent(pid),
      0,
      torchTuple([...t.shape]),
      torchTuple(contiguousStrides(t.shape)),
      t.requiresGrad === true,
      new PyReduce(ORDERED_DICT, []), // backward hooks
    ]);
  };

  const data = pickle(value, { reduce, orderedDicts: options.orderedDicts });
  const enc = new TextEncoder();
  const entries: ZipWriteEntry[] = [
    { name: `${archive}/data.pkl`, data },
    { name: `${archive}/byteorder`, data: enc.encode('little') },
    ...storages.map((s) => ({ name: `${archive}/data/${s.key}`, data: s.bytes })),
    { name: `${archive}/version`, data: enc.encode('3\n') },
  ];
  return buildZip(entries, { align: 64, forceZip64: options.forceZip64 });
}

/** Serializes `value` into the bytes of a torch.save zip file. */
export function writeTorch(value: TorchValue, options: WriteOptions = {}): Uint8Array {
  const chunks = torchArchiveChunks(value, options);
  let total = 0;
  for (const c of chunks) total += c.byteLength;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/**
 * Writes atomically: a temporary file next to `file`, fsync, rename over `file`. A crash or an
 * error leaves either the old file or the new one at `file`, never a partial one.
 */
export async function writeTorchFile(file: string, value: TorchValue, options: WriteOptions = {}): Promise<void> {
  const chunks = torchArchiveChunks(value, options); // serialization errors surface before any I/O
  await writeViaTemp(file, async (tmp) => {
    const fh = await fsp.open(tmp, 'wx', 0o666);
    try {
      for (const chunk of chunks) {
        let off = 0;
        while (off < chunk.byteLength) {
          const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
          off += bytesWritten;
        }
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
  });
  // Make the rename itself durable; not possible on every platform, so best effort.
  try {
    const dir = await fsp.open(path.dirname(path.resolve(file)), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    /* directories cannot be fsynced here (e.g. Windows) */
  }
}
