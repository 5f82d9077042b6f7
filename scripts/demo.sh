#!/usr/bin/env bash
# demo.sh [--keep]: install what is missing, build, and run a local demo fleet
# on loopback: a coordinator and three agents (each with its own state dir and
# labels), then a rolling deploy of the sample app v1, then v2 from an OSpec
# document (region by region, with an approval gate), then a broken v3 that
# stops in the first region; then a canary of a second app ("shop", blue and
# green slots behind a local haproxy) under a little load: a good release
# walks 25% -> 50%, is analysed and promoted, and one that answers 500 to 10%
# of its requests is put back to weight 0. Everything it started is stopped
# at the end unless --keep is given.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
keep=0
[ "${1:-}" = "--keep" ] && keep=1
cd "$top"
./scripts/deps.sh
OSPEC_TARGETS="ospec-coordinator ospec-agent ospecctl hello_artifacts" ./scripts/build.sh build >/dev/null
B=$top/build
demo=$(mktemp -d /tmp/ospec-demo-XXXXXX)
export OSPEC_COORDINATOR="ipc://$demo/ctl.sock"
pids=()
stop_all() {
  [ $keep -eq 1 ] && return
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # the apps outlive their agents by design: stop them too (they run from
  # their release dirs under the demo's state dirs)
  for p in /proc/[0-9]*; do
    case "$(readlink "$p/cwd" 2>/dev/null)" in "$demo"/*) kill -9 "${p#/proc/}" 2>/dev/null || true;; esac
  done
  rm -rf "$demo"
}
trap stop_all EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null \
  || echo $((20000 + RANDOM % 20000)); }
cport=$(free_port); hport=$(free_port)
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting ospec-coordinator (agents: tcp://127.0.0.1:$cport, control: $OSPEC_COORDINATOR)"
"$B/coordinator/ospec-coordinator" --data "$demo/coordinator" --listen "tcp://127.0.0.1:$cport" \
  --control "$OSPEC_COORDINATOR" --http "127.0.0.1:$hport" --heartbeat 1s >"$demo/coordinator.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$hport/readyz" >/dev/null && break; sleep 0.1; done

# shop: per agent a frontend and a backend with its blue and green slots in
# one haproxy (admin socket in the demo dir); the agents drive the weights
haproxy_cfg=$demo/haproxy.cfg
printf 'global\n  stats socket %s mode 600 level admin\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n' \
  "$demo/haproxy.sock" >"$haproxy_cfg"
fronts=()
i=0
for spec in "web-1 region=us-east zone=a" "web-2 region=us-east zone=b" "web-3 region=eu-west zone=a"; do
  set -- $spec
  i=$((i + 1))
  port=$(free_port); sblue=$(free_port); sgreen=$(free_port); sfront=$(free_port)
  cat >"$demo/agent-$1.yaml" <<YAML
id: $1
labels: {${2/=/: }, ${3/=/: }, role: web}
coordinator: tcp://127.0.0.1:$cport
state: $demo/agent-$1
apps:
  hello:
    port: $port
  shop:
    ports: {blue: $sblue, green: $sgreen}
    proxy: {driver: haproxy, socket: $demo/haproxy.sock, backend: shop_$1,
            servers: {blue: blue, green: green}}
YAML
  printf 'frontend fe_%s\n  bind 127.0.0.1:%s\n  default_backend shop_%s\nbackend shop_%s\n  server blue 127.0.0.1:%s\n  server green 127.0.0.1:%s disabled\n' \
    "$1" "$sfront" "$1" "$1" "$sblue" "$sgreen" >>"$haproxy_cfg"
  fronts+=("$sfront")
  echo "starting ospec-agent $1 ($2, $3), app port $port"
  "$B/node-agent/ospec-agent" -c "$demo/agent-$1.yaml" >"$demo/agent-$1.log" 2>&1 &
  pids+=($!)
done
echo "starting haproxy for shop (frontends ${fronts[*]})"
/usr/sbin/haproxy -db -f "$haproxy_cfg" >"$demo/haproxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  [ "$("$B/coordinator/ospecctl" --json nodes 2>/dev/null | grep -o '"state":"up"' | wc -l)" -eq 3 ] && break
  sleep 0.2
done

say "ospecctl nodes"
"$B/coordinator/ospecctl" nodes

if "$B/coordinator/ospecctl" deploy --help >/dev/null 2>&1; then
  art=$B/artifacts
  for v in 1; do
    say "ospecctl deploy --app hello --version $v --batch 2 --watch 5s --wait"
    "$B/coordinator/ospecctl" deploy --app hello --version $v \
      --artifact "file://$art/hello-$v.tar.gz" --sha256 "$(cat "$art/hello-$v.tar.gz.sha256")" \
      --run "bin/hello --port {port}" --port 8080 --batch 2 --watch 5s --wait
    id=$("$B/coordinator/ospecctl" --json rollouts | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)
    say "ospecctl status $id"
    "$B/coordinator/ospecctl" status "$id"
  done
  # an OSpec document as the plan: region by region, a gate before eu-west
  cat >"$demo/ospec.yaml" <<YAML
name: hello
description: the demo's sample app, region by region
deployment:
  strategy: rolling
guardrails:
  deployment:
    health_check_retries: 3
fleet:
  app: hello
  run: "bin/hello --port {port}"
  port: 8080
  artifact: "file://$art/hello-{version}.tar.gz"
  watch: 2s
  stages:
    - {name: us-east, select: {region: us-east}, batch: 1, bake: 2s}
    - {name: eu-west, select: {region: eu-west}, approval: true}
YAML
  say "ospecctl validate -f ospec.yaml"
  "$B/coordinator/ospecctl" validate -f "$demo/ospec.yaml"
  sha2=$(cat "$art/hello-2.tar.gz.sha256")
  say "ospecctl plan -f ospec.yaml --version 2"
  "$B/coordinator/ospecctl" plan -f "$demo/ospec.yaml" --version 2 --sha256 "$sha2"
  say "ospecctl apply -f ospec.yaml --version 2"
  plan=$("$B/coordinator/ospecctl" apply -f "$demo/ospec.yaml" --version 2 --sha256 "$sha2")
  for _ in $(seq 300); do
    st=$("$B/coordinator/ospecctl" --json status "$plan" | grep -o '"state":"[a-z_]*"' | head -1)
    case "$st" in *waiting_approval*|*succeeded*|*failed*|*aborted*|*rolled_back*) break;; esac
    sleep 0.2
  done
  say "ospecctl status $plan (us-east done, eu-west waits at its gate)"
  "$B/coordinator/ospecctl" status "$plan"
  say "ospecctl approve $plan; ospecctl watch $plan"
  "$B/coordinator/ospecctl" approve "$plan" || true
  "$B/coordinator/ospecctl" watch "$plan" || true
  "$B/coordinator/ospecctl" status "$plan"
  # version 3 of the sample app answers 500 on /health: the first region
  # fails, goes back, and the second never hears of it
  sha3=$(cat "$art/hello-3.tar.gz.sha256")
  say "ospecctl apply -f ospec.yaml --version 3 --wait (a release that fails its health checks)"
  plan=$("$B/coordinator/ospecctl" apply -f "$demo/ospec.yaml" --version 3 --sha256 "$sha3" \
    --health-deadline 10s --wait) || true
  "$B/coordinator/ospecctl" status "$plan" || true
  # the canary strategy: shop runs blue-green behind haproxy; a little load
  # goes through every frontend while its canaries run
  shop() { "$B/coordinator/ospecctl" deploy --app shop --version "$1" \
    --artifact "file://$art/hello-$1.tar.gz" --sha256 "$(cat "$art/hello-$1.tar.gz.sha256")" \
    --run "bin/hello --port {port}" --ports blue=8091,green=8092 --batch 100% --watch 0 "${@:2}"; }
  say "ospecctl deploy --app shop --version 1 --strategy blue_green --wait"
  shop 1 --strategy blue_green --wait >/dev/null
  ( while :; do for p in "${fronts[@]}"; do curl -s -o /dev/null "http://127.0.0.1:$p/"; done; done ) &
  load=$!
  pids+=("$load")
  canary=(--strategy canary --canary-step 25 --canary-max 50 --analysis-interval 3s
    --analysis-threshold 2)
  say "ospecctl deploy --app shop --version 2 ${canary[*]} --wait"
  id=$(shop 2 "${canary[@]}" --wait | head -1) || true
  "$B/coordinator/ospecctl" history --rollout "$id" | grep -E 'canary\.|rollout\.' || true
  say "ospecctl deploy --app shop --version 6 ${canary[*]} --wait (10% of its answers are 500)"
  id=$(shop 6 "${canary[@]}" --wait | head -1) || true
  "$B/coordinator/ospecctl" status "$id" || true
  kill "$load" 2>/dev/null || true
  wait "$load" 2>/dev/null || true
  for p in "${fronts[@]}"; do printf 'shop via haproxy :%s answers %s\n' "$p" "$(curl -s "http://127.0.0.1:$p/")"; done
  say "every app answers"
  for f in "$demo"/agent-*.yaml; do
    p=$(grep 'port:' "$f" | awk '{print $2}')
    printf '%s: %s\n' "$(basename "$f" .yaml)" "$(curl -s "http://127.0.0.1:$p/")"
  done
  say "ospecctl nodes"
  "$B/coordinator/ospecctl" nodes
fi

if [ $keep -eq 1 ]; then
  say "left running (--keep): export OSPEC_COORDINATOR=$OSPEC_COORDINATOR; logs in $demo"
else
  say "demo done: stopping everything"
fi
