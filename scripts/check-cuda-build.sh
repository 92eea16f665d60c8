#!/usr/bin/env bash
# Checks a CUDA build of the addon on a machine without a GPU (CI's): what can be proven there.
#
#   scripts/check-cuda-build.sh [build-cuda/Release/sgdr_native.node]
#
# Proves: every translation unit compiles against the CUDA LibTorch's headers (C++20 on 2.14) —
# the pinned-memory loader, the non-blocking host-to-device copies and device selection included,
# since they are the same code for every device; the addon links against libtorch_cuda and
# libc10_cuda and every library they need resolves (cuDNN, cuBLAS, NCCL ... from the CUDA wheel's
# dependencies); it loads in Node, says it was built against CUDA, finds no GPU, refuses
# device 'cuda' with a clear message, falls back from 'auto' to the CPU, and trains and evaluates
# on the CPU with its ResNets equal to torchvision's under that same CUDA PyTorch; c10d's NCCL
# backend (ProcessGroupNCCL, data parallelism) is compiled and linked in beside Gloo.
# Does not prove: anything that runs on a GPU (kernels, cuDNN's algorithm choices, pinned-memory
# transfers, NCCL). That is scripts/gpu-check.sh, on a machine with one.
set -euo pipefail
cd "$(dirname "$0")/.."
addon=${1:-build-cuda/Release/sgdr_native.node}
[ -f "$addon" ] || { echo "check-cuda-build: $addon is missing (scripts/setup-torch2.sh cuda builds it)" >&2; exit 1; }

echo "check-cuda-build: the libraries $addon links"
libs=$(ldd "$addon")
grep -E 'torch|c10' <<< "$libs" | sed 's/^/  /'
for lib in libtorch_cuda.so libc10_cuda.so; do
  grep -q "$lib => /" <<< "$libs" || { echo "check-cuda-build: $addon does not link $lib" >&2; exit 1; }
done
missing=$(grep 'not found' <<< "$libs" || true)
if [ -n "$missing" ]; then
  echo "check-cuda-build: unresolved libraries:" >&2; echo "$missing" >&2; exit 1
fi
echo "check-cuda-build: $(wc -l <<< "$libs") libraries, all resolved (cuDNN: $(grep -o 'libcudnn[^ ]*' <<< "$libs" | head -1 || echo 'loaded lazily by LibTorch'))"

SGDR_ADDON_PATH=$addon node -e '
const lib = require("./dist");
const { native, builtLibTorch } = require("./dist/binding");
const b = builtLibTorch();
if (!b || !b.cuda) throw new Error("libtorch.json does not describe a CUDA build");
console.log(`check-cuda-build: LibTorch ${native().libtorchVersion} built for CUDA ${b.cudaVersion}; cudaAvailable() = ${lib.cudaAvailable()}`);
if (lib.cudaAvailable()) { console.log("check-cuda-build: a GPU is visible: run scripts/gpu-check.sh for the GPU checks"); process.exit(0); }
let message = "";
try { lib.resnet("resnet18", { device: "cuda" }); } catch (e) { message = e.message; }
if (!/CUDA is not available/.test(message)) throw new Error("device cuda without a GPU: expected a clear error, got: " + message);
console.log(`check-cuda-build: device cuda without a GPU -> ${message.split("\n")[0]}`);
if (lib.resolveDevice("auto") !== "cpu") throw new Error("auto did not fall back to the CPU");
console.log("check-cuda-build: device auto -> cpu");
// Data parallelism: the NCCL backend (native/distributed/nccl_backend.cc) is compiled and linked in.
const backends = lib.ProcessGroup.backends();
if (!backends.nccl) throw new Error("the CUDA build has no NCCL backend: nccl.h or ProcessGroupNCCL.hpp was not found at build time");
console.log(`check-cuda-build: c10d backends ${JSON.stringify(backends)}`);
'
SGDR_ADDON_PATH=$addon node scripts/smoke-test.js
# The ResNet, optimizer and file-format tests against that CUDA PyTorch (on the CPU).
CI=${CI:-} SGDR_ADDON_PATH=$addon npx vitest run test/torch-line.test.ts test/native-resnet.test.ts test/native-optim.test.ts test/native-errors.test.ts
echo "check-cuda-build: ok"
