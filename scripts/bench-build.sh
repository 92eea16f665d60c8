#!/usr/bin/env bash
# Times the native build three ways, each into a fresh build folder under $1 (default /tmp/sgdr-build-bench):
#   cold without ccache (SGDR_CCACHE=0), cold with an empty ccache, and warm (the same sources again,
#   a fresh build folder, the ccache of the previous build) — what `npm install` of a second project,
#   `npm rebuild` or a CI re-run pays. Prints one line per build; BENCHMARKS.md reports them.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-/tmp/sgdr-build-bench}
rm -rf "$base" && mkdir -p "$base"
command -v ccache >/dev/null || { echo "bench-build: ccache is not on PATH (Debian: apt-get install ccache)" >&2; exit 3; }
time_build() { # label, then env assignments
  local label=$1; shift
  local t0=$SECONDS
  env "$@" node scripts/build-native.js > "$base/$label.log" 2>&1
  echo "bench-build: $label: $((SECONDS - t0)) s"
}
time_build cold-no-ccache SGDR_CCACHE=0 SGDR_BUILD_DIR="$base/b1"
time_build cold-ccache CCACHE_DIR="$base/ccache" SGDR_BUILD_DIR="$base/b2"
time_build warm-ccache CCACHE_DIR="$base/ccache" SGDR_BUILD_DIR="$base/b3"
CCACHE_DIR="$base/ccache" ccache -s | sed 's/^/bench-build: ccache: /'
echo "bench-build: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
