#!/usr/bin/python3
"""`wsprobe hold` at scale (issue 15): CONNS held connections (two strategies: silent, and
pings every 30 s, CONNS/2 each) against `wsprobe serve --echo` on loopback, beside `wsprobe
load` holding as many idle connections (no --rate) in the same run. Prints, for each: client
RSS per connection (peak RSS over the connections, from /proc), and the client's CPU while
every connection is open and nothing is due (user+system over IDLE_S seconds, from /proc):
hold arms one timer per kept-alive connection for its next ping and none for silent ones, so
that figure should be near zero. Never fails on time.

usage: bench/bench_hold.py [WSPROBE] [CONNS]"""
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time

from benchlib import start_echo_serve

WSPROBE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build/wsprobe"
CONNS = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
IDLE_S = 8
TICK = os.sysconf("SC_CLK_TCK")


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def measure(label, cmd, open_s):
    """Start cmd, wait open_s for every connection to open, then measure IDLE_S of idle."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(open_s)
    c0 = cpu_s(p.pid)
    time.sleep(IDLE_S)
    c1 = cpu_s(p.pid)
    rss = rss_kib(p.pid)
    p.send_signal(signal.SIGINT)  # both end early on SIGINT, closing politely
    p.wait(timeout=300)
    print("%-5s %d connections: peak RSS %.1f MiB, %.2f KiB per connection; CPU while idle "
          "%.3f s over %d s (%.2f %% of a core)"
          % (label, CONNS, rss / 1024, rss / CONNS, c1 - c0, IDLE_S, (c1 - c0) / IDLE_S * 100))
    return rss / CONNS, c1 - c0


def main():
    global CONNS
    lim = raise_nofile(CONNS * 2 + 256)
    if CONNS + 128 > lim // 2:
        CONNS = max(100, lim // 2 - 128)
        print("connections cut to %d by the file limit (%d)" % (CONNS, lim))
    with tempfile.TemporaryDirectory() as tmp:
        srv, port = start_echo_serve(WSPROBE, tmp, CONNS + 100)
        url = "ws://127.0.0.1:%d/ws" % port
        open_s = 4 + CONNS / 5000
        try:
            h = measure("hold", [WSPROBE, "hold", url, "--per-strategy", str(CONNS // 2),
                                 "--ping-ladder", "30s", "--duration", "120s", "-q"], open_s)
            ld = measure("load", [WSPROBE, "load", url, "--connections", str(CONNS),
                                  "--duration", "120s", "-q"], open_s)
            print("hold / load: RSS per connection %.2fx, idle CPU %.2f s vs %.2f s"
                  % (h[0] / ld[0], h[1], ld[1]))
        finally:
            srv.terminate()
            srv.wait(timeout=10)


if __name__ == "__main__":
    main()
