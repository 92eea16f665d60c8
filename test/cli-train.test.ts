// `sgdr train` end to end: the run folder's files, --resume, transfer learning from a torchvision
// state dict, an image-folder data set, and one-line errors for bad input before training starts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSgdr, smallTrainFlags } from './helpers/cli';
import { orderedDict, readTorchFile, stateDictEntries, writeTorchFile } from '../lib/serialization';
import { RUN_CONFIG_FILE } from '../lib/train/run';
import { tempDir } from './helpers/native';
import { writeIdxDataset } from './helpers/idx';
import { requireTorchOrSkip, runPython } from './helpers/python';

const sgdr = (...args: string[]) => runSgdr(args);
const data = writeIdxDataset(path.join(tempDir('cli-data'), 'd'), 64, 32, { gzip: true });
const small = smallTrainFlags(data);
const hasTorch = requireTorchOrSkip(true);

describe('sgdr train', () => {
  it('writes metrics.jsonl, summary.json, checkpoints and cycle snapshots; --resume continues', async () => {
    const out = path.join(tempDir('cli-train'), 'run');
    const r = await sgdr(
      'train',
      ...small,
      '--epochs',
      '3',
      '--t0',
      '1',
      '--t-mult',
      '2',
      '--seed',
      '1',
      '--out',
      out,
      '--normalized-weight-decay',
      '0.05',
    );
    expect(r.stderr).toMatch(/epoch 3\/3 +train_loss/);
    expect(r.status).toBe(0);
    const files = fs.readdirSync(out).sort();
    expect(files).toEqual(
      expect.arrayContaining([
        'metrics.jsonl',
        'summary.json',
        'checkpoint.pth',
        'best.pth',
        'run.json',
        'snapshot-cycle-1.pth',
        'snapshot-cycle-2.pth',
      ]),
    );
    const rows = fs
      .readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((x) => x.epoch)).toEqual([1, 2, 3]);
    for (const key of ['epoch', 'lr', 'train_loss', 'val_loss', 'val_acc', 'seconds'])
      expect(typeof rows[2][key]).toBe('number');
    // Normalized weight decay: w_norm·sqrt(b/(B·T_i)) with T_i = 1, 2, 2 for the three epochs.
    expect(rows.map((x) => x.weight_decay)).toEqual([1, 2, 2].map((t) => 0.05 * Math.sqrt(16 / (64 * t))));
    // A finished run resumed is already done: nothing changes.
    const again = await sgdr('train', '--resume', out);
    expect(again.status).toBe(0);
    expect(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    const changed = await sgdr('train', '--resume', out, '--seed', '5');
    expect(changed.status).toBe(1);
    expect(changed.stderr.trim()).toBe(
      'sgdr train: --resume continues the run as it was configured; --seed cannot change',
    );
    // --epochs may change (train longer), but not to fewer epochs than were trained.
    const shorter = await sgdr('train', '--resume', out, '--epochs', '2');
    expect(shorter.status).toBe(1);
    expect(shorter.stderr.trim()).toMatch(
      /cannot resume .* with epochs 2: it has trained 3 epochs already, more than 2$/,
    );
  });

  it.runIf(hasTorch)(
    'transfer learning from a torchvision state dict: new classifier, re-initialised and frozen modules',
    async () => {
      const dir = tempDir('cli-transfer');
      const weights = path.join(dir, 'resnet18.pth');
      await runPython(
        `import sys, torch\nfrom torchvision_compat import torchvision\ntorch.manual_seed(0)\ntorch.save(torchvision.models.resnet18().state_dict(), sys.argv[1])`,
        [weights],
      );
      const out = path.join(dir, 'run');
      const r = await sgdr(
        'train',
        ...small.filter((a) => a !== 'cifar' && a !== '--stem'),
        '--epochs',
        '1',
        '--init-weights',
        weights,
        '--reinit-last',
        '3',
        '--freeze',
        '--out',
        out,
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/new classifier, 3 modules re-initialised, [\d,]+ trainable parameters, [\d,]+ frozen/);
      return (async () => {
        const before = stateDictEntries(await readTorchFile(weights));
        const after = stateDictEntries(
          await readTorchFile(path.join(out, 'checkpoint.pth')).then(
            (v) => (v as Map<string, unknown>).get('model') as never,
          ),
        );
        expect(after.get('fc.weight')!.shape).toEqual([10, 512]);
        // Frozen: conv1 summed over RGB for the grayscale data, then untouched by training.
        const rgb = before.get('conv1.weight')!.data as Float32Array;
        const gray = after.get('conv1.weight')!.data as Float32Array;
        expect(gray[0]).toBeCloseTo(rgb[0]! + rgb[49]! + rgb[98]!, 5);
        expect(Array.from(after.get('layer1.0.conv1.weight')!.data as Float32Array)).toEqual(
          Array.from(before.get('layer1.0.conv1.weight')!.data as Float32Array),
        );
      })();
    },
  );

  it.runIf(hasTorch)('trains on an image folder of generated JPEG and PNG files', async () => {
    const dir = tempDir('cli-folder');
    await runPython(
      `
import os, sys, numpy as np
from PIL import Image
rng = np.random.RandomState(0)
for split, n in (("train", 6), ("val", 2)):
    for c, tint in (("ants", (200, 60, 40)), ("bees", (40, 60, 200))):
        os.makedirs(f"{sys.argv[1]}/{split}/{c}", exist_ok=True)
        for i in range(n):
            img = np.clip(np.array(tint) + rng.randint(-40, 40, (48, 64, 3)), 0, 255).astype(np.uint8)
            ext = "png" if i % 2 else "jpg"
            Image.fromarray(img).save(f"{sys.argv[1]}/{split}/{c}/{i}.{ext}")
`,
      [dir],
    );
    const out = path.join(dir, 'run');
    const r = await sgdr(
      'train',
      '--data',
      `image-folder:${dir}`,
      '--image-size',
      '32',
      '--batch-size',
      '4',
      '--epochs',
      '2',
      '--out',
      out,
      '--threads',
      '2',
    );
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.final.epoch).toBe(2);
    expect(summary.final.val_acc).toBeGreaterThanOrEqual(0);
    // --fast-decode reaches the data layer and is part of the run's recorded config.
    const fastOut = path.join(dir, 'run-fast');
    const f = await sgdr(
      'train',
      '--data',
      `image-folder:${dir}`,
      '--image-size',
      '32',
      '--batch-size',
      '4',
      '--epochs',
      '1',
      '--out',
      fastOut,
      '--threads',
      '2',
      '--fast-decode',
    );
    expect(f.status, f.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(fastOut, RUN_CONFIG_FILE), 'utf8')).fastDecode).toBe(true);
  });

  it('bad input: one line naming the flag or file, exit 1, before any training', async () => {
    const dir = tempDir('cli-bad');
    const cases: Array<[string[], RegExp]> = [
      [['--data', `fashion-mnist:${path.join(dir, 'missing')}`], /missing/],
      [[...small, '--batch-size', '0'], /--batch-size must be >= 1, got 0/],
      [[...small, '--arch', 'resnet19'], /unknown arch 'resnet19'/],
      [[...small, '--t-mult', '0.5'], /--t-mult must be a finite number ≥ 1, got 0.5/],
      [[...small, '--optimizer', 'rmsprop'], /--optimizer must be sgd, adam or adamw, got 'rmsprop'/],
      [[...small, '--init-weights', path.join(dir, 'nope.pth')], /--init-weights: file not found: .*nope\.pth/],
      [[...small, '--reinit-last', '3'], /--reinit-last and --freeze need --init-weights/],
      [[...small, '--frobnicate'], /unknown flag --frobnicate/],
      [['--resume', path.join(dir, 'nothing')], /--resume: folder not found/],
    ];
    const corrupt = path.join(dir, 'corrupt');
    fs.mkdirSync(corrupt);
    for (const f of fs.readdirSync(data)) fs.writeFileSync(path.join(corrupt, f), 'garbage');
    cases.push([['--data', `fashion-mnist:${corrupt}`], /corrupt|gzip|not an IDX|truncated/i]);
    const emptyFolder = path.join(dir, 'folder');
    fs.mkdirSync(path.join(emptyFolder, 'train'), { recursive: true });
    fs.mkdirSync(path.join(emptyFolder, 'val'), { recursive: true });
    cases.push([['--data', `image-folder:${emptyFolder}`], /no class/i]);
    const notWritable = path.join(dir, 'file');
    fs.writeFileSync(notWritable, '');
    cases.push([[...small, '--out', path.join(notWritable, 'run')], /cannot write to the output folder/]);
    for (const [args, message] of cases) {
      const r = await sgdr('train', ...args, ...(args[0] === '--resume' ? [] : ['--epochs', '1']));
      const lines = r.stderr.trim().split('\n');
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(lines[lines.length - 1], args.join(' ')).toMatch(message);
      expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
      expect(r.stderr).not.toMatch(/epoch 1\/1/); // nothing trained
    }
  });
});

