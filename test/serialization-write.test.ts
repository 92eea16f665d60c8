/**
 * Writing: what writeTorch/writeTorchFile produce must load in PyTorch (torch.load, 1.13) with the
 * same structure, Python types and tensor bytes, load into a torchvision model as a state dict,
 * and read back identically with our reader.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import {
  orderedDict,
  OrderedDict,
  readTorch,
  readTorchFile,
  tensorRecord,
  TorchDtype,
  torchFloat,
  torchFrozenSet,
  torchTuple,
  writeTorch,
  writeTorchFile,
} from '../lib/serialization';
import type { TensorRecord, TorchKey, TorchValue } from '../lib/serialization';
import { readZipDirectory } from '../lib/serialization/zip';
import { describe, type Desc } from './fixtures/serialization/describe';
import { requireTorchOrSkip, runPython } from './helpers/python';

const FIXTURES = path.join(__dirname, 'fixtures', 'serialization');
const hasTorch = requireTorchOrSkip(true);

/** torch.load(file) described as JSON (see torch_describe.py). */
async function pythonDescribe(file: string): Promise<Desc> {
  const { stdout } = await runPython(
    String.raw`
import json, sys
sys.path.insert(0, sys.argv[2])
import torch
from torch_describe import desc
try:
    v = torch.load(sys.argv[1])
except Exception as e:
    # torch.load's weights_only default (2.6+) refuses frozenset, whoever wrote the file (PyTorch's
    # own torch.save included); allow exactly that global and nothing else.
    if 'frozenset' not in str(e) or not hasattr(torch.serialization, 'safe_globals'):
        raise
    with torch.serialization.safe_globals([frozenset]):
        v = torch.load(sys.argv[1])
print(json.dumps(desc(v)))
`,
    [file, FIXTURES],
  );
  return JSON.parse(stdout) as Desc;
}

function seq<T = number>(n: number, f: (i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => f(i));
}

/** A state dict with one tensor of every dtype, the shapes state dicts contain, and _metadata. */
function everyDtypeStateDict(): OrderedDict {
  const sd = orderedDict({
    'conv.weight': tensorRecord('float32', [2, 3, 2, 2], Float32Array.from(seq(24, (i) => i / 7 - 1))),
    'conv.bias': tensorRecord('float32', [2], Float32Array.of(0.5, -0.25)),
    'bn.num_batches_tracked': tensorRecord('int64', [], BigInt64Array.of(12345678901234n)),
    f64: tensorRecord('float64', [3], Float64Array.of(Math.PI, -1e-300, 1e300)),
    f16: tensorRecord('float16', [2], Uint16Array.of(0x3c00, 0xc000)),
    bf16: tensorRecord('bfloat16', [2], Uint16Array.of(0x3f80, 0xc000)),
    i64: tensorRecord('int64', [2], BigInt64Array.of(-(2n ** 62n), 2n ** 62n)),
    i32: tensorRecord('int32', [2, 1], Int32Array.of(-(2 ** 31), 2 ** 31 - 1)),
    i16: tensorRecord('int16', [2], Int16Array.of(-300, 300)),
    i8: tensorRecord('int8', [2], Int8Array.of(-128, 127)),
    u8: tensorRecord('uint8', [2], Uint8Array.of(0, 255)),
    mask: tensorRecord('bool', [2, 2], Uint8Array.of(1, 0, 0, 1)),
    empty: tensorRecord('float32', [0, 3], new Float32Array(0)),
  });
  sd.attributes = new Map<string, TorchValue>([
    [
      '_metadata',
      orderedDict([
        ['', { version: 1 }],
        ['bn', { version: 2 }],
      ]),
    ],
  ]);
  return sd;
}

let dir = '';
const file = (name: string): string => path.join(dir, name);

