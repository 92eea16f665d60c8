#!/usr/bin/env node
'use strict';
/**
 * A seeded mutation fuzzer for every parser of untrusted files, run through the library and the
 * native addon exactly as the CLI uses them:
 *   idx         IDX images/labels, raw and gzipped (native/data/file_formats.cc), opened as a data set
 *               and sampled
 *   jpeg, png   image decoding in the image-folder loader (native/data/image_decode.cc), plain, with
 *               random-crop augmentation (windowed JPEG decode) and with fastDecode
 *   zip         readTorch on mutated torch.save zip files (checksums checked on a quarter of them)
 *   pickle      readTorch on zip files whose data.pkl is mutated (the zip itself kept valid)
 *   legacy      readTorch on mutated legacy (pre-zip) torch files
 *   checkpoint  loadCheckpoint + the optimizer restore a resume does, on mutated checkpoints
 *
 * Inputs come from the seed corpus (test/fuzz-corpus, made by scripts/make-fuzz-corpus.js) with
 * 1-8 mutations each (bit flips, interesting integers, inserted/deleted/duplicated/spliced
 * ranges, truncation), a pure function of (seed, parser, index): any input can be made again.
 *
 * Every input must end in a success or a clean error: an Error with a message, and not one that
 * betrays a bug (a TypeError, a stack overflow, std::bad_alloc, an engine allocation failure).
 * Each parser runs in a child process under a memory cap (ulimit -v, default 2 GB) watched by
 * this one: an input that takes longer than the time cap is a hang, a child that dies (a signal,
 * a V8 abort) is a crash; both are saved, and the child restarted after that input. Inputs slower
 * than --slow-ms are reported. Failing inputs are saved to --save with their message.
 *
 * Usage: node scripts/fuzz.js [--count N] [--seed S] [--parser NAME[,NAME]|all] [--timeout-ms MS]
 *          [--slow-ms MS] [--mem-kb KB] [--save DIR]
 *        node scripts/fuzz.js --parser NAME --seed S --only INDEX   (one input, in this process)
 * Exit status: 0 when every input ended cleanly, 1 otherwise, 2 on bad usage.
 */
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const CORPUS = path.join(root, 'test/fuzz-corpus');
const PARSERS = ['idx', 'jpeg', 'png', 'zip', 'pickle', 'legacy', 'checkpoint'];

