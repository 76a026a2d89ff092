#!/usr/bin/env bash
# make bench: every benchmark in bench/, one after another. Each prints its figures; none
# passes or fails on time. BENCH=name runs one (probe, audit, serve, load, yaml, exporter, html).
set -uo pipefail
cd "$(dirname "$0")/.."
W=${WSPROBE:-build/wsprobe}
run() {
    echo "== bench: $1"
    shift
    "$@" || echo "bench: $* exited $?"
    echo
}
want() { [ -z "${BENCH:-}" ] || [ "$BENCH" = "$1" ]; }
want probe && run probe /usr/bin/python3 bench/probe_bench.py "$W" 50
want audit && [ -x bench/bench_audit.sh ] && run audit bench/bench_audit.sh
want serve && [ -x bench/bench_serve.sh ] && run serve bench/bench_serve.sh
want load && [ -x bench/bench_load.sh ] && run load bench/bench_load.sh
want yaml && run yaml /usr/bin/python3 bench/bench_yaml.py "$W" 5
want exporter && run exporter /usr/bin/python3 bench/bench_exporter.py "$W" 10 100000
want html && run html /usr/bin/python3 bench/bench_html.py "$W" 5
exit 0