suite.skipIf(!hasTorch)('writeTorch: files PyTorch loads', () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'torch-write-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips every kind of value through torch.load and back through readTorch', async () => {
    const shared = tensorRecord('float32', [3], Float32Array.of(1, 2, 3));
    const param = tensorRecord('float32', [2], Float32Array.of(4, 5));
    param.requiresGrad = true;
    const value: TorchValue = {
      model: everyDtypeStateDict(),
      epoch: 3,
      lr: torchFloat(1),
      best_acc: 0.875,
      neg_zero: torchFloat(-0),
      inf: -Infinity,
      nan: NaN,
      ints: [0, 255, 256, 65535, 65536, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 53 - 1, -(2 ** 53) + 1],
      bigints: [2n ** 70n, -(2n ** 100n), 255n, -129n, -128n, 128n],
      flags: [true, false, null],
      text: 'r\u00e9sum\u00e9 \u2713 \u{1F600}',
      one_tuple: torchTuple([torchFloat(2)]),
      long_tuple: torchTuple(['a', 'b', 'c', 'd', 1]),
      empty_tuple: torchTuple([]),
      int_keys: new Map<TorchKey, TorchValue>([
        [0, 'a'],
        [-7, { x: [1, 2, 3] }],
      ]),
      tuple_key: new Map([[torchTuple([1, 'b']), 'x']]),
      bytes: Uint8Array.from(seq(300, (i) => i % 256)),
      empty_bytes: new Uint8Array(0),
      set: new Set([1, 2, 3]),
      frozen: torchFrozenSet(new Set(['a', 'b'])),
      dtype: new TorchDtype('float16'),
      long_list: seq(2500, (i) => i),
      long_dict: Object.fromEntries(seq(1500, (i) => i).map((i) => [String(i), i])),
      empty_list: [],
      empty_dict: {},
      shared_a: shared,
      shared_b: shared,
      param,
    };
    const p = file('everything.pt');
    await writeTorchFile(p, value);

    const ours = describe(value);
    expect(await pythonDescribe(p)).toEqual(ours);
    expect(describe(await readTorchFile(p, { floats: 'wrap' }))).toEqual(ours);

    // PyTorch sees one storage behind both references, and the other details.
    const { stdout } = await runPython(
      String.raw`
import sys, collections, torch
try:
    c = torch.load(sys.argv[1])
except Exception as e:
    if 'frozenset' not in str(e) or not hasattr(torch.serialization, 'safe_globals'):
        raise
    with torch.serialization.safe_globals([frozenset]):  # see pythonDescribe
        c = torch.load(sys.argv[1])
assert c['shared_a'] is c['shared_b'] or c['shared_a'].data_ptr() == c['shared_b'].data_ptr()
assert type(c['model']) is collections.OrderedDict and type(c) is dict
assert c['model']._metadata == {'': {'version': 1}, 'bn': {'version': 2}}
assert isinstance(c['lr'], float) and isinstance(c['epoch'], int)
assert c['model']['bn.num_batches_tracked'].dim() == 0
assert c['param'].requires_grad and not c['shared_a'].requires_grad
assert c['model']['f16'].tolist() == [1.0, -2.0] and c['model']['bf16'].tolist() == [1.0, -2.0]
print('ok')
`,
      [p],
    );
    expect(stdout.trim()).toBe('ok');
  });

  it('rewrites a torchvision state dict that load_state_dict accepts, bit for bit', async () => {
    await runPython(
      String.raw`
import sys, torch
from torchvision_compat import torchvision
torch.manual_seed(1)
m = torchvision.models.resnet18(num_classes=10)
m.train(); m(torch.randn(2, 3, 32, 32))
torch.save(m.state_dict(), sys.argv[1])
`,
      [file('theirs.pt')],
    );
    const theirs = await readTorchFile(file('theirs.pt'), { floats: 'wrap' });
    await writeTorchFile(file('ours.pt'), theirs);
    expect(describe(await readTorchFile(file('ours.pt'), { floats: 'wrap' }))).toEqual(describe(theirs));

    const { stdout } = await runPython(
      String.raw`
import sys, collections, torch
from torchvision_compat import torchvision
theirs, ours = torch.load(sys.argv[1]), torch.load(sys.argv[2])
assert type(ours) is collections.OrderedDict
assert ours._metadata == theirs._metadata
assert list(ours.keys()) == list(theirs.keys())
for k in theirs:
    assert ours[k].dtype == theirs[k].dtype and ours[k].shape == theirs[k].shape, k
    assert torch.equal(ours[k], theirs[k]), k
m = torchvision.models.resnet18(num_classes=10)
print(m.load_state_dict(ours))
`,
      [file('theirs.pt'), file('ours.pt')],
    );
    expect(stdout.trim()).toBe('<All keys matched successfully>');
  });

  it('writes plain dicts as OrderedDict when asked, and zip64 records that torch.load accepts', async () => {
    const value = { a: tensorRecord('int32', [2], Int32Array.of(1, 2)), b: { c: 1 } };
    const p = file('zip64.pt');
    writeFileSync(p, writeTorch(value, { orderedDicts: true, forceZip64: true }));
    const bytes = readFileSync(p);
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true); // zip64 end record
    const back = readTorch(bytes, { floats: 'wrap' });
    expect(back).toBeInstanceOf(OrderedDict);
    expect((back as OrderedDict).get('b')).toBeInstanceOf(OrderedDict);
    const py = await pythonDescribe(p);
    expect(py.t).toBe('OrderedDict');
    expect(py).toEqual(describe(back));
  });

  it('lays the archive out like torch.save: protocol-2 data.pkl, 64-byte aligned storages, version 3', () => {
    const bytes = writeTorch(everyDtypeStateDict());
    const entries = readZipDirectory(bytes);
    expect(entries.map((e) => e.name)).toEqual([
      'archive/data.pkl',
      'archive/byteorder',
      ...seq(13, (i) => `archive/data/${i}`),
      'archive/version',
    ]);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const e of entries) {
      expect(e.method).toBe(0);
      const start =
        e.localHeaderOffset +
        30 +
        dv.getUint16(e.localHeaderOffset + 26, true) +
        dv.getUint16(e.localHeaderOffset + 28, true);
      expect(start % 64).toBe(0);
      if (e.name === 'archive/version')
        expect(Buffer.from(bytes.subarray(start, start + e.uncompressedSize)).toString()).toBe('3\n');
      if (e.name === 'archive/data.pkl') expect([...bytes.subarray(start, start + 2)]).toEqual([0x80, 2]);
    }
    // Deterministic: the same value gives the same bytes.
    expect(Buffer.from(writeTorch(everyDtypeStateDict())).equals(Buffer.from(bytes))).toBe(true);
  });

  it('writes self-referencing lists, which PyTorch restores as the same object', async () => {
    const l: TorchValue[] = [1];
    l.push(l);
    const p = file('recursive.pt');
    await writeTorchFile(p, { l });
    const { stdout } = await runPython(`import sys, torch\nl = torch.load(sys.argv[1])['l']\nprint(l[1] is l, l[0])`, [
      p,
    ]);
    expect(stdout.trim()).toBe('True 1');
    const back = (readTorch(readFileSync(p)) as Map<string, TorchValue[]>).get('l')!;
    expect(back[1]).toBe(back);
  });
});