describe('sgdr train: run safety', () => {
  const rows = (dir: string) =>
    fs
      .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));

  it("refuses an --out that holds another run; --overwrite clears only that run's files", async () => {
    const out = path.join(tempDir('cli-overwrite'), 'run');
    const first = await sgdr('train', ...small, '--epochs', '2', '--t0', '1', '--t-mult', '1', '--out', out);
    expect(first.status, first.stderr).toBe(0);
    expect(fs.existsSync(path.join(out, 'snapshot-cycle-2.pth'))).toBe(true);
    fs.writeFileSync(path.join(out, 'notes.txt'), 'mine');
    fs.mkdirSync(path.join(out, 'plots'));
    const before = Object.fromEntries(
      fs
        .readdirSync(out)
        .filter((f) => f !== 'plots')
        .map((f) => [f, fs.readFileSync(path.join(out, f))]),
    );

    const refused = await sgdr('train', ...small, '--epochs', '1', '--lr', '0.01', '--out', out);
    expect(refused.status).toBe(1);
    const lines = refused.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/--out .* holds another run .*--resume .*--overwrite/);
    expect(refused.stderr).not.toMatch(/epoch 1\/1/);
    for (const [f, bytes] of Object.entries(before))
      expect(fs.readFileSync(path.join(out, f)).equals(bytes), f).toBe(true);

    const replaced = await sgdr('train', ...small, '--epochs', '1', '--lr', '0.01', '--out', out, '--overwrite');
    expect(replaced.status, replaced.stderr).toBe(0);
    expect(rows(out).map((r) => r.epoch)).toEqual([1]);
    expect(fs.existsSync(path.join(out, 'snapshot-cycle-2.pth'))).toBe(false);
    expect(fs.readFileSync(path.join(out, 'notes.txt'), 'utf8')).toBe('mine');
    expect(fs.statSync(path.join(out, 'plots')).isDirectory()).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(out, RUN_CONFIG_FILE), 'utf8')).schedule.lr).toBe(0.01);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).epochs).toBe(1);

    // An empty folder or one with only unrelated files is fine, as before.
    const empty = path.join(tempDir('cli-empty-out'), 'run');
    fs.mkdirSync(empty);
    fs.writeFileSync(path.join(empty, 'README'), 'x');
    const fresh = await sgdr('train', ...small, '--epochs', '1', '--out', empty);
    expect(fresh.status, fresh.stderr).toBe(0);
    expect((await sgdr('train', '--resume', out, '--overwrite')).stderr).toMatch(/--overwrite/);
  });

  it('a non-finite loss stops the run naming the epoch and batch, exit 1, nothing saved from it', async () => {
    for (const lr of ['1000', '1e300']) {
      const out = path.join(tempDir('cli-diverge'), 'run');
      const r = await sgdr('train', ...small, '--epochs', '2', '--lr', lr, '--out', out);
      expect(r.status, r.stderr).toBe(1);
      const last = r.stderr.trim().split('\n').pop()!;
      expect(last, lr).toMatch(/^sgdr train: training diverged: .*epoch 1, batch \d+/);
      expect(r.stderr).not.toMatch(/done in/);
      // Epoch 1 never finished: no checkpoint, best or snapshot from the diverged weights.
      const files = fs.readdirSync(out);
      expect(
        files.filter((f) => f.endsWith('.pth')),
        lr,
      ).toEqual([]);
      expect(files).not.toContain('summary.json');
      const record = JSON.parse(fs.readFileSync(path.join(out, 'diverged.json'), 'utf8'));
      expect(record.epoch).toBe(1);
      expect(record.batch).toBeGreaterThanOrEqual(1);
    }
  });

  it('NaN weights given as --init-weights are refused naming the file and the tensor', async () => {
    const dir = tempDir('cli-nan-weights');
    const out = path.join(dir, 'run');
    const ok = await sgdr('train', ...small, '--epochs', '1', '--out', out);
    expect(ok.status, ok.stderr).toBe(0);
    const entries = stateDictEntries(await readTorchFile(path.join(out, 'best.pth')));
    (entries.get('layer2.0.conv1.weight')!.data as Float32Array)[5] = NaN;
    const bad = path.join(dir, 'nan.pth');
    await writeTorchFile(bad, orderedDict(entries));
    const r = await sgdr('train', ...small, '--epochs', '1', '--init-weights', bad, '--out', path.join(dir, 'run2'));
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').pop()).toMatch(
      /--init-weights: .*nan\.pth holds non-finite values .*'layer2\.0\.conv1\.weight'/,
    );
    expect(r.stderr).not.toMatch(/epoch 1\/1/);
  });

  it('--skip-nonfinite reports the skipped batches in metrics.jsonl, summary.json and at the end', async () => {
    const out = path.join(tempDir('cli-skip'), 'run');
    const r = await sgdr('train', ...small, '--epochs', '1', '--skip-nonfinite', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/0 batch\(es\) skipped for a non-finite loss/);
    expect(rows(out)[0].skipped_batches).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).skipped_batches).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, RUN_CONFIG_FILE), 'utf8')).skipNonFinite).toBe(true);
  });
});
