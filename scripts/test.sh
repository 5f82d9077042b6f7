#!/usr/bin/env bash
# test.sh: install what is missing, build, run every test: the normal build,
# then the whole suite again under ASan+UBSan, valgrind on the unit tests, and
# the fuzz targets for a bounded time.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
./scripts/deps.sh

echo "== build (warnings are errors)"
./scripts/build.sh build
passed=0
# count_ctest LOG: adds the tests of a passing ctest run to the total
count_ctest() {
  n=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$1" | tail -1)
  passed=$((passed + ${n:-0}))
}
echo "== tests"
(cd build && ctest --output-on-failure --timeout 900 -j2) 2>&1 | tee build/ctest.log
count_ctest build/ctest.log

echo "== valgrind on the unit tests"
for t in build/tests/test_*; do
  [ -x "$t" ] || continue
  if ! valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
       "$t" >"$t.valgrind.log" 2>&1; then
    echo "valgrind: $t"; tail -40 "$t.valgrind.log"; exit 1
  fi
done
echo "valgrind: no errors, no definite leaks"

echo "== ASan+UBSan build and tests (the soak runs in the normal build only: same code paths, 8 rounds of real deploys)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ./scripts/build.sh build-asan -DOSPEC_SANITIZE=ON
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  OSPEC_TEST_SLOW=2 ctest --output-on-failure --timeout 1800 -j2 -LE soak) 2>&1 | tee build-asan/ctest.log
count_ctest build-asan/ctest.log

if [ -f tests/fuzz/CMakeLists.txt ]; then
  echo "== fuzz targets (bounded)"
  CC=clang ./scripts/build.sh build-fuzz -DOSPEC_FUZZ=ON -DOSPEC_TESTS=OFF -DOSPEC_BENCH=OFF
  for f in build-fuzz/tests/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    corpus="tests/fuzz/corpus/${name#fuzz_}"
    work=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null || true
    echo "-- $name"
    "$f" -max_total_time="${OSPEC_FUZZ_SECONDS:-30}" -rss_limit_mb=2048 "$work" 2>&1 | tail -3
    rm -rf "$work"
    passed=$((passed + 1))
  done
fi
echo "valgrind: unit tests clean; sanitizers: clean; fuzz targets: no crash"
echo "$passed passed, 0 failed"
