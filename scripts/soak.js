#!/usr/bin/env node
'use strict';
/**
 * Soak: N training steps (default 2,000) through the library's real training path, fit(), and the
 * resident set size (RSS) of the process over them. Fails (exit 1) when RSS grows by 5% or more
 * after warm-up.
 *
 *   node scripts/soak.js [--steps N] [--batch B] [--threads T] [--json FILE]
 *
 * Needs dist/ (npm run build:ts) and the addon ($SGDR_ADDON_PATH picks another build, as everywhere).
 *
 * What runs: ResNet-18 (ImageNet stem, 1 input channel, 10 classes) on a learnable, Fashion-MNIST-
 * shaped IDX data set (28x28 uint8 images, written by this script into a temporary folder, removed
 * at the end) with augmentation on, SGD with Nesterov momentum and weight decay, SGDR (T_0=1,
 * T_mult=2), batch 16, through fit() with a validation set and an output folder: every epoch is the
 * native trainer's thread with the background loader, then an evaluation, metrics, best.pth, a
 * checkpoint and, at the end of each SGDR cycle, a snapshot and its validation probabilities. The
 * run always has 20 epochs (batches per epoch = steps / 20), so a short CI run goes through as many
 * epoch boundaries (an evaluation, and up to ~140 MB of weight files written by the TypeScript
 * serializer) as the long one; they take most of a short run's time.
 *
 * How growth is measured: RSS is sampled every steps/200 steps, at a batch's progress report (the
 * JS thread is idle while the native thread trains), each time after two full garbage collections
 * and glibc's malloc_trim(0): the memory the process holds. The first 10% of the steps are warm-up
 * (LibTorch's and oneDNN's one-off allocations, the caching allocator filling its free lists, V8
 * compiling, the first epoch boundaries). Then the window just after warm-up (steps 10%-20%) is
 * compared with the last 10% of the steps, by their floor (lowest sample) and their ceiling
 * (highest sample); the run fails when either has grown by 5% or more.
 *
 * Why not raw RSS: measured here, RSS within an epoch is flat to the MiB, but each epoch boundary
 * (an evaluation, a ~45 MB stateDict copy, ~140 MB of weight files through JS buffers) leaves
 * 40-90 MB of garbage, which V8 frees whenever it next collects, into glibc's heaps, which keep the
 * freed pages (they trim only the top, which any small block left there pins). Without collections
 * raw RSS wandered between 505 and 566 MiB from epoch 5 of 20 on (first-versus-last +13%); with
 * collections alone it climbed from 426 to 474 MiB floor to floor (+11%) and, in another run, to a
 * plateau of ~506 MiB from step 1,000 on, while glibc's own count of bytes in use moved by +0.07%
 * and the tensor cache not at all: pages glibc keeps, not memory anyone holds. (Trimming once per
 * epoch in fit() did not help: at that point the epoch's buffers are not collected yet.) So:
 * - two collections, because V8 frees the backing stores of collected ArrayBuffers on a background
 *   thread and the next collection waits for that (with one, the first sample after each boundary
 *   still held the freed buffers);
 * - then malloc_trim(0), which hands every free heap page back, so what is left is what a leak
 *   raises;
 * - no sample at an epoch's end, where the epoch's stateDict and the buffers just written are
 *   alive by design.
 * Printed beside it, not judged: RSS just before each trim, glibc's bytes in use, the tensor cache,
 * the single first and last samples, the medians, the peak and a least-squares slope.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');

function parseArgs(argv) {
  const o = { steps: 2000, batch: 16, threads: 0, json: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--steps') o.steps = Number(value());
    else if (a === '--batch') o.batch = Number(value());
    else if (a === '--threads') o.threads = Number(value());
    else if (a === '--json') o.json = value();
    else if (a === '--help' || a === '-h') {
      console.log('usage: node scripts/soak.js [--steps N (2000)] [--batch B (16)] [--threads T] [--json FILE]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  for (const k of ['steps', 'batch']) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`--${k} must be an integer >= 1`);
  }
  if (o.steps < 40) throw new Error('--steps must be >= 40 (20 epochs of at least 2 batches)');
  return o;
}

/** A deterministic generator (mulberry32), so the data never changes between runs. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function idx(dims, data) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(0x800 + dims.length, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** Class c: a bar at a class-specific band (rows for 0-4, columns for 5-9) plus noise. */
function writeSplit(dir, prefix, n, seed) {
  const side = 28;
  const rand = rng(seed);
  const images = new Uint8Array(n * side * side);
  const labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const label = k % 10;
    labels[k] = label;
    const band = label % 5;
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const on = label < 5 ? Math.floor(y / 5) === band : Math.floor(x / 5) === band;
        images[k * side * side + y * side + x] = Math.min(255, Math.floor((on ? 160 : 30) + rand() * 80));
      }
    }
  }
  fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte`), idx([n, side, side], images));
  fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), idx([n], labels));
}

const MiB = 2 ** 20;
const mib = (b) => (b / MiB).toFixed(1);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Least-squares slope of rss over step, in bytes per step. */
function slope(samples) {
  const n = samples.length;
  const mx = samples.reduce((a, s) => a + s.step, 0) / n;
  const my = samples.reduce((a, s) => a + s.rss, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.step - mx) * (s.rss - my);
    den += (s.step - mx) ** 2;
  }
  return den ? num / den : 0;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const lib = require('../dist');
  const { addonPath } = require('../dist/binding');
  if (o.threads) lib.setNumThreads(o.threads);

  const EPOCHS = 20;
  const perEpoch = Math.max(2, Math.round(o.steps / EPOCHS));
  const steps = perEpoch * EPOCHS;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sgdr-soak-'));
  const dataDir = path.join(tmp, 'data');
  const outDir = path.join(tmp, 'run');
  fs.mkdirSync(dataDir);
  writeSplit(dataDir, 'train', perEpoch * o.batch, 1);
  writeSplit(dataDir, 't10k', 10 * o.batch, 2);

  // Two full collections and malloc_trim(0) before each sample (see the file comment).
  require('v8').setFlagsFromString('--expose-gc');
  const gc = require('vm').runInNewContext('gc');
  const bench = require('../dist/binding').native().bench;
  const every = Math.max(1, Math.round(steps / 200));
  const samples = []; // { step, rss, rssBeforeTrim, mallocInUse, cpuCache, heapTotal, external }
  const sample = (step) => {
    gc();
    gc(); // waits for the first one's ArrayBuffer frees (see the file comment)
    const rssBeforeTrim = process.memoryUsage().rss;
    bench.mallocTrim();
    const m = process.memoryUsage();
    const heap = bench.mallocStats();
    samples.push({
      step,
      rss: m.rss,
      rssBeforeTrim,
      mallocInUse: heap ? heap.inUseBytes + heap.mmappedBytes : NaN,
      cpuCache: bench.cpuCacheStats().cachedBytes,
      heapTotal: m.heapTotal,
      external: m.external,
    });
  };
  const started = Date.now();
  let lastPrint = started;
  let data;
  let model;
  let trainSeconds = 0;
  try {
    data = lib.openData(`fashion-mnist:${dataDir}`, { augment: true });
    model = lib.resnet('resnet18', { numClasses: 10, inChannels: 1, stem: 'imagenet', seed: 1 });
    const optimizer = new lib.SGD(model, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: true });
    console.log(
      `soak: ${steps} steps (${EPOCHS} epochs x ${perEpoch} batches of ${o.batch}), resnet18 on 28x28, ` +
        `${lib.getNumThreads()} threads, addon ${addonPath()}`,
    );
    sample(0);
    const result = await lib.fit({
      model,
      optimizer,
      schedule: new lib.WarmRestarts({ lr: 0.05, t0: 1, tMult: 2 }),
      train: data.train,
      val: data.val,
      epochs: EPOCHS,
      batchSize: o.batch,
      seed: 1,
      outDir,
      callbacks: {
        onBatchEnd(p) {
          const step = (p.epoch - 1) * perEpoch + p.batch;
          if (step % every === 0) sample(step);
        },
        onEpochEnd(m) {
          const now = Date.now();
          if (now - lastPrint > 10_000 || m.epoch === EPOCHS) {
            lastPrint = now;
            console.log(
              `soak: epoch ${m.epoch}/${EPOCHS}, step ${m.epoch * perEpoch}, train loss ${m.train_loss.toFixed(3)}, ` +
                `val acc ${(100 * m.val_acc).toFixed(1)}%, RSS ${mib(process.memoryUsage().rss)} MiB, ${((now - started) / 1000).toFixed(0)} s`,
            );
          }
        },
      },
    });
    if (result.history.length !== EPOCHS)
      throw new Error(`fit() ran ${result.history.length} epochs, expected ${EPOCHS}`);
    const last = result.history[EPOCHS - 1];
    if (!Number.isFinite(last.train_loss)) throw new Error('the training loss is not finite');
    trainSeconds = result.history.reduce((a, r) => a + r.seconds, 0);
  } finally {
    model?.dispose();
    data?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const seconds = (Date.now() - started) / 1000;

  const warm = Math.ceil(steps * 0.1);
  const baseWindow = samples.filter((s) => s.step > warm && s.step <= Math.ceil(steps * 0.2));
  const endWindow = samples.filter((s) => s.step > Math.floor(steps * 0.9));
  const after = samples.filter((s) => s.step > warm);
  if (!baseWindow.length || !endWindow.length) throw new Error('too few RSS samples (progress reports were dropped)');
  const floor = (w) => Math.min(...w.map((s) => s.rss));
  const ceiling = (w) => Math.max(...w.map((s) => s.rss));
  const floorGrowth = (floor(endWindow) - floor(baseWindow)) / floor(baseWindow);
  const ceilingGrowth = (ceiling(endWindow) - ceiling(baseWindow)) / ceiling(baseWindow);
  const growth = Math.max(floorGrowth, ceilingGrowth);
  const base = median(baseWindow.map((s) => s.rss));
  const end = median(endWindow.map((s) => s.rss));
  const first = after[0];
  const lastSample = after[after.length - 1];
  const peak = Math.max(...after.map((s) => s.rss));
  const perThousand = slope(after) * 1000;
  // The series at every 10% of the run (the sample nearest each point), for the log.
  const series = [];
  for (let k = 0; k <= 10; k++) {
    const target = Math.round((steps * k) / 10);
    const s = samples.reduce((best, x) => (Math.abs(x.step - target) < Math.abs(best.step - target) ? x : best));
    series.push(`${s.step}:${mib(s.rss)}`);
  }
  console.log(`soak: RSS (MiB) by step: ${series.join(' ')}`);
  console.log(
    `soak: ${samples.length} samples; after warm-up (step ${warm}): first ${mib(first.rss)} MiB, last ${mib(lastSample.rss)} MiB ` +
      `(${(((lastSample.rss - first.rss) / first.rss) * 100).toFixed(2)}%), peak ${mib(peak)} MiB, trend ${(perThousand / MiB).toFixed(2)} MiB per 1,000 steps`,
  );
  const pct = (x) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`;
  console.log(
    `soak: steps ${warm + 1}-${Math.ceil(steps * 0.2)} (${baseWindow.length} samples): floor ${mib(floor(baseWindow))}, ` +
      `median ${mib(base)}, ceiling ${mib(ceiling(baseWindow))} MiB; steps ${Math.floor(steps * 0.9) + 1}-${steps} ` +
      `(${endWindow.length} samples): floor ${mib(floor(endWindow))}, median ${mib(end)}, ceiling ${mib(ceiling(endWindow))} MiB`,
  );
  console.log(
    `soak: growth after warm-up: floor ${pct(floorGrowth)}, ceiling ${pct(ceilingGrowth)} (median ${pct((end - base) / base)}, not judged)`,
  );
  // For comparison, not judged: RSS before the trims, glibc's count of bytes in use, the tensor cache.
  const field = (w, k, f) => f(...w.map((s) => s[k]));
  const change = (k, f) => (field(endWindow, k, f) - field(baseWindow, k, f)) / field(baseWindow, k, f);
  console.log(
    `soak: not judged: RSS before each trim: floor ${pct(change('rssBeforeTrim', Math.min))}, ` +
      `ceiling ${pct(change('rssBeforeTrim', Math.max))}; malloc in use ${mib(field(baseWindow, 'mallocInUse', Math.max))} -> ${mib(field(endWindow, 'mallocInUse', Math.max))} MiB ` +
      `(${pct(change('mallocInUse', Math.max))}); CPU tensor cache ${mib(field(baseWindow, 'cpuCache', Math.max))} -> ` +
      `${mib(field(endWindow, 'cpuCache', Math.max))} MiB`,
  );
  const ok = growth < 0.05;
  console.log(
    `soak: ${steps} steps in ${seconds.toFixed(0)} s (training and evaluation ${trainSeconds.toFixed(0)} s, ` +
      `${((trainSeconds * 1000) / steps).toFixed(0)} ms per step; the rest is epoch ends and collections); ` +
      `RSS growth after warm-up ${pct(growth)} (the larger of floor and ceiling; bound 5%): ${ok ? 'ok' : 'FAILED'}`,
  );
  if (o.json) {
    fs.writeFileSync(
      o.json,
      JSON.stringify(
        {
          steps,
          batch: o.batch,
          seconds,
          warmupSteps: warm,
          floorGrowth,
          ceilingGrowth,
          growth,
          medianBase: base,
          medianEnd: end,
          peakRss: peak,
          slopeBytesPerStep: perThousand / 1000,
          samples,
        },
        null,
        1,
      ) + '\n',
    );
  }
  process.exitCode = ok ? 0 : 1;
}

main().catch((err) => {
  console.error(`soak: failed: ${err.stack || err.message}`);
  process.exit(2);
});
