#!/usr/bin/env bash
# make uninstall: remove what `make install` puts in place, as the build says it installs it
# (meson introspect --installed: the prefix the build is configured with), under DESTDIR when
# given. Only wsprobe's own paths: its files, and its folder under share/doc (whole). Folders
# that other packages share (bin, share/man/man1, the completion folders) stay.
# Usage: scripts/uninstall.sh BUILD [DESTDIR]
set -euo pipefail
build=${1:?usage: uninstall.sh BUILD [DESTDIR]}
dest=${2:-}
[ -f "$build/build.ninja" ] || { echo "uninstall: $build is not a meson build" >&2; exit 1; }
n=0
while IFS= read -r path; do
    [ -n "$path" ] || continue
    target=$dest$path
    case "$path" in
    */share/doc/wsprobe|*/share/doc/wsprobe/*)
        docdir=${path%%/share/doc/wsprobe*}/share/doc/wsprobe
        if [ -e "$dest$docdir" ]; then rm -rf -- "$dest$docdir"; n=$((n + 1)); fi ;;
    *)
        if [ -e "$target" ] && [ ! -d "$target" ]; then rm -f -- "$target"; n=$((n + 1)); fi ;;
    esac
done < <(meson introspect --installed "$build" |
         /usr/bin/python3 -c 'import json, sys; print("\n".join(json.load(sys.stdin).values()))')
echo "uninstalled: $n paths under ${dest:-/}"
