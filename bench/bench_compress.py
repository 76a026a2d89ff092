#!/usr/bin/python3
"""permessage-deflate's cost (issue 14), measured against `wsprobe serve --echo` on loopback,
compressed and uncompressed in the same run. Prints figures and ratios; never fails on time.

1. probe: one 4 KiB JSON round trip (plus connect, upgrade, close), CPU time per run (perf
   stat's task-clock when perf is there, else the children's rusage) over RUNS runs with and
   without --compress, in alternating batches: the added CPU of compression.
2. load: 1,000 connections at 10,000 msg/s for 5 s with 4 KiB JSON messages matched by
   --echo, with and without --compress: client CPU per message (the report's client cpu_s
   over messages matched), and the client's peak RSS per connection. --echo, not
   --expect-json: parsing 4 KiB of JSON per reply (jansson) saturates two cores at 10,000/s on
   its own (about 500 us a message), which would hide what compression costs.

usage: bench/bench_compress.py [WSPROBE] [RUNS]"""
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import start_echo_serve

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


def child_cpu(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return r, cpu


def perf_task_clock(cmd, runs):
    """Mean task-clock in ms of `runs` runs of cmd (perf stat: exact, not tick-sampled)."""
    r = subprocess.run(["perf", "stat", "-r", str(runs), "-x,", "-e", "task-clock"] + cmd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    for line in r.stderr.decode().splitlines():
        f = line.split(",")
        if len(f) > 2 and f[2] == "task-clock":
            return float(f[0])
    return None


def probe_cpu(url, body):
    """CPU per probe run with and without --compress. perf stat's task-clock when perf works
    (rusage is tick-sampled on many kernels: 4 ms grains hide a 0.1 ms difference); batches
    alternate so drift hits both sides alike."""
    cmds = {label: [WSPROBE, "probe", url, *extra, "--send", body, "--expect-text", body, "-q"]
            for label, extra in (("plain", []), ("compress", ["--compress"]))}
    for cmd in cmds.values():
        if subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
            sys.exit("probe failed: %s" % " ".join(cmd[:4]))
    batches = 5
    if shutil.which("perf") and perf_task_clock(cmds["plain"], 1) is not None:
        sums = {"plain": [], "compress": []}
        for _ in range(batches):
            for label, cmd in cmds.items():
                sums[label].append(perf_task_clock(cmd, max(1, RUNS // batches)))
        return {"how": "perf task-clock", **{k: statistics.mean(v) for k, v in sums.items()}}
    samples = {"plain": [], "compress": []}
    for _ in range(RUNS):
        for label, cmd in cmds.items():
            _, c = child_cpu(cmd)
            samples[label].append(c * 1000)
    return {"how": "rusage mean", **{k: statistics.mean(v) for k, v in samples.items()}}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        srv, port = start_echo_serve(WSPROBE, tmp)
        url = "ws://127.0.0.1:%d/ws" % port
        try:
            body = MSG.replace("{{uuid}}", "x")
            cpu = probe_cpu(url, body)
            print("probe, one %d-byte JSON round trip, CPU per run (%s, %d runs, interleaved): "
                  "plain %.3f ms, --compress %.3f ms (added %.3f ms)"
                  % (len(body), cpu["how"], RUNS, cpu["plain"], cpu["compress"],
                     cpu["compress"] - cpu["plain"]))
            per = {}
            for label, extra in (("plain", []), ("compress", ["--compress"])):
                r = subprocess.run([WSPROBE, "load", url, *extra, "--connections", "1000",
                                    "--rate", "10000", "--duration", "5s", "--warmup", "1s",
                                    "--message", MSG, "--echo",
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
