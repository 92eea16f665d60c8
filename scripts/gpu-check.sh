#!/usr/bin/env bash
# GPU check on a lent GPU machine where PyTorch with CUDA is installed but Node (and our
# node_modules, and maybe the image libraries' headers) may not be, and nothing can be downloaded:
#   1. build the addon against that machine's torch (the locator finds it through python3),
#   2. run the CUDA checks (below: CUDA visible, ResNet forward on the GPU equals the CPU's, training
#      steps and a trainer epoch with pinned batches on the GPU, evaluation),
#   3. run `sgdr bench` W1 (ResNet-18, batch 64, 3x32x32) and ResNet-50 224x224 batch 64 against
#      eager PyTorch on the same card.
# Results land in $OUT (gpu-check.log, w1.json, r50.json, checks.json).
#
# Two steps:
#   here (a Debian machine with this repo built):   scripts/gpu-check.sh --prepare
#       fills .gpu/ (in .gitignore): an xz'd copy of this machine's node, the N-API headers,
#       node-addon-api, the compiled TypeScript (dist), and the -dev packages of libjpeg, libpng
#       and zlib (apt-get download; unpacked into .gpu/sysroot there only when the machine lacks them).
#   on the lent machine, one call of the device tool:
#       run(command="bash scripts/gpu-check.sh", carry=[".gpu"], timeout_s=570)
#
# The whole check is sized to ~6 minutes on an H200 (build ~2 min on 16 cores, checks 1 min, the two
# benchmarks ~3 min); steps and rounds can be cut with GPU_CHECK_QUICK=1.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
GPU=$ROOT/.gpu

prepare() {
  set -e
  mkdir -p "$GPU/include" "$GPU/node_modules" "$GPU/debs"
  echo "gpu-check: compressing $(command -v node) ($(node --version))"
  xz -T0 -6 -c "$(command -v node)" > "$GPU/node.xz"
  local inc
  inc=$(node -p "require('path').resolve(process.execPath, '../../include/node')")
  for h in node_api.h node_api_types.h js_native_api.h js_native_api_types.h; do cp "$inc/$h" "$GPU/include/"; done
  rm -rf "$GPU/node_modules/node-addon-api"
  cp -r "$(node -p "require('path').dirname(require.resolve('node-addon-api/package.json'))")" "$GPU/node_modules/node-addon-api"
  npx tsc -p tsconfig.build.json
  rm -rf "$GPU/dist" && cp -r dist "$GPU/dist"
  (cd "$GPU/debs" && apt-get download libjpeg62-turbo-dev libjpeg62-turbo libpng-dev libpng16-16 zlib1g-dev >/dev/null)
  du -sh "$GPU"
  echo "gpu-check: prepared $GPU; on the lent machine: run(command=\"bash scripts/gpu-check.sh\", carry=[\".gpu\"], timeout_s=570)"
}

if [ "${1:-}" = "--prepare" ]; then prepare; exit $?; fi

OUT=${OUT:-$ROOT/.gpu/out}
mkdir -p "$OUT"
LOG=$OUT/gpu-check.log
log() { echo "gpu-check: $*" | tee -a "$LOG"; }
fail() { log "FAILED: $*"; exit 1; }
QUICK=${GPU_CHECK_QUICK:-0}

# --- the machine --------------------------------------------------------------------------------
nvidia-smi -L 2>&1 | tee -a "$LOG" || log "nvidia-smi not found"
PY=${SGDR_PYTHON:-$(command -v python3 || true)}
[ -n "$PY" ] || fail "no python3 (PyTorch with CUDA is expected on this machine)"
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>&1 | tee -a "$LOG"
"$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' || fail "torch.cuda.is_available() is False"
"$PY" -c 'import torchvision' 2>/dev/null || log "torchvision missing: the PyTorch reference of the benchmark will be skipped"
export SGDR_PYTHON=$PY

# --- Node -----------------------------------------------------------------------------------------
if ! command -v node >/dev/null 2>&1; then
  [ -f "$GPU/node.xz" ] || fail "no node and no .gpu/node.xz (run scripts/gpu-check.sh --prepare here and carry .gpu)"
  mkdir -p "$GPU/bin" && xz -d -c "$GPU/node.xz" > "$GPU/bin/node" && chmod +x "$GPU/bin/node"
  export PATH=$GPU/bin:$PATH
