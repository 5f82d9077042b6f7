#!/bin/sh
# pack.sh BINARY VERSION STAGEDIR OUT.tar.gz [NAME=CONTENT]...
# Builds a reproducible release tarball (bin/hello, VERSION, marker files) and
# OUT.tar.gz.sha256 holding only the hex digest.
set -eu
bin=$1 version=$2 stage=$3 out=$4
shift 4
rm -rf "$stage"
mkdir -p "$stage/bin" "$(dirname "$out")"
cp "$bin" "$stage/bin/hello"
printf '%s\n' "$version" > "$stage/VERSION"
names="bin VERSION"
for m in "$@"; do
  name=${m%%=*}
  printf '%s' "${m#*=}" > "$stage/$name"
  names="$names $name"
done
chmod 0755 "$stage/bin" "$stage/bin/hello"
find "$stage" -type f ! -path "$stage/bin/hello" -exec chmod 0644 {} +
# shellcheck disable=SC2086 # names is a list of plain words
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
  -C "$stage" -cf - $names | gzip -n -9 > "$out.tmp"
mv "$out.tmp" "$out"
sum=$(sha256sum "$out" | cut -d' ' -f1)
printf '%s' "$sum" > "$out.sha256"
