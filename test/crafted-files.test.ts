/**
 * Issue 12's "done when": under a 2 GB address-space limit (`ulimit -v 2097152`), no crafted file
 * of under 10 MB makes a command use more, or die by a signal. Each file is made here and given
 * to the real CLI: as --init-weights, as the checkpoint of a run that is resumed, and as IDX or
 * image-folder data. Every run must end in a clean nonzero exit (not a signal), with a message
 * naming the file and saying what is wrong, in bounded time. /usr/bin/time reports the peak RSS,
 * which is printed (and bounded) as well.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCommand, smallTrainFlags } from './helpers/cli';
import { tempDir } from './helpers/native';
import { idxBytes } from './helpers/data';
import { writeIdxDataset } from './helpers/idx';
import { crc32 } from '../lib/serialization/zip-format';
import {
  crc32Zeros,
  deflateZeros,
  gzipZeros,
  idxHeader,
  pngBytes,
  rawZip,
  statePickle,
  torchZip,
  zlibWrap,
  type CraftedTensor,
} from './helpers/crafted';

const root = path.resolve(__dirname, '..');
const LIMIT_KB = 2097152;
const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time -f "peak-rss-kb %M"' : '';
const MAX_SECONDS = 90;

interface Outcome {
  status: number | null;
  signal: string | null;
  stderr: string;
  seconds: number;
  peakMb: number | undefined;
}

/** `sgdr ARGS` under the address-space limit (and /usr/bin/time, when there is one). */
async function sgdrLimited(args: string[]): Promise<Outcome> {
  const t0 = performance.now();
  const r = await runCommand(
    'bash',
    ['-c', `ulimit -v ${LIMIT_KB}; exec ${TIME} "$0" "$@"`, process.execPath, path.join(root, 'bin/sgdr.js'), ...args],
    {
      cwd: root,
      timeoutMs: MAX_SECONDS * 1000,
      env: { ...process.env, SGDR_QUIET: '1' },
    },
  );
  const m = /peak-rss-kb (\d+)/.exec(r.stderr);
  return {
    status: r.status,
    signal: r.signal,
    stderr: r.stderr,
    seconds: (performance.now() - t0) / 1000,
    peakMb: m ? Number(m[1]) / 1024 : undefined,
  };
}

/** A clean failure: an exit code (no signal, also none reported by time), the file named, the reason given. */
function expectCleanFailure(name: string, o: Outcome, file: string, reason: RegExp): void {
  console.log(
    `${name}: exit ${o.status}${o.signal ? ` signal ${o.signal}` : ''}, ${o.seconds.toFixed(1)} s, peak RSS ${o.peakMb?.toFixed(0) ?? '?'} MB`,
  );
  expect(o.signal).toBeNull();
  expect(o.stderr).not.toMatch(/terminated by signal|Fatal process out of memory|bad_alloc|Aborted|core dumped/);
  expect(o.status).toBeGreaterThanOrEqual(1);
  expect(o.status).toBeLessThan(128);
  const message = o.stderr.replace(/peak-rss-kb \d+\s*$/, '').trim();
  expect(message).toContain(file);
  expect(message).toMatch(reason);
  expect(o.seconds).toBeLessThan(MAX_SECONDS);
  // Node and LibTorch alone take about 300 MB; nothing a crafted file asks for may come on top.
  if (o.peakMb !== undefined) expect(o.peakMb).toBeLessThan(1000);
}

