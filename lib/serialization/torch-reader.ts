/**
 * readTorch: turns the bytes of a torch.save file into JS values. Handles both container formats:
 *   - zip (torch >= 1.6): `<prefix>/data.pkl` + one `<prefix>/data/<key>` entry per storage;
 *   - legacy (`_use_new_zipfile_serialization=False`): magic, protocol and sys-info pickles, the
 *     object pickle, the storage-key list, then each storage as int64 count + raw bytes.
 * Tensors are created while unpickling but get their data only after every storage is available
 * (the legacy format stores the data after the pickle), so both formats share one code path.
 */
import { promises as fsp } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { corrupt, truncated, TorchFileError } from './errors';
import { unpickle } from './pickle-reader';
import { describe } from './pickle-reader';
import { PickleBudget } from './pickle-budget';
import { InflateBudget, looksLikeZip, readZipDirectory, readZipEntry } from './zip';
import type { ZipEntry } from './zip';
import { makeFindGlobal, refuseGlobals, StorageType } from './torch-globals';
import type { TensorRebuilder } from './torch-globals';
import { checkTensorView, DTYPES, HOST_LITTLE_ENDIAN, isTensorRecord, materialize, typedView } from './tensor';
import type { Dtype, TensorData, TensorRecord } from './tensor';
import { isTorchTuple } from './values';
import type { TorchValue } from './values';

export interface ReadOptions {
  /**
   * false (default): contiguous tensors are views into the file buffer, and tensors that share a
   * storage share memory, as they do in PyTorch. true: every tensor gets its own copy.
   */
  copy?: boolean;
  /** 'wrap' returns Python floats as TorchFloat so an integral float survives a rewrite. */
  floats?: 'number' | 'wrap';
  /** Check each zip entry's CRC-32 (default true). */
  verifyChecksums?: boolean;
}

/**
 * Copies the reader makes of tensor data (strided views, and every tensor with `copy: true`) may
 * total at most this plus twice the bytes of the file's storages: a crafted pickle that rebuilds
 * the same storage a million times as a transposed view is refused instead of filling memory.
 */
export const MATERIALIZE_FLOOR = 64 * 2 ** 20;

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;
const MIN_FILE_SIZE = 32;

/** One storage named by a persistent id; its bytes may arrive later (legacy format). */
class Storage {
  bytes: Uint8Array | undefined;
  private view: TensorData | undefined;

  constructor(
    readonly key: string,
    readonly dtype: Dtype,
    readonly numel: number,
    /** Legacy storage views: a window of `numel` elements at `offset` into another storage. */
    readonly parent?: { storage: Storage; offset: number },
  ) {}

  typed(): TensorData {
    if (this.view) return this.view;
    if (this.parent) {
      const base = this.parent.storage.typed();
      const { offset } = this.parent;
      if (offset + this.numel > base.length) throw corrupt(`storage view ${this.key} reaches past its storage`);
      this.view = base.subarray(offset, offset + this.numel) as TensorData;
      return this.view;
    }
    if (!this.bytes) throw corrupt(`storage ${this.key} has no data in the file`);
    const need = this.numel * DTYPES[this.dtype].itemsize;
    if (this.bytes.byteLength < need) {
      throw truncated(`storage ${this.key} holds ${this.bytes.byteLength} bytes but needs ${need}`);
    }
    this.view = typedView(this.dtype, this.bytes.subarray(0, need), false);
    return this.view;
  }
}

/** Shared machinery: storages by key, tensors waiting for their data. */
class TensorFactory implements TensorRebuilder {
  readonly storages = new Map<string, Storage>();
  private readonly pending: Array<() => void> = [];

  constructor(private readonly copy: boolean) {}

