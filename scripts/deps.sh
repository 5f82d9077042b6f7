#!/usr/bin/env bash
# Installs the Debian 12 packages ospec builds and tests with, if missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev valgrind
      libnng-dev libprotobuf-c-dev protobuf-c-compiler libyaml-dev libcurl4-openssl-dev
      liblmdb-dev libcmocka-dev libarchive-dev libmbedtls-dev
      haproxy nginx prometheus etcd-server etcd-client iptables iproute2 curl ca-certificates
      systemd)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
