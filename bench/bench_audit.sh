#!/usr/bin/env bash
# bench_audit.sh - throughput and memory of `wsprobe audit` on generated JUnit XML.
#
#   bench/bench_audit.sh [SIZES_MB...]        (default: 50 500)
#
# Generates one report per size with bench/gen_junit.py (mixed Surefire/pytest shapes, some
# hollow passes) in $BENCH_DIR (default /tmp/wsprobe-bench-audit), then runs the binary
# ($WSPROBE, default build/wsprobe: use a release build, not the sanitized one) RUNS times
# (default 3) per size and prints the best wall time, the CPU time of that run, MB/s on both,
# and the peak RSS. For reference it times libxml2's own streaming reader on the same file
# (`xmllint --stream --noout`, the xmlTextReader the audit is built on) when xmllint exists.
#
# Figures only: nothing here passes or fails on time. Reports are deleted at the end unless
# KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
WSPROBE=${WSPROBE:-build/wsprobe}
[[ $WSPROBE = /* ]] || WSPROBE=$root/$WSPROBE
BENCH_DIR=${BENCH_DIR:-/tmp/wsprobe-bench-audit}
RUNS=${RUNS:-3}
PY=/usr/bin/python3
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(50 500)

if [ ! -x "$WSPROBE" ]; then
    echo "bench_audit: no binary at $WSPROBE (make build, or set WSPROBE)" >&2
    exit 2
fi
mkdir -p "$BENCH_DIR"
cleanup() { [ "${KEEP:-0}" = 1 ] || rm -f "$BENCH_DIR"/audit-*.xml "$BENCH_DIR"/measure.*; }
trap cleanup EXIT

# measure CMD...: prints "wall_s cpu_s maxrss_kib exit" for one run. /usr/bin/time -v when it is
# there, else getrusage of a child through python.
measure() {
    if [ -x /usr/bin/time ]; then
        local t0 t1 rc=0
        t0=$(date +%s.%N)
        /usr/bin/time -v -o "$BENCH_DIR/measure.time" "$@" >/dev/null 2>"$BENCH_DIR/measure.err" || rc=$?
        t1=$(date +%s.%N)
        awk -v t0="$t0" -v t1="$t1" -v rc="$rc" '
            /User time/ {u=$NF} /System time/ {s=$NF} /Maximum resident/ {m=$NF}
            END {printf "%.3f %.3f %d %d\n", t1-t0, u+s, m, rc}' "$BENCH_DIR/measure.time"
    else
        "$PY" - "$@" <<'EOF'
import resource, subprocess, sys, time
t0 = time.monotonic()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.monotonic() - t0
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.3f %.3f %d %d" % (wall, u.ru_utime + u.ru_stime, u.ru_maxrss, r.returncode))
EOF
    fi
}

# best RUNS: the run with the least wall time
best_of() {
    local best="" line
    for _ in $(seq "$RUNS"); do
        line=$(measure "$@")
        if [ -z "$best" ] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then
            best=$line
        fi
    done
    echo "$best"
}

echo "wsprobe audit benchmark: $("$WSPROBE" --version 2>/dev/null | head -1)"
echo "binary $WSPROBE; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); best of $RUNS"
printf '\n%-26s %9s %8s %8s %9s %9s %10s\n' "run" "size MB" "wall s" "cpu s" "MB/s wall" \
    "MB/s cpu" "max RSS MB"
for mb in "${sizes[@]}"; do
    f=$BENCH_DIR/audit-$mb.xml
    "$PY" bench/gen_junit.py "$mb" "$f" >/dev/null
    bytes=$(stat -c %s "$f")
    size=$(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1048576}')
    row() {
        local label=$1 wall cpu rss rc
        shift
        read -r wall cpu rss rc < <(best_of "$@")
        awk -v l="$label" -v s="$size" -v b="$bytes" -v w="$wall" -v c="$cpu" -v r="$rss" -v rc="$rc" \
            'BEGIN{printf "%-26s %9s %8.3f %8.3f %9.0f %9.0f %10.1f%s\n", l, s, w, c,
                   (w>0?b/1048576/w:0), (c>0?b/1048576/c:0), r/1024, (rc>2?"  (exit " rc ")":"")}'
    }
    row "audit (network globs)" "$WSPROBE" audit "$f" --network-tests '*net_*' -q
    row "audit (all rules, JSON)" "$WSPROBE" audit "$f" --network-tests '*net_*' \
        --floor '*net_*=20ms' --require-property 'ws.bytes_rx>0' --json="$BENCH_DIR/measure.json" -q
    if command -v xmllint >/dev/null 2>&1; then
        row "xmllint --stream (libxml2)" xmllint --stream --noout "$f"
    fi
    rm -f "$f"
done
echo
echo "(MB = MiB. 'cpu' is user+system time of the best run. The audit keeps findings, capped"
echo " per rule by --max-findings, so RSS is flat in the size of the report.)"