  storageFromPid(
    pid: unknown,
    legacy: boolean,
    loadBytes?: (key: string, numel: number, dtype: Dtype) => Uint8Array,
  ): Storage {
    if (!Array.isArray(pid) || pid.length === 0) throw corrupt(`persistent id is a ${describe(pid)}`);
    if (pid[0] === 'module') {
      throw new TorchFileError(
        'the file pickles a whole nn.Module, not a state dict; in Python, load it and save model.state_dict() instead',
      );
    }
    if (pid[0] !== 'storage' || pid.length < 5)
      throw corrupt(`unknown persistent id ${typeof pid[0] === 'string' ? pid[0] : describe(pid[0])}`);
    const [, type, key, , numel, viewMetadata] = pid as unknown[];
    if (!(type instanceof StorageType)) throw new TorchFileError(`unsupported storage type ${describe(type)}`);
    if (typeof key !== 'string') throw corrupt('storage key is not a string');
    if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
      throw corrupt(`storage ${key} has an invalid size ${String(numel)}`);
    }
    let root = this.storages.get(key);
    if (root && root.dtype !== type.dtype) {
      throw new TorchFileError(`storage ${key} is used as both ${root.dtype} and ${type.dtype}; not supported`);
    }
    if (!root) {
      root = new Storage(key, type.dtype, numel);
      if (!legacy) root.bytes = loadBytes!(key, numel, type.dtype);
      this.storages.set(key, root);
    }
    if (legacy && viewMetadata != null) {
      // Pre-1.0 storage views: (view_key, offset, view_size), in elements.
      if (!Array.isArray(viewMetadata) || viewMetadata.length !== 3) throw corrupt('malformed storage view metadata');
      const [viewKey, offset, size] = viewMetadata as unknown[];
      if (typeof viewKey !== 'string' || typeof offset !== 'number' || typeof size !== 'number') {
        throw corrupt('malformed storage view metadata');
      }
      if (
        !Number.isSafeInteger(offset) ||
        offset < 0 ||
        !Number.isSafeInteger(size) ||
        size < 0 ||
        offset + size > root.numel
      ) {
        throw corrupt(
          `storage view ${viewKey} (offset ${offset}, size ${size}) does not fit in storage ${key} of ${root.numel} elements`,
        );
      }
      let view = this.storages.get(viewKey);
      if (!view) {
        view = new Storage(viewKey, type.dtype, size, { storage: root, offset });
        this.storages.set(viewKey, view);
      }
      return view;
    }
    return root;
  }

  rebuildTensor(storage: unknown, offset: unknown, size: unknown, stride: unknown, requiresGrad: unknown): unknown {
    if (!(storage instanceof Storage)) throw corrupt(`tensor rebuilt from a ${describe(storage)} instead of a storage`);
    const ints = (v: unknown, what: string): number[] => {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'number'))
        throw corrupt(`tensor ${what} is not a tuple of ints`);
      return v as number[];
    };
    const shape = ints(size, 'size');
    const strides = ints(stride, 'stride');
    if (typeof offset !== 'number') throw corrupt('tensor storage offset is not an int');
    // Checked now, against the size the storage declares (its data may come later): the view must
    // fit inside it, and must not claim more elements than it holds.
    checkTensorView(storage.numel, DTYPES[storage.dtype].itemsize, offset, shape, strides);
    const record: TensorRecord = { dtype: storage.dtype, shape: [...shape], data: new Uint8Array(0) };
    if (requiresGrad === true) record.requiresGrad = true;
    const itemsize = DTYPES[storage.dtype].itemsize;
    this.pending.push(() => {
      record.data = materialize(storage.typed(), offset, shape, strides, this.copy, (n) => this.allocate(n * itemsize));
    });
    return record;
  }

  rebuildParameter(tensor: unknown, requiresGrad: unknown): unknown {
    if (!isTensorRecord(tensor)) throw corrupt(`parameter rebuilt from a ${describe(tensor)}`);
    if (requiresGrad === true) tensor.requiresGrad = true;
    else delete tensor.requiresGrad;
    return tensor;
  }

  private copied = 0;
  private copyLimit = MATERIALIZE_FLOOR;

  /** Counts a copy of `bytes` against the file's limit, before it is made. */
  private allocate(bytes: number): void {
    this.copied += bytes;
    if (this.copied > this.copyLimit) {
      throw new TorchFileError(
        `the file's tensors would need ${(this.copied / 2 ** 20).toFixed(1)} MiB of copies, more than the ` +
          `${(this.copyLimit / 2 ** 20).toFixed(1)} MiB allowed for storages of this size (twice their bytes + ` +
          `${MATERIALIZE_FLOOR / 2 ** 20} MiB): its tensors overlap far more than a saved state dict's do`,
      );
    }
  }

  /** Gives every tensor its data; call once all storages have their bytes. */
  finish(): void {
    let storageBytes = 0;
    // The bytes actually in the file (a storage declared but never given data counts nothing).
    for (const s of this.storages.values()) if (!s.parent && s.bytes) storageBytes += s.bytes.byteLength;
    this.copyLimit = MATERIALIZE_FLOOR + 2 * storageBytes;
    for (const fill of this.pending) fill();
    this.pending.length = 0;
  }
}