// --- arguments ---------------------------------------------------------------------------------
function parseArgs(argv) {
  const o = {
    count: 10000,
    seed: 1,
    parser: 'all',
    timeoutMs: 20000,
    slowMs: 1000,
    memKb: 2097152,
    save: path.join(root, 'fuzz-failures'),
    child: false,
    only: undefined,
    from: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    const int = (v) => (/^\d+$/.test(v) ? Number(v) : usage(`${a} takes a non-negative integer, got '${v}'`));
    if (a === '--count') o.count = int(next());
    else if (a === '--seed') o.seed = int(next());
    else if (a === '--parser') o.parser = next();
    else if (a === '--timeout-ms') o.timeoutMs = int(next());
    else if (a === '--slow-ms') o.slowMs = int(next());
    else if (a === '--mem-kb') o.memKb = int(next());
    else if (a === '--save') o.save = path.resolve(next());
    else if (a === '--only') o.only = int(next());
    else if (a === '--child') o.child = true;
    else if (a === '--from') o.from = int(next());
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument '${a}'`);
  }
  o.parsers = o.parser === 'all' ? PARSERS : o.parser.split(',');
  for (const p of o.parsers)
    if (!PARSERS.includes(p)) usage(`unknown parser '${p}' (expected ${PARSERS.join(', ')} or all)`);
  return o;
}

function usage(problem) {
  const text =
    'usage: node scripts/fuzz.js [--count N] [--seed S] [--parser NAME[,NAME]|all] [--timeout-ms MS] [--slow-ms MS] [--mem-kb KB] [--save DIR] [--only INDEX]\n' +
    `parsers: ${PARSERS.join(', ')}\n`;
  if (problem) {
    process.stderr.write(`fuzz: ${problem}\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

// --- deterministic inputs ------------------------------------------------------------------------
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rngFor(seed, parser, index) {
  let h = 2166136261;
  for (const c of `${seed}/${parser}/${index}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return mulberry32(h >>> 0);
}

const INTERESTING = [
  0,
  1,
  2,
  3,
  4,
  7,
  8,
  16,
  28,
  64,
  100,
  127,
  128,
  255,
  256,
  1000,
  1024,
  4096,
  32767,
  32768,
  65535,
  65536,
  0x7fffffff,
  0x80000000,
  0xfffffffe,
  0xffffffff,
  2 ** 40,
  2 ** 53 - 1,
  -1,
  -2,
  -128,
  -32768,
  -(2 ** 31),
];

/** 1-8 random mutations of `input`; `others` are used for splicing. */
function mutate(input, rng, others) {
  let b = Buffer.from(input);
  const pick = (n) => Math.floor(rng() * n);
  const rounds = 1 + pick(rng() < 0.7 ? 3 : 8);
  for (let r = 0; r < rounds; r++) {
    const op = pick(10);
    const at = b.length ? pick(b.length) : 0;
    if (op === 0 && b.length)
      b[at] ^= 1 << pick(8); // bit flip
    else if (op === 1 && b.length)
      b[at] = pick(256); // random byte
    else if (op === 2 && b.length) b[at] = [0, 1, 0x7f, 0x80, 0xff][pick(5)];
    else if (op === 3 && b.length >= 8) {
      // an interesting integer, 1/2/4/8 bytes, either endianness
      const v = INTERESTING[pick(INTERESTING.length)];
      const width = [1, 2, 4, 8][pick(4)];
      const pos = Math.min(at, b.length - width);
      const big = rng() < 0.5;
      const tmp = Buffer.alloc(8);
      tmp.writeBigInt64LE(BigInt.asIntN(64, BigInt(v)));
      const bytes = tmp.subarray(0, width);
      if (big) bytes.reverse();
      bytes.copy(b, pos);
    } else if (op === 4 && b.length > 1) {
      // delete a range
      const n = 1 + pick(rng() < 0.8 ? 16 : Math.max(1, b.length >> 2));
      b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + n))]);
    } else if (op === 5) {
      // insert random bytes
      const n = 1 + pick(rng() < 0.8 ? 16 : 512);
      const ins = Buffer.alloc(n);
      for (let i = 0; i < n; i++) ins[i] = rng() < 0.5 ? 0 : pick(256);
      b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
    } else if (op === 6 && b.length > 1) {
      // duplicate a range, possibly many times (amplification: repeated opcodes, records)
      const n = 1 + pick(Math.min(64, b.length - at));
      const times = rng() < 0.8 ? 1 + pick(4) : 1 + pick(2000);
      const piece = b.subarray(at, at + n);
      b = Buffer.concat([b.subarray(0, at), ...Array(times).fill(piece), b.subarray(at)]);
    } else if (op === 7 && b.length > 1) {
      b = b.subarray(0, pick(b.length)); // truncate
    } else if (op === 8 && others.length) {
      // splice a range of another seed in
      const o = others[pick(others.length)];
      if (o.length) {
        const from = pick(o.length);
        const n = 1 + pick(Math.min(128, o.length - from));
        b = Buffer.concat([b.subarray(0, at), o.subarray(from, from + n), b.subarray(Math.min(b.length, at + n))]);
      }
    } else if (b.length) {
      // overwrite a run with one byte value
      const n = 1 + pick(8);
      b.fill([0, 0xff, 0x41][pick(3)], at, Math.min(b.length, at + n));
    }
    if (b.length > 1 << 20) b = b.subarray(0, 1 << 20); // inputs stay small
  }
  return b;
}

const corpusCache = new Map();
function readCorpus(dir, filter = () => true) {
  if (!corpusCache.has(dir)) {
    const full = path.join(CORPUS, dir);
    corpusCache.set(
      dir,
      fs
        .readdirSync(full)
        .sort()
        .map((f) => ({ file: f, name: `${dir}/${f}`, bytes: fs.readFileSync(path.join(full, f)) })),
    );
  }
  return corpusCache.get(dir).filter((s) => filter(s.file));
}

/** Fixes the CRC of every chunk of a PNG that still parses as chunks (so mutations reach libpng's decoder). */
function fixPngCrcs(b, crc32) {
  const out = Buffer.from(b);
  for (let p = 8; p + 12 <= out.length;) {
    const len = out.readUInt32BE(p);
    if (p + 12 + len > out.length) break;
    out.writeUInt32BE(crc32(out.subarray(p + 4, p + 8 + len)), p + 8 + len);
    p += 12 + len;
  }
  return out;
}

/** A PNG's chunks as { type, data }, or undefined if it does not split into chunks. */
function pngChunks(b) {
  const out = [];
  for (let p = 8; p + 12 <= b.length;) {
    const len = b.readUInt32BE(p);
    if (p + 12 + len > b.length) return undefined;
    out.push({ type: b.toString('latin1', p + 4, p + 8), data: b.subarray(p + 8, p + 8 + len) });
    p += 12 + len;
  }
  return out;
}

function mutatePngInside(seed, rng, crc32) {
  const chunks = pngChunks(seed);
  const pick = (n) => Math.floor(rng() * n);
  const idat = Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data));
  let raw = zlib.inflateSync(idat);
  const ihdr = Buffer.from(chunks.find((c) => c.type === 'IHDR').data);
  if (rng() < 0.6) {
    // width, height (small changes mostly), bit depth, colour type, interlace
    const field = pick(5);
    if (field < 2) ihdr.writeUInt32BE(Math.max(0, ihdr.readUInt32BE(4 * field) + pick(9) - 4) >>> 0, 4 * field);
    else if (field === 2) ihdr[8] = [1, 2, 4, 8, 16, 3, 0][pick(7)];
    else if (field === 3) ihdr[9] = [0, 2, 3, 4, 6, 1, 7][pick(7)];
    else ihdr[12] = pick(3);
  }
  if (rng() < 0.7) raw = mutate(raw, rng, []);
  const parts = [seed.subarray(0, 8)];
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    parts.push(head, data, crc);
  };
  let wroteIdat = false;
  for (const c of chunks) {
    if (c.type === 'IHDR') chunk('IHDR', ihdr);
    else if (c.type === 'IDAT') {
      if (!wroteIdat) chunk('IDAT', zlib.deflateSync(raw));
      wroteIdat = true;
    } else chunk(c.type, c.data);
  }
  return Buffer.concat(parts);
}

/**
 * What one input of a parser is: bytes to write or read, plus how to run it. A pure function of
 * (seed, parser, index) and the corpus.
 */
function makeInput(parser, seed, index) {
  const rng = rngFor(seed, parser, index);
  const pick = (arr) => arr[Math.floor(rng() * arr.length)];
  const { readZipDirectory, readZipEntry } = require(path.join(dist, 'serialization/zip'));
  const { crc32 } = require(path.join(dist, 'serialization/zip-format'));
  const { buildZip } = require(path.join(dist, 'serialization/zip-write'));
  if (parser === 'idx') {
    const seeds = readCorpus('idx');
    const images = seeds.find((s) => s.name.endsWith('images.idx')).bytes;
    const labels = seeds.find((s) => s.name.endsWith('labels.idx')).bytes;
    const target = rng() < 0.7 ? 'images' : 'labels';
    const gz = rng() < 0.5;
    let bytes = target === 'images' ? images : labels;
    const mode = gz ? pick(['inner', 'inner', 'outer']) : 'inner';
    if (mode === 'inner') bytes = mutate(bytes, rng, [images, labels]);
    if (gz) bytes = zlib.gzipSync(bytes);
    if (mode === 'outer') bytes = mutate(bytes, rng, []);
    return { bytes, target, gz, labels, images, split: rng() < 0.5 ? 'train' : 'val', augment: rng() < 0.5 };
  }
  if (parser === 'jpeg' || parser === 'png') {
    const seeds = readCorpus(parser);
    const s = pick(seeds).bytes;
    let bytes;
    if (parser === 'png' && rng() < 0.4) {
      // Structure-aware: mutate the header fields and the inflated pixel data, then deflate again
      // and fix the checksums, so libpng's row filters and transformations see the odd values.
      bytes = mutatePngInside(s, rng, crc32);
    } else {
      bytes = mutate(
        s,
        rng,
        seeds.map((x) => x.bytes),
      );
      if (parser === 'png' && rng() < 0.6) bytes = fixPngCrcs(bytes, crc32);
    }
    return { bytes, augment: rng() < 0.5, fastDecode: rng() < 0.3, size: pick([8, 16, 33]) };
  }
  if (parser === 'zip') {
    const seeds = readCorpus('torch', (f) => f !== 'legacy.pth');
    return {
      bytes: mutate(
        pick(seeds).bytes,
        rng,
        seeds.map((x) => x.bytes),
      ),
      verify: rng() < 0.25,
      copy: rng() < 0.3,
    };
  }
  if (parser === 'legacy') {
    const seeds = readCorpus('torch', (f) => f === 'legacy.pth');
    return {
      bytes: mutate(
        seeds[0].bytes,
        rng,
        readCorpus('torch').map((x) => x.bytes),
      ),
      copy: rng() < 0.3,
    };
  }
  // pickle and checkpoint: mutate data.pkl and re-zip with valid checksums, or (checkpoint, 1/3)
  // mutate the whole file.
  const seeds = parser === 'pickle' ? readCorpus('torch', (f) => f !== 'legacy.pth') : readCorpus('checkpoint');
  const file = pick(seeds).bytes;
  if (parser === 'checkpoint' && rng() < 0.33) return { bytes: mutate(file, rng, []), copy: false };
  const entries = readZipDirectory(file).map((e) => ({ name: e.name, data: Buffer.from(readZipEntry(file, e)) }));
  const pkl = entries.find((e) => e.name.endsWith('data.pkl'));
  const pickles = seeds.map((s) => {
    const d = readZipDirectory(s.bytes).find((e) => e.name.endsWith('data.pkl'));
    return Buffer.from(readZipEntry(s.bytes, d));
  });
  pkl.data = mutate(pkl.data, rng, pickles);
  return { bytes: Buffer.concat(buildZip(entries)), copy: rng() < 0.3 };
}

// --- running one input ---------------------------------------------------------------------------
// Messages of errors that betray a bug rather than describe the file: the engine's own (a
// property of undefined, a stack overflow, a failed allocation) and the addon's catch-alls.
const BUG = new RegExp(
  [
    'std::bad_alloc',
    'unknown native error',
    'Maximum call stack size exceeded',
    'Cannot read propert',
    'Cannot set propert',
    'Cannot create property',
    'is not a function',
    'is not iterable',
    'is not a constructor',
    'is not defined',
    'Cannot convert',
    'Cannot mix BigInt',
    'Do not know how to serialize',
    'circular structure',
    'Invalid array length',
    'Invalid typed array length',
    'Array buffer allocation failed',
    'Invalid string length',
    'out of memory',
    'Reduce of empty array',
  ]
    .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('|'),
  'i',
);

/** 'ok', or 'error' for a clean error, or 'fail' (with the reason) for an error that is a bug. */
function classify(err) {
  if (!(err instanceof Error)) return { outcome: 'fail', message: `threw a non-Error: ${String(err)}` };
  const message = err.message || '';
  if (!message.trim()) return { outcome: 'fail', message: `${err.name} without a message` };
  // A SyntaxError is JSON.parse's, unwrapped: the file is not named.
  if (err instanceof ReferenceError || err instanceof SyntaxError || BUG.test(message))
    return { outcome: 'fail', message: `${err.name}: ${message}`, stack: err.stack };
  return { outcome: 'error', message };
}

class Runner {
  constructor(parser) {
    this.parser = parser;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `sgdr-fuzz-${parser}-`));
    // The package root, and the file format in full (readTorch lives behind the serialization subpath).
    this.lib = { ...require(dist), ...require(path.join(dist, 'serialization')) };
    if (parser === 'checkpoint') {
      // What a resume restores into: one small model and its optimizer, made once.
      this.model = this.lib.resnet('resnet18', { numClasses: 2, inChannels: 1, stem: 'cifar' });
      this.optimizer = new this.lib.SGD(this.model, { lr: 0.1, momentum: 0.9 });
    }
  }

  dispose() {
    this.optimizer?.dispose?.();
    this.model?.dispose();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs one input; returns 'ok' or throws. */
  async run(input) {
    const lib = this.lib;
    const dir = fs.mkdtempSync(path.join(this.dir, 'i-'));
    try {
      if (this.parser === 'idx') {
        const name = (t) => `${input.split === 'train' ? 'train' : 't10k'}-${t}-idx${t === 'images' ? 3 : 1}-ubyte`;
        const other = input.target === 'images' ? 'labels' : 'images';
        fs.writeFileSync(path.join(dir, name(input.target) + (input.gz ? '.gz' : '')), input.bytes);
        fs.writeFileSync(path.join(dir, name(other)), input[other]);
        const ds = lib.Dataset.open({ kind: 'fashion-mnist', root: dir, split: input.split, augment: input.augment });
        try {
          for (const i of [0, ds.size - 1]) ds.get(i).dispose();
        } finally {
          ds.dispose();
        }
      } else if (this.parser === 'jpeg' || this.parser === 'png') {
        const classDir = path.join(dir, 'train', 'a');
        fs.mkdirSync(classDir, { recursive: true });
        fs.writeFileSync(path.join(classDir, `x.${this.parser === 'jpeg' ? 'jpg' : 'png'}`), input.bytes);
        const ds = lib.Dataset.open({
          kind: 'image-folder',
          root: dir,
          split: 'train',
          augment: input.augment,
          fastDecode: input.fastDecode,
          imageSize: input.size,
        });
        try {
          ds.get(0).dispose();
        } finally {
          ds.dispose();
        }
      } else if (this.parser === 'checkpoint') {
        const file = path.join(dir, 'checkpoint.pth');
        fs.writeFileSync(file, input.bytes);
        // What a resume does with it: the optimizer state restored, the schedule rebuilt.
        const ckpt = await lib.loadCheckpoint(file);
        this.optimizer.loadStateDict(ckpt.optimizer);
        lib.scheduleFromState(ckpt.schedule);
      } else {
        lib.readTorch(input.bytes, { verifyChecksums: input.verify === true, copy: input.copy });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

// SGDR_FUZZ_SELFTEST=crash|hang|unclean makes input #3 of every parser misbehave, so the tests can
// check that the watchdog and the classification catch each kind of failure.
const SELFTEST = process.env.SGDR_FUZZ_SELFTEST;
function selftest(kind) {
  if (kind === 'crash') process.abort();
  if (kind === 'hang') for (;;);
  if (kind === 'unclean') throw new TypeError("Cannot read properties of undefined (reading 'shape')");
}

/** The child: runs inputs [from, count) of one parser, one line per input on stdout. */
async function child(o) {
  const parser = o.parsers[0];
  const runner = new Runner(parser);
  const say = (line) => fs.writeSync(1, `${line}\n`);
  // Warm up (LibTorch's first use, the first decode) on an input that is not counted, so the
  // slowest input reported is an input's own time.
  try {
    await runner.run(makeInput(parser, o.seed, -1));
  } catch {
    // its outcome does not matter
  }
  try {
    for (let i = o.from; i < o.count; i++) {
      const input = makeInput(parser, o.seed, i);
      say(`S ${i}`);
      const t0 = performance.now();
      let r = { outcome: 'ok', message: '' };
      try {
        if (SELFTEST && i === 3) selftest(SELFTEST);
        await runner.run(input);
      } catch (err) {
        r = classify(err);
      }
      const ms = performance.now() - t0;
      say(`R ${i} ${r.outcome} ${ms.toFixed(1)} ${JSON.stringify(r.message.slice(0, 300))}`);
    }
  } finally {
    runner.dispose();
  }
}

/** One input in this process, for reproducing a failure. */
async function only(o) {
  const parser = o.parsers[0];
  const input = makeInput(parser, o.seed, o.only);
  const runner = new Runner(parser);
  try {
    await runner.run(input);
    console.log(`${parser} #${o.only} (seed ${o.seed}): success`);
  } catch (err) {
    const r = classify(err);
    console.log(
      `${parser} #${o.only} (seed ${o.seed}): ${r.outcome === 'error' ? 'clean error' : 'FAILURE'}: ${r.message}`,
    );
    if (err && err.stack) console.log(err.stack);
  } finally {
    runner.dispose();
  }
}

// --- the parent: one watched child per parser ---------------------------------------------------
function runParser(o, parser) {
  const stats = { parser, inputs: 0, ok: 0, errors: 0, failures: 0, slow: 0, slowest: 0, slowestIndex: -1, failed: [] };
  const save = (index, kind, message) => {
    const input = makeInput(parser, o.seed, index);
    fs.mkdirSync(o.save, { recursive: true });
    const base = path.join(o.save, `${parser}-seed${o.seed}-${index}`);
    fs.writeFileSync(`${base}.bin`, input.bytes);
    const { bytes, labels, images, ...rest } = input;
    fs.writeFileSync(
      `${base}.txt`,
      `${kind}: ${message}\nreproduce: node scripts/fuzz.js --parser ${parser} --seed ${o.seed} --only ${index}\ninput: ${JSON.stringify(rest)}\n`,
    );
    stats.failed.push({ index, kind, message });
  };
  return new Promise((resolve) => {
    let from = 0;
    const start = () => {
      if (from >= o.count) return resolve(stats);
      const args = [
        __filename,
        '--child',
        '--parser',
        parser,
        '--seed',
        String(o.seed),
        '--count',
        String(o.count),
        '--from',
        String(from),
      ];
      const cmd = `ulimit -v ${o.memKb} && exec "$0" "$@"`;
      const c = spawn('bash', ['-c', cmd, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let current = -1;
      let buffer = '';
      let stderr = '';
      let timer;
      let killedFor = '';
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(
          () => {
            killedFor = 'hang';
            c.kill('SIGKILL');
          },
          o.timeoutMs + (current < 0 ? 60000 : 0),
        ); // the first input also waits for the addon to load
      };
      arm();
      c.stderr.setEncoding('utf8').on('data', (d) => {
        stderr = (stderr + d).slice(-4000);
      });
      c.stdout.setEncoding('utf8').on('data', (d) => {
        buffer += d;
        let nl;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line.startsWith('S ')) {
            current = Number(line.slice(2));
            arm();
          } else if (line.startsWith('R ')) {
            const m = /^R (\d+) (\w+) ([\d.]+) (.*)$/.exec(line);
            const index = Number(m[1]);
            const ms = Number(m[3]);
            stats.inputs++;
            if (m[2] === 'ok') stats.ok++;
            else if (m[2] === 'error') stats.errors++;
            else {
              stats.failures++;
              save(index, 'unclean error', JSON.parse(m[4]));
            }
            if (ms > stats.slowest) {
              stats.slowest = ms;
              stats.slowestIndex = index;
            }
            if (ms > o.slowMs) stats.slow++;
            current = -1;
            from = index + 1;
            arm();
          }
        }
      });
      c.on('close', (code, signal) => {
        clearTimeout(timer);
        if (current >= 0) {
          // Died or was killed inside an input.
          stats.inputs++;
          stats.failures++;
          const why =
            killedFor === 'hang'
              ? `hang: no result after ${o.timeoutMs} ms`
              : `crash: the child ended with ${signal ? `signal ${signal}` : `exit code ${code}`}`;
          save(current, killedFor || 'crash', `${why}\n${stderr.trim().split('\n').slice(-12).join('\n')}`);
          from = current + 1;
          return start();
        }
        if (code !== 0 && from < o.count) {
          // Died between inputs (e.g. while loading): not an input's fault, but not to be ignored.
          console.error(`fuzz: ${parser}: the child ended with ${signal || code} outside an input:\n${stderr}`);
          stats.failures++;
          return resolve(stats);
        }
        resolve(stats);
      });
    };
    start();
  });
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(path.join(dist, 'index.js'))) usage('dist/ is missing: run npm run build first');
  if (o.child) return child(o);
  if (o.only !== undefined) return only(o);
  console.log(
    `fuzz: seed ${o.seed}, ${o.count} inputs per parser, memory cap ${o.memKb} KB (ulimit -v), ` +
      `time cap ${o.timeoutMs} ms per input, slow above ${o.slowMs} ms`,
  );
  const all = [];
  const t0 = Date.now();
  for (const parser of o.parsers) {
    const s = await runParser(o, parser);
    all.push(s);
    console.log(
      `fuzz: ${parser.padEnd(10)} ${String(s.inputs).padStart(6)} inputs  ${String(s.ok).padStart(6)} successes  ` +
        `${String(s.errors).padStart(6)} clean errors  ${String(s.failures).padStart(3)} failures  slowest ${s.slowest.toFixed(0)} ms (#${s.slowestIndex})` +
        `${s.slow ? `  ${s.slow} slower than ${o.slowMs} ms` : ''}`,
    );
    for (const f of s.failed.slice(0, 5))
      console.log(`fuzz:   ${parser} #${f.index} ${f.kind}: ${f.message.split('\n')[0]}`);
  }
  const failures = all.reduce((n, s) => n + s.failures, 0);
  const inputs = all.reduce((n, s) => n + s.inputs, 0);
  console.log(
    `fuzz: ${inputs} inputs in ${((Date.now() - t0) / 1000).toFixed(0)} s, ${failures} failures` +
      (failures ? ` (saved in ${path.relative(process.cwd(), o.save) || '.'})` : ''),
  );
  process.exitCode = failures ? 1 : 0;
}

main().catch((err) => {
  console.error(`fuzz: ${err && err.stack ? err.stack : err}`);
  process.exitCode = 1;
});
