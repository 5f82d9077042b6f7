#!/bin/sh
# pack.sh AGENT HEALTH VERSION OUT.tar.gz: the release that upgrades the agents
# with ospec itself (docs/upgrade.md). AGENT is the new agent: a package
# (*.deb, installed with apt-get) or the ospec-agent program (put over
# OSPEC_AGENT_BIN). HEALTH answers GET /health on --port PORT: the hello
# example of this tree (build/deploy/examples/hello/hello) does. VERSION is
# the agent's (`ospec-agent --version` must say it). Writes a reproducible
# OUT.tar.gz and OUT.tar.gz.sha256 (the hex digest only).
set -eu
[ $# -eq 4 ] || { echo "usage: pack.sh AGENT HEALTH VERSION OUT.tar.gz" >&2; exit 2; }
agent=$1 health=$2 version=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage" "$out.tar"' EXIT
mkdir -p "$stage/bin" "$(dirname "$out")"
case $agent in
*.deb) cp "$agent" "$stage/ospec-agent.deb"; names="VERSION bin ospec-agent.deb" ;;
*) cp "$agent" "$stage/bin/ospec-agent"; names="VERSION bin" ;;
esac
cp "$health" "$stage/bin/hello"
cp "$here/ospec-agent-upgrade" "$stage/bin/ospec-agent-upgrade"
printf '%s\n' "$version" > "$stage/VERSION"
chmod 0755 "$stage" "$stage/bin" "$stage/bin"/*
find "$stage" -type f ! -path "$stage/bin/*" -exec chmod 0644 {} +
# shellcheck disable=SC2086 # names is a list of plain words
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
  -C "$stage" -cf "$out.tar" $names
gzip -n -9 < "$out.tar" > "$out.tmp"
mv "$out.tmp" "$out"
sha256sum "$out" | cut -d' ' -f1 | tr -d '\n' > "$out.sha256"
