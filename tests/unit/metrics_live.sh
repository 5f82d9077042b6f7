#!/bin/bash
# metrics_live.sh COORDINATOR MODE [AGENT] - GET /metrics of a live
# coordinator and, with AGENT, of a live agent registered with it
# (`metrics: HOST:PORT`) (docs/operations.md). MODE "curl": each answer is
# 200, typed "text/plain; version=0.0.4" and has the documented families.
# MODE "promtool": `promtool check metrics` accepts each; exit 77 (skipped)
# when promtool is not installed.
set -u
coord=$1
mode=$2
agent=${3:-}
if [ "$mode" = promtool ] && ! command -v promtool >/dev/null 2>&1; then
	echo "promtool is not installed: skipped"
	exit 77
fi
dir=$(mktemp -d /tmp/ospec-metrics-XXXXXX) || exit 1
pid=
apid=
cleanup() {
	[ -n "$apid" ] && kill "$apid" 2>/dev/null && wait "$apid" 2>/dev/null
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
# check_page URL NAME FAMILY...: GET URL is a Prometheus page with these
# families (and passes promtool in that mode); the page is left in $dir/NAME
check_page() {
	local url=$1 name=$2 code
	shift 2
	code=$(curl -s -o "$dir/$name" -D "$dir/headers" -w '%{http_code}' "$url")
	if [ "$code" != 200 ]; then
		echo "GET $url: HTTP $code"
		cat "$dir/$name"
		exit 1
	fi
	if ! grep -qi '^content-type: text/plain; version=0.0.4' "$dir/headers"; then
		echo "GET $url: not the Prometheus text format:"
		cat "$dir/headers"
		exit 1
	fi
	for fam in "$@"; do
		if ! grep -q "^# TYPE $fam " "$dir/$name"; then
			echo "GET $url: no family $fam"
			exit 1
		fi
	done
	if [ "$mode" = promtool ] && ! promtool check metrics <"$dir/$name"; then
		echo "promtool check metrics refused $url:"
		cat "$dir/$name"
		exit 1
	fi
	echo "GET $url: $(wc -l <"$dir/$name") lines, ok"
}
check_page "http://127.0.0.1:$((port + 1))/metrics" coordinator.page \
	ospec_nodes ospec_nodes_cordoned ospec_rollouts ospec_plans \
	ospec_step_duration_seconds ospec_switch_skew_seconds ospec_commands_sent_total \
	ospec_results_total ospec_registers_refused_total ospec_store_bytes \
	ospec_control_request_duration_seconds
[ -n "$agent" ] || exit 0

# The agent's own page, once it has registered with the coordinator above.
for try in 1 2 3 4 5; do
	aport=$((20000 + RANDOM % 30000))
	"$agent" --id metrics-live --state "$dir/agent" --coordinator "tcp://127.0.0.1:$port" \
		--metrics "127.0.0.1:$aport" >"$dir/agent.log" 2>&1 &
	apid=$!
	for _ in $(seq 100); do
		if curl -sf "http://127.0.0.1:$aport/metrics" 2>/dev/null |
			grep -qx 'ospec_agent_registered 1'; then
			break 2
		fi
		kill -0 "$apid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$apid" 2>/dev/null && wait "$apid" 2>/dev/null
	apid=
done
if [ -z "$apid" ]; then
	echo "the agent did not serve ospec_agent_registered 1 on its metrics port:"
	cat "$dir/agent.log"
	exit 1
fi
check_page "http://127.0.0.1:$aport/metrics" agent.page \
	ospec_agent_info ospec_agent_registered ospec_agent_apps ospec_agent_app_up \
	ospec_agent_app_healthy ospec_agent_app_info ospec_agent_health_checks_total \
	ospec_agent_fetches_total ospec_agent_fetch_bytes_total \
	ospec_agent_fetch_duration_seconds ospec_agent_commands_total
# only GET /metrics is served
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$aport/")
[ "$code" = 404 ] || { echo "GET / on the agent's metrics port: HTTP $code, not 404"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$aport/metrics")
[ "$code" = 405 ] || { echo "POST /metrics on the agent: HTTP $code, not 405"; exit 1; }
exit 0
