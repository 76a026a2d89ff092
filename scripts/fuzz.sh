#!/usr/bin/env bash
# Run every libFuzzer harness in build-fuzz for SECONDS each from its committed seed corpus
# (tests/fuzz/corpus/NAME). With a RESULTS folder, write one JUnit case per harness there.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
results=${2:-}
PY=/usr/bin/python3
status=0
if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang-14 meson setup build-fuzz --buildtype=debug -Dfuzz=true -Dtests=disabled \
        -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 1
fi
if ! meson compile -C build-fuzz >build-fuzz/compile.log 2>&1; then
    cat build-fuzz/compile.log
    [ -n "$results" ] && "$PY" scripts/junit_case.py "$results/fuzz-build.xml" fuzz-build fail "fuzz build failed"
    exit 1
fi
for h in build-fuzz/tests/fuzz/fuzz_*; do
    [ -f "$h" ] && [ -x "$h" ] || continue
    name=$(basename "$h")
    work=build-fuzz/corpus/$name
    mkdir -p "$work"
    seeds=tests/fuzz/corpus/${name#fuzz_}
    [ -d "$seeds" ] || seeds=""
    echo "fuzz: $name for ${secs}s"
    if "$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
         -artifact_prefix=build-fuzz/ "$work" $seeds >build-fuzz/$name.log 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' build-fuzz/$name.log | tail -1)
        echo "fuzz: $name ok ($runs)"
        [ -n "$results" ] && "$PY" scripts/junit_case.py "$results/fuzz-$name.xml" "fuzz-$name" pass
    else
        tail -n 30 build-fuzz/$name.log
        status=1
        [ -n "$results" ] && "$PY" scripts/junit_case.py "$results/fuzz-$name.xml" "fuzz-$name" fail "$name found a crash; see build-fuzz/$name.log"
    fi
done
exit $status
