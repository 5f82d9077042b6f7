#!/bin/bash
# metrics_live.sh COORDINATOR MODE - GET /metrics of a live coordinator
# (docs/operations.md). MODE "curl": the answer is 200, typed
# "text/plain; version=0.0.4" and has the documented families. MODE
# "promtool": `promtool check metrics` accepts it; exit 77 (skipped) when
# promtool is not installed.
set -u
coord=$1
mode=$2
if [ "$mode" = promtool ] && ! command -v promtool >/dev/null 2>&1; then
	echo "promtool is not installed: skipped"
	exit 77
fi
dir=$(mktemp -d /tmp/ospec-metrics-XXXXXX) || exit 1
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

# a free port pair: retried when another process holds one
for try in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 30000))
	"$coord" --data "$dir/data" --listen "tcp://127.0.0.1:$port" \
		--control "ipc://$dir/ctl.sock" --http "127.0.0.1:$((port + 1))" \
		>"$dir/log" 2>&1 &
	pid=$!
	for _ in $(seq 50); do
		if curl -sf "http://127.0.0.1:$((port + 1))/readyz" >/dev/null 2>&1; then
			break 2
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	pid=
done
if [ -z "$pid" ]; then
	echo "the coordinator did not become ready:"
	cat "$dir/log"
	exit 1
fi
url="http://127.0.0.1:$((port + 1))/metrics"
code=$(curl -s -o "$dir/page" -D "$dir/headers" -w '%{http_code}' "$url")
if [ "$code" != 200 ]; then
	echo "GET /metrics: HTTP $code"
	cat "$dir/page"
	exit 1
fi
if ! grep -qi '^content-type: text/plain; version=0.0.4' "$dir/headers"; then
	echo "GET /metrics: not the Prometheus text format:"
	cat "$dir/headers"
	exit 1
fi
for fam in ospec_nodes ospec_nodes_cordoned ospec_rollouts ospec_plans \
	ospec_step_duration_seconds ospec_switch_skew_seconds ospec_commands_sent_total \
	ospec_results_total ospec_registers_refused_total ospec_store_bytes \
	ospec_control_request_duration_seconds; do
	if ! grep -q "^# TYPE $fam " "$dir/page"; then
		echo "GET /metrics: no family $fam"
		exit 1
	fi
done
if [ "$mode" = promtool ]; then
	promtool check metrics <"$dir/page" || exit 1
fi
echo "GET /metrics: $(wc -l <"$dir/page") lines, ok"
exit 0