function readZipTorch(buf: Uint8Array, options: ReadOptions): TorchValue {
  const verify = options.verifyChecksums !== false;
  const entries = readZipDirectory(buf);
  const byName = new Map<string, ZipEntry>(entries.map((e) => [e.name, e]));
  const pkl = entries
    .filter((e) => e.name === 'data.pkl' || e.name.endsWith('/data.pkl'))
    .sort((a, b) => a.name.length - b.name.length)[0];
  if (!pkl) {
    throw new TorchFileError(
      byName.size === 0
        ? 'the zip archive is empty: not a torch.save file'
        : `the zip archive has no data.pkl (entries: ${[...byName.keys()].slice(0, 5).join(', ')}): not a torch.save file`,
    );
  }
  const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);

  const byteorder = byName.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(readZipEntry(buf, byteorder, verify)).trim();
    if (order !== 'little') {
      throw new TorchFileError(`the file was saved with ${order}-endian storages; only little-endian is supported`);
    }
  }

  const factory = new TensorFactory(options.copy === true);
  const inflated = new InflateBudget(buf.length);
  const loadBytes = (key: string, numel: number, dtype: Dtype): Uint8Array => {
    const entry = byName.get(`${prefix}data/${key}`);
    if (!entry) throw corrupt(`storage data/${key} is missing from the archive`);
    // The header against the data, before anything is inflated or viewed.
    const need = numel * DTYPES[dtype].itemsize;
    if (entry.uncompressedSize !== need) {
      throw corrupt(
        `storage ${key} declares ${numel} ${dtype} elements (${need} bytes) but its record ${entry.name} ` +
          `holds ${entry.uncompressedSize} bytes`,
      );
    }
    return readZipEntry(buf, entry, verify, inflated);
  };
  const budget = new PickleBudget();
  const { value } = unpickle(readZipEntry(buf, pkl, verify, inflated), 0, {
    findGlobal: makeFindGlobal(factory, budget),
    persistentLoad: (pid) => factory.storageFromPid(pid, false, loadBytes),
    floats: options.floats,
    budget,
  });
  factory.finish();
  return value as TorchValue;
}

