#!/usr/bin/env bash
# The second LibTorch line: PyTorch 2.x from a wheel, in a venv of its own, and the addon built
# against it beside the default build (build/ stays the 1.13 one).
#
#   scripts/setup-torch2.sh cpu    torch 2.13 CPU  -> .venv/torch2-cpu,  build-torch2/Release/sgdr_native.node
#   scripts/setup-torch2.sh cuda   torch 2.14 CUDA -> .venv/torch2-cuda, build-cuda/Release/sgdr_native.node
#
# Then, for the CPU line:  SGDR_ADDON_PATH=build-torch2/Release/sgdr_native.node npm test
# (the tests read the build's libtorch.json and compare against that venv's PyTorch).
#
# Wheels come from local folders only (nothing is downloaded): $SGDR_WHEELS (':'-separated), else
# those of /opt/wheels, /opt/pypi/files and /opt/pypi-more/files that exist. With no matching wheel
# the script says so and exits 3, and with too little disk for the venv it exits 4, so a caller (CI)
# can tell "not possible on this machine" from a failure.
# Versions: $SGDR_TORCH2_CPU (default 2.13.0+cpu), $SGDR_TORCH2_CUDA (default 2.14.1).
set -euo pipefail
cd "$(dirname "$0")/.."

flavour=${1:-cpu}
case "$flavour" in
  cpu) version=${SGDR_TORCH2_CPU:-2.13.0+cpu}; venv=.venv/torch2-cpu; out=build-torch2 ;;
  cuda) version=${SGDR_TORCH2_CUDA:-2.14.1}; venv=.venv/torch2-cuda; out=build-cuda ;;
  *) echo "usage: scripts/setup-torch2.sh cpu|cuda" >&2; exit 2 ;;
esac

. scripts/local-wheels.sh
links=("${wheel_links[@]}")
# The wheel's file name carries the version with '+' kept (torch-2.13.0+cpu-cp311-...).
wheel=$(find_wheel torch "$version")
if [ -z "$wheel" ]; then
  echo "setup-torch2: no torch $version wheel in ${wheel_dirs[*]:-(no wheel folder)}; the $flavour 2.x line is not set up" >&2
  exit 3
fi

# Installed, the CUDA line is ~4.6 GB (torch 1.2 GB, its CUDA libraries 3.2 GB), the CPU line ~1 GB.
# Check the disk first: a pip that runs out of space half-way leaves a broken venv and a message
# about errno 28. Exit 4 says "not enough disk here", which a caller (CI) can tell from a failure.
need_gb=$([ "$flavour" = cuda ] && echo 6 || echo 2)
mkdir -p "$(dirname "$venv")"
free_kb=$(df -Pk "$(dirname "$venv")" | awk 'NR == 2 { print $4 }')
if [ -d "$venv" ]; then free_kb=$((free_kb + $(du -sk "$venv" | cut -f1))); fi
if [ "$free_kb" -lt $((need_gb * 1024 * 1024)) ]; then
  echo "setup-torch2: the $flavour 2.x line needs ${need_gb} GB of disk for $venv; $(dirname "$venv") has $((free_kb / 1024)) MB free" >&2
  exit 4
fi

python=${SGDR_VENV_PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  echo "setup-torch2: creating $venv with $($python --version 2>&1)"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check --no-cache-dir --no-index "${links[@]}")
echo "setup-torch2: installing $(basename "$wheel") into $venv"
if [ "$flavour" = cpu ]; then
  "${pip[@]}" "$wheel" numpy pillow
else
  # The CUDA wheel with its CUDA libraries (cuBLAS, cuDNN, NCCL ... are pip wheels of their own).
  # Its Python-only dependencies may be missing here (cuda-bindings: Python's driver API; triton:
  # torch.compile's GPU compiler); LibTorch's C++ side needs neither. So: torch without
  # dependencies, then every requirement its metadata names except those two.
  "${pip[@]}" --no-deps "$wheel"
  reqs_py='
import importlib.metadata as md, re
for r in md.requires("torch") or []:
    spec, _, marker = r.partition(";")
    name = re.split(r"[<>=~!\[ ]", spec.strip(), maxsplit=1)[0].lower()
    if "extra ==" not in marker and name not in ("cuda-bindings", "triton"):
        print(spec.strip())
'
  mapfile -t reqs < <("$venv/bin/python" -c "$reqs_py")
  "${pip[@]}" "${reqs[@]}" numpy
fi
# torchvision's models are the reference for the ResNet tests. The torchvision wheels here are CUDA
# builds: with a CPU torch their C++ ops don't load, which scripts/torchvision_compat.py handles.
# --no-deps: its only dependencies (torch, numpy, pillow) are installed above, and pip must not
# replace our torch with the one torchvision's metadata pins.
tv=""
torch_mm=$("$venv/bin/python" -c 'import torch; print(".".join(torch.__version__.split(".")[:2]))')
tv_minor=$(( ${torch_mm#*.} + 15 ))  # torchvision 0.(minor+15) pairs with torch 2.minor
for d in "${wheel_dirs[@]}"; do
  for f in "$d"/torchvision-0."$tv_minor".*.whl; do [ -f "$f" ] && tv=$f; done
done
if [ -n "$tv" ]; then
  "${pip[@]}" --no-deps "$tv"
  [ "$flavour" = cpu ] || "${pip[@]}" pillow
else
  echo "setup-torch2: no torchvision 0.$tv_minor wheel for torch $torch_mm; the ResNet reference tests need one" >&2
fi
"$venv/bin/python" -c 'import torch; print("setup-torch2: torch", torch.__version__, "cuda", torch.version.cuda)'

echo "setup-torch2: building the addon against it into $out/"
SGDR_PYTHON="$PWD/$venv/bin/python" SGDR_BUILD_DIR="$out" node scripts/build-native.js
echo "setup-torch2: done; use it with SGDR_ADDON_PATH=$out/Release/sgdr_native.node"
