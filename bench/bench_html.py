#!/usr/bin/python3
"""Time the HTML report of a 1-hour load run: a real `wsprobe load` against `wsprobe serve
--echo` gives its histograms (every bucket the run filled, corrected, uncorrected and per
phase), then its per-second series is stretched to 3,600 points with the run's own values;
`wsprobe report hour.json --html` renders it RUNS times. Prints the best and median wall time
of the render (the whole process), the page's size, and, as the peer measured in the same run,
the time Python's json module takes only to read the same report (a floor for any renderer of
it), with the ratio.

Figures only: nothing here passes or fails on time (the issue's target: under 1 s, under 2 MB).

usage: bench/bench_html.py [WSPROBE] [RUNS]      (default build/wsprobe, 5)"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import start_echo_serve  # noqa: E402

WSPROBE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/wsprobe")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5


def main():
    with tempfile.TemporaryDirectory() as tmp:
        srv, port = start_echo_serve(WSPROBE, tmp)
        try:
            src = os.path.join(tmp, "load.json")
            r = subprocess.run([WSPROBE, "load", "ws://127.0.0.1:%d/ws" % port, "--connections",
                                "50", "--rate", "5000", "--duration", "5s", "--message", "hi",
                                "--echo", "--json=%s" % src], capture_output=True, timeout=120)
            if r.returncode not in (0, 1):
                print("load exited %d: %s" % (r.returncode, r.stderr.decode()[-500:]))
                return 1
        finally:
            srv.terminate()
            srv.wait(timeout=10)
        rep = json.load(open(src))
        base = rep["series"] or [{"t": 1, "open": 0, "opened": 0, "sent": 0, "matched": 0,
                                  "errors": 0, "p50_ms": 0, "p99_ms": 0, "max_ms": 0}]
        rep["series"] = [dict(base[i % len(base)], t=i + 1) for i in range(3600)]
        hour = os.path.join(tmp, "hour.json")
        json.dump(rep, open(hour, "w"))
        out = os.path.join(tmp, "hour.html")
        times, peer = [], []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            r = subprocess.run([WSPROBE, "report", hour, "--html", out], capture_output=True,
                               timeout=60)
            times.append(time.perf_counter() - t0)
            if r.returncode != 0:
                print("report exited %d: %s" % (r.returncode, r.stderr.decode()[-500:]))
                return 1
            t0 = time.perf_counter()
            with open(hour) as f:
                json.load(f)
            peer.append(time.perf_counter() - t0)
        buckets = sum(len(h.get("buckets", [])) for h in rep["histograms"].values())
        print("1-hour load report: %d per-second points, %d histogram buckets, %.0f KiB of JSON"
              % (len(rep["series"]), buckets, os.path.getsize(hour) / 1024))
        print("wsprobe report --html: best %.1f ms, median %.1f ms (whole process, %d runs)"
              % (min(times) * 1e3, statistics.median(times) * 1e3, RUNS))
        print("page: %.0f KiB (target: under 2048 KiB)" % (os.path.getsize(out) / 1024))
        print("peer: python3 json.load of the same report: best %.1f ms; render/read ratio %.1f"
              % (min(peer) * 1e3, min(times) / min(peer) if min(peer) > 0 else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