function readLegacyTorch(buf: Uint8Array, options: ReadOptions): TorchValue {
  const header = { findGlobal: refuseGlobals };
  let magic: unknown;
  let pos: number;
  try {
    ({ value: magic, end: pos } = unpickle(buf, 0, header));
  } catch (e) {
    // A cut-off copy of a real legacy file still starts like one: say "truncated" for that.
    if (startsLikeLegacy(buf) && e instanceof TorchFileError && e.message.startsWith('truncated')) throw e;
    magic = undefined;
    pos = 0;
  }
  if (magic !== LEGACY_MAGIC) {
    throw new TorchFileError('not a PyTorch file: neither a zip archive nor a legacy torch.save stream');
  }
  const protocol = unpickle(buf, pos, header);
  if (protocol.value !== LEGACY_PROTOCOL_VERSION) {
    throw new TorchFileError(`unsupported legacy torch.save protocol version ${String(protocol.value)}`);
  }
  const sysInfo = unpickle(buf, protocol.end, header);
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    throw new TorchFileError('the file was saved on a big-endian machine; only little-endian is supported');
  }

  const factory = new TensorFactory(options.copy === true);
  const budget = new PickleBudget();
  const main = unpickle(buf, sysInfo.end, {
    findGlobal: makeFindGlobal(factory, budget),
    persistentLoad: (pid) => factory.storageFromPid(pid, true),
    floats: options.floats,
    budget,
  });
  const keys = unpickle(buf, main.end, header);
  if (!Array.isArray(keys.value) || isTorchTuple(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
    throw corrupt('legacy storage key list is not a list of strings');
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = keys.end;
  for (const key of keys.value as string[]) {
    const storage = factory.storages.get(key);
    if (!storage) throw corrupt(`storage ${key} is listed but never used`);
    if (storage.parent) throw corrupt(`storage ${key} is listed with the storages but is a view of another`);
    if (p + 8 > buf.length) throw truncated(`storage ${key} header lies past the end of the file`);
    const count = dv.getBigInt64(p, true);
    if (count < 0n || count > BigInt(buf.length)) throw corrupt(`storage ${key} has an invalid element count ${count}`);
    if (count !== BigInt(storage.numel)) {
      throw corrupt(`storage ${key} declares ${storage.numel} elements in the pickle but ${count} in its data`);
    }
    const nbytes = Number(count) * DTYPES[storage.dtype].itemsize;
    p += 8;
    if (p + nbytes > buf.length) throw truncated(`storage ${key} data runs past the end of the file`);
    storage.bytes = buf.subarray(p, p + nbytes);
    p += nbytes;
  }
  factory.finish();
  return main.value as TorchValue;
}

/** The first bytes of torch's legacy header: PROTO 2, LONG1 of 10 bytes (the magic number). */
const LEGACY_PREFIX = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

function startsLikeLegacy(buf: Uint8Array): boolean {
  for (let i = 0; i < Math.min(buf.length, LEGACY_PREFIX.length); i++) if (buf[i] !== LEGACY_PREFIX[i]) return false;
  return true;
}

function looksLikeTar(buf: Uint8Array): boolean {
  return buf.length >= 262 && new TextDecoder().decode(buf.subarray(257, 262)) === 'ustar';
}

/** Parses a torch.save file held in memory. Throws TorchFileError on anything it cannot read. */
export function readTorch(buffer: Uint8Array, options: ReadOptions = {}): TorchValue {
  if (!(buffer instanceof Uint8Array)) throw new TypeError('readTorch expects a Uint8Array or Buffer');
  if (!HOST_LITTLE_ENDIAN) throw new Error('reading torch files requires a little-endian host');
  if (buffer.length === 0) throw truncated('the file is empty');
  // Even the smallest torch.save output is hundreds of bytes; a stub this short was cut off.
  if (buffer.length < MIN_FILE_SIZE) throw truncated(`the file is only ${buffer.length} bytes long`);
  if (looksLikeZip(buffer)) return readZipTorch(buffer, options);
  if (looksLikeTar(buffer)) {
    throw new TorchFileError('this is the pre-0.4 tar-based torch.save format, which is not supported');
  }
  return readLegacyTorch(buffer, options);
}

/** Reads the whole file (files over 2 GiB included, up to Buffer's limit) and parses it. */
export async function readTorchFile(path: string, options: ReadOptions = {}): Promise<TorchValue> {
  let buf: Buffer;
  const fh = await fsp.open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size > bufferConstants.MAX_LENGTH) {
      throw new RangeError(`${path}: ${size} bytes is more than this Node.js can hold in one buffer`);
    }
    // Unpooled, so byteOffset is 0 and 64-byte-aligned zip entries stay aligned.
    buf = Buffer.allocUnsafeSlow(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(buf, off, Math.min(size - off, 1 << 30), off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    if (off < size) buf = buf.subarray(0, off);
  } finally {
    await fh.close();
  }
  try {
    return readTorch(buf, options);
  } catch (e) {
    if (e instanceof Error) e.message = `${path}: ${e.message}`;
    throw e;
  }
}

/** `message` without the `path: ` prefix readTorchFile gives it, for callers that name the file themselves. */
export function withoutPath(message: string, path: string): string {
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}
