#!/usr/bin/env bash
# make check: build (warnings as errors), build again under ASan+UBSan, run the unit tests in
# both, the end-to-end tests against real peers with the sanitized binary, a short libFuzzer run
# of every harness, and the format check. Ends with one line: N passed, N failed[, N skipped].
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
results=$root/build-check
rm -rf "$results"; mkdir -p "$results"
PY=/usr/bin/python3
FUZZ_CI_SECONDS=${FUZZ_CI_SECONDS:-8}
export NO_COLOR=1

step() { printf '== %s\n' "$*" >&2; }
# record NAME STATUS(pass|fail|skip) [MESSAGE]: one synthetic JUnit case for a non-unit step.
record() {
    local name=$1 status=$2 msg=${3:-}
    "$PY" scripts/junit_case.py "$results/step-$name.xml" "$name" "$status" "$msg"
}

step "build (release, -Werror)"
if [ -f build/build.ninja ]; then meson setup --reconfigure build -Dwerror=true >/dev/null;
else meson setup build --buildtype=debugoptimized -Dwerror=true >/dev/null; fi
if meson compile -C build >"$results/build.log" 2>&1; then record build pass
else cat "$results/build.log" >&2; record build fail "release build failed"; fi

step "build (ASan+UBSan)"
if [ -f build-asan/build.ninja ]; then meson setup --reconfigure build-asan >/dev/null; else
    meson setup build-asan --buildtype=debug -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
if meson compile -C build-asan >"$results/build-asan.log" 2>&1; then record build-asan pass
else cat "$results/build-asan.log" >&2; record build-asan fail "sanitizer build failed"; fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99
export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0

for b in build build-asan; do
    step "unit tests ($b)"
    for t in "$b"/tests/unit/test_*; do
        [ -f "$t" ] && [ -x "$t" ] || continue
        n=$(basename "$t")
        out="$results/unit-$b-$n.xml"
        CMOCKA_MESSAGE_OUTPUT=xml CMOCKA_XML_FILE="$out" "$t" >"$results/unit-$b-$n.log" 2>&1
        rc=$?
        if [ ! -s "$out" ] || { [ $rc -ne 0 ] && ! grep -q '<failure' "$out"; }; then
            cat "$results/unit-$b-$n.log" >&2
            record "unit-$b-$n-crash" fail "$n exited $rc without a complete report"
        fi
    done
done

step "node peers (npm ci tests/node)"
if [ -f tests/node/package-lock.json ]; then
    if npm ci --prefix tests/node --silent --no-audit --no-fund >"$results/npm.log" 2>&1; then
        record npm-ci pass
    else
        tail -n 20 "$results/npm.log" >&2
        record npm-ci fail "npm ci tests/node failed: the Node ws peers cannot run"
    fi
fi

step "end-to-end tests (real peers on loopback, ASan+UBSan binary)"
export WSPROBE=$root/build-asan/wsprobe
# The e2e files are independent (every peer on its own kernel-chosen port, every file in its
# own tmp dir): pytest-xdist runs them on both cores. E2E_JOBS=1 runs them one at a time.
# Tests marked xdist_group("cpu-heavy") (the attack suite and load's rate tests) run on one
# worker, one after the other: an attack beside a rate test would starve its schedule.
jobs=(-n "${E2E_JOBS:-2}" --dist loadgroup)
"$PY" -c 'import xdist' 2>/dev/null || jobs=()
"$PY" -m pytest tests/e2e -q -p no:cacheprovider "${jobs[@]}" --junitxml="$results/e2e.xml" \
    -o junit_family=xunit2 >"$results/e2e.log" 2>&1
rc=$?
tail -n 30 "$results/e2e.log" >&2
if [ $rc -ne 0 ] && [ $rc -ne 1 ] && [ $rc -ne 5 ]; then record e2e-run fail "pytest exited $rc"; fi

step "fuzz (${FUZZ_CI_SECONDS}s per harness)"
if scripts/fuzz.sh "$FUZZ_CI_SECONDS" "$results" >"$results/fuzz.log" 2>&1; then :; else
    tail -n 40 "$results/fuzz.log" >&2
fi

step "layering (scripts/layers.py, and its self-test)"
if "$PY" scripts/layers.py >"$results/layers.log" 2>&1 && "$PY" scripts/layers.py --self-test \
    >>"$results/layers.log" 2>&1; then record layering pass
else cat "$results/layers.log" >&2; record layering fail "an include crosses the layers"; fi

step "format"
if make -s format-check >"$results/format.log" 2>&1; then record clang-format pass
else head -n 40 "$results/format.log" >&2; record clang-format fail "clang-format differences"; fi

"$PY" scripts/summarize.py "$results"
