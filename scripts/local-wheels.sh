# Sourced by the set-up scripts of the venvs made from wheels on this machine's disk
# (setup-torch2.sh, setup-tensorboard.sh, setup-timm.sh); nothing is downloaded.
#   wheel_dirs    the folders of $SGDR_WHEELS (default /opt/wheels:/opt/pypi/files:/opt/pypi-more/files) that exist
#   wheel_links   --find-links DIR for each, for pip install --no-index
#   find_wheel NAME VERSION   prints the first NAME-VERSION-*.whl in them (nothing if there is none)
wheel_dirs=()
IFS=':' read -r -a _wanted_wheel_dirs <<< "${SGDR_WHEELS:-/opt/wheels:/opt/pypi/files:/opt/pypi-more/files}"
for _d in "${_wanted_wheel_dirs[@]}"; do [ -d "$_d" ] && wheel_dirs+=("$_d"); done
wheel_links=()
for _d in "${wheel_dirs[@]}"; do wheel_links+=(--find-links "$_d"); done

find_wheel() {
  local d f
  for d in "${wheel_dirs[@]}"; do
    for f in "$d/$1-$2"-*.whl; do [ -f "$f" ] && { echo "$f"; return 0; }; done
  done
  return 0
}
