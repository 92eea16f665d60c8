#!/usr/bin/env bash
# TensorBoard's own reader for the event-file test (test/tensorboard-reader.test.ts): a venv at
# .venv/tensorboard with the tensorboard wheel, installed from local wheel folders only (nothing is
# downloaded): $SGDR_WHEELS (':'-separated), else those of /opt/wheels, /opt/pypi/files and
# /opt/pypi-more/files that exist. Version: $SGDR_TENSORBOARD (default 2.21.0).
#
# Exits 3 when no tensorboard wheel is there, so a caller (CI) can tell "not possible on this
# machine" from a failure; the test then fails under CI=true, naming this script.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${SGDR_TENSORBOARD:-2.21.0}
venv=.venv/tensorboard
. scripts/local-wheels.sh
wheel=$(find_wheel tensorboard "$version")
if [ -z "$wheel" ]; then
  echo "setup-tensorboard: no tensorboard $version wheel in ${wheel_dirs[*]:-(no wheel folder)}; the TensorBoard reader test cannot run" >&2
  exit 3
fi
links=("${wheel_links[@]}")

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import tensorboard, sys; sys.exit(tensorboard.__version__ != '$version')" 2>/dev/null; then
  echo "setup-tensorboard: $venv already has tensorboard $version"
  exit 0
fi
echo "setup-tensorboard: making $venv with tensorboard $version from $wheel"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --no-index "${links[@]}" "tensorboard==$version"
"$venv/bin/python" -c "import tensorboard; from tensorboard.backend.event_processing.event_accumulator import EventAccumulator; print('setup-tensorboard: tensorboard', tensorboard.__version__, 'in $venv')"
