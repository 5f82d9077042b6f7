#!/usr/bin/env bash
# run.sh [--big] [bench_fleet flags...]: build the benchmarks (if needed) and
# run all six, one table each. BUILD=DIR picks the build directory (default
# build/). Takes about five minutes on 2 cores; traffic stays on 127.0.0.1.
# bench_canary needs /usr/sbin/haproxy. --big (first) runs bench_scale at 2000
# and 5000 simulated agents too: 10-15 minutes more, and heavy.
set -euo pipefail
scale=(--agents 100,1000)
if [ "${1:-}" = "--big" ]; then
  scale=(--agents 100,1000,2000,5000)
  shift
fi
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${BUILD:-$top/build}
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S "$top" -B "$dir" -DOSPEC_WERROR=ON >/dev/null
fi
for t in bench_wire bench_store bench_fleet bench_canary bench_restart ospec-coordinator \
  ospecctl ospec-agent hello; do
  cmake --build "$dir" -j"$(nproc)" --target "$t" >/dev/null
done
cmake --build "$dir" -j"$(nproc)" --target bench_scale >/dev/null
echo "## bench_wire: encode and decode of agent-protocol envelopes"
"$dir/bench/bench_wire"
echo
echo "## bench_store: the coordinator's LMDB write path"
"$dir/bench/bench_store"
echo
echo "## bench_fleet: a real coordinator and simulated agents"
"$dir/bench/bench_fleet" "$@"
echo
echo "## bench_canary: the canary's fleet-wide weight change (real agents, haproxy)"
"$dir/bench/bench_canary"
echo
echo "## bench_scale: the fleet-wide blue-green flip, register storm, CPU, memory"
"$dir/bench/bench_scale" "${scale[@]}"
echo "## bench_restart: the fleet back after the coordinator's kill -9"
"$dir/bench/bench_restart"
