#!/usr/bin/env bash
# clang-format over native/ (the style is .clang-format's). `--check`: list the files that differ
# and fail (npm test); without it, format them in place (npm run format).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
  echo "native-format: clang-format is missing (Debian: apt-get install clang-format; scripts/setup.sh installs it)" >&2
  exit 1
fi
mapfile -t files < <(find native -name '*.cc' -o -name '*.h' | sort)
if [ "${1:-}" = "--check" ]; then
  bad=()
  for f in "${files[@]}"; do clang-format --style=file "$f" | cmp -s - "$f" || bad+=("$f"); done
  if [ ${#bad[@]} -gt 0 ]; then
    printf 'native-format: not formatted (run npm run format): %s\n' "${bad[@]}" >&2
    exit 1
  fi
  echo "native-format: ${#files[@]} files formatted"
else
  clang-format --style=file -i "${files[@]}"
fi
