"""What the Python benchmarks share: `wsprobe serve --echo` on a free loopback port."""
import json
import os
import subprocess
import sys
import time


def start_echo_serve(wsprobe, tmp, max_conns_per_ip=5000):
    """`wsprobe serve --echo` without auth or limits on 127.0.0.1 port 0: (process, ws port)."""
    pf = os.path.join(tmp, "ports.json")
    p = subprocess.Popen([wsprobe, "serve", "--listen", "127.0.0.1:0", "--echo",
                          "--unsafe-no-auth", "--unsafe-no-limits", "--max-conns-per-ip",
                          str(max_conns_per_ip), "--port-file", pf, "-q"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(pf):
            try:
                return p, json.load(open(pf))["ws"]
            except ValueError:
                pass
        time.sleep(0.02)
    p.kill()
    sys.exit("serve did not start")
