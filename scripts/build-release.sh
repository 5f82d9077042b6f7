#!/usr/bin/env bash
# build-release.sh COMMIT DIR: build the coordinator, the agent and ospecctl of
# a past release from this repository's history into DIR/build (sources in
# DIR/src). The upgrade tests run them against this tree's programs. A build
# that finished leaves DIR/.built-COMMIT and is reused; concurrent callers wait
# on DIR.lock. Without the commit in the history: exit 77 (ctest: skipped),
# or 1 when OSPEC_REQUIRE_UPGRADE_TESTS=1.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 2 ] || { echo "usage: build-release.sh COMMIT DIR" >&2; exit 2; }
commit=$1
dir=$2
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
[ -f "$dir/.built-$commit" ] && { echo "build-release: $commit already built in $dir"; exit 0; }
if ! git -C "$top" cat-file -e "$commit^{commit}" 2>/dev/null; then
  echo "build-release: commit $commit is not in this clone's history" >&2
  echo "  (a shallow clone or a copy without .git?): 'git fetch --unshallow' and run again" >&2
  # a source tarball's build (no history) skips the upgrade tests; the
  # README's test command (scripts/test.sh) requires them
  [ "${OSPEC_REQUIRE_UPGRADE_TESTS:-0}" = 1 ] && exit 1
  echo "build-release: skipped (OSPEC_REQUIRE_UPGRADE_TESTS=1 makes this a failure)" >&2
  exit 77
fi
rm -rf "$dir"
mkdir -p "$dir/src"
git -C "$top" archive "$commit" | tar -x -C "$dir/src"
# no -Werror: a newer compiler may warn on old code; that is not this test's concern
cmake -S "$dir/src" -B "$dir/build" -DOSPEC_TESTS=OFF -DOSPEC_BENCH=OFF >/dev/null
for t in ospec-coordinator ospec-agent ospecctl; do
  cmake --build "$dir/build" -j"$(nproc)" --target "$t" >"$dir/build-$t.log" 2>&1 ||
    { echo "build-release: $t of $commit failed:" >&2; tail -30 "$dir/build-$t.log" >&2; exit 1; }
done
touch "$dir/.built-$commit"
echo "build-release: $commit built in $dir/build"
