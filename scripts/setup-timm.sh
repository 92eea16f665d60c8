#!/usr/bin/env bash
# .venv/timm: timm 1.0.29 from the wheel on this machine's disk, over Debian's PyTorch 1.13
# (/usr/bin/python3, --system-site-packages; --no-deps keeps pip from replacing that torch). The
# k-decay reference test regenerates test/reference/lr-schedules.timm-k-decay.json with it and
# compares the bytes; CI makes it before npm test. Exits 3 when the wheel is not on disk.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${SGDR_TIMM:-1.0.29}
venv=.venv/timm
. scripts/local-wheels.sh
wheel=$(find_wheel timm "$version")
if [ -z "$wheel" ]; then
  echo "setup-timm: no timm $version wheel in ${wheel_dirs[*]:-(no wheel folder)}; the k-decay reference cannot be regenerated" >&2
  exit 3
fi
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import timm, sys; sys.exit(timm.__version__ != '$version')" 2>/dev/null; then
  echo "setup-timm: $venv already has timm $version"
  exit 0
fi
echo "setup-timm: making $venv with timm $version from $wheel over $(/usr/bin/python3 -c 'import torch; print("torch", torch.__version__)')"
rm -rf "$venv"
/usr/bin/python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install --quiet --no-index "${wheel_links[@]}" --no-deps "timm==$version"
"$venv/bin/python" -c "import timm.scheduler.cosine_lr, timm; print('setup-timm: timm', timm.__version__, 'in $venv')"
