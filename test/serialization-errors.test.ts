/**
 * Bad input: truncated, corrupted and foreign files, and pickles naming code, must end in a
 * TorchFileError that says what is wrong — never a hang, never an obscure JS error, never code
 * execution.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import {
  orderedDict,
  readTorch,
  readTorchFile,
  stateDictEntries,
  tensorRecord,
  TorchFileError,
  writeTorch,
} from '../lib/serialization';
import type { TorchValue } from '../lib/serialization';
import { crc32, crc32Js } from '../lib/serialization/zip-format';
import { buildZip } from '../lib/serialization/zip-write';
import { requireTorchOrSkip, runPython } from './helpers/python';

const hasTorch = requireTorchOrSkip(false);

/** Deterministic PRNG (mulberry32) so a failing mutation can be reproduced. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The error readTorch throws (failing the test if it returns or throws something else). */
function readError(buf: Uint8Array, options = {}): TorchFileError {
  try {
    readTorch(buf, options);
  } catch (e) {
    if (e instanceof TorchFileError) return e;
    throw new Error(`expected a TorchFileError, got ${String(e)}`);
  }
  throw new Error('expected readTorch to fail');
}

/** A zip-format torch file whose data.pkl is `pkl` (for hand-made pickles). */
function zipWithPickle(pkl: number[] | Uint8Array): Uint8Array {
  const chunks = buildZip([
    { name: 'archive/data.pkl', data: Uint8Array.from(pkl) },
    { name: 'archive/version', data: new TextEncoder().encode('3\n') },
  ]);
  return Buffer.concat(chunks);
}

const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];

// Small but complete files written by our writer (valid torch files, as the write tests show).
const small = writeTorch({
  w: tensorRecord(
    'float32',
    [3, 4],
    Float32Array.from({ length: 12 }, (_, i) => i),
  ),
  n: tensorRecord('int64', [], BigInt64Array.of(1n)),
  meta: { a: [1, 2.5, 'x', null, true], b: orderedDict({ c: 2 }) },
});

