#!/usr/bin/env bash
# Sets up libtorch-sgdr on a fresh Debian/Ubuntu machine: the system packages it needs, then
# `npm ci` (which builds the native addon and compiles the TypeScript). Safe to run again: it
# installs only what is missing and says what it does.
set -euo pipefail
cd "$(dirname "$0")/.."

# What each package is for:
#   libtorch-dev            LibTorch (C++ headers and libraries) the addon compiles against
#   libopenblas0-pthread    optimised BLAS for LibTorch's matrix products (the reference BLAS is ~30x slower)
#   dataset-fashion-mnist   the default data set, in /usr/share/datasets/fashion-mnist
#   python3-torch, python3-torchvision   PyTorch, the reference implementation the tests compare against
#   libjpeg-dev, libpng-dev JPEG/PNG decoding for image-folder data sets
#   cmake, g++, make        the native build
#   chromium                headless browser the experiment-report test renders report.html with
#   clang-format            the native code's format check in npm test
#   python3-venv            the reference venvs CI makes from local wheels (setup-tensorboard.sh, setup-timm.sh)
#   libgloo-dev             Gloo's headers, for data parallelism on c10d's Gloo backend (native/distributed/)
PACKAGES=(libtorch-dev libopenblas0-pthread dataset-fashion-mnist python3-torch python3-torchvision
          libjpeg-dev libpng-dev cmake g++ make fonts-dejavu-core chromium clang-format python3-venv libgloo-dev)

if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: Debian packages already installed (${PACKAGES[*]})"
  fi
else
  echo "setup: not a Debian/Ubuntu system; install LibTorch yourself (see README: LIBTORCH=...), then npm ci"
fi

echo "setup: npm ci (builds the native addon against $(node scripts/find-libtorch.js --lib-dir), compiles TypeScript)"
npm ci --no-audit --no-fund
echo "setup: done"
