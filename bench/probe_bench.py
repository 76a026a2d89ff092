#!/usr/bin/python3
"""Benchmark one complete probe over wss (TLS 1.3; connect, upgrade, one 32-byte round trip,
close) against a loopback echo server (`wsprobe serve --echo`, so the server's own speed takes
as little of the figure as possible; SERVER=python uses a python3-websockets echo server): median whole-process wall and CPU time
over N runs, for wsprobe and, side by side in the same run, Debian's python3-websockets client,
npm's wscat, and a Node `ws` script doing the same work. Prints figures; never fails on time.

usage: bench/probe_bench.py WSPROBE [RUNS]"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WSPROBE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build/wsprobe"
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 50
MSG = "x" * 32
PY = "/usr/bin/python3"

SERVER = r'''
import asyncio, ssl, sys, websockets
async def echo(ws):
    async for m in ws:
        await ws.send(m)
async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    async with websockets.serve(echo, "127.0.0.1", int(sys.argv[1]), ssl=ctx):
        print("ready", flush=True)
        await asyncio.Future()
asyncio.run(main())
'''

PY_CLIENT = r'''
import asyncio, ssl, sys, websockets
async def main():
    ctx = ssl.create_default_context(cafile=sys.argv[2])
    async with websockets.connect(sys.argv[1], ssl=ctx) as ws:
        await ws.send(sys.argv[3])
        assert await ws.recv() == sys.argv[3]
asyncio.run(main())
'''

NODE_CLIENT = r'''
const WebSocket = require(process.argv[2]);
const fs = require('fs');
const ws = new WebSocket(process.argv[3], { ca: fs.readFileSync(process.argv[4]) });
ws.on('open', () => ws.send(process.argv[5]));
ws.on('message', (m) => { if (m.toString() !== process.argv[5]) process.exit(1); ws.close(1000); });
ws.on('close', () => process.exit(0));
ws.on('error', (e) => { console.error(e.message); process.exit(1); });
'''


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


SPAWN_TIME = None


def measure(argv, env=None):
    """Run argv RUNS times from bench/spawn_time.c (posix_spawn from a small C parent: a Python
    parent would add ~2 ms to every figure); return (median wall ms, median CPU ms, failures)."""
    out = subprocess.run([SPAWN_TIME, str(RUNS)] + [shutil.which(argv[0]) or argv[0]] + argv[1:],
                         capture_output=True, text=True, env=env, timeout=600).stdout
    f = dict(kv.split("=") for kv in out.split())
    return float(f["wall_ms"]), float(f["cpu_ms"]), int(f["fails"])


def main():
    global SPAWN_TIME
    tmp = tempfile.mkdtemp(prefix="wsprobe-bench-")
    procs = []
    try:
        SPAWN_TIME = os.path.join(tmp, "spawn_time")
        subprocess.run(["cc", "-O2", "-o", SPAWN_TIME, os.path.join(HERE, "spawn_time.c")],
                       check=True)
        run = lambda *a: subprocess.run(a, cwd=tmp, check=True, capture_output=True)
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench-ca")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost")
        with open(os.path.join(tmp, "ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        run("openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "ext")
        for name, text in (("server.py", SERVER), ("client.py", PY_CLIENT), ("client.js", NODE_CLIENT)):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        port = free_port()
        ca = os.path.join(tmp, "ca.pem")
        if os.environ.get("SERVER") == "python":
            srv = subprocess.Popen([PY, os.path.join(tmp, "server.py"), str(port),
                                    os.path.join(tmp, "leaf.pem"), os.path.join(tmp, "leaf.key")],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            procs.append(srv)
            srv.stdout.readline()
            server_name = "python3-websockets"
        else:
            srv = subprocess.Popen([WSPROBE, "serve", "--tls-listen", "127.0.0.1:%d" % port,
                                    "--listen", "127.0.0.1:0", "--cert",
                                    os.path.join(tmp, "leaf.pem"), "--key",
                                    os.path.join(tmp, "leaf.key"), "--path", "/", "--echo",
                                    "--unsafe-no-auth", "-q"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(srv)
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.02)
            server_name = "wsprobe serve --echo"
        url = "wss://localhost:%d/" % port

        rows = []
        rows.append(("wsprobe probe", measure([WSPROBE, "probe", url, "--cacert", ca, "--send", MSG,
                                               "--expect-text", MSG, "-q"])))
        rows.append(("python3-websockets client",
                     measure([PY, os.path.join(tmp, "client.py"), url, ca, MSG])))
        node = shutil.which("node")
        npm = shutil.which("npm")
        if node and npm:
            nd = os.path.join(tmp, "npm")
            os.makedirs(nd)
            ok = subprocess.run([npm, "install", "--silent", "--prefix", nd, "wscat@6", "ws@8"],
                                capture_output=True, timeout=180).returncode == 0
            if ok:
                rows.append(("node ws script", measure([node, os.path.join(tmp, "client.js"),
                                                        os.path.join(nd, "node_modules", "ws"),
                                                        url, ca, MSG])))
                wscat = os.path.join(nd, "node_modules", ".bin", "wscat")
                env = dict(os.environ, NODE_EXTRA_CA_CERTS=ca)
                # wscat -x sends and exits after -w seconds without waiting for the echo: its
                # time is a lower bound of the same work
                rows.append(("wscat -x (no wait for reply)",
                             measure([wscat, "-c", url, "-x", MSG, "-w", "0"], env=env)))
            else:
                print("npm install failed: node clients not measured")
        base_wall, base_cpu = rows[0][1][0], rows[0][1][1]
        print("probe over wss (TLS 1.3, 32-byte round trip) against %s, %d runs each, medians"
              % (server_name, RUNS))
        print("%-30s %10s %10s %9s %9s %6s" % ("client", "wall ms", "cpu ms", "wall x", "cpu x",
                                               "fails"))
        for name, (wall, cpu, fails) in rows:
            print("%-30s %10.2f %10.2f %9.1f %9.1f %6d" % (name, wall, cpu, wall / base_wall,
                                                          cpu / base_cpu if base_cpu else 0, fails))
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