fi
log "node $(node --version) at $(command -v node)"
[ -d node_modules/node-addon-api ] || export NODE_PATH=$GPU/node_modules
if [ ! -f dist/cli/main.js ]; then
  if [ -d "$GPU/dist" ]; then rm -rf dist && cp -r "$GPU/dist" dist; else fail "no dist/ (compile the TypeScript here: --prepare)"; fi
fi

# --- image libraries (headers + libs) when the machine lacks them -----------------------------------
if [ ! -f /usr/include/jpeglib.h ] || [ ! -f /usr/include/png.h ] || [ ! -f /usr/include/zlib.h ]; then
  log "unpacking carried libjpeg/libpng/zlib -dev packages into .gpu/sysroot"
  mkdir -p "$GPU/sysroot"
  for f in "$GPU"/debs/*.deb; do dpkg -x "$f" "$GPU/sysroot" || fail "cannot unpack $f"; done
  export CMAKE_PREFIX_PATH=$GPU/sysroot/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
  export LD_LIBRARY_PATH=$GPU/sysroot/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  EXTRA_CMAKE="-DJPEG_INCLUDE_DIR=$GPU/sysroot/usr/include -DJPEG_LIBRARY=$GPU/sysroot/usr/lib/x86_64-linux-gnu/libjpeg.so \
    -DPNG_PNG_INCLUDE_DIR=$GPU/sysroot/usr/include -DPNG_LIBRARY=$GPU/sysroot/usr/lib/x86_64-linux-gnu/libpng16.so \
    -DZLIB_INCLUDE_DIR=$GPU/sysroot/usr/include -DZLIB_LIBRARY=$GPU/sysroot/usr/lib/x86_64-linux-gnu/libz.so \
    -DCMAKE_CXX_FLAGS=-I$GPU/sysroot/usr/include/x86_64-linux-gnu"
fi
command -v cmake >/dev/null || fail "cmake is missing on this machine"
command -v g++ >/dev/null || command -v c++ >/dev/null || fail "no C++ compiler on this machine"

# --- build the addon against this machine's torch ---------------------------------------------------
log "LibTorch: $(node scripts/find-libtorch.js --json 2>&1 | head -c 600)"
[ "$(node scripts/find-libtorch.js --cuda 2>/dev/null)" = "1" ] || log "warning: the locator did not find a CUDA LibTorch"
START=$(date +%s)
if [ -f node_modules/cmake-js/bin/cmake-js ]; then
  node scripts/build-native.js --force 2>&1 | tail -20 | tee -a "$LOG"
else
  # Plain cmake: CMakeLists.txt only needs Node's N-API headers from cmake-js.
  cmake -S . -B build/gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_JS_INC="$GPU/include" ${EXTRA_CMAKE:-} 2>&1 | tail -5 | tee -a "$LOG"
  cmake --build build/gpu -j "$(nproc)" 2>&1 | grep -E "error|warning: unused|Linking|Built" | tail -30 | tee -a "$LOG"
  mkdir -p build/Release && cp build/gpu/sgdr_native.node build/Release/ 2>/dev/null
fi
[ -f build/Release/sgdr_native.node ] || fail "the addon did not build"
log "addon built in $(( $(date +%s) - START )) s"

# --- CUDA checks ------------------------------------------------------------------------------------
log "CUDA checks"
node - > "$OUT/checks.json" 2>>"$LOG" <<'EOF'
const lib = require('./dist');
const { native } = require('./dist/binding');
const results = [];
const check = (name, ok, detail) => { results.push({ name, ok: Boolean(ok), detail }); console.error(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${JSON.stringify(detail)}`); };
(async () => {
  check('cudaAvailable', lib.cudaAvailable(), { devices: native().cudaDeviceCount() });
  // Forward on the GPU equals the CPU's (TF32 convolutions on Ampere+ allow ~1e-3).
  const cpu = lib.resnet('resnet18', { numClasses: 10, device: 'cpu', seed: 0 });
  const gpu = lib.resnet('resnet18', { numClasses: 10, device: 'cuda', seed: 0 });
  cpu.eval(); gpu.eval();
  const n = 8, x = new Float32Array(n * 3 * 64 * 64).map((_, i) => Math.sin(i * 0.37));
  const a = (await cpu.forward(lib.Tensor.fromArray(x, [n, 3, 64, 64]))).toFloat32Array();
  const b = (await gpu.forward(lib.Tensor.fromArray(x, [n, 3, 64, 64]))).toFloat32Array();
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += a[i] ** 2; }
  check('forward cuda == cpu (rel L2 <= 5e-3)', Math.sqrt(num / den) <= 5e-3, { relL2: Math.sqrt(num / den) });
  // Training steps on the GPU lower the loss on a fixed batch.
  const opt = new lib.SGD(gpu, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  gpu.train();
  const xt = lib.Tensor.fromArray(x, [n, 3, 64, 64]);
  const yt = lib.Tensor.fromArray(new BigInt64Array(n).map((_, i) => BigInt(i % 10)), [n], { dtype: 'int64' });
  const losses = [];
  for (let i = 0; i < 10; i++) losses.push((await lib.trainStep(gpu, opt, xt, yt)).loss);
  check('trainStep on cuda learns a fixed batch', losses[9] < losses[0], { first: losses[0], last: losses[9] });
  // The trainer's epoch loop with pinned, non-blocking batches, and evaluation, on the GPU.
  const { syntheticDataset } = require('./dist/bench/native');
  const spec = { kind: 'synthetic', size: 512, channels: 3, imageSize: 32, numClasses: 10, seed: 0 };
  const train = syntheticDataset(spec), val = syntheticDataset({ ...spec, split: 'val' });
  const model = lib.resnet('resnet18', { numClasses: 10, device: 'cuda', seed: 0 });
  const sgd = new lib.SGD(model, { lr: 0.05, momentum: 0.9 });
  const trainer = new (native().NativeTrainer)(model.native, sgd.native, { train, val, batchSize: 64, seed: 0 });
  const lrs = new Float64Array(trainer.batchesPerEpoch()).fill(0.05);
  const e0 = await trainer.runEpoch({ epoch: 0, lrs });
  const e1 = await trainer.runEpoch({ epoch: 1, lrs });
  check('trainer epochs on cuda', e0.count === 512 && Number.isFinite(e1.loss), { loss0: e0.loss, loss1: e1.loss, ips: e1.imagesPerSecond });
  const ev = await trainer.evaluate();
  check('trainer evaluate on cuda', ev.count === 512 && Number.isFinite(ev.loss), ev);
  trainer.close();
  console.log(JSON.stringify(results));
  process.exitCode = results.every((r) => r.ok) ? 0 : 1;
})().catch((e) => { console.error(e); console.log(JSON.stringify(results)); process.exitCode = 1; });
EOF
CHECKS=$?
[ $CHECKS -eq 0 ] && log "CUDA checks passed" || log "CUDA checks FAILED (see $OUT/checks.json)"

# --- benchmarks against eager PyTorch on the same card --------------------------------------------
THREADS=$(nproc)
if [ "$QUICK" = 1 ]; then W1="--steps 20 --rounds 3"; R50="--steps 5 --rounds 3"; else W1="--steps 50 --rounds 5"; R50="--steps 10 --rounds 5"; fi
log "W1: ResNet-18, batch 64, 3x32x32, cuda"
node bin/sgdr.js bench --workload w1 --device cuda --threads "$THREADS" --python "$PY" $W1 --json > "$OUT/w1.json" 2>>"$LOG" \
  && log "W1: $(node -e 'const r=require(process.argv[1]);console.log(`ours ${r.images_per_second} img/s, PyTorch ${r.pytorch&&r.pytorch.images_per_second}, ratio ${r.ratio}`)' "$OUT/w1.json")" \
  || log "W1 failed"
log "ResNet-50, batch 64, 3x224x224, cuda"
node bin/sgdr.js bench --workload w2 --arch resnet50 --image-size 224 --batch-size 64 --device cuda --threads "$THREADS" --python "$PY" $R50 --json \
  > "$OUT/r50.json" 2>>"$LOG" \
  && log "R50-224: $(node -e 'const r=require(process.argv[1]);console.log(`ours ${r.images_per_second} img/s, PyTorch ${r.pytorch&&r.pytorch.images_per_second}, ratio ${r.ratio}`)' "$OUT/r50.json")" \
  || log "ResNet-50 224 failed"
log "done"
exit $CHECKS
