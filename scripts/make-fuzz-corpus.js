#!/usr/bin/env node
'use strict';
/**
 * Writes the seed corpus of scripts/fuzz.js into test/fuzz-corpus/ (checked in; rerun only to
 * change it). Every file is tiny and made here, from the library's own writers and the addon's
 * JPEG encoder:
 *   torch/       torch.save zip files (state dicts with views, scalars, several dtypes; nested
 *                Python values) and one legacy (pre-zip) file
 *   checkpoint/  a training checkpoint with the structure sgdr writes, of a tiny "model"
 *   idx/         IDX images (3 x 28 x 28) and labels, raw
 *   jpeg/        16 x 16 and 13 x 7 JPEGs (4:2:0 colour, different qualities)
 *   png/         8 x 8 PNGs: RGB, grey, palette, grey + alpha, 16-bit RGBA, 2-bit grey, interlaced,
 *                and three with a tRNS chunk (palette, 2-bit grey, RGB)
 * Needs the build (npm run build).
 *
 * Usage: node scripts/make-fuzz-corpus.js [DIR]   (default test/fuzz-corpus)
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const ser = require(path.join(dist, 'serialization'));
const { pickle, PyGlobal, PyPersistent, PyReduce } = require(path.join(dist, 'serialization/pickle-writer'));
const { crc32 } = require(path.join(dist, 'serialization/zip-format'));

const out = path.resolve(process.argv[2] || path.join(root, 'test/fuzz-corpus'));
const put = (rel, bytes) => {
  const file = path.join(out, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  console.log(`${path.relative(root, file)}  ${bytes.length} bytes`);
};
const f32 = (...v) => Float32Array.from(v);

// --- torch files -------------------------------------------------------------------------------
const base = f32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
put(
  'torch/state.pth',
  ser.writeTorch(
    ser.orderedDict({
      'conv1.weight': ser.tensorRecord('float32', [2, 1, 2, 3], base),
      'bn1.running_mean': ser.tensorRecord('float32', [2], f32(0.5, -0.5)),
      'bn1.num_batches_tracked': ser.tensorRecord('int64', [], BigInt64Array.of(7n)),
      'fc.weight': ser.tensorRecord('float16', [2, 2], Uint16Array.of(0x3c00, 0x4000, 0xbc00, 0)),
      'fc.bias': ser.tensorRecord('float64', [2], Float64Array.of(1, -1)),
      mask: ser.tensorRecord('bool', [3], Uint8Array.of(1, 0, 1)),
    }),
  ),
);
put(
  'torch/values.pth',
  ser.writeTorch({
    ints: [0, 1, -1, 255, 256, 65535, 2 ** 31, -(2 ** 31), 2 ** 53 - 1, 12345678901234567890n],
    floats: [0.5, ser.torchFloat(2), -1e300, Number.NaN],
    text: ['', 'é', 'x'.repeat(300)],
    tuple: ser.torchTuple([1, 'a', null, true, false]),
    set: new Set([1, 2]),
    frozen: ser.torchFrozenSet(new Set(['a'])),
    bytes: Uint8Array.of(0, 1, 2, 255),
    nested: ser.orderedDict({ a: { b: [[], {}, ser.torchTuple([])] } }),
    t: ser.tensorRecord('int32', [2, 2], Int32Array.of(1, 2, 3, 4)),
  }),
);

// Views: a transposed view, an offset view and a stride-0 view of one storage, by hand.
function statePickle(tensors) {
  const rebuild = new PyGlobal('torch._utils', '_rebuild_tensor_v2');
  const od = new PyGlobal('collections', 'OrderedDict');
  const m = new Map();
  for (const [name, t] of Object.entries(tensors)) {
    const pid = ser.torchTuple(['storage', new PyGlobal('torch', 'FloatStorage'), t.key, 'cpu', t.numel]);
    m.set(
      name,
      new PyReduce(rebuild, [
        new PyPersistent(pid),
        t.offset,
        ser.torchTuple(t.size),
        ser.torchTuple(t.stride),
        false,
        new PyReduce(od, []),
      ]),
    );
  }
  return pickle(ser.orderedDict(m));
}
const { buildZip } = require(path.join(dist, 'serialization/zip-write'));
const zipOf = (pkl, storages) =>
  Buffer.concat(
    buildZip([
      { name: 'archive/data.pkl', data: pkl },
      { name: 'archive/byteorder', data: Buffer.from('little') },
      ...Object.entries(storages).map(([k, d]) => ({ name: `archive/data/${k}`, data: d })),
      { name: 'archive/version', data: Buffer.from('3\n') },
    ]),
  );
put(
  'torch/views.pth',
  zipOf(
    statePickle({
      t: { key: '0', numel: 12, offset: 0, size: [4, 3], stride: [1, 4] },
      o: { key: '0', numel: 12, offset: 5, size: [2, 2], stride: [3, 1] },
      e: { key: '0', numel: 12, offset: 2, size: [3, 4], stride: [0, 1] },
    }),
    { 0: new Uint8Array(base.buffer) },
  ),
);

// Legacy format: magic, protocol, sys info, the object pickle, storage keys, then the storages.
{
  const pid = ser.torchTuple(['storage', new PyGlobal('torch', 'FloatStorage'), 'k0', 'cpu', 6, null]);
  const view = ser.torchTuple([
    'storage',
    new PyGlobal('torch', 'FloatStorage'),
    'k0',
    'cpu',
    6,
    ser.torchTuple(['v1', 2, 3]),
  ]);
  const rebuild = new PyGlobal('torch._utils', '_rebuild_tensor');
  const main = pickle(
    new Map([
      ['w', new PyReduce(rebuild, [new PyPersistent(pid), 0, ser.torchTuple([2, 3]), ser.torchTuple([3, 1])])],
      ['v', new PyReduce(rebuild, [new PyPersistent(view), 0, ser.torchTuple([3]), ser.torchTuple([1])])],
    ]),
  );
  const count = Buffer.alloc(8);
  count.writeBigInt64LE(6n);
  put(
    'torch/legacy.pth',
    Buffer.concat([
      pickle(0x1950a86a20f9469cfc6cn),
      pickle(1001),
      pickle(
        new Map([
          ['protocol_version', 1001],
          ['little_endian', true],
          [
            'type_sizes',
            new Map([
              ['int', 4],
              ['long', 8],
            ]),
          ],
        ]),
      ),
      main,
      pickle(['k0']),
      count,
      Buffer.from(f32(1, 2, 3, 4, 5, 6).buffer),
    ]),
  );
}

// --- a checkpoint --------------------------------------------------------------------------------
put(
  'checkpoint/checkpoint.pth',
  ser.writeTorch({
    format: 'libtorch-sgdr-checkpoint',
    version: 1,
    model: ser.orderedDict({
      'fc.weight': ser.tensorRecord('float32', [2, 2], f32(1, 2, 3, 4)),
      'fc.bias': ser.tensorRecord('float32', [2], f32(0, 1)),
    }),
    // The optimizer state of SGD over resnet18 (cifar stem, 1 channel, 2 classes: what the fuzzer
    // restores it into): 62 parameters, a momentum buffer for the last (fc.bias, [2]).
    optimizer: {
      kind: 'sgd',
      state: new Map([[61, new Map([['momentum_buffer', ser.tensorRecord('float32', [2], f32(0.25, -1))]])]]),
      param_groups: [
        {
          lr: ser.torchFloat(0.1),
          momentum: ser.torchFloat(0.9),
          dampening: ser.torchFloat(0),
          weight_decay: ser.torchFloat(0.0005),
          nesterov: false,
          params: Array.from({ length: 62 }, (_, i) => i),
        },
      ],
    },
    schedule: JSON.stringify(
      require(path.join(dist, 'schedule'))
        .scheduleFromSpec({ type: 'warm-restarts', lr: 0.05, t0: 1, tMult: 2, stepsPerEpoch: 4 })
        .state(),
    ),
    position: JSON.stringify({
      epoch: 1,
      batch: 0,
      partial: null,
      history: [{ epoch: 1, lr: 0.1, train_loss: 2.3, val_loss: 2.2, val_acc: 0.1, seconds: 1 }],
      snapshots: [{ cycle: 0, epoch: 1, probabilities: 'val-probabilities-cycle-1.pth' }],
      best: { epoch: 1, val_loss: 2.2 },
      config: { arch: 'resnet18', epochs: 3 },
    }),
  }),
);

// --- IDX -------------------------------------------------------------------------------------------
function idx(dims, data) {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h.writeUInt32BE(0x800 + dims.length, 0);
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([h, Buffer.from(data)]);
}
const pixels = Uint8Array.from({ length: 3 * 784 }, (_, i) => (i * 37) % 256);
put('idx/images.idx', idx([3, 28, 28], pixels));
put('idx/labels.idx', idx([3], Uint8Array.of(1, 7, 9)));

// --- PNG -------------------------------------------------------------------------------------------
function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
/** rows: one Buffer of raw samples per row (filter bytes are added here, cycling through 0..4). */
function png(width, height, depth, color, rows, extra = [], interlace = 0) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = color;
  ihdr[12] = interlace;
  const raw = Buffer.concat(rows.map((r) => Buffer.concat([Buffer.from([0]), r])));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...extra,
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
const W = 8;
const rowsOf = (bytesPerRow, f) =>
  Array.from({ length: W }, (_, y) => Buffer.from(Array.from({ length: bytesPerRow }, (_, x) => f(x, y) & 255)));
