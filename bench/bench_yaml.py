#!/usr/bin/python3
"""Time loading hostile and large YAML: `wsprobe run PLAN` on 1 MiB plans (the size cap) of
nesting in flow-list, flow-mapping and block-list form, a two-document plan, `audit --config`
on 1 MiB of nesting, and, for the cost of reading the text twice (codec/yaml.h: the event pass
before the load), a plan of about 95 000 nodes that loads (its environment is then not found,
so nothing connects). Prints the best and median whole-process wall time of RUNS runs and the
exit code, beside `wsprobe --version` (the process's own start).

With OLD=PATH (a wsprobe built before the caps held on events), the same inputs are timed with
that binary too, each run cut at TIMEOUT seconds (default 30), and a series of smaller nestings
(10k to 80k levels) shows how its time grows with the depth.

Figures only: nothing here passes or fails on time.

usage: bench/bench_yaml.py [WSPROBE] [RUNS]      (default build/wsprobe, 5)"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

WSPROBE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/wsprobe")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
OLD = os.environ.get("OLD")
TIMEOUT = float(os.environ.get("TIMEOUT", "30"))
MIB = 1 << 20
HEAD = "environments: {s: {url: 'ws://127.0.0.1:9/ws'}}\nchecks: "


def fill(head, unit, size=MIB):
    return head + unit * ((size - len(head)) // len(unit))


def levels(n, unit="["):
    return HEAD + unit * n


def big_plan():
    """About 95 000 nodes: a claims list of scalars, within the 100 000-node cap."""
    items = ", ".join("x%d" % i for i in range(95000))
    return ("environments:\n  s:\n    url: ws://127.0.0.1:9/ws\n    auth:\n      jwt:\n"
            "        secret_env: WSP_BENCH_UNSET\n        claims: {big: [%s]}\n"
            "checks: [connect]\n" % items)


def timed(argv):
    """(seconds, exit code) of one run; exit None when cut at TIMEOUT."""
    t0 = time.perf_counter()
    try:
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=TIMEOUT)
        rc = r.returncode
    except subprocess.TimeoutExpired:
        rc = None
    return time.perf_counter() - t0, rc


def row(name, size, exe, argv, runs):
    times, rc = [], None
    for _ in range(runs):
        t, rc = timed([exe] + argv)
        times.append(t)
        if rc is None:
            break  # one cut run says enough
    if rc is None:
        print("%-28s %8d  %-5s  > %.0f s (cut)" % (name, size, "-", TIMEOUT))
    else:
        print("%-28s %8d  %-5s  %8.1f ms  %8.1f ms" % (
            name, size, rc, min(times) * 1e3, statistics.median(times) * 1e3))


def main():
    if not os.access(WSPROBE, os.X_OK):
        print("bench_yaml: no binary at %s (make build, or pass its path)" % WSPROBE,
              file=sys.stderr)
        return 2
    d = tempfile.mkdtemp(prefix="wsprobe-bench-yaml-")
    inputs = [
        ("plan: flow lists [", fill(HEAD, "["), "run"),
        ("plan: flow mappings {a:", fill(HEAD, "{a: "), "run"),
        ("plan: block lists -", fill(HEAD + "\n", "- "), "run"),
        ("plan: two documents", HEAD + "[connect]\n---\n" + HEAD + "[health]\n", "run"),
        ("plan: 95k nodes, loads", big_plan(), "run"),
        ("audit --config: flow lists", fill("floor: ", "["), "audit"),
    ]
    junit = os.path.join(d, "r.xml")
    with open(junit, "w") as f:
        f.write('<testsuite name="s" tests="1"><testcase name="t" time="1"/></testsuite>\n')
    files = []
    for i, (name, text, cmd) in enumerate(inputs):
        p = os.path.join(d, "in%d.yaml" % i)
        with open(p, "w") as f:
            f.write(text)
        argv = (["run", p, "--env", "nope"] if cmd == "run"
                else ["audit", junit, "--config", p])
        files.append((name, len(text), argv))
    try:
        for label, exe in [("wsprobe", WSPROBE)] + ([("old", os.path.abspath(OLD))] if OLD else []):
            print("== %s (%s), best and median of %d runs" % (label, exe, RUNS))
            print("%-28s %8s  %-5s  %11s  %11s" % ("input", "bytes", "exit", "best", "median"))
            row("--version (process start)", 0, exe, ["--version"], RUNS)
            for name, size, argv in files:
                row(name, size, exe, argv, RUNS if label == "wsprobe" else 1)
            if label == "old":
                print("-- growth with depth (flow lists), one run each")
                for n in (10000, 20000, 40000, 80000):
                    p = os.path.join(d, "levels%d.yaml" % n)
                    with open(p, "w") as f:
                        f.write(levels(n))
                    row("plan: %d levels" % n, os.path.getsize(p), exe,
                        ["run", p, "--env", "nope"], 1)
            print()
    finally:
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        os.rmdir(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
