#!/usr/bin/env bash
# make deb: the Debian package of this tree (debian/), built with
#   DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b
# in a scratch copy (dpkg-buildpackage writes its files beside the source tree and its build
# folders into it), then checked with lintian (an error fails). The .deb goes to OUT (default
# dist/). Usage: scripts/deb.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
for p in debhelper lintian dpkg-dev; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] ||
        { echo "deb: $p is not installed (make deps)" >&2; exit 1; }
done
ver=$(dpkg-parsechangelog -S Version)
work=$(mktemp -d "${TMPDIR:-/tmp}/wsprobe-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/wsprobe-$ver
mkdir -p "$src"
if git rev-parse --git-dir >/dev/null 2>&1; then
    # the files git tracks, as they are in the tree now (a stray file is not packaged)
    git ls-files -z -c | tar --null -T - -cf - | tar -xf - -C "$src"
    scripts/revision.sh . >"$src/.revision"
else
    tar --exclude='./build*' --exclude=./dist --exclude=./tests/node/node_modules -cf - . |
        tar -xf - -C "$src"
fi
if ! (cd "$src" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log" >&2
    echo "deb: dpkg-buildpackage failed" >&2
    exit 1
fi
deb=$(ls "$work"/wsprobe_"$ver"_*.deb)
cp "$deb" "$out/"
deb=$out/$(basename "$deb")
mkdir -p "$work/tmp"
TMPDIR="$work/tmp" lintian --fail-on error --tag-display-limit 0 "$deb" | tee "$work/lintian.log"
echo "deb: $deb ($(du -k "$deb" | cut -f1) KiB; lintian: $(grep -c '^E:' "$work/lintian.log" || true) errors, $(grep -c '^W:' "$work/lintian.log" || true) warnings)"