put(
  'png/rgb.png',
  png(
    W,
    W,
    8,
    2,
    rowsOf(3 * W, (x, y) => x * 30 + y * 7),
  ),
);
put(
  'png/gray.png',
  png(
    W,
    W,
    8,
    0,
    rowsOf(W, (x, y) => x * y * 4),
  ),
);
put(
  'png/palette.png',
  png(
    W,
    W,
    8,
    3,
    rowsOf(W, (x, y) => (x + y) % 4),
    [chunk('PLTE', Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])), chunk('tRNS', Buffer.from([0, 128]))],
  ),
);
put(
  'png/gray-alpha.png',
  png(
    W,
    W,
    8,
    4,
    rowsOf(2 * W, (x) => x * 20),
  ),
);
put(
  'png/rgba16.png',
  png(
    W,
    W,
    16,
    6,
    rowsOf(8 * W, (x, y) => x * 11 + y),
  ),
);
put(
  'png/gray2.png',
  png(
    W,
    W,
    2,
    0,
    rowsOf(2, (x, y) => 0x1b + y),
  ),
);
put(
  'png/gray2-trns.png',
  png(
    W,
    W,
    2,
    0,
    rowsOf(2, (x, y) => 0x1b + y),
    [chunk('tRNS', Buffer.from([0, 2]))],
  ),
);
put(
  'png/rgb-trns.png',
  png(
    W,
    W,
    8,
    2,
    rowsOf(3 * W, (x, y) => x * y),
    [chunk('tRNS', Buffer.from([0, 0, 0, 0, 0, 0]))],
  ),
);
// Adam7: seven passes of the 8x8 image (sizes 1x1, 1x1, 2x1, 2x2, 4x2, 4x4, 8x4), greyscale.
{
  const passes = [
    [1, 1],
    [1, 1],
    [2, 1],
    [2, 2],
    [4, 2],
    [4, 4],
    [8, 4],
  ];
  const rows = [];
  passes.forEach(([w, h], p) => {
    for (let y = 0; y < h; y++) rows.push(Buffer.from(Array.from({ length: w }, (_, x) => (p * 36 + x * 5 + y) & 255)));
  });
  put('png/interlaced.png', png(W, W, 8, 0, rows, [], 1));
}

// --- JPEG (the addon's libjpeg encoder) ------------------------------------------------------------
{
  const { native } = require(path.join(dist, 'binding'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sgdr-corpus-'));
  try {
    native().bench.writeJpegFolder(path.join(tmp, 'a'), {
      classes: 1,
      perClass: 1,
      width: 16,
      height: 16,
      quality: 90,
      seed: 1,
    });
    native().bench.writeJpegFolder(path.join(tmp, 'b'), {
      classes: 1,
      perClass: 1,
      width: 13,
      height: 7,
      quality: 40,
      seed: 2,
    });
    put('jpeg/16x16-q90.jpg', fs.readFileSync(path.join(tmp, 'a/train/class0/0.jpg')));
    put('jpeg/13x7-q40.jpg', fs.readFileSync(path.join(tmp, 'b/train/class0/0.jpg')));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
