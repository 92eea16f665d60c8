// Reduced JPEG decoding (fastDecode) against PIL's Image.draft + torchvision, and the exact train
// augmentation (decoded only over the crop's window) against torchvision's resized_crop of a whole
// decode on the same crop boxes (Dataset.crop()).
//
// Tolerance: 0. Both sides run libjpeg-turbo with the same settings (ISLOW IDCT, fancy upsampling,
// the same DCT scale) and Pillow's fixed-point bilinear resampling, which we reproduce; our window
// decode (rows skipped, columns cropped) must not change a pixel the resampler reads.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Dataset } from '../lib';
import { readFloat32, referenceScript, tempDir } from './helpers/native';
import { maxAbsDiff } from './helpers/data';
import { requireTorchOrSkip, runPython } from './helpers/python';

const hasTorchvision = requireTorchOrSkip(true);
const script = () => referenceScript('fast_decode.py');

describe.runIf(hasTorchvision)('fastDecode: JPEGs decoded reduced, as PIL Image.draft', () => {
  let root = '';

  beforeAll(async () => {
    root = tempDir('fastdecode');
    await runPython(script(), ['fixtures', root]);
    fs.mkdirSync(path.join(root, 'val'));
    fs.cpSync(path.join(root, 'train'), path.join(root, 'val'), { recursive: true });
  });

  /** Our samples for every (image, epoch) against the Python reference on the same crops. */
  async function compare(
    ds: Dataset,
    epochs: number[],
    size: number,
    val: Array<{ path: string; resize: number; size: number }> = [],
  ) {
    const samples: Array<Record<string, unknown>> = [];
    const ours: Float32Array[] = [];
    for (const epoch of epochs) {
      for (let i = 0; i < ds.size; i++) {
        const crop = ds.crop(i, { seed: 5, epoch })!;
        samples.push({ path: ds.source(i), ...crop });
        const t = ds.get(i, { seed: 5, epoch });
        ours.push(t.toFloat32Array());
        t.dispose();
      }
    }
    const request = path.join(root, `request-${Math.random().toString(36).slice(2)}.json`);
    const out = request.replace(/\.json$/, '.f32');
    fs.writeFileSync(request, JSON.stringify({ size, samples, val }));
    await runPython(script(), ['expect', request, out]);
    const want = readFloat32(out);
    const per = 3 * size * size;
    const diffs = ours.map((a, k) => maxAbsDiff(a, want.subarray(k * per, (k + 1) * per)));
    return { samples, diffs, want };
  }

  it('train: RandomResizedCrop(32) + flip after draft equals PIL draft + resize(box) on every image, scale and subsampling', async () => {
    const ds = Dataset.open({
      kind: 'image-folder',
      root,
      split: 'train',
      imageSize: 32,
      fastDecode: true,
      mean: [0],
      std: [1],
    });
    expect(ds.native.info().fastDecode).toBe(true);
    const { samples, diffs } = await compare(ds, [0, 1, 2, 3, 4, 5], 32);
    const scales = new Map<number, number>();
    for (const s of samples) scales.set(s.scale as number, (scales.get(s.scale as number) ?? 0) + 1);
    console.log(
      `fastDecode train vs PIL draft (${samples.length} samples, scales ${JSON.stringify([...scales].sort())}): max |diff| = ${Math.max(...diffs)}`,
    );
    // Every reduction occurs, and PNGs and small images stay at scale 1.
    expect([...scales.keys()].sort()).toEqual([1, 2, 4, 8]);
    for (const s of samples) if (/plain\.png$|small_40x36/.test(s.path as string)) expect(s.scale).toBe(1);
    expect(Math.max(...diffs)).toBe(0);
    ds.dispose();
  });

  it('train: the exact path equals torchvision resized_crop + flip on the same boxes, and fastDecode draws the same boxes', async () => {
    const exact = Dataset.open({ kind: 'image-folder', root, split: 'train', imageSize: 48, mean: [0], std: [1] });
    const fast = Dataset.open({ kind: 'image-folder', root, split: 'train', imageSize: 48, fastDecode: true });
    for (let i = 0; i < exact.size; i++) {
      const a = exact.crop(i, { seed: 5, epoch: 3 })!;
      const b = fast.crop(i, { seed: 5, epoch: 3 })!;
      expect({ ...b, scale: 1 }).toEqual(a);
      expect(a.scale).toBe(1);
    }
    const { diffs } = await compare(exact, [0, 1, 2], 48);
    console.log(`exact train augmentation vs torchvision on the same boxes: max |diff| = ${Math.max(...diffs)}`);
    expect(Math.max(...diffs)).toBe(0);
    exact.dispose();
    fast.dispose();
  });

  it('val: Resize + CenterCrop after draft equals torchvision on the drafted image', async () => {
    const ds = Dataset.open({
      kind: 'image-folder',
      root,
      split: 'val',
      imageSize: 32,
      fastDecode: true,
      mean: [0],
      std: [1],
    });
    expect(ds.crop(0)).toBeNull();
    const val = Array.from({ length: ds.size }, (_, i) => ({ path: ds.source(i), resize: 37, size: 32 }));
    const ours = Array.from({ length: ds.size }, (_, i) => {
      const t = ds.get(i);
      const a = t.toFloat32Array();
      t.dispose();
      return a;
    });
    const request = path.join(root, 'val-request.json');
    fs.writeFileSync(request, JSON.stringify({ size: 32, samples: [], val }));
    await runPython(script(), ['expect', request, path.join(root, 'val.f32')]);
    const want = readFloat32(path.join(root, 'val.f32'));
    const per = 3 * 32 * 32;
    const diff = Math.max(...ours.map((a, k) => maxAbsDiff(a, want.subarray(k * per, (k + 1) * per))));
    console.log(`fastDecode val (Resize 37 + CenterCrop 32) vs torchvision after draft: max |diff| = ${diff}`);
    expect(diff).toBe(0);
    ds.dispose();
  });

  it('a truncated JPEG still fails with fastDecode (it is decoded whole), naming the file', () => {
    const bad = tempDir('fastdecode-bad');
    const src = fs.readFileSync(path.join(root, 'train', 'a', '420_500x375.jpg'));
    fs.mkdirSync(path.join(bad, 'train', 'x'), { recursive: true });
    fs.writeFileSync(path.join(bad, 'train', 'x', 'cut.jpg'), src.subarray(0, Math.floor(src.length * 0.6)));
    const ds = Dataset.open({ kind: 'image-folder', root: bad, split: 'train', imageSize: 32, fastDecode: true });
    for (let epoch = 0; epoch < 4; epoch++) {
      expect(() => ds.get(0, { epoch })).toThrow(/cannot decode image .*cut\.jpg: invalid JPEG: premature end of file/);
    }
    ds.dispose();
    fs.rmSync(bad, { recursive: true, force: true });
  });

  it('rejects a non-boolean fastDecode', () => {
    expect(() =>
      Dataset.open({ kind: 'image-folder', root, split: 'train', fastDecode: 'yes' as unknown as boolean }),
    ).toThrow(/fastDecode/);
  });
});
