#!/usr/bin/env bash
# test.sh: install what is missing, build, run every test: the normal build,
# then the whole suite again under ASan+UBSan, valgrind on the unit tests, and
# the fuzz targets for a bounded time. Every count printed is counted: the
# ctest numbers come from ctest's own summary, valgrind and fuzz count what
# they ran. The last line is "N passed, M failed"; the exit status is 0 only
# when M is 0 (a failing stage ends the run at once, with that line).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

passed=0 failed=0 skipped=0

# finish: prints the totals and exits, non-zero when anything failed
finish() {
  if [ "$skipped" -gt 0 ]; then
    echo "$skipped skipped (did not run; not counted as passed)"
  fi
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && exit 0
  exit 1
}

# count_ctest LOG STATUS: adds the counts of ctest's own summary line in LOG
# ("P% tests passed, F tests failed out of T") to the totals; tests ctest
# lists as not run (Skipped, Disabled) are counted apart. STATUS is ctest's
# exit status: a failing ctest, or a log without a summary, is at least one
# failure whatever the log says. Returns 1 when this run failed.
count_ctest() {
  local log=$1 status=$2 line total bad notrun
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
  if [ -z "$line" ]; then
    echo "test.sh: no ctest summary in $log (ctest exit status $status)"
    failed=$((failed + 1))
    return 1
  fi
  bad=$(sed -E 's/.* ([0-9]+) tests? failed out of [0-9]+.*/\1/' <<<"$line")
  total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
  # "The following tests did not run:" then one line per test, "(Skipped)"
  notrun=$(grep -cE '^[[:space:]]+[0-9]+ - .* \((Skipped|Disabled)\)$' "$log" || true)
  passed=$((passed + total - bad - notrun))
  failed=$((failed + bad))
  skipped=$((skipped + notrun))
  if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
    echo "test.sh: ctest exited $status with no failed test in its summary"
    failed=$((failed + 1))
  fi
  [ "$status" -eq 0 ] && [ "$bad" -eq 0 ]
}

# run_ctest DIR LOG ARGS...: ctest in DIR, output shown and kept in LOG;
# counted, and the run ends (finish) when it failed
run_ctest() {
  local dir=$1 log=$2 status=0
  shift 2
  # pipefail: the status is ctest's, not tee's
  (cd "$dir" && ctest "$@") 2>&1 | tee "$log" || status=$?
  count_ctest "$log" "$status" || finish
}

./scripts/deps.sh
# the upgrade tests need this clone's history: here, its absence is a failure
export OSPEC_REQUIRE_UPGRADE_TESTS=1

echo "== build (warnings are errors)"
./scripts/build.sh build
echo "== tests"
run_ctest build build/ctest.log --output-on-failure --timeout 900 -j2
ctest_normal=$passed

echo "== valgrind on the unit tests"
checked=0
for t in build/tests/test_*; do
  [ -f "$t" ] && [ -x "$t" ] || continue
  if ! valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
       "$t" >"$t.valgrind.log" 2>&1; then
    echo "valgrind: $t"; tail -40 "$t.valgrind.log"
    failed=$((failed + 1))
    finish
  fi
  checked=$((checked + 1))
  passed=$((passed + 1))
done
if [ "$checked" -eq 0 ]; then
  echo "valgrind: no unit test binaries in build/tests: nothing was checked"
  failed=$((failed + 1))
  finish
fi
echo "valgrind: $checked unit test binaries, no errors, no definite leaks"

echo "== ASan+UBSan build and tests (the soak runs in the normal build only: same code paths, 8 rounds of real deploys)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ./scripts/build.sh build-asan -DOSPEC_SANITIZE=ON
before=$passed
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 OSPEC_TEST_SLOW=2 \
  run_ctest build-asan build-asan/ctest.log --output-on-failure --timeout 1800 -j2 -LE soak
ctest_asan=$((passed - before))

fuzzed=0 crashed=0
if [ -f tests/fuzz/CMakeLists.txt ]; then
  echo "== fuzz targets (bounded)"
  CC=clang ./scripts/build.sh build-fuzz -DOSPEC_FUZZ=ON -DOSPEC_TESTS=OFF -DOSPEC_BENCH=OFF
  for f in build-fuzz/tests/fuzz/fuzz_*; do
    [ -f "$f" ] && [ -x "$f" ] || continue
    name=$(basename "$f")
    corpus="tests/fuzz/corpus/${name#fuzz_}"
    work=$(mktemp -d)
    log="build-fuzz/$name.log"
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null || true
    echo "-- $name"
    # libFuzzer's exit status says whether it crashed; the log keeps the
    # rest, the crashing input goes next to it
    status=0
    "$f" -max_total_time="${OSPEC_FUZZ_SECONDS:-30}" -rss_limit_mb=2048 \
      -artifact_prefix="build-fuzz/$name-" "$work" >"$log" 2>&1 || status=$?
    rm -rf "$work"
    fuzzed=$((fuzzed + 1))
    if [ "$status" -eq 0 ]; then
      tail -3 "$log"
      passed=$((passed + 1))
    else
      echo "fuzz: $name exited $status:"; tail -40 "$log"
      crashed=$((crashed + 1))
      failed=$((failed + 1))
    fi
  done
  if [ "$fuzzed" -eq 0 ]; then
    echo "fuzz: no fuzz targets in build-fuzz/tests/fuzz: nothing was run"
    failed=$((failed + 1))
  fi
fi
echo "ctest: $ctest_normal passed; valgrind: $checked unit test binaries clean;" \
  "sanitizers: $ctest_asan passed; fuzz targets: $fuzzed run, $crashed crashed"
finish
