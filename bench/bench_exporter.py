#!/usr/bin/python3
"""`wsprobe exporter` under scrape load (issue 16): WORKERS keep-alive HTTP clients scrape
/probe?target=ws://127.0.0.1:PORT/ws against `wsprobe serve --echo` on loopback for SECONDS,
without and with basic auth (a bcrypt hash from htpasswd; verified once, then cached), and
print probes per second and the scrape latency p50/p99/max. Then PROBES probes in a row with
the exporter's RSS sampled along the way (flat means nothing is kept per probe). For a
reference in the same run: Debian's blackbox_exporter (when installed) probing the same port
with its tcp_connect prober, the nearest thing it has in a release (its websocket prober is on
master only). Never fails on time.

usage: bench/bench_exporter.py [WSPROBE] [SECONDS] [PROBES]"""
import base64
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlencode

from benchlib import start_echo_serve

WSPROBE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build/wsprobe"
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 10
PROBES = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
WORKERS = 8


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_port_file(pf, proc):
    for _ in range(300):
        if os.path.exists(pf) and os.path.getsize(pf):
            try:
                return json.load(open(pf))["port"]
            except ValueError:
                pass
        if proc.poll() is not None:
            sys.exit("the exporter did not start")
        time.sleep(0.02)
    sys.exit("the exporter did not start")


def start_exporter(tmp, web=None):
    cfg = os.path.join(tmp, "modules.yaml")
    with open(cfg, "w") as f:
        f.write("modules:\n  ws:\n    allowed_targets: ['ws://127.0.0.1:*/*']\n")
    pf = os.path.join(tmp, "port-%s.json" % ("web" if web else "plain"))
    cmd = [WSPROBE, "exporter", "--config", cfg, "--listen", "127.0.0.1:0", "--port-file", pf,
           "--max-concurrent", "256"]
    if web:
        cmd += ["--web.config.file", web]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p, wait_port_file(pf, p)


def scrape_loop(port, path, headers, until, lat, errors, limit=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    n = 0
    while time.monotonic() < until and (limit is None or n < limit):
        t0 = time.perf_counter()
        try:
            c.request("GET", path, headers=headers)
            r = c.getresponse()
            body = r.read()
            ok = r.status == 200 and (b"probe_success 1" in body)
        except (OSError, http.client.HTTPException):
            ok = False
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        lat.append(time.perf_counter() - t0)
        if not ok:
            errors.append(1)
        n += 1
    c.close()


def run(port, path, headers=None, seconds=SECONDS):
    lat, errors = [], []
    until = time.monotonic() + seconds
    ts = [threading.Thread(target=scrape_loop, args=(port, path, headers or {}, until, lat,
                                                     errors)) for _ in range(WORKERS)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    took = time.monotonic() - t0
    lat.sort()
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e3
    return {"rate": len(lat) / took, "p50": pct(0.5), "p99": pct(0.99), "max": lat[-1] * 1e3,
            "n": len(lat), "errors": len(errors)}


def show(name, r):
    print("%-34s %8.0f probes/s  p50 %6.2f ms  p99 %6.2f ms  max %7.2f ms  (%d scrapes, %d "
          "failed)" % (name, r["rate"], r["p50"], r["p99"], r["max"], r["n"], r["errors"]))


def main():
    tmp = tempfile.mkdtemp(prefix="bench-exporter-")
    serve, ws = start_echo_serve(WSPROBE, tmp)
    procs = [serve]
    try:
        target = "ws://127.0.0.1:%d/ws" % ws
        path = "/probe?" + urlencode({"target": target, "module": "ws"})
        exp, port = start_exporter(tmp)
        procs.append(exp)
        print("exporter: %d workers, keep-alive, %s s each; target %s" % (WORKERS, SECONDS,
                                                                          target))
        plain = run(port, path)
        show("wsprobe exporter, no auth", plain)

        htpasswd = shutil.which("htpasswd")
        if htpasswd:
            h = subprocess.run([htpasswd, "-nbBC", "10", "prom", "bench-pw"], capture_output=True,
                               check=True).stdout.decode().strip().split(":", 1)[1]
            web = os.path.join(tmp, "web.yml")
            with open(web, "w") as f:
                f.write("basic_auth_users:\n  prom: '%s'\n" % h)
            wexp, wport = start_exporter(tmp, web)
            procs.append(wexp)
            auth = {"Authorization": "Basic " + base64.b64encode(b"prom:bench-pw").decode()}
            c = http.client.HTTPConnection("127.0.0.1", wport, timeout=10)
            t0 = time.perf_counter()
            c.request("GET", "/metrics", headers=auth)
            c.getresponse().read()
            first = (time.perf_counter() - t0) * 1e3
            c.close()
            withauth = run(wport, path, auth)
            show("wsprobe exporter, basic auth", withauth)
            print("%-34s first scrape (one bcrypt) %.1f ms; then cached: rate ratio %.2f of "
                  "no auth" % ("", first, withauth["rate"] / plain["rate"]))
        else:
            print("basic auth: skipped (htpasswd from apache2-utils is not installed)")

        bb = shutil.which("prometheus-blackbox-exporter")
        if bb:
            bcfg = os.path.join(tmp, "bb.yml")
            with open(bcfg, "w") as f:
                f.write("modules:\n  tcp:\n    prober: tcp\n    timeout: 5s\n")
            from socket import socket
            s = socket()
            s.bind(("127.0.0.1", 0))
            bport = s.getsockname()[1]
            s.close()
            bp = subprocess.Popen([bb, "--config.file", bcfg, "--web.listen-address",
                                   "127.0.0.1:%d" % bport], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
            procs.append(bp)
            time.sleep(1.5)
            bpath = "/probe?" + urlencode({"target": "127.0.0.1:%d" % ws, "module": "tcp"})
            ref = run(bport, bpath)
            show("blackbox_exporter 0.23 tcp_connect", ref)
            print("%-34s wsprobe (full WebSocket handshake and close) at %.2fx its rate, p99 "
                  "%.2fx" % ("", plain["rate"] / ref["rate"], plain["p99"] / ref["p99"]))
        else:
            print("reference: skipped (prometheus-blackbox-exporter is not installed)")

        # memory over PROBES probes: RSS every tenth
        print("memory over %d probes:" % PROBES)
        lat, errors = [], []
        per = PROBES // WORKERS
        samples = [(0, rss_kib(exp.pid))]
        done = threading.Event()

        def sampler():
            while not done.wait(1.0):
                samples.append((len(lat), rss_kib(exp.pid)))
        st = threading.Thread(target=sampler)
        st.start()
        ts = [threading.Thread(target=scrape_loop, args=(port, path, {}, time.monotonic() + 3600,
                                                         lat, errors, per))
              for _ in range(WORKERS)]
        t0 = time.monotonic()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        done.set()
        st.join()
        samples.append((len(lat), rss_kib(exp.pid)))
        took = time.monotonic() - t0
        step = max(1, len(samples) // 8)
        for n, r in samples[::step] + [samples[-1]]:
            print("  after %7d probes: RSS %6d KiB" % (n, r))
        early = [r for n, r in samples if n >= PROBES // 10]
        print("  %d probes in %.0f s (%.0f/s), %d failed; RSS from 10%% on: min %d, max %d KiB "
              "(growth %d KiB)" % (len(lat), took, len(lat) / took, len(errors), min(early),
                                   max(early), max(early) - min(early)))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