suite('corrupt, truncated and foreign input', () => {
  it('computes the same CRC-32 with and without zlib.crc32', () => {
    const next = rng(11);
    const data = Uint8Array.from({ length: 10_000 }, () => Math.floor(next() * 256));
    expect(crc32Js(Buffer.from('123456789'))).toBe(0xcbf43926); // the standard check value
    expect(crc32Js(data)).toBe(crc32(data));
    expect(crc32Js(data.subarray(5000), crc32Js(data.subarray(0, 5000)))).toBe(crc32(data));
  });

  it('reports every truncation of a zip file as truncated or corrupt', () => {
    for (let cut = 0; cut < small.length; cut++) {
      const err = readError(small.subarray(0, cut));
      expect(err.message, `cut at ${cut}`).toMatch(/truncated|corrupt/);
    }
  });

  it('reports random corruption of a zip file as a TorchFileError (checksums on and off)', () => {
    const next = rng(1);
    let crcFailures = 0;
    for (let i = 0; i < 1500; i++) {
      const buf = Uint8Array.from(small);
      const flips = 1 + Math.floor(next() * 3);
      for (let f = 0; f < flips; f++) buf[Math.floor(next() * buf.length)] ^= 1 + Math.floor(next() * 255);
      for (const verifyChecksums of [true, false]) {
        try {
          readTorch(buf, { verifyChecksums });
        } catch (e) {
          expect(e, `mutation ${i}`).toBeInstanceOf(TorchFileError);
          if (/CRC-32/.test((e as Error).message)) crcFailures++;
        }
      }
    }
    expect(crcFailures).toBeGreaterThan(0);
  });

  it('rejects empty, tiny, text, random and plain-pickle input as not a torch file', () => {
    expect(readError(new Uint8Array(0)).message).toMatch(/truncated.*empty/);
    expect(readError(Buffer.from('PK\u0003')).message).toMatch(/truncated.*3 bytes/);
    expect(readError(Buffer.from('hello, this is a text file and not a checkpoint\n')).message).toMatch(
      /not a PyTorch file/,
    );
    const next = rng(7);
    for (let i = 0; i < 200; i++) {
      const buf = Uint8Array.from({ length: 64 + Math.floor(next() * 4000) }, () => Math.floor(next() * 256));
      readError(buf);
    }
    // pickle.dumps({'a': 1}, protocol=2): a pickle, but not torch's legacy header.
    const plain = [0x80, 2, 0x7d, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x71, 1, 0x4b, 1, 0x73, 0x2e];
    expect(readError(Uint8Array.from([...plain, ...new Array(40).fill(0x2e)])).message).toMatch(/not a PyTorch file/);
    // A zip without data.pkl.
    const zip = Buffer.concat(buildZip([{ name: 'notes/readme.txt', data: Buffer.from('hi') }]));
    expect(readError(zip).message).toMatch(/no data\.pkl/);
  });

  it('refuses pickles that name code, without running anything', () => {
    // GLOBAL 'os system', SHORT_BINUNICODE 'touch x', TUPLE1, REDUCE, STOP
    const evil = [0x80, 2, 0x63, ...ascii('os\nsystem\n'), 0x8c, 7, ...ascii('touch x'), 0x85, 0x52, 0x2e];
    expect(readError(zipWithPickle(evil)).message).toMatch(/unsupported Python global os\.system/);
    // STACK_GLOBAL 'builtins' 'eval'
    const evil2 = [0x80, 4, 0x8c, 8, ...ascii('builtins'), 0x8c, 4, ...ascii('eval'), 0x93, 0x2e];
    expect(readError(zipWithPickle(evil2)).message).toMatch(/builtins\.eval/);
    // Unknown opcode, unset memo, stack underflow, missing MARK, unsupported protocol.
    expect(readError(zipWithPickle([0x80, 2, 0xff])).message).toMatch(/unknown or unsupported pickle opcode 0xff/);
    expect(readError(zipWithPickle([0x80, 2, 0x68, 5, 0x2e])).message).toMatch(/memo entry 5/);
    expect(readError(zipWithPickle([0x80, 2, 0x2e])).message).toMatch(/stack underflow/);
    expect(readError(zipWithPickle([0x80, 2, 0x74, 0x2e])).message).toMatch(/MARK missing/);
    expect(readError(zipWithPickle([0x80, 9, 0x4e, 0x2e])).message).toMatch(/pickle protocol 9/);
    expect(readError(zipWithPickle([0x80, 2, 0x4e])).message).toMatch(/truncated/);
    // A hostile 1 MB integer (LONG4) decodes in linear time instead of hanging.
    const n = 1 << 20;
    const huge = new Uint8Array(3 + 4 + n + 1);
    huge.set([0x80, 2, 0x8b]); // PROTO 2, LONG4
    new DataView(huge.buffer).setInt32(3, n, true);
    huge.fill(0x7f, 7, 7 + n);
    huge[7 + n] = 0x2e; // STOP
    const big = readTorch(zipWithPickle(huge));
    expect(typeof big).toBe('bigint');
    expect((big as bigint) > 0n).toBe(true);
    // A tensor whose persistent id names a storage the archive lacks.
    const t = writeTorch({ t: tensorRecord('float32', [1], Float32Array.of(1)) });
    const noData = Buffer.from(t);
    const at = noData.indexOf('archive/data/0');
    noData.write('archive/dat0/0', at, 'latin1'); // rename the entry in its local header...
    const cd = noData.indexOf('archive/data/0', at + 1);
    noData.write('archive/dat0/0', cd, 'latin1'); // ...and in the central directory
    expect(readError(noData, { verifyChecksums: false }).message).toMatch(/storage data\/0 is missing/);
  });

  it('explains what to do with files that hold no state dict', () => {
    const t = tensorRecord('float32', [1], Float32Array.of(1));
    expect(() => stateDictEntries([t])).toThrow(
      /holds a list, not a state dict; save the model with torch\.save\(model\.state_dict\(\)/,
    );
    expect(() => stateDictEntries(t)).toThrow(/single tensor/);
    expect(() => stateDictEntries(orderedDict())).toThrow(/empty dict: no tensors/);
    expect(() => stateDictEntries({ epoch: 1, optimizer: { lr: 0.1 } })).toThrow(
      /no state dict: its top-level keys are "epoch", "optimizer"/,
    );
    // Wrappers are looked into, in order; a DataParallel prefix is stripped only when all names have it.
    const sd = stateDictEntries({ epoch: 1, model_state_dict: { 'module.a': t, 'module.b': t } } as TorchValue);
    expect([...sd.keys()]).toEqual(['a', 'b']);
    expect([...stateDictEntries({ 'module.a': t, b: t }).keys()]).toEqual(['module.a', 'b']);
    expect(
      stateDictEntries(
        new Map<string, TorchValue>([
          ['x', t],
          ['x._extra_state', null],
        ]),
      ).size,
    ).toBe(1);
  });
});

suite.skipIf(!hasTorch)('foreign content written by PyTorch', () => {
  let dir = '';
  const file = (name: string): string => path.join(dir, name);
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'torch-bad-'));
    await runPython(
      String.raw`
import os, sys, zipfile
import torch
out = sys.argv[1]

class Foo:
    pass

class Evil:
    def __reduce__(self):
        return (os.system, ('touch ' + os.path.join(out, 'PWNED'),))

torch.save({'x': Foo()}, f'{out}/custom.pt')
torch.save({'x': Evil()}, f'{out}/evil.pt')
torch.save(torch.nn.Linear(2, 2), f'{out}/module.pt')
torch.save(torch.nn.Linear(2, 2), f'{out}/module-legacy.pt', _use_new_zipfile_serialization=False)
torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), f'{out}/scripted.pt')
torch.save({'w': torch.randn(3, 4), 'n': torch.tensor(1), 'm': {'a': [1, 2.5]}}, f'{out}/small.pt')
torch.save({'w': torch.randn(3, 4), 'n': torch.tensor(1), 'm': {'a': [1, 2.5]}}, f'{out}/small-legacy.pt',
           _use_new_zipfile_serialization=False)
torch.save({'w': torch.randn(2, 2, dtype=torch.complex64)}, f'{out}/complex.pt')

# The same archive, claiming big-endian storages.
with zipfile.ZipFile(f'{out}/small.pt') as src, zipfile.ZipFile(f'{out}/bigendian.pt', 'w') as dst:
    for info in src.infolist():
        dst.writestr(info.filename, src.read(info.filename))
    prefix = src.infolist()[0].filename.split('/')[0]
    dst.writestr(prefix + '/byteorder', 'big')
`,
      [dir],
    );
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('names unknown globals and never executes them', async () => {
    await expect(readTorchFile(file('custom.pt'))).rejects.toThrow(/__main__\.Foo.*model\.state_dict\(\)/);
    await expect(readTorchFile(file('evil.pt'))).rejects.toThrow(/unsupported Python global posix\.system/);
    expect(existsSync(file('PWNED'))).toBe(false);
    await expect(readTorchFile(file('complex.pt'))).rejects.toThrow(/ComplexFloatStorage/);
  });

  it('says to save a state dict when the file holds a whole module or a TorchScript archive', async () => {
    await expect(readTorchFile(file('module.pt'))).rejects.toThrow(
      /torch\.nn\.modules\.linear\.Linear.*save model\.state_dict\(\) instead/,
    );
    await expect(readTorchFile(file('module-legacy.pt'))).rejects.toThrow(/model\.state_dict\(\)/);
    await expect(readTorchFile(file('scripted.pt'))).rejects.toThrow(/TorchScript archive/);
  });

  it('refuses big-endian storages', async () => {
    await expect(readTorchFile(file('bigendian.pt'))).rejects.toThrow(/big-endian storages; only little-endian/);
  });

  it('reports every truncation of PyTorch-written zip and legacy files as truncated or corrupt', () => {
    for (const name of ['small.pt', 'small-legacy.pt']) {
      const buf = readFileSync(file(name));
      expect(Object.keys(readTorch(buf) as object)).toBeDefined();
      for (let cut = 0; cut < buf.length; cut++) {
        const err = readError(buf.subarray(0, cut));
        expect(err.message, `${name} cut at ${cut}`).toMatch(/truncated|corrupt/);
      }
    }
  });

  it('reports random corruption of a legacy file as a TorchFileError', () => {
    const orig = readFileSync(file('small-legacy.pt'));
    const next = rng(3);
    for (let i = 0; i < 2000; i++) {
      const buf = Uint8Array.from(orig);
      buf[Math.floor(next() * buf.length)] ^= 1 + Math.floor(next() * 255);
      try {
        readTorch(buf);
      } catch (e) {
        expect(e, `mutation ${i}`).toBeInstanceOf(TorchFileError);
      }
    }
  });
});
