/**
 * The LibTorch line under test, and PyTorch's files both ways on it.
 * - The addon, the build's record and the reference PyTorch are one version: a test run compares
 *   against the PyTorch that matches the LibTorch the addon was built against, never another.
 * - Files that this PyTorch's torch.save writes (on 2.x: the byteorder and .data/serialization_id
 *   records, .format_version, .storage_alignment) read back with the same tensors.
 * - The checkpoints, cycle snapshots, best model and state dicts that `sgdr train` writes load in
 *   this PyTorch with torch.load as it is called today: on 2.x weights_only=True (the default since
 *   2.6), so they reference no global it refuses; on 1.13 its default; with the same tensors.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTorchFile, stateDictEntries } from '../lib';
import { builtLibTorch, native } from '../lib/binding';
import { readZipDirectory } from '../lib/serialization/zip';
import { tempDir } from './helpers/native';
import { writeIdxDataset } from './helpers/idx';
import { runSgdr, smallTrainFlags } from './helpers/cli';
import { PYTHON, referenceTorchVersion, requireTorchOrSkip, runPython } from './helpers/python';

const root = path.resolve(__dirname, '..');
const hasTorch = requireTorchOrSkip(false);
const majorMinor = (v: string): string => v.split('.').slice(0, 2).join('.');

/** sha256 of each tensor's bytes (C order), by state-dict key, as Python computes it. */
const PY_DIGESTS = `
import hashlib, json, sys, torch
def tensors(v, prefix=''):
    if isinstance(v, torch.Tensor):
        yield prefix, v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield from tensors(x, f'{prefix}.{k}' if prefix else str(k))
    elif isinstance(v, (list, tuple)):
        for i, x in enumerate(v):
            yield from tensors(x, f'{prefix}.{i}' if prefix else str(i))
out = {}
for f in sys.argv[1:]:
    # torch.load as called today. On 2.x that is weights_only=True (the default since 2.6), said
    # explicitly too. 1.13's weights_only unpickler was experimental: it lacks BINFLOAT (opcode 'G'),
    # which CPython's pickler writes for every float, so it refuses PyTorch's own checkpoints as well;
    # a 1.13 user calls torch.load(f) with its default, weights_only=False.
    v = torch.load(f, weights_only=True) if int(torch.__version__.split('.')[0]) >= 2 else torch.load(f)
    out[f] = {k: [str(t.dtype).replace('torch.', ''), list(t.shape), hashlib.sha256(t.detach().contiguous().numpy().tobytes()).hexdigest()]
              for k, t in tensors(v)}
print(json.dumps(out))
`;

/** The same digests from our reader. */
async function ourDigests(file: string): Promise<Record<string, [string, number[], string]>> {
  const out: Record<string, [string, number[], string]> = {};
  const walk = (v: unknown, prefix: string): void => {
    if (
      v &&
      typeof v === 'object' &&
      'dtype' in v &&
      'shape' in v &&
      'data' in v &&
      ArrayBuffer.isView((v as { data: unknown }).data)
    ) {
      const t = v as { dtype: string; shape: number[]; data: ArrayBufferView };
      const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      out[prefix] = [t.dtype, t.shape, createHash('sha256').update(bytes).digest('hex')];
    } else if (v instanceof Map) {
      for (const [k, x] of v) walk(x, prefix ? `${prefix}.${String(k)}` : String(k));
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, prefix ? `${prefix}.${i}` : String(i)));
    }
  };
  walk(await readTorchFile(file), '');
  return out;
}

describe('the LibTorch line', () => {
  it("the build's record, the addon and the locator agree on the version", () => {
    const built = builtLibTorch();
    if (!built && process.env.CI)
      throw new Error('the addon has no libtorch.json: build it with scripts/build-native.js');
    const version = native().libtorchVersion;
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    if (built) expect(built.version).toBe(version);
    const r = spawnSync(process.execPath, [path.join(root, 'scripts/find-libtorch.js'), '--summary'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      /^LibTorch \d+\.\d+\.\d+ \((CPU|CUDA [^,]+), _GLIBCXX_USE_CXX11_ABI=[01], C\+\+(17|20)\) from .+: \//,
    );
  });

  it.runIf(hasTorch)('the reference PyTorch is the one the addon was built against', () => {
    const theirs = referenceTorchVersion();
    console.log(`addon LibTorch ${native().libtorchVersion}; reference ${PYTHON}: torch ${theirs}`);
    expect(majorMinor(theirs)).toBe(majorMinor(native().libtorchVersion));
  });
});

describe.runIf(hasTorch)("PyTorch's files both ways", () => {
  it("reads what this PyTorch's torch.save writes, whatever extra records its zip has", async () => {
    const dir = tempDir('torch-line-read');
    const file = path.join(dir, 'sd.pt');
    await runPython(
      `import sys, torch, collections
torch.manual_seed(0)
m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Linear(2, 2))
m.train(); m[1](m[0](torch.randn(2, 3, 5, 5)))  # non-trivial running statistics
sd = m.state_dict()
sd['extra.i64'] = torch.arange(5)
sd['extra.f16'] = torch.linspace(0, 1, 7).half()
sd['extra.view'] = torch.arange(12.).view(3, 4).t()
torch.save(sd, sys.argv[1])`,
      [file],
    );
    const names = readZipDirectory(fs.readFileSync(file)).map((e) => e.name.replace(/^[^/]+\//, ''));
    expect(names).toContain('data.pkl');
    if (Number(native().libtorchVersion.split('.')[0]) >= 2) {
      // What 2.x adds to the zip: the byteorder, serialization id and format version records.
      expect(names).toEqual(expect.arrayContaining(['byteorder', '.data/serialization_id']));
    }
    const ours = await ourDigests(file);
    const theirs = JSON.parse((await runPython(PY_DIGESTS, [file])).stdout)[file];
    expect(ours).toEqual(theirs);
    const sd = stateDictEntries(await readTorchFile(file));
    expect([...sd.keys()]).toContain('1.running_var');
  });

  it('our checkpoints, snapshots and best model load with torch.load as called today (weights_only=True on 2.x), tensor for tensor', async () => {
    const data = writeIdxDataset(path.join(tempDir('torch-line-data'), 'd'), 48, 16, { gzip: false });
    const out = path.join(tempDir('torch-line-train'), 'run');
    const r = await runSgdr([
      'train',
      ...smallTrainFlags(data),
      '--epochs',
      '3',
      '--t0',
      '1',
      '--t-mult',
      '2',
      '--seed',
      '3',
      '--out',
      out,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const files = fs
      .readdirSync(out)
      .filter((f) => f.endsWith('.pth'))
      .sort()
      .map((f) => path.join(out, f));
    expect(files.map((f) => path.basename(f))).toEqual(
      expect.arrayContaining(['best.pth', 'checkpoint.pth', 'snapshot-cycle-1.pth', 'snapshot-cycle-2.pth']),
    );
    const theirs = JSON.parse((await runPython(PY_DIGESTS, files)).stdout) as Record<string, unknown>;
    for (const f of files) {
      const ours = await ourDigests(f);
      // A whole ResNet-18 (with the optimizer's state in checkpoint.pth); a snapshot's validation
      // probabilities file holds its probabilities and labels.
      expect(Object.keys(ours).length).toBeGreaterThanOrEqual(f.includes('val-probabilities') ? 1 : 60);
      expect(theirs[f]).toEqual(ours);
    }
  });
});
