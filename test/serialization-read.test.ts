/**
 * Reading files PyTorch wrote: every value is compared with what Python itself sees in the same
 * file (torch_describe.py ↔ describe.ts: structure, Python types, tensor dtype/shape/bytes).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import {
  isTensorRecord,
  OrderedDict,
  readTorch,
  readTorchFile,
  stateDictEntries,
  TorchFloat,
} from '../lib/serialization';
import type { TensorRecord, TorchDict, TorchValue } from '../lib/serialization';
import { describe } from './fixtures/serialization/describe';
import { requireTorchOrSkip, runPython } from './helpers/python';

const FIXTURES = path.join(__dirname, 'fixtures', 'serialization');
const hasTorch = requireTorchOrSkip(true);

const GENERATE = String.raw`
import collections, sys, zipfile
import torch
from torchvision_compat import torchvision
sys.path.insert(0, sys.argv[2])
from torch_describe import dump
out = sys.argv[1]

def save_both(obj, name):
    torch.save(obj, f'{out}/{name}.pt')
    torch.save(obj, f'{out}/{name}-legacy.pt', _use_new_zipfile_serialization=False)
    dump(obj, f'{out}/{name}.json')

torch.manual_seed(0)
m = torchvision.models.resnet18()
m.train()
m(torch.randn(2, 3, 64, 64))  # non-trivial running stats, num_batches_tracked = 1
sd = m.state_dict()
save_both(sd, 'resnet18')

# The same archive re-zipped with deflate, as a zip tool would.
with zipfile.ZipFile(f'{out}/resnet18.pt') as src, \
        zipfile.ZipFile(f'{out}/resnet18-deflate.pt', 'w', zipfile.ZIP_DEFLATED) as dst:
    for info in src.infolist():
        dst.writestr(info.filename, src.read(info.filename))

dp = collections.OrderedDict(('module.' + k, v) for k, v in sd.items())
torch.save(dp, f'{out}/dataparallel.pt')

base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
zoo = {
    'transposed': base.t(),
    'slice': base[1:3, 2:5],
    'row': base[2],
    'col': base[:, 1],
    'stepped': base[::2, ::3],
    'shared_a': base,
    'shared_b': base.view(6, 4),
    'expanded': torch.tensor([1.0, 2.0, 3.0]).expand(4, 3),
    'permuted': torch.randn(2, 3, 4).permute(2, 0, 1),
    'f64': torch.randn(3, 2, dtype=torch.float64),
    'f64_t': torch.randn(3, 2, dtype=torch.float64).t(),
    'i64': torch.tensor([-2**62, -1, 0, 2**62 + 5]),
    'i32': torch.tensor([-7, 2**31 - 1], dtype=torch.int32),
    'i16': torch.tensor([-300, 300], dtype=torch.int16),
    'i8': torch.tensor([-128, 127], dtype=torch.int8),
    'u8': torch.tensor([0, 255], dtype=torch.uint8),
    'bool': torch.tensor([[True, False, True], [False, False, True]]),
    'bool_t': torch.tensor([[True, False, True], [False, False, True]]).t(),
    'f16': torch.randn(5).half(),
    'f16_slice': torch.randn(4, 4).half()[1:, ::2],
    'bf16': torch.randn(5).bfloat16(),
    'scalar_i64': torch.tensor(7),
    'scalar_f32': torch.tensor(2.5),
    'scalar_view': base[3, 4],
    'empty': torch.zeros(0, 3),
    'param': torch.nn.Parameter(torch.randn(2, 2)),
    'plain': {
        'list': [1, 2.0, 'three', None, True, False, [4, (5, 6)]],
        'one_tuple': (1,),
        'big': 2**70, 'neg': -5, 'negbig': -2**40, 'neg_huge': -2**100,
        'float_int': 1.0, 'inf': float('inf'), 'neg_zero': -0.0, 'tiny': 5e-324,
        'unicode': 'h\u00e9llo \u2713 \U0001F600',
        'bytes': b'\x00\x01\xff' * 100, 'empty_bytes': b'',
        'set': {1, 2, 3}, 'frozenset': frozenset({'a', 'b'}),
        'dtype': torch.float16, 'size': torch.Size([2, 3]),
        'int_keys': {0: 'a', 1: 'b', -1: 'c'},
        'ordered': collections.OrderedDict([('z', 1), ('a', 2)]),
        'empty_list': [], 'empty_dict': {}, 'empty_tuple': (),
        'long_list': list(range(2500)),
        'long_dict': {str(i): i for i in range(1500)},
    },
}
save_both(zoo, 'zoo')
# Other pickle protocols torch.save accepts exercise the rest of the VM (text INT for bools,
# FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE, BINBYTES, EMPTY_SET/ADDITEMS, FROZENSET).
for proto in (1, 4, 5):
    torch.save(zoo, f'{out}/zoo-p{proto}.pt', pickle_protocol=proto)

# Pre-1.0 legacy files: torch._utils._rebuild_tensor (v1) and storage views in persistent ids.
import pickle, struct
class StorageRef:
    def __init__(self, pid):
        self.pid = pid
class Rebuild:
    def __init__(self, *args):
        self.args = args
    def __reduce__(self):
        return (torch._utils._rebuild_tensor, self.args)
class Pickler(pickle.Pickler):
    def persistent_id(self, o):
        return o.pid if isinstance(o, StorageRef) else None
root = StorageRef(('storage', torch.FloatStorage, 'root', 'cpu', 6, None))
view = StorageRef(('storage', torch.FloatStorage, 'root', 'cpu', 6, ('view', 2, 3)))
old = collections.OrderedDict([('full', Rebuild(root, 0, (2, 3), (3, 1))), ('view', Rebuild(view, 1, (2,), (1,))),
                               ('cols', Rebuild(root, 1, (2, 2), (3, 1)))])
with open(f'{out}/old-legacy.pt', 'wb') as f:
    pickle.dump(0x1950a86a20f9469cfc6c, f, protocol=2)
    pickle.dump(1001, f, protocol=2)
    pickle.dump({'protocol_version': 1001, 'little_endian': True,
                 'type_sizes': {'short': 2, 'int': 4, 'long': 8}}, f, protocol=2)
    Pickler(f, protocol=2).dump(old)
    pickle.dump(['root'], f, protocol=2)
    f.write(struct.pack('<q', 6) + struct.pack('<6f', *range(6)))
dump(torch.load(f'{out}/old-legacy.pt'), f'{out}/old-legacy.json')

model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
model(torch.randn(8, 4)).pow(2).sum().backward()
opt.step()
save_both(opt.state_dict(), 'sgd')
sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=2)
sched.step()
ckpt = {
    'epoch': 3,
    'model': model.state_dict(),
    'optimizer': opt.state_dict(),
    'scheduler': sched.state_dict(),
    'best_acc': 0.875,
    'lr': 1.0,
    'args': {'arch': 'resnet18', 'seeds': [0, 1], 'amp': False, 'resume': None},
    'rng': torch.get_rng_state(),
}
save_both(ckpt, 'checkpoint')
`;

let dir = '';
const file = (name: string): string => path.join(dir, name);
const expected = (name: string): unknown => JSON.parse(readFileSync(file(`${name}.json`), 'utf8'));

function asMap(v: TorchValue): TorchDict {
  expect(v).toBeInstanceOf(Map);
  return v as TorchDict;
}

suite.skipIf(!hasTorch)('readTorch on files written by PyTorch', () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'torch-read-'));
    await runPython(GENERATE, [dir, FIXTURES]);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const variant of ['', '-legacy', '-deflate']) {
    it(`reads a torchvision resnet18 state dict (${variant || 'zip'}) exactly as PyTorch does`, async () => {
      const value = await readTorchFile(file(`resnet18${variant}.pt`), { floats: 'wrap' });
      expect(value).toBeInstanceOf(OrderedDict);
      // Names, order, dtypes, shapes, bytes, the _metadata attribute: all equal to Python's view.
      expect(describe(value)).toEqual(expected('resnet18'));
      expect((value as OrderedDict).metadata).toBeInstanceOf(OrderedDict);
      expect([...(value as OrderedDict).keys()]).not.toContain('_metadata');

      const sd = stateDictEntries(value);
      expect(sd.size).toBe((expected('resnet18') as { items: unknown[] }).items.length);
      const nbt = sd.get('bn1.num_batches_tracked')!;
      expect(nbt.dtype).toBe('int64');
      expect(nbt.shape).toEqual([]);
      expect(nbt.data).toBeInstanceOf(BigInt64Array);
      expect([...(nbt.data as BigInt64Array)]).toEqual([1n]);
      const w = sd.get('conv1.weight')!;
      expect(w.shape).toEqual([64, 3, 7, 7]);
      expect(w.data).toBeInstanceOf(Float32Array);
      expect(w.data.length).toBe(64 * 3 * 7 * 7);
    });
  }

  for (const variant of ['', '-legacy', '-p1', '-p4', '-p5']) {
    it(`reads strided, offset, shared, expanded and every dtype's tensors plus plain values (${variant || 'zip'})`, async () => {
      const value = await readTorchFile(file(`zoo${variant}.pt`), { floats: 'wrap' });
      expect(describe(value)).toEqual(expected('zoo'));

      const zoo = asMap(value);
      const t = (k: string) => zoo.get(k) as TensorRecord;
      expect(Array.from(t('transposed').data as Float32Array).slice(0, 6)).toEqual([0, 6, 12, 18, 1, 7]);
      expect(Array.from(t('slice').data as Float32Array)).toEqual([8, 9, 10, 14, 15, 16]);
      expect(Array.from(t('expanded').data as Float32Array)).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
      expect(t('scalar_view').shape).toEqual([]);
      expect(Array.from(t('scalar_view').data as Float32Array)).toEqual([22]);
      expect(t('empty').shape).toEqual([0, 3]);
      expect(t('empty').data.length).toBe(0);
      expect(t('param').requiresGrad).toBe(true);
      expect(t('bool').data).toBeInstanceOf(Uint8Array);
      expect(t('f16').data).toBeInstanceOf(Uint16Array);
      // Zero-copy by default: tensors on one storage share memory, as in PyTorch.
      expect(t('shared_a').data.buffer).toBe(t('shared_b').data.buffer);
      expect(t('shared_a').data.byteOffset).toBe(t('shared_b').data.byteOffset);

      const plain = asMap(zoo.get('plain')!);
      expect(plain.get('big')).toBe(2n ** 70n);
      expect(plain.get('neg_huge')).toBe(-(2n ** 100n));
      expect(plain.get('negbig')).toBe(-(2 ** 40));
      expect(plain.get('float_int')).toEqual(new TorchFloat(1));
      expect(plain.get('bytes')).toBeInstanceOf(Uint8Array);
      expect(plain.get('set')).toEqual(new Set([1, 2, 3]));
      expect(asMap(plain.get('int_keys')!).get(-1)).toBe('c');
    });
  }

  it('reads pre-1.0 legacy files: _rebuild_tensor and storage views', async () => {
    const value = await readTorchFile(file('old-legacy.pt'), { floats: 'wrap' });
    expect(describe(value)).toEqual(expected('old-legacy'));
    const m = asMap(value);
    expect(Array.from((m.get('view') as TensorRecord).data as Float32Array)).toEqual([3, 4]);
    expect(Array.from((m.get('cols') as TensorRecord).data as Float32Array)).toEqual([1, 2, 4, 5]);
  });

  it('copies every tensor when asked, so none aliases the file buffer', async () => {
    const buf = readFileSync(file('zoo.pt'));
    const zoo = asMap(readTorch(buf, { copy: true }));
    const a = zoo.get('shared_a') as TensorRecord;
    const b = zoo.get('shared_b') as TensorRecord;
    expect(a.data.buffer).not.toBe(b.data.buffer);
    expect(a.data.buffer).not.toBe(buf.buffer);
    expect(describe(a)).toEqual(describe(asMap(readTorch(buf)).get('shared_a')));
  });

  for (const variant of ['', '-legacy']) {
    it(`reads an SGD-with-momentum optimizer state dict and a training checkpoint (${variant || 'zip'})`, async () => {
      const sgd = await readTorchFile(file(`sgd${variant}.pt`), { floats: 'wrap' });
      expect(describe(sgd)).toEqual(expected('sgd'));
      const ckpt = await readTorchFile(file(`checkpoint${variant}.pt`), { floats: 'wrap' });
      expect(describe(ckpt)).toEqual(expected('checkpoint'));

      // Default options: Python floats are plain numbers, ints too.
      const plain = asMap(readTorch(readFileSync(file(`checkpoint${variant}.pt`))));
      expect(plain.get('lr')).toBe(1);
      expect(plain.get('best_acc')).toBe(0.875);
      expect(plain.get('epoch')).toBe(3);
      const group = (asMap(plain.get('optimizer')!).get('param_groups') as TorchValue[])[0]!;
      expect(asMap(group).get('momentum')).toBe(0.9);
      expect(asMap(group).get('nesterov')).toBe(true);
      expect(asMap(asMap(plain.get('optimizer')!).get('state')!).has(0)).toBe(true);

      // The checkpoint wrapper: its 'model' entry is the state dict.
      const sd = stateDictEntries(plain);
      expect([...sd.keys()]).toEqual([
        '0.weight',
        '0.bias',
        '1.weight',
        '1.bias',
        '1.running_mean',
        '1.running_var',
        '1.num_batches_tracked',
        '2.weight',
        '2.bias',
      ]);
      expect([...sd.values()].every(isTensorRecord)).toBe(true);
    });
  }

  it("strips DataParallel's module. prefix", async () => {
    const sd = stateDictEntries(await readTorchFile(file('dataparallel.pt')));
    const ref = stateDictEntries(await readTorchFile(file('resnet18.pt')));
    expect([...sd.keys()]).toEqual([...ref.keys()]);
    expect(describe(sd.get('fc.weight'))).toEqual(describe(ref.get('fc.weight')));
  });
});
