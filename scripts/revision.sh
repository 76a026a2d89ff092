#!/bin/sh
# The revision `wsprobe --version` names: git's, or the one a source copy was made from
# (.revision, written by scripts/deb.sh), or "unknown".
root=${1:-.}
git -C "$root" describe --always --dirty --abbrev=12 2>/dev/null && exit 0
[ -s "$root/.revision" ] && { head -n 1 "$root/.revision"; exit 0; }
echo unknown
