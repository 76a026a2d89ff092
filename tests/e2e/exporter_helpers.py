"""Helpers for the `wsprobe exporter` tests: start the exporter on a free port, scrape it over a
raw socket or urllib, parse the text exposition (a parser of our own, independent of wsprobe's
writer), check it with Debian's promtool, and start Debian's Prometheus on loopback.

Every wait is bounded; every process started here is stopped by the caller's fixture."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port, wsprobe_path

START_TIMEOUT = 10.0
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """[(name, {labels}, value)] of every sample; families' HELP/TYPE lines checked to come
    before their samples. Raises AssertionError on a line that is not the format."""
    out = []
    typed = {}
    for line in text.splitlines():
        if not line or line == "# EOF":
            continue
        if line.startswith("# "):
            parts = line.split(" ", 3)
            assert parts[1] in ("HELP", "TYPE", "UNIT"), line
            if parts[1] == "TYPE":
                typed[parts[2]] = parts[3]
            continue
        m = SAMPLE.match(line)
        assert m, "not an exposition line: %r" % line
        labels = dict((k, v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
                      for k, v in LABEL.findall(m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


def values(samples, name, **labels):
    """The values of the samples named `name` whose labels include `labels`."""
    return [v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in labels.items())]


def one(samples, name, **labels):
    vs = values(samples, name, **labels)
    assert len(vs) == 1, "%s%s: expected one sample, got %r" % (name, labels, vs)
    return vs[0]


def promtool_check(text):
    """promtool check metrics on an exposition: (rc, output). Lint problems are output."""
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True,
                       timeout=30)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


class Exporter:
    def __init__(self, proc, port, workdir, scheme="http"):
        self.proc = proc
        self.port = port
        self.workdir = workdir
        self.scheme = scheme

    def url(self, path):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.port, path)

    def get(self, path, headers=None, timeout=20, method="GET", context=None):
        """(status, headers, body text) of one request; HTTP errors are answers too."""
        req = urllib.request.Request(self.url(path), headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
                return r.status, dict(r.headers), r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode(errors="replace")

    def probe(self, target, module, headers=None, **kw):
        from urllib.parse import urlencode
        return self.get("/probe?" + urlencode({"target": target, "module": module}),
                        headers=headers, **kw)

    def raw(self, data, timeout=5.0, read=True, all_answers=False):
        """Send raw bytes, read until the peer closes or the timeout: the response bytes (the
        first response only, unless all_answers: everything within the timeout)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            if not read:
                return s
            buf = b""
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                buf += chunk
                if b"\r\n\r\n" in buf and not all_answers:
                    head, _, body = buf.partition(b"\r\n\r\n")
                    m = re.search(rb"(?i)content-length: (\d+)", head)
                    if m and len(body) >= int(m.group(1)):
                        break
            return buf
        finally:
            if read:
                s.close()

    def log(self):
        p = self.workdir / "stderr.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.proc.returncode


def start_exporter(workdir: Path, config_text, *args, env=None, expect_fail=False,
                   scheme="http"):
    """`wsprobe exporter` with config_text as its modules, on a free port (port 0 and
    --port-file). With expect_fail: (rc, stderr) of one that must refuse to start."""
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "modules.yaml"
    cfg.write_text(config_text)
    port_file = workdir / "port.json"
    if port_file.exists():
        port_file.unlink()
    cmd = [str(wsprobe_path()), "exporter", "--config", str(cfg), "--listen", "127.0.0.1:0",
           "--port-file", str(port_file)] + [str(a) for a in args]
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    err = open(workdir / "stderr.log", "wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                            env=full_env, cwd=workdir, start_new_session=True)
    err.close()
    if expect_fail:
        try:
            rc = proc.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("the exporter started though it should have refused")
        return rc, (workdir / "stderr.log").read_text(errors="replace")
    end = time.monotonic() + START_TIMEOUT
    while time.monotonic() < end:
        if port_file.exists() and port_file.stat().st_size > 0:
            try:
                port = json.loads(port_file.read_text())["port"]
                return Exporter(proc, port, workdir, scheme)
            except ValueError:
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    pytest.fail("exporter did not start:\n" + (workdir / "stderr.log").read_text(errors="replace"))


class Prometheus:
    def __init__(self, proc, port, workdir):
        self.proc = proc
        self.port = port
        self.workdir = workdir

    def query(self, expr):
        from urllib.parse import urlencode
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (self.port, urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=10) as r:
            doc = json.loads(r.read())
        assert doc["status"] == "success", doc
        return doc["data"]["result"]

    def wait_for(self, expr, pred, timeout=30):
        """Poll a query until pred(result) holds; the last result either way."""
        end = time.monotonic() + timeout
        res = []
        while time.monotonic() < end:
            try:
                res = self.query(expr)
                if pred(res):
                    return res
            except (urllib.error.URLError, OSError, AssertionError):
                pass
            time.sleep(0.5)
        return res

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_prometheus(workdir: Path, config_text):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("prometheus is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "prometheus.yml"
    cfg.write_text(config_text)
    port = free_port()
    err = open(workdir / "prometheus.log", "wb")
    proc = subprocess.Popen([PROMETHEUS, "--config.file", str(cfg), "--storage.tsdb.path",
                             str(workdir / "data"), "--web.listen-address",
                             "127.0.0.1:%d" % port],
                            stdout=err, stderr=err, stdin=subprocess.DEVNULL, cwd=workdir,
                            start_new_session=True)
    err.close()
    p = Prometheus(proc, port, workdir)
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % port, timeout=2) as r:
                if r.status == 200:
                    return p
        except (urllib.error.URLError, OSError):
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    p.stop()
    pytest.fail("prometheus did not start:\n" +
                (workdir / "prometheus.log").read_text(errors="replace")[-3000:])
