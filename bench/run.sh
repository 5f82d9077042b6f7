#!/usr/bin/env bash
# run.sh [bench_fleet flags...]: build the benchmarks (if needed) and run all
# four, one table each. BUILD=DIR picks the build directory (default build/).
# Takes about a minute and a half on 2 cores; traffic stays on 127.0.0.1.
# bench_canary needs /usr/sbin/haproxy.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${BUILD:-$top/build}
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S "$top" -B "$dir" -DOSPEC_WERROR=ON >/dev/null
fi
for t in bench_wire bench_store bench_fleet bench_canary ospec-coordinator ospecctl \
  ospec-agent hello; do
  cmake --build "$dir" -j"$(nproc)" --target "$t" >/dev/null
done
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
