#!/usr/bin/env bash
# build.sh [DIR [cmake args...]]: configure and build (warnings are errors).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build}
shift || true
cmake -S "$top" -B "$dir" -DOSPEC_WERROR=ON "$@" >/dev/null
# OSPEC_TARGETS="a b" builds only those targets (the demo needs no tests)
if [ -n "${OSPEC_TARGETS:-}" ]; then
  for t in $OSPEC_TARGETS; do cmake --build "$dir" -j"$(nproc)" --target "$t"; done
else
  cmake --build "$dir" -j"$(nproc)"
fi
