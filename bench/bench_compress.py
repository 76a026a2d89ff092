#!/usr/bin/python3
"""permessage-deflate's cost (issue 14), measured against `wsprobe serve --echo` on loopback,
compressed and uncompressed in the same run. Prints figures and ratios; never fails on time.

1. probe: one 4 KiB JSON round trip (plus connect, upgrade, close), median CPU time (user+sys of
   the child) over RUNS runs with and without --compress: the added CPU of compression.
2. load: 1,000 connections at 10,000 msg/s for 5 s with 4 KiB JSON messages matched by
   --expect-json, with and without --compress: client CPU per message (the report's client
   cpu_s over messages matched), and the client's peak RSS per connection.

usage: bench/bench_compress.py [WSPROBE] [RUNS]"""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

WSPROBE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build/wsprobe"
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 30
def message(size=4096):
    """Valid JSON of about `size` bytes, the kind chat servers carry."""
    items = []
    while True:
        m = json.dumps({"type": "chat", "id": "{{uuid}}", "items": items})
        if len(m) >= size - 80:
            return m
        items.append({"user": "user%03d" % len(items), "text": "a message of the kind chat "
                      "servers carry", "n": len(items)})


MSG = message()


def start_serve(tmp):
    pf = os.path.join(tmp, "ports.json")
    p = subprocess.Popen([WSPROBE, "serve", "--listen", "127.0.0.1:0", "--echo",
                          "--unsafe-no-auth", "--unsafe-no-limits", "--max-conns-per-ip", "5000",
                          "--port-file", pf, "-q"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(pf):
            try:
                return p, json.load(open(pf))["ws"]
            except ValueError:
                pass
        time.sleep(0.02)
    p.kill()
    sys.exit("serve did not start")


def child_cpu(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return r, cpu


def main():
    with tempfile.TemporaryDirectory() as tmp:
        srv, port = start_serve(tmp)
        url = "ws://127.0.0.1:%d/ws" % port
        try:
            body = MSG.replace("{{uuid}}", "x")
            cpu = {}
            for label, extra in (("plain", []), ("compress", ["--compress"])):
                samples = []
                for _ in range(RUNS):
                    r, c = child_cpu([WSPROBE, "probe", url, *extra, "--send", body,
                                      "--expect-text", body, "-q"])
                    if r.returncode != 0:
                        sys.exit("probe failed (%s)" % label)
                    samples.append(c * 1000)
                cpu[label] = statistics.median(samples)
            print("probe, one %d-byte JSON round trip, median CPU over %d runs: plain %.2f ms, "
                  "--compress %.2f ms (added %.2f ms)"
                  % (len(body), RUNS, cpu["plain"], cpu["compress"],
                     cpu["compress"] - cpu["plain"]))
            per = {}
            for label, extra in (("plain", []), ("compress", ["--compress"])):
                r = subprocess.run([WSPROBE, "load", url, *extra, "--connections", "1000",
                                    "--rate", "10000", "--duration", "5s", "--warmup", "1s",
                                    "--message", MSG, "--expect-json", "/id={{sent./id}}",
                                    "--json", "-q"], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, timeout=120)
                j = json.loads(r.stdout)
                m = j["messages"]["matched"]
                per[label] = (j["client"]["cpu_s"] * 1e6 / max(m, 1),
                              j["client"]["max_rss_kib"] / 1000.0, m, r.returncode)
            for label in ("plain", "compress"):
                us, rss, m, rc = per[label]
                print("load %-8s 1,000 connections, 10,000 msg/s, 5 s: %d matched (exit %d), "
                      "client CPU %.1f us/message, peak RSS %.1f KiB/connection"
                      % (label, m, rc, us, rss))
            print("load --compress / plain: CPU per message %.2fx, RSS per connection %.2fx"
                  % (per["compress"][0] / per["plain"][0], per["compress"][1] / per["plain"][1]))
        finally:
            srv.terminate()
            srv.wait(timeout=10)


if __name__ == "__main__":
    main()