suite('writeTorchFile is atomic', () => {
  let wdir = '';
  beforeAll(() => {
    wdir = mkdtempSync(path.join(tmpdir(), 'torch-atomic-'));
  });
  afterAll(() => {
    if (wdir) rmSync(wdir, { recursive: true, force: true });
  });

  it('replaces the file in one step and leaves no temporary files', async () => {
    const p = path.join(wdir, 'ckpt.pt');
    await writeTorchFile(p, { epoch: 1 });
    await writeTorchFile(p, { epoch: 2 });
    expect((readTorch(readFileSync(p)) as Map<string, TorchValue>).get('epoch')).toBe(2);
    await Promise.all(seq(4, (i) => i).map((i) => writeTorchFile(p, { epoch: 10 + i })));
    expect((readTorch(readFileSync(p)) as Map<string, TorchValue>).get('epoch')).toBeGreaterThanOrEqual(10);
    expect(readdirSync(wdir)).toEqual(['ckpt.pt']);
  });

  it('leaves the previous file untouched when the value cannot be written', async () => {
    const p = path.join(wdir, 'keep.pt');
    await writeTorchFile(p, { epoch: 1 });
    const before = readFileSync(p);
    await expect(writeTorchFile(p, { bad: (() => 1) as unknown as TorchValue })).rejects.toThrow(
      /cannot save a function at value\["bad"\]/,
    );
    expect(readFileSync(p).equals(before)).toBe(true);
    await expect(writeTorchFile(path.join(wdir, 'missing-dir', 'x.pt'), { a: 1 })).rejects.toThrow(/ENOENT/);
    expect(existsSync(path.join(wdir, 'missing-dir'))).toBe(false);
    expect(readdirSync(wdir).sort()).toEqual(['ckpt.pt', 'keep.pt']);
  });
});

suite('tensorRecord and writer argument errors', () => {
  it('validates dtype, typed-array type and length', () => {
    expect(() => tensorRecord('float32', [2, 2], new Float64Array(4) as unknown as Float32Array)).toThrow(
      new TypeError('tensor: dtype float32 needs a Float32Array but data is a Float64Array'),
    );
    expect(() => tensorRecord('int64', [2], new Int32Array(2) as unknown as BigInt64Array)).toThrow(TypeError);
    expect(() => tensorRecord('bool', [2], new Int8Array(2) as unknown as Uint8Array)).toThrow(/Uint8Array/);
    expect(() => tensorRecord('float32', [2, 3], new Float32Array(4))).toThrow(
      new RangeError('tensor: data has 4 elements but shape [2, 3] needs 6'),
    );
    expect(() => tensorRecord('float32', [-1], new Float32Array(0))).toThrow(RangeError);
    expect(() => tensorRecord('float32', [1.5], new Float32Array(1))).toThrow(RangeError);
    expect(() => tensorRecord('complex64' as 'float32', [1], new Float32Array(1))).toThrow(/unknown dtype "complex64"/);
    const r: TensorRecord = tensorRecord('float16', [1], Uint16Array.of(0x3c00));
    expect(r).toEqual({ dtype: 'float16', shape: [1], data: Uint16Array.of(0x3c00) });
  });

  it('names the path of whatever cannot be written', () => {
    expect(() => writeTorch({ a: new Float32Array(3) } as unknown as TorchValue)).toThrow(
      /bare Float32Array at value\["a"\].*tensorRecord/,
    );
    expect(() => writeTorch({ a: [1, undefined] } as unknown as TorchValue)).toThrow(
      /cannot save undefined at value\["a"\]\[1\]/,
    );
    expect(() =>
      writeTorch({ t: { dtype: 'float32', shape: [3], data: new Float32Array(2) } } as unknown as TorchValue),
    ).toThrow(new RangeError('value["t"]: data has 2 elements but shape [3] needs 3'));
    expect(() => writeTorch({ d: new Date(0) } as unknown as TorchValue)).toThrow(/cannot save a Date at value\["d"\]/);
    expect(() => writeTorch(new Map([[{}, 1]]) as unknown as TorchValue)).toThrow(/dict key/);
    const t: TorchValue[] = torchTuple([]);
    t.push(t);
    expect(() => writeTorch(t)).toThrow(/tuple that contains itself/);
  });
});
