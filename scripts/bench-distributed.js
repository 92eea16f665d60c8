#!/usr/bin/env node
// Data-parallel scaling on this machine, from one paired run: the same training (ResNet-18, cifar
// stem, Fashion-MNIST at --image-size, one epoch of --images images, global batch --batch) as
//   A  1 process  x 2 LibTorch threads      (sgdr train --threads 2)
//   B  2 ranks    x 1 thread, c10d Gloo      (sgdr train --nproc 2 --threads 1), buckets overlapped with backward
//   C  the same as B with --no-overlap       (buckets reduced after backward)
// run one after the other, --repeats times in turn (ABCABC...), and prints each one's training
// images/s (metrics.jsonl) and the ratios. BENCHMARKS.md quotes its output.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const images = opt('images', 4000);
const batch = opt('batch', 64);
const size = opt('image-size', 28);
const repeats = opt('repeats', 2);
const sgdr = path.join(__dirname, '..', 'bin', 'sgdr.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sgdr-bench-dist-'));

function run(label, extra) {
  const out = path.join(tmp, `${label}-${Date.now()}`);
  const common = ['train', '--data', 'fashion-mnist', '--limit-train', String(images), '--limit-val', '200'];
  common.push('--image-size', String(size), '--stem', 'cifar', '--epochs', '1', '--no-tensorboard', '--keep', 'none');
  const r = spawnSync(process.execPath, [sgdr, ...common, ...extra, '--out', out], {
    encoding: 'utf8',
    env: { ...process.env, SGDR_QUIET: '1' },
  });
  if (r.status !== 0) throw new Error(`${label} failed:\n${r.stderr}`);
  const row = JSON.parse(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')[0]);
  return row.images_per_second;
}

const setups = {
  'A 1 process x 2 threads': ['--threads', '2', '--batch-size', String(batch)],
  'B 2 ranks x 1 thread (overlap)': ['--nproc', '2', '--threads', '1', '--batch-size', String(batch / 2)],
  'C 2 ranks x 1 thread (no overlap)': [
    '--nproc',
    '2',
    '--threads',
    '1',
    '--batch-size',
    String(batch / 2),
    '--no-overlap',
  ],
};
const results = Object.fromEntries(Object.keys(setups).map((k) => [k, []]));
console.log(
  `bench-distributed: ${images} images of ${size} px, global batch ${batch}, ${repeats} paired repeat(s), ${os.cpus().length} cores`,
);
for (let i = 0; i < repeats; i++)
  for (const [label, extra] of Object.entries(setups)) {
    const ips = run(label.split(' ')[0], extra);
    results[label].push(ips);
    console.log(`  repeat ${i + 1}: ${label}: ${ips.toFixed(1)} images/s`);
  }
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const a = median(results['A 1 process x 2 threads']);
for (const [label, xs] of Object.entries(results))
  console.log(
    `${label.padEnd(36)} ${median(xs).toFixed(1).padStart(8)} images/s  (x${(median(xs) / a).toFixed(2)} of A)`,
  );
fs.rmSync(tmp, { recursive: true, force: true });