const floats = (n: number): Uint8Array => new Uint8Array(new Float32Array(n).buffer);
const base = tempDir('crafted');
const write = (name: string, bytes: Uint8Array): string => {
  const file = path.join(base, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  expect(bytes.length).toBeLessThan(10 * 2 ** 20);
  return file;
};

// Torch files, each under 10 MB.
const torchFiles: Array<{ name: string; bytes: () => Uint8Array; reason: RegExp }> = [
  {
    // Like the issue's 1.4 KB file that grew RSS to 21 GB: every tensor a stride-0 view of one float.
    name: 'stride0.pth',
    bytes: () => {
      const t = (size: number[]): CraftedTensor => ({ key: '0', numel: 1, offset: 0, size, stride: size.map(() => 0) });
      return torchZip(
        statePickle({ 'conv1.weight': t([8192, 8192, 7, 7]), 'fc.weight': t([8192, 8192]), 'fc.bias': t([8192]) }),
        { '0': floats(1) },
      );
    },
    reason: /its strides overlap \(e\.g\. stride 0\)/,
  },
  {
    // Like the 579-byte one that reached 8.6 GB, then said "the weights take undefined input channels".
    name: 'rank1.pth',
    bytes: () =>
      torchZip(
        statePickle({
          'conv1.weight': { key: '0', numel: 1, offset: 0, size: [2 ** 31], stride: [0] },
          'fc.weight': { key: '0', numel: 1, offset: 0, size: [2 ** 31], stride: [0] },
        }),
        { '0': floats(1) },
      ),
    reason: /its strides overlap/,
  },
  {
    // Honest storages, but shapes that would build a model from nothing: conv1 of rank 1.
    name: 'bad-conv1.pth',
    bytes: () =>
      torchZip(
        statePickle({
          'conv1.weight': { key: '0', numel: 4, offset: 0, size: [4], stride: [1] },
          'fc.weight': { key: '1', numel: 5120, offset: 0, size: [10, 512], stride: [512, 1] },
        }),
        { '0': floats(4), '1': floats(5120) },
      ),
    reason: /conv1\.weight has shape \[4\], not the \[64, C, 7, 7\]/,
  },
  {
    // fc.weight of [10^9, 0]: no data, but a billion-class classifier if believed.
    name: 'empty-fc.pth',
    bytes: () =>
      torchZip(
        statePickle({
          'conv1.weight': { key: '0', numel: 576, offset: 0, size: [64, 1, 3, 3], stride: [9, 9, 3, 1] },
          'fc.weight': { key: '1', numel: 0, offset: 0, size: [1e9, 0], stride: [0, 1] },
        }),
        { '0': floats(576), '1': new Uint8Array(0) },
      ),
    reason: /fc\.weight has shape \[1000000000, 0\], not the \[classes, 512\] of a resnet18 classifier/,
  },
  {
    // The 3 MB zip with a deflated 3 GiB record (6.5 GB before).
    name: 'deflate-bomb.pth',
    bytes: () => {
      const numel = (3 * 2 ** 30) / 4;
      const pkl = statePickle({ 'conv1.weight': { key: '0', numel, offset: 0, size: [numel], stride: [1] } });
      return rawZip([
        { name: 'archive/data.pkl', method: 0, data: pkl, uncompressedSize: pkl.length, crc: crc32(pkl) },
        {
          name: 'archive/data/0',
          method: 8,
          data: deflateZeros(new Uint8Array(0), numel * 4),
          uncompressedSize: numel * 4,
          crc: crc32Zeros(0, numel * 4),
        },
      ]);
    },
    reason:
      /zip entry archive\/data\/0 declares 3221225472 bytes inflated from \d+ compressed \(1032:1\).*a guard against zip bombs/,
  },
  {
    // One 1 MiB storage rebuilt 4000 times as a transposed view: 4 GiB of copies from 300 KB.
    name: 'overlapping-copies.pth',
    bytes: () => {
      const n = 512;
      const ts: Record<string, CraftedTensor> = {};
      for (let i = 0; i < 4000; i++) ts[`t${i}`] = { key: '0', numel: n * n, offset: 0, size: [n, n], stride: [1, n] };
      return torchZip(statePickle(ts), { '0': floats(n * n) });
    },
    reason: /the file's tensors would need .* MiB of copies, more than the .* MiB allowed/,
  },
  {
    // 8 MB of EMPTY_DICT opcodes: 1.6 GB of Maps if built.
    name: 'dict-bomb.pth',
    bytes: () => {
      const p = Buffer.alloc(8e6 + 3, 0x7d);
      p[0] = 0x80;
      p[1] = 2;
      p[p.length - 1] = 0x2e;
      return torchZip(p, {});
    },
    reason: /would build more than 64 MiB of Python objects/,
  },
];

describe('crafted files under a 2 GB address-space limit', () => {
  const data = writeIdxDataset(path.join(base, 'idx'), 32, 16);
  const small = [...smallTrainFlags(data), '--epochs', '1'];

  for (const f of torchFiles) {
    it(`--init-weights ${f.name}`, async () => {
      const file = write(f.name, f.bytes());
      const o = await sgdrLimited([
        'train',
        ...small,
        '--init-weights',
        file,
        '--out',
        path.join(base, `out-${f.name}`),
      ]);
      expectCleanFailure(`--init-weights ${f.name} (${fs.statSync(file).size} bytes)`, o, file, f.reason);
    });
  }

  describe('as the checkpoint of a resumed run', () => {
    const run = path.join(base, 'run');
    beforeAll(async () => {
      // A real one-epoch run (no limit on this one), whose checkpoint is then replaced.
      const r = await runCommand(process.execPath, [path.join(root, 'bin/sgdr.js'), 'train', ...small, '--out', run], {
        cwd: root,
        timeoutMs: 170_000,
        env: { ...process.env, SGDR_QUIET: '1' },
      });
      expect(r.status, r.stderr).toBe(0);
    });
    for (const f of torchFiles.filter((t) => ['stride0.pth', 'deflate-bomb.pth', 'dict-bomb.pth'].includes(t.name))) {
      it(`--resume with ${f.name} as checkpoint.pth`, async () => {
        const checkpoint = path.join(run, 'checkpoint.pth');
        fs.writeFileSync(checkpoint, f.bytes());
        const o = await sgdrLimited(['train', '--resume', run]);
        expectCleanFailure(`--resume, checkpoint.pth = ${f.name}`, o, checkpoint, f.reason);
      });
    }
  });

  describe('as IDX data', () => {
    const idx = (
      name: string,
      images: Uint8Array,
      labels: Uint8Array,
      gz = false,
    ): { dir: string; images: string; labels: string } => {
      const dir = path.join(base, `idx-${name}`);
      const imagesFile = write(`idx-${name}/train-images-idx3-ubyte${gz ? '.gz' : ''}`, images);
      const labelsFile = write(`idx-${name}/train-labels-idx1-ubyte`, labels);
      write(`idx-${name}/t10k-images-idx3-ubyte`, idxBytes([2, 28, 28], new Uint8Array(2 * 784)));
      write(`idx-${name}/t10k-labels-idx1-ubyte`, idxBytes([2], new Uint8Array(2)));
      return { dir, images: imagesFile, labels: labelsFile };
    };
    const train = (dir: string) =>
      sgdrLimited([
        'train',
        '--data',
        `fashion-mnist:${dir}`,
        '--epochs',
        '1',
        '--batch-size',
        '16',
        '--stem',
        'cifar',
        '--threads',
        '2',
        '--out',
        path.join(dir, 'out'),
      ]);

    it('a 4 MB .gz that inflates to 4 GiB', async () => {
      const n = Math.floor((4 * 2 ** 30) / 784);
      const d = idx('gz-bomb', gzipZeros(idxHeader([n, 28, 28]), n * 784), idxBytes([2], new Uint8Array(2)), true);
      expectCleanFailure(
        'IDX gz bomb (4 GiB)',
        await train(d.dir),
        d.images,
        /more than a gzip file of \d+ bytes may inflate to here .* a guard against decompression bombs/,
      );
    });

    it('a 16-byte header claiming 2^32-1 images of 2^32-1 x 2^32-1', async () => {
      const d = idx('huge-dims', idxHeader([0xffffffff, 0xffffffff, 0xffffffff]), idxBytes([2], new Uint8Array(2)));
      expectCleanFailure(
        'IDX huge dims (raw)',
        await train(d.dir),
        d.images,
        /4294967295 images, more than this loader holds/,
      );
    });

    it('a 4 MB gzipped labels file that inflates to 3.75 GiB', async () => {
      const n = 0xf0000000;
      const d = idx('gz-labels', idxBytes([2, 28, 28], new Uint8Array(2 * 784)), gzipZeros(idxHeader([n]), n));
      // The labels are the second file read; gzipped, under the name the loader looks for first.
      fs.renameSync(d.labels, `${d.labels}.gz`);
      expectCleanFailure(
        'IDX gz labels bomb (3.75 GiB)',
        await train(d.dir),
        `${d.labels}.gz`,
        /4026531840 labels, more than this loader holds/,
      );
    });

    it('0 images', async () => {
      const d = idx('empty', idxHeader([0, 28, 28]), idxBytes([0], new Uint8Array(0)));
      expectCleanFailure('IDX 0 images', await train(d.dir), d.images, /holds 0 images/);
    });

    it('a label of 200', async () => {
      const d = idx(
        'label200',
        idxBytes([3, 28, 28], new Uint8Array(3 * 784)),
        idxBytes([3], Uint8Array.from([0, 1, 200])),
      );
      expectCleanFailure(
        'IDX label 200',
        await train(d.dir),
        d.labels,
        /#2: label 200 is not a class index in \[0, 10\)/,
      );
    });
  });

  describe('as image-folder data', () => {
    it('a 400 KB PNG of 12000 x 12000 pixels', async () => {
      const dir = path.join(base, 'folder');
      // Rows of zeros (filter byte + 36000 zero bytes), deflated: 432 MB of pixels in ~420 KB.
      const idat = zlibWrap(deflateZeros(new Uint8Array(0), 12000 * 36001));
      const big = write('folder/train/a/big.png', pngBytes(12000, 12000, undefined, idat));
      for (const split of ['train', 'val'])
        for (const c of ['a', 'b']) write(`folder/${split}/${c}/small.png`, pngBytes(16, 16));
      const o = await sgdrLimited([
        'train',
        '--data',
        `image-folder:${dir}`,
        '--epochs',
        '1',
        '--batch-size',
        '4',
        '--image-size',
        '16',
        '--threads',
        '2',
        '--out',
        path.join(dir, 'out'),
      ]);
      expectCleanFailure('PNG 12000x12000', o, big, /image of 12000x12000 pixels is too large/);
    });
  });
});
