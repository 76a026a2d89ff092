"""End-to-end tests of `wsprobe exporter` (issue 16), written from its requirements alone.

Every test runs real processes on loopback: the exporter under test, peers (python3-websockets
echo, the hostile server, `wsprobe serve`, a tiny RFC 6455 server written here that counts
bytes), Debian's promtool and Prometheus. The right answer always comes from what the peer
really does (a raw socket, http.client, Python's ssl module), never from what wsprobe prints.
Expositions are parsed by the small parser below and checked by `promtool check metrics`.

Every wait is bounded; every process started is stopped (SIGTERM, then SIGKILL) at teardown.
"""
import asyncio
import base64
import hashlib
import http.client
import json
import os
import re
import resource
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import websockets  # Debian's python3-websockets (a client independent of wsprobe)

from conftest import exit_codes, free_port, wsprobe_path
from serve_helpers import OTHER_SECRET, SECRET, SECRET_ENV, mint, run, start_serve

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
HTPASSWD = "/usr/bin/htpasswd"
OPENSSL = "/usr/bin/openssl"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 8.0

PHASES = {"resolve", "connect", "proxy", "tls", "upgrade", "first_message", "roundtrip", "close",
          "eio_open", "namespace_connect", "open"}
PROBE_LABELS = {"phase", "class", "direction", "version", "address"}
TEXT_CT = "text/plain; version=0.0.4"
OM_CT = "application/openmetrics-text; version=1.0.0"
PROM_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
               "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


# ---------------------------------------------------------------------------------------------
# A small parser of the Prometheus text exposition (0.0.4) and OpenMetrics 1.0

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)"
                     r"(?:[ \t]+(-?[0-9]+(?:\.[0-9]+)?))?$")
_LNAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESC = {"\\": "\\", '"': '"', "n": "\n"}


def _labels(s, line):
    out = {}
    i, n = 0, len(s)
    while i < n:
        m = _LNAME.match(s, i)
        assert m, "bad label name at %d in %r" % (i, line)
        name, i = m.group(0), m.end()
        assert s[i:i + 2] == '="', "label %s without =\" in %r" % (name, line)
        i += 2
        val = []
        while True:
            assert i < n, "unterminated label value in %r" % line
            c = s[i]
            if c == "\\":
                assert i + 1 < n and s[i + 1] in _ESC, "bad escape in %r" % line
                val.append(_ESC[s[i + 1]])
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                assert c != "\n"
                val.append(c)
                i += 1
        assert name not in out, "label %s twice in %r" % (name, line)
        out[name] = "".join(val)
        if i < n:
            assert s[i] == ",", "expected ',' at %d in %r" % (i, line)
            i += 1
    return out


class Exposition:
    """The samples of one exposition: [(name, {labels}, value)], with TYPE/HELP/UNIT."""

    SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count",
                                                                "_created"),
                "summary": ("_sum", "_count", "_created"), "info": ("_info",), "gauge": (),
                "untyped": (), "unknown": (), "stateset": (), "gaugehistogram": ("_bucket",
                                                                                "_gsum", "_gcount")}

    def __init__(self, text, openmetrics=False):
        self.text = text
        self.openmetrics = openmetrics
        self.samples, self.types, self.helps, self.units = [], {}, {}, {}
        assert text.endswith("\n"), "exposition does not end with a newline: %r" % text[-80:]
        lines = text[:-1].split("\n")
        if openmetrics:
            assert lines[-1] == "# EOF", "OpenMetrics without a final # EOF: %r" % lines[-3:]
            lines = lines[:-1]
            assert "# EOF" not in lines
        order = []
        for line in lines:
            if line.startswith("#"):
                parts = line.split(" ", 3)
                if len(parts) >= 3 and parts[1] in ("HELP", "TYPE", "UNIT"):
                    name = parts[2]
                    assert _LNAME.fullmatch(name.replace(":", "_")), line
                    rest = parts[3] if len(parts) > 3 else ""
                    table = {"HELP": self.helps, "TYPE": self.types, "UNIT": self.units}[parts[1]]
                    assert name not in table, "%s %s twice" % (parts[1], name)
                    table[name] = rest
                    if parts[1] == "TYPE":
                        assert rest in self.SUFFIXES, "unknown type in %r" % line
                        if not openmetrics:
                            assert rest in ("counter", "gauge", "histogram", "summary",
                                            "untyped"), line
                    if parts[1] == "UNIT":
                        assert openmetrics, "UNIT in the text format: %r" % line
                        assert name.endswith("_" + rest), "UNIT %s not a suffix of %s" % (
                            rest, name)
                    continue
                assert not openmetrics, "a bare comment in OpenMetrics: %r" % line
                continue
            if not line.strip():
                assert not openmetrics, "an empty line in OpenMetrics"
                continue
            m = _SAMPLE.match(line)
            assert m, "not a sample line: %r" % line
            name, lab, val = m.group(1), m.group(2), m.group(3)
            try:
                value = float(val)  # also +Inf, -Inf, NaN
            except ValueError:
                raise AssertionError("not a number in %r" % line)
            labels = _labels(lab, line) if lab else {}
            fam = self.family(name)
            assert fam is not None, "sample %s has no TYPE" % name
            if not order or order[-1] != fam:
                assert fam not in order, "family %s is not contiguous" % fam
                order.append(fam)
            self.samples.append((name, labels, value))
        keys = [(n, tuple(sorted(lb.items()))) for n, lb, _ in self.samples]
        dup = {k for k in keys if keys.count(k) > 1}
        assert not dup, "series written twice: %r" % dup

    def family(self, name):
        if name in self.types:
            t = self.types[name]
            if not (self.openmetrics and t in ("counter", "info")):
                return name
        for fam, t in self.types.items():
            for suf in self.SUFFIXES[t]:
                if name == fam + suf:
                    return fam
        return None

    def find(self, name, **labels):
        """[(labels, value)] of the series `name` whose labels include `labels`."""
        return [(lb, v) for n, lb, v in self.samples
                if n == name and all(lb.get(k) == want for k, want in labels.items())]

    def value(self, name, **labels):
        """The value of the one series `name` with exactly these labels."""
        hits = [v for n, lb, v in self.samples if n == name and lb == labels]
        assert len(hits) == 1, "%d series %s%r in:\n%s" % (len(hits), name, labels, self.text)
        return hits[0]

    def has(self, name, **labels):
        return bool(self.find(name, **labels))

    def names(self):
        return {n for n, _, _ in self.samples}


def promtool_check(text):
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True,
                       timeout=20)
    assert r.returncode == 0, "promtool check metrics failed (%d): %s %s\n%s" % (
        r.returncode, r.stdout.decode(), r.stderr.decode(), text)


def test_parser_self_check():
    """The parser rejects what it must, so a pass below means something."""
    good = ('# HELP a_b x\n# TYPE a_b gauge\na_b{x="1",y="q\\"\\n\\\\"} 2.5\n'
            '# TYPE c_total counter\nc_total 3\n')
    e = Exposition(good)
    assert e.value("a_b", x="1", y='q"\n\\') == 2.5 and e.value("c_total") == 3
    for bad in ("a_b 1\n", "# TYPE a gauge\na{x=1} 1\n", "# TYPE a gauge\na 1\na 2\n",
                "# TYPE a gauge\na one\n",
                "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"\"} 1\n",
                "# TYPE a gauge\na 1"):
        with pytest.raises(AssertionError):
            Exposition(bad)
    with pytest.raises(AssertionError):
        Exposition("# TYPE a gauge\na 1\n", openmetrics=True)  # no # EOF
    Exposition("# TYPE a_seconds gauge\n# UNIT a_seconds seconds\na_seconds 1\n# EOF\n",
               openmetrics=True)
    with pytest.raises(AssertionError):  # a UNIT that is not the name's suffix
        Exposition("# TYPE a gauge\n# UNIT a seconds\na 1\n# EOF\n", openmetrics=True)


def check_probe_labels(exp):
    """Cardinality: every label of a probe's series comes from a fixed set."""
    classes = set(exit_codes())
    for name, labels, value in exp.samples:
        assert name.startswith("wsprobe_"), name
        assert not name.endswith("_total"), "a probe's gauge %s ends in _total" % name
        assert exp.types[exp.family(name)] in ("gauge", "info"), name
        assert set(labels) <= PROBE_LABELS, "unexpected labels %r on %s" % (labels, name)
        if "phase" in labels:
            allowed = PHASES | ({"done"} if name == "wsprobe_probe_failure_info" else set())
            assert labels["phase"] in allowed, labels
        if "class" in labels:
            assert labels["class"] in classes, labels
        if "direction" in labels:
            assert labels["direction"] in ("sent", "received"), labels
        if "version" in labels:
            assert re.fullmatch(r"TLSv1(\.[0-3])?|SSLv3", labels["version"]), labels
        if "address" in labels:
            socket.inet_pton(socket.AF_INET6 if ":" in labels["address"] else socket.AF_INET,
                             labels["address"])


# ---------------------------------------------------------------------------------------------
# The exporter under test

@dataclass
class Resp:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def exposition(self):
        ct = self.headers.get("content-type", "")
        om = ct.startswith("application/openmetrics-text")
        return Exposition(self.text, openmetrics=om)


def config_text(**modules):
    """A configuration (JSON is YAML) with these modules."""
    return json.dumps({"modules": modules}, indent=2) + "\n"


def mod(allowed=("ws://127.0.0.1:*/*",), **keys):
    m = {}
    if allowed is not None:
        m["allowed_targets"] = list(allowed)
    m["timeout"] = "3s"
    m.update(keys)
    return m


class Exporter:
    def __init__(self, workdir, proc, config_path, tls_ctx=None):
        self.workdir = workdir
        self.proc = proc
        self.config_path = config_path
        self.tls_ctx = tls_ctx
        self.port = None

    # -- HTTP --------------------------------------------------------------------------------
    def conn(self, timeout=15.0):
        if self.tls_ctx is not None:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=self.tls_ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, headers=None, body=None, auth=None, timeout=15.0, conn=None):
        c = conn or self.conn(timeout)
        try:
            h = dict(headers or {})
            if auth is not None:
                h["Authorization"] = "Basic " + base64.b64encode(
                    ("%s:%s" % auth).encode()).decode()
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            if conn is None:
                c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def probe(self, target, module=None, headers=None, **kw):
        q = [("target", target)]
        if module is not None:
            q.append(("module", module))
        return self.get("/probe?" + urllib.parse.urlencode(q), headers=headers, **kw)

    def probe_exp(self, target, module=None, headers=None, **kw):
        """A probe that must be answered 200 with a valid exposition; its Exposition."""
        r = self.probe(target, module, headers=headers, **kw)
        assert r.status == 200, "probe of %s: %d %r" % (target, r.status, r.body[:300])
        exp = r.exposition()
        check_probe_labels(exp)
        if not exp.openmetrics:
            promtool_check(r.text)
        return exp

    def metrics(self, **kw):
        r = self.get("/metrics", **kw)
        assert r.status == 200, r
        return r.exposition()

    def raw(self, data, timeout=5.0, until_close=True):
        """Send raw bytes; read until the peer closes (or the timeout); the bytes read."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            return read_until_close(s, timeout)
        finally:
            s.close()

    # -- process -----------------------------------------------------------------------------
    def stderr(self):
        p = self.workdir / "stderr.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signal; the exit code (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                return None
        return self.proc.returncode


def read_until_close(s, timeout):
    end = time.monotonic() + timeout
    out = b""
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except (ConnectionResetError, ssl.SSLError, OSError):
            break
        if not chunk:
            break
        out += chunk
    return out


def exporter_argv(config_path, port_file, *args, listen="127.0.0.1:0"):
    argv = [str(wsprobe_path()), "exporter", "--config", str(config_path)]
    if listen is not None:
        argv += ["--listen", listen]
    return argv + ["--port-file", str(port_file)] + [str(a) for a in args]


@pytest.fixture
def exporters(tmp_path):
    """start(config_text, *args, env=, web=, tls_ctx=) -> a running Exporter (stopped at the
    end of the test)."""
    made = []

    def start(config, *args, env=None, web=None, tls_ctx=None, listen="127.0.0.1:0"):
        wd = tmp_path / ("exporter-%d" % len(made))
        wd.mkdir()
        cfg = wd / "exporter.yml"
        cfg.write_text(config)
        pf = wd / "port.json"
        argv = exporter_argv(cfg, pf, *args, listen=listen)
        if web is not None:
            (wd / "web.yml").write_text(web)
            argv += ["--web.config.file", str(wd / "web.yml")]
        full_env = dict(os.environ, NO_COLOR="1")
        full_env.update(env or {})
        err = open(wd / "stderr.log", "wb")
        proc = subprocess.Popen(argv, stdout=err, stderr=err, stdin=subprocess.DEVNULL,
                                env=full_env, start_new_session=True)
        err.close()
        ex = Exporter(wd, proc, cfg, tls_ctx)
        made.append(ex)
        end = time.monotonic() + START_TIMEOUT
        while time.monotonic() < end:
            if pf.exists():
                try:
                    ex.port = int(json.loads(pf.read_text())["port"])
                    break
                except (ValueError, KeyError):
                    pass
            if proc.poll() is not None:
                pytest.fail("exporter exited %d at start:\n%s" % (proc.returncode, ex.stderr()))
            time.sleep(0.02)
        else:
            pytest.fail("exporter wrote no port file in %.0fs:\n%s" % (START_TIMEOUT, ex.stderr()))
        return ex

    yield start
    for ex in made:
        ex.stop()


def run_exporter_expect_exit(tmp_path, config, *args, listen="127.0.0.1:0", web=None,
                             env=None, timeout=10.0):
    """Run an exporter that must exit by itself at start; (rc, stderr, port_file_written)."""
    wd = tmp_path / ("failing-%d" % time.monotonic_ns())
    wd.mkdir()
    cfg = wd / "exporter.yml"
    if config is not None:
        cfg.write_text(config)
    pf = wd / "port.json"
    argv = [str(wsprobe_path()), "exporter", "--config", str(cfg), "--listen", listen,
            "--port-file", str(pf)] + [str(a) for a in args]
    if web is not None:
        (wd / "web.yml").write_text(web)
        argv += ["--web.config.file", str(wd / "web.yml")]
    full_env = dict(os.environ, NO_COLOR="1")
    full_env.update(env or {})
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=full_env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=5)
        pytest.fail("the exporter kept running although it should have refused to start: %s"
                    % argv)
    return proc.returncode, (out + err).decode(errors="replace"), pf.exists()


# ---------------------------------------------------------------------------------------------
# Peers

@pytest.fixture
def echo(peers):
    """python3-websockets echo server on 127.0.0.1 (shared by the worker's tests)."""
    return peers.echo()


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    """`wsprobe serve` with JWT auth (SECRET in SECRET_ENV), ws and wss (its own CA)."""
    srv = start_serve(tmp_path_factory.mktemp("serve"), tls=True, auth=True)
    yield srv
    srv.stop()


class Listener:
    """A TCP listener on loopback that hands each connection to on_conn on its own thread."""

    def __init__(self, host="127.0.0.1", port=0, backlog=64):
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.on_conn(c)

    def on_conn(self, c):
        c.close()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=2)


class Canary(Listener):
    """A TCP listener that only counts the connections it gets (a probe must never reach it)."""

    def __init__(self, host="127.0.0.1", port=0):
        self.count = 0
        super().__init__(host, port)

    def on_conn(self, c):
        self.count += 1
        c.close()


class CountingWS(Listener):
    """A minimal RFC 6455 server written here: answers the upgrade, echoes data frames, answers
    a close with the same code, and counts every byte and message each way per connection."""

    GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, host="127.0.0.1", tls=None):
        self.conns = []
        self.tls = None
        if tls is not None:  # (cert, key)
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(str(tls[0]), str(tls[1]))
        super().__init__(host)

    def on_conn(self, c):
        threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def frame(op, payload):
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | op, n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | op, 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | op, 127, n)
        return head + payload

    def _serve(self, c):
        st = {"rx": 0, "tx": 0, "rx_msgs": 0, "tx_msgs": 0, "close_code": None, "done": False,
              "request": b""}
        self.conns.append(st)
        c.settimeout(5)
        buf = bytearray()
        if self.tls is not None:
            try:
                c = self.tls.wrap_socket(c, server_side=True)
            except (OSError, ssl.SSLError):
                st["done"] = True
                c.close()
                return

        def recv():
            d = c.recv(65536)
            st["rx"] += len(d)
            buf.extend(d)
            return d

        def need(n):
            while len(buf) < n:
                if not recv():
                    raise EOFError

        def send(b):
            c.sendall(b)
            st["tx"] += len(b)

        try:
            while b"\r\n\r\n" not in buf:
                if not recv():
                    return
            i = buf.index(b"\r\n\r\n") + 4
            head = bytes(buf[:i])
            del buf[:i]
            st["request"] = head
            key = re.search(rb"(?im)^sec-websocket-key:[ \t]*(\S+)", head).group(1)
            acc = base64.b64encode(hashlib.sha1(key + self.GUID).digest())
            send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc + b"\r\n\r\n")
            while True:
                need(2)
                b0, b1 = buf[0], buf[1]
                op, n, off = b0 & 0x0F, b1 & 0x7F, 2
                if n == 126:
                    need(4)
                    n, off = struct.unpack("!H", bytes(buf[2:4]))[0], 4
                elif n == 127:
                    need(10)
                    n, off = struct.unpack("!Q", bytes(buf[2:10]))[0], 10
                masked = b1 & 0x80
                need(off + (4 if masked else 0) + n)
                mask = bytes(buf[off:off + 4]) if masked else b"\0\0\0\0"
                off += 4 if masked else 0
                payload = bytes(b ^ mask[k % 4] for k, b in enumerate(buf[off:off + n]))
                del buf[:off + n]
                if op in (1, 2):
                    st["rx_msgs"] += 1
                    send(self.frame(op, payload))
                    st["tx_msgs"] += 1
                elif op == 9:
                    send(self.frame(10, payload))
                elif op == 8:
                    if len(payload) >= 2:
                        st["close_code"] = struct.unpack("!H", payload[:2])[0]
                    send(self.frame(8, payload[:2]))
                    while recv():
                        pass
                    return
        except (OSError, EOFError, AttributeError):
            pass
        finally:
            try:
                c.close()
            finally:
                st["done"] = True

    def wait_done(self, count=1, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self.conns) >= count and all(s["done"] for s in self.conns):
                return self.conns
            time.sleep(0.02)
        pytest.fail("the counting server's connections did not end: %r" % self.conns)


@pytest.fixture
def counting_ws():
    srv = CountingWS()
    yield srv
    srv.close()


@pytest.fixture
def unanswered(unanswered_port):
    """A loopback port whose SYNs are dropped (TCP_TIMEOUT): conftest's."""
    return unanswered_port


def refused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def upgrade_status(port, path="/ws", headers=(), tls_ctx=None):
    """The status a plain upgrade request (no credential) gets from a peer, by http.client."""
    if tls_ctx is not None:
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=tls_ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        h = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
             "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}
        h.update(dict(headers))
        c.request("GET", path, headers=h)
        return c.getresponse().status
    finally:
        c.close()


def phases(exp, **labels):
    return {lb["phase"]: v for lb, v in exp.find("wsprobe_phase_duration_seconds", **labels)
            if set(lb) - {"phase"} == set(labels)}


def failure(exp, **labels):
    """[(class, phase)] of the failure_info series with exactly `labels` besides them."""
    out = []
    for lb, v in exp.find("wsprobe_probe_failure_info", **labels):
        if set(lb) - {"class", "phase"} == set(labels):
            assert v == 1
            out.append((lb["class"], lb["phase"]))
    return out


# ---------------------------------------------------------------------------------------------
# /probe: success, phases, bytes

def test_probe_success_handshake_only(exporters, echo):
    ex = exporters(config_text(ws=mod()))
    r = ex.probe(echo.url("/x"), "ws")
    assert r.status == 200
    assert r.headers["content-type"].startswith(TEXT_CT)
    exp = ex.probe_exp(echo.url("/x"), "ws")
    assert exp.value("wsprobe_probe_success") == 1
    assert not exp.has("wsprobe_probe_failure_info")
    assert exp.value("wsprobe_http_status_code") == 101
    ph = phases(exp)
    assert {"resolve", "connect", "upgrade", "close"} <= set(ph), ph
    # no TLS, no conversation, no proxy: those phases did not happen
    for absent in ("tls", "first_message", "roundtrip", "proxy", "eio_open", "namespace_connect"):
        assert absent not in ph, ph
    assert not exp.has("wsprobe_tls_version_info")
    assert not exp.has("wsprobe_tls_cert_expiry_timestamp_seconds")
    total = exp.value("wsprobe_probe_duration_seconds")
    assert 0 < total < 5
    for name, v in ph.items():
        assert 0 <= v <= total + 1e-3, (name, v, total)
    assert exp.value("wsprobe_messages", direction="sent") == 0
    assert exp.value("wsprobe_messages", direction="received") == 0
    assert exp.value("wsprobe_ws_close_code") == 1000
    # every name the spec lists has the documented type and no _total
    for name in exp.names():
        assert exp.types[name] == "gauge", name


def test_probe_module_may_be_omitted_with_one_module(exporters, echo):
    ex = exporters(config_text(only=mod()))
    assert ex.probe_exp(echo.url("/x")).value("wsprobe_probe_success") == 1
    ex2 = exporters(config_text(a=mod(), b=mod()))
    r = ex2.probe(echo.url("/x"))
    assert r.status == 400, r


def test_bytes_messages_and_close_code_match_the_peer(exporters, counting_ws):
    """A conversation against a server that counts: wsprobe_bytes / wsprobe_messages equal
    what the server saw, the close code is the one on the wire, and first_message/roundtrip
    phases appear because the conversation happened."""
    conv = {"send": "hello-bytes-0123456789", "expect": {"text": "hello-bytes-0123456789"}}
    ex = exporters(config_text(conv=mod(conversation=conv)))
    exp = ex.probe_exp("ws://127.0.0.1:%d/count" % counting_ws.port, "conv")
    st = counting_ws.wait_done(1)[0]
    assert exp.value("wsprobe_probe_success") == 1, exp.text
    assert exp.value("wsprobe_bytes", direction="sent") == st["rx"], (st, exp.text)
    assert exp.value("wsprobe_bytes", direction="received") == st["tx"], (st, exp.text)
    assert exp.value("wsprobe_messages", direction="sent") == st["rx_msgs"] == 1
    assert exp.value("wsprobe_messages", direction="received") == st["tx_msgs"] == 1
    assert st["close_code"] is not None
    assert exp.value("wsprobe_ws_close_code") == st["close_code"]
    ph = phases(exp)
    assert {"connect", "upgrade", "first_message", "roundtrip", "close"} <= set(ph), ph
    assert "tls" not in ph
    assert b"GET /count" in st["request"]


class CountingForwarder(Listener):
    """A TCP forwarder that counts the raw bytes each way (what goes through the socket)."""

    def __init__(self, backend_port):
        self.backend_port = backend_port
        self.up = self.down = 0
        self.pumps = []
        super().__init__(backlog=8)

    def on_conn(self, c):
        u = socket.create_connection(("127.0.0.1", self.backend_port), timeout=5)
        for a, b, up in ((c, u, True), (u, c, False)):
            t = threading.Thread(target=self._pump, args=(a, b, up), daemon=True)
            t.start()
            self.pumps.append(t)

    def _pump(self, a, b, up):
        a.settimeout(10)
        while True:
            try:
                d = a.recv(65536)
            except OSError:
                d = b""
            if not d:
                try:
                    b.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if up:
                self.up += len(d)
            else:
                self.down += len(d)
            try:
                b.sendall(d)
            except OSError:
                return

    def wait(self, timeout=5.0):
        end = time.monotonic() + timeout
        for t in self.pumps:
            t.join(timeout=max(0.05, end - time.monotonic()))


def test_bytes_over_tls_are_the_tls_records(exporters, pki):
    """docs/exporter.md: wsprobe_bytes counts the bytes through the socket, over TLS its
    records and handshake. A forwarder in front of the TLS server counts exactly those; the
    server behind it counts the plaintext, which must be less."""
    srv = CountingWS(tls=pki.server_pair("trusted"))
    fwd = CountingForwarder(srv.port)
    try:
        conv = {"send": "tls-bytes-" + "x" * 300, "expect": {"text": "tls-bytes-" + "x" * 300}}
        ex = exporters(config_text(wss=mod(allowed=["wss://127.0.0.1:*/*"], conversation=conv,
                                           tls={"cacert": str(pki.ca)})))
        exp = ex.probe_exp("wss://127.0.0.1:%d/count" % fwd.port, "wss")
        st = srv.wait_done(1)[0]
        fwd.wait()
    finally:
        fwd.close()
        srv.close()
    assert exp.value("wsprobe_probe_success") == 1, exp.text
    assert exp.value("wsprobe_messages", direction="sent") == st["rx_msgs"] == 1
    assert exp.value("wsprobe_messages", direction="received") == st["tx_msgs"] == 1
    ph = phases(exp)
    assert {"tls", "upgrade", "first_message", "roundtrip"} <= set(ph)
    seq = sum(ph[p] for p in ("resolve", "connect", "tls", "upgrade") if p in ph)
    assert seq <= exp.value("wsprobe_probe_duration_seconds") + 1e-3, (ph, exp.text)
    sent = exp.value("wsprobe_bytes", direction="sent")
    received = exp.value("wsprobe_bytes", direction="received")
    assert (sent, received) == (fwd.up, fwd.down), (st, fwd.up, fwd.down, exp.text)
    assert sent > st["rx"] and received > st["tx"]  # records and handshake, not plaintext


async def _close_code_after_one_message(url):
    async with websockets.connect(url, open_timeout=5, close_timeout=3) as ws:
        await ws.send("ping-me")
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        except websockets.exceptions.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd is not None else None


@pytest.mark.parametrize("path,klass", [("/echo", "WS_EXPECT_MISMATCH"),
                                        ("/close/4000", "WS_CLOSED")])
def test_conversation_failures_have_their_class(exporters, echo, path, klass):
    conv = {"send": "ping-me", "expect": {"text": "something-else"}, "within": "1s"}
    ex = exporters(config_text(conv=mod(conversation=conv)))
    r = ex.probe(echo.url(path), "conv")
    assert r.status == 200
    exp = r.exposition()
    promtool_check(r.text)
    assert exp.value("wsprobe_probe_success") == 0
    assert [lb["class"] for lb, _ in exp.find("wsprobe_probe_failure_info")] == [klass], exp.text
    assert exp.value("wsprobe_http_status_code") == 101
    assert exp.value("wsprobe_messages", direction="sent") == 1
    if klass == "WS_CLOSED":
        code = run(_close_code_after_one_message(echo.url(path)))  # what the peer does
        assert code == 4000
        assert exp.value("wsprobe_ws_close_code") == code
    else:
        assert exp.value("wsprobe_messages", direction="received") == 1


@pytest.mark.parametrize("path", ["/echo", "/close/4000"])
def test_conversation_failure_phase_is_open(exporters, echo, path):
    conv = {"send": "ping-me", "expect": {"text": "something-else"}, "within": "1s"}
    ex = exporters(config_text(conv=mod(conversation=conv)))
    exp = ex.probe_exp(echo.url(path), "conv")
    assert exp.value("wsprobe_probe_success") == 0
    f = failure(exp)
    # docs/exporter.md: a conversation that failed on the open connection has phase "open"
    # (the probe JSON's failed_phase); "done" is for a health check after a held connection
    assert len(f) == 1 and f[0][1] == "open", exp.text


def test_health_check(exporters, echo):
    # what the peer really answers on plain HTTP
    c = http.client.HTTPConnection("127.0.0.1", echo.port, timeout=5)
    c.request("GET", "/health")
    assert c.getresponse().status == 200
    c.close()
    c = http.client.HTTPConnection("127.0.0.1", echo.port, timeout=5)
    c.request("GET", "/status/500")
    assert c.getresponse().status == 500
    c.close()
    ex = exporters(config_text(good=mod(health="/health"), bad=mod(health="/status/500"),
                               url=mod(health="http://127.0.0.1:%d/health" % echo.port)))
    assert ex.probe_exp(echo.url("/x"), "good").value("wsprobe_probe_success") == 1
    assert ex.probe_exp(echo.url("/x"), "url").value("wsprobe_probe_success") == 1
    exp = ex.probe_exp(echo.url("/x"), "bad")
    assert exp.value("wsprobe_probe_success") == 0
    f = failure(exp)
    assert len(f) == 1 and f[0][1] == "done", exp.text
    # the connection itself held
    assert exp.value("wsprobe_http_status_code") == 101


# ---------------------------------------------------------------------------------------------
# /probe: failures with their class and phase

def test_refused_connection(exporters):
    port = refused_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    ex = exporters(config_text(ws=mod()))
    exp = ex.probe_exp("ws://127.0.0.1:%d/x" % port, "ws")
    assert exp.value("wsprobe_probe_success") == 0
    assert failure(exp) == [("TCP_REFUSED", "connect")], exp.text
    ph = phases(exp)
    for absent in ("tls", "upgrade", "first_message", "roundtrip", "close"):
        assert absent not in ph, ph
    assert not exp.has("wsprobe_http_status_code")  # no status line came
    assert not exp.has("wsprobe_ws_close_code")
    assert exp.value("wsprobe_bytes", direction="received") == 0


@pytest.mark.parametrize("path,klass", [
    ("/status/404", "UPGRADE_NOT_FOUND"),
    ("/status/403", "UPGRADE_AUTH"),
    ("/status/500", "UPGRADE_SERVER_ERROR"),
    ("/status/302", "UPGRADE_REDIRECT"),
    ("/health", "UPGRADE_IGNORED"),
])
def test_upgrade_refusals_carry_the_peers_status(exporters, echo, path, klass):
    status = upgrade_status(echo.port, path)  # what the peer really answers
    ex = exporters(config_text(ws=mod()))
    exp = ex.probe_exp(echo.url(path), "ws")
    assert exp.value("wsprobe_probe_success") == 0
    assert exp.value("wsprobe_http_status_code") == status
    assert failure(exp) == [(klass, "upgrade")], exp.text
    ph = phases(exp)
    assert "first_message" not in ph and "roundtrip" not in ph and "tls" not in ph, ph


def test_upgrade_auth_against_serve_without_token(exporters, serve):
    assert upgrade_status(serve.port()) == 401  # serve refuses an upgrade without a token
    ex = exporters(config_text(ws=mod()))
    exp = ex.probe_exp(serve.url(), "ws")
    assert exp.value("wsprobe_probe_success") == 0
    assert exp.value("wsprobe_http_status_code") == 401
    assert failure(exp) == [("UPGRADE_AUTH", "upgrade")], exp.text


@pytest.mark.parametrize("mode,klass,status", [
    ("close", "HS_NO_RESPONSE", None),
    ("bad-accept", "HS_BAD_ACCEPT", 101),
    ("no-upgrade", "HS_BAD_HEADERS", 101),
    ("silent", "HS_TIMEOUT", None),
])
def test_handshake_failures(exporters, peers, mode, klass, status):
    peer = peers.hostile(mode)
    ex = exporters(config_text(ws=mod(timeout="1s")))
    exp = ex.probe_exp(peer.url("/ws"), "ws")
    assert exp.value("wsprobe_probe_success") == 0
    assert failure(exp) == [(klass, "upgrade")], exp.text
    if status is None:
        assert not exp.has("wsprobe_http_status_code")
    else:
        assert exp.value("wsprobe_http_status_code") == status
    assert "close" not in phases(exp)


def test_reasons_and_bodies_never_become_labels(exporters, peers):
    peer = peers.hostile("status", status=403, reason="Reason-Text-7f3a",
                         body="body-text-9c2e {\"x\":1}")
    ex = exporters(config_text(ws=mod()))
    for accept in (None, PROM_ACCEPT):
        exp = ex.probe_exp(peer.url("/ws"), "ws",
                           headers={"Accept": accept} if accept else None)
        assert failure(exp) == [("UPGRADE_AUTH", "upgrade")]
        assert "Reason-Text-7f3a" not in exp.text and "body-text-9c2e" not in exp.text
        assert str(peer.port) not in exp.text  # the URL is not a label either


# ---------------------------------------------------------------------------------------------
# TLS, JWT, expect_auth_required

def test_tls_metrics_match_the_certificate(exporters, serve):
    # what the peer really presents, read with Python's ssl module
    ctx = ssl.create_default_context(cafile=serve.ca)
    with socket.create_connection(("127.0.0.1", serve.port(tls=True)), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            version = t.version()
            not_after = ssl.cert_time_to_seconds(t.getpeercert()["notAfter"])
    ex = exporters(config_text(wss=mod(allowed=["wss://127.0.0.1:*/*"], tls={"cacert": serve.ca},
                                       auth={"jwt": {"secret_env": SECRET_ENV}})),
                   env={SECRET_ENV: SECRET})
    exp = ex.probe_exp(serve.url(tls=True), "wss")
    assert exp.value("wsprobe_probe_success") == 1, exp.text
    assert exp.value("wsprobe_tls_version_info", version=version) == 1
    assert len(exp.find("wsprobe_tls_version_info")) == 1
    assert exp.value("wsprobe_tls_cert_expiry_timestamp_seconds") == not_after
    ph = phases(exp)
    assert {"resolve", "connect", "tls", "upgrade", "close"} <= set(ph), ph
    assert exp.value("wsprobe_http_status_code") == 101


def python_tls(port, cafile, max12=False):
    """What Python's ssl module makes of a peer: (version, notAfter) or the verify code."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    if max12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                return t.version(), ssl.cert_time_to_seconds(t.getpeercert()["notAfter"])
        except ssl.SSLCertVerificationError as e:
            return e.verify_code, None


def test_tls12_peer_version_and_expiry(exporters, peers, pki):
    peer = peers.echo(tls="trusted", tls_max="1.2")
    version, not_after = python_tls(peer.port, pki.ca)
    assert version == "TLSv1.2"
    ex = exporters(config_text(wss=mod(allowed=["wss://127.0.0.1:*/*"],
                                       tls={"cacert": str(pki.ca)})))
    exp = ex.probe_exp(peer.url("/x", scheme="wss"), "wss")
    assert exp.value("wsprobe_probe_success") == 1, exp.text
    assert [lb for lb, _ in exp.find("wsprobe_tls_version_info")] == [{"version": version}]
    assert exp.value("wsprobe_tls_cert_expiry_timestamp_seconds") == not_after
    assert "tls" in phases(exp)


@pytest.mark.parametrize("kind,code,klass", [
    ("wrong-name", 64, "CERT_NAME_MISMATCH"),   # X509_V_ERR_IP_ADDRESS_MISMATCH
    ("expired", 10, "CERT_EXPIRED"),            # X509_V_ERR_CERT_HAS_EXPIRED
    ("not-yet-valid", 9, "CERT_EXPIRED"),       # X509_V_ERR_CERT_NOT_YET_VALID
])
def test_certificate_failures(exporters, peers, pki, kind, code, klass):
    peer = peers.echo(tls=kind)
    assert python_tls(peer.port, pki.ca)[0] == code  # the truth about the peer's certificate
    ex = exporters(config_text(wss=mod(allowed=["wss://127.0.0.1:*/*"],
                                       tls={"cacert": str(pki.ca)})))
    exp = ex.probe_exp(peer.url("/x", scheme="wss"), "wss")
    assert exp.value("wsprobe_probe_success") == 0
    assert failure(exp) == [(klass, "tls")], exp.text
    assert "upgrade" not in phases(exp)


def test_min_cert_days(exporters, peers, pki):
    peer = peers.echo(tls="trusted")
    version, not_after = python_tls(peer.port, pki.ca)
    days_left = (not_after - time.time()) / 86400
    assert 20 < days_left < 40
    ex = exporters(config_text(
        strict=mod(allowed=["wss://127.0.0.1:*/*"], tls={"cacert": str(pki.ca),
                                                          "min_cert_days": 60}),
        lax=mod(allowed=["wss://127.0.0.1:*/*"], tls={"cacert": str(pki.ca),
                                                       "min_cert_days": 7})))
    assert ex.probe_exp(peer.url("/x", scheme="wss"), "lax").value("wsprobe_probe_success") == 1
    exp = ex.probe_exp(peer.url("/x", scheme="wss"), "strict")
    assert exp.value("wsprobe_probe_success") == 0
    assert [lb["class"] for lb, _ in exp.find("wsprobe_probe_failure_info")] == ["CERT_EXPIRED"]


def test_untrusted_certificate(exporters, serve):
    with socket.create_connection(("127.0.0.1", serve.port(tls=True)), timeout=5) as s:
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl.create_default_context().wrap_socket(s, server_hostname="127.0.0.1")
    ex = exporters(config_text(wss=mod(allowed=["wss://127.0.0.1:*/*"])))
    exp = ex.probe_exp(serve.url(tls=True), "wss")
    assert exp.value("wsprobe_probe_success") == 0
    assert failure(exp) == [("CERT_UNTRUSTED", "tls")], exp.text
    ph = phases(exp)
    assert "upgrade" not in ph and "close" not in ph
    assert not exp.has("wsprobe_http_status_code")


def test_wss_against_a_plaintext_port(exporters, peers):
    peer = peers.hostile("plain-http")
    with socket.create_connection(("127.0.0.1", peer.port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x00\x05hello")  # what a TLS record looks like to it
        assert read_until_close(s, 3).startswith(b"HTTP/1.1 400")
    ex = exporters(config_text(wss=mod(allowed=["wss://127.0.0.1:*/*"])))
    exp = ex.probe_exp(peer.url("/x", scheme="wss"), "wss")
    assert exp.value("wsprobe_probe_success") == 0
    assert failure(exp) == [("TLS_TO_PLAINTEXT", "tls")], exp.text
    assert not exp.has("wsprobe_tls_version_info")


def test_jwt_minted_per_probe_and_ready_token(exporters, serve):
    ready = mint(sub="ready-token-user")
    ex = exporters(config_text(
        jwt=mod(auth={"jwt": {"secret_env": SECRET_ENV, "claims": {"sub": "prometheus"}}}),
        ready=mod(auth={"token_env": "WSP_READY_TOKEN"}),
        wrong=mod(auth={"jwt": {"secret_env": "WSP_OTHER_SECRET"}})),
        env={SECRET_ENV: SECRET, "WSP_READY_TOKEN": ready, "WSP_OTHER_SECRET": OTHER_SECRET})
    for _ in range(2):  # minted per probe: the second works as well as the first
        assert ex.probe_exp(serve.url(), "jwt").value("wsprobe_probe_success") == 1
    assert ex.probe_exp(serve.url(), "ready").value("wsprobe_probe_success") == 1
    exp = ex.probe_exp(serve.url(), "wrong")
    assert failure(exp) == [("UPGRADE_AUTH", "upgrade")]
    assert exp.value("wsprobe_http_status_code") == 401


def test_expect_auth_required(exporters, serve, echo):
    # the truth from the peers: serve refuses a client without a credential, echo serves it
    assert upgrade_status(serve.port()) == 401

    async def opens():
        async with websockets.connect(echo.url("/x"), open_timeout=5):
            return True
    assert run(opens())
    ex = exporters(config_text(req=mod(expect_auth_required=True)))
    exp = ex.probe_exp(serve.url(), "req")
    assert exp.value("wsprobe_probe_success") == 1, exp.text
    assert not exp.has("wsprobe_probe_failure_info")
    exp = ex.probe_exp(echo.url("/x"), "req")
    assert exp.value("wsprobe_probe_success") == 0
    f = failure(exp)
    assert len(f) == 1 and f[0][0] == "AUTH_NOT_ENFORCED", exp.text


@pytest.mark.parametrize("path", ["/closeopen/1008", "/closeopen/4001", "/status/403"])
def test_expect_auth_required_refusal_forms(exporters, echo, path):
    """Refused without the credential: 401/403, or a close 1008/4001-4003 before a reply."""
    if path.startswith("/closeopen/"):
        async def code():
            async with websockets.connect(echo.url(path), open_timeout=5) as ws:
                try:
                    await asyncio.wait_for(ws.recv(), 5)
                except websockets.exceptions.ConnectionClosed as e:
                    return e.rcvd.code
        assert run(code()) == int(path.rsplit("/", 1)[1])
    else:
        assert upgrade_status(echo.port, path) == 403
    ex = exporters(config_text(req=mod(expect_auth_required=True)))
    exp = ex.probe_exp(echo.url(path), "req")
    assert exp.value("wsprobe_probe_success") == 1, exp.text
    assert not exp.has("wsprobe_probe_failure_info")


# ---------------------------------------------------------------------------------------------
# each_address

def test_each_address_per_address_series(exporters, echo):
    # only 127.0.0.1 listens on the echo's port: 127.0.0.2 refuses (checked here)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", echo.port), timeout=2).close()
    socket.create_connection(("127.0.0.1", echo.port), timeout=2).close()
    target = "ws://ws.test:%d/ws" % echo.port
    ex = exporters(config_text(every=mod(
        allowed=["ws://ws.test:%d/*" % echo.port], each_address=True,
        resolve=["ws.test:%d:127.0.0.1,127.0.0.2" % echo.port])))
    exp = ex.probe_exp(target, "every")
    assert exp.value("wsprobe_probe_success", address="127.0.0.1") == 1
    assert exp.value("wsprobe_probe_success", address="127.0.0.2") == 0
    assert exp.value("wsprobe_probe_success") == 0  # the whole fails when any address fails
    assert failure(exp) == [("TCP_REFUSED", "connect")], exp.text
    assert failure(exp, address="127.0.0.2") == [("TCP_REFUSED", "connect")]
    assert failure(exp, address="127.0.0.1") == []
    assert exp.value("wsprobe_http_status_code", address="127.0.0.1") == 101
    assert not exp.has("wsprobe_http_status_code", address="127.0.0.2")
    assert "upgrade" in phases(exp, address="127.0.0.1")
    assert "upgrade" not in phases(exp, address="127.0.0.2")
    # the duration is the whole probe's only
    assert len(exp.find("wsprobe_probe_duration_seconds")) == 1
    assert exp.find("wsprobe_probe_duration_seconds")[0][0] == {}
    addrs = {lb["address"] for _, lb, _ in exp.samples if "address" in lb}
    assert addrs == {"127.0.0.1", "127.0.0.2"}
    for direction in ("sent", "received"):
        assert exp.value("wsprobe_bytes", address="127.0.0.1", direction=direction) > 0
    exp_om = ex.probe_exp(target, "every", headers={"Accept": PROM_ACCEPT})
    assert exp_om.openmetrics
    assert exp_om.value("wsprobe_probe_success", address="127.0.0.1") == 1


@pytest.mark.parametrize("order", [("127.0.0.1", "127.0.0.2"), ("127.0.0.2", "127.0.0.1")])
def test_each_address_whole_takes_the_first_failing_class(exporters, peers, order):
    """127.0.0.1 answers 404 (UPGRADE_NOT_FOUND), 127.0.0.2 refuses (TCP_REFUSED): the
    unlabelled failure carries the class of the first failing address."""
    peer = peers.hostile("status", status=404)
    assert upgrade_status(peer.port, "/ws") == 404
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", peer.port), timeout=2).close()
    ex = exporters(config_text(e=mod(
        allowed=["ws://two.test:%d/*" % peer.port], each_address=True,
        resolve=["two.test:%d:%s" % (peer.port, ",".join(order))])))
    exp = ex.probe_exp("ws://two.test:%d/ws" % peer.port, "e")
    per = {"127.0.0.1": ("UPGRADE_NOT_FOUND", "upgrade"), "127.0.0.2": ("TCP_REFUSED", "connect")}
    for a, f in per.items():
        assert failure(exp, address=a) == [f]
        assert exp.value("wsprobe_probe_success", address=a) == 0
    assert exp.value("wsprobe_probe_success") == 0
    assert failure(exp) == [per[order[0]]], exp.text


def test_each_address_deadline_counts_from_the_scrape(exporters, unanswered):
    ex = exporters(config_text(every=mod(
        allowed=["ws://slow.test:%d/*" % unanswered], each_address=True, timeout="10s",
        resolve=["slow.test:%d:127.0.0.1" % unanswered])))
    t0 = time.monotonic()
    r = ex.probe("ws://slow.test:%d/ws" % unanswered, "every",
                 headers={"X-Prometheus-Scrape-Timeout-Seconds": "2"})
    elapsed = time.monotonic() - t0
    assert r.status == 200
    assert elapsed < 2.0, elapsed
    exp = r.exposition()
    assert exp.value("wsprobe_probe_success") == 0
    assert failure(exp) == [("TCP_TIMEOUT", "connect")], exp.text


def test_module_keys_reach_the_wire(exporters, counting_ws, tmp_path):
    """headers, origin, compress and the credential (JWT minted from a secret in the
    environment or a file, a ready token from a file) are what the server receives."""
    import jwt as pyjwt  # Debian's python3-jwt: an implementation independent of wsprobe's
    secret_file = tmp_path / "jwt.secret"
    secret_file.write_text(SECRET + "\n")
    ready = mint(sub="from-a-file")
    token_file = tmp_path / "token"
    token_file.write_text(ready + "\n")
    ex = exporters(config_text(
        hdr=mod(headers={"X-Team": "chat-team"}, origin="https://app.example.com"),
        env=mod(auth={"jwt": {"secret_env": SECRET_ENV,
                              "claims": {"sub": "prometheus", "aud": "chat"}}}),
        file=mod(auth={"jwt": {"secret_file": str(secret_file)}}),
        ready=mod(auth={"token_file": str(token_file)}),
        deflate=mod(compress=True)),
        env={SECRET_ENV: SECRET})
    heads = {}
    for module in ("hdr", "env", "file", "ready", "deflate"):
        before = len(counting_ws.conns)
        r = ex.probe("ws://127.0.0.1:%d/wire" % counting_ws.port, module)
        assert r.status == 200
        conns = counting_ws.wait_done(before + 1)
        heads[module] = conns[before]["request"].decode("latin-1")

    def header(head, name):
        m = re.search(r"(?im)^%s:[ \t]*(.*?)\r?$" % re.escape(name), head)
        return m.group(1) if m else None
    assert header(heads["hdr"], "X-Team") == "chat-team"
    assert header(heads["hdr"], "Origin") == "https://app.example.com"
    assert header(heads["hdr"], "Authorization") is None
    tok = header(heads["env"], "Authorization").split(" ", 1)[1]
    claims = pyjwt.decode(tok, SECRET, algorithms=["HS256"], audience="chat")
    assert claims["sub"] == "prometheus" and claims["exp"] > time.time()
    tok = header(heads["file"], "Authorization").split(" ", 1)[1]
    pyjwt.decode(tok, SECRET, algorithms=["HS256"])  # the file lost its trailing newline
    assert header(heads["ready"], "Authorization") == "Bearer " + ready
    assert "permessage-deflate" in (header(heads["deflate"], "Sec-WebSocket-Extensions") or "")


def test_compress_against_a_real_server(exporters, echo):
    conv = {"send": "z" * 2000, "expect": {"text": "z" * 2000}}
    ex = exporters(config_text(c=mod(compress=True, conversation=conv),
                               p=mod(conversation=conv)))
    plain = ex.probe_exp(echo.url("/x"), "p")
    comp = ex.probe_exp(echo.url("/x"), "c")
    assert plain.value("wsprobe_probe_success") == 1 and comp.value("wsprobe_probe_success") == 1
    # python3-websockets accepts permessage-deflate: 2000 equal bytes travel compressed
    assert (comp.value("wsprobe_bytes", direction="sent")
            < plain.value("wsprobe_bytes", direction="sent") - 1000)


def test_proxy_phase_appears_through_a_proxy(exporters, peers, echo):
    proxy = peers.tinyproxy()
    ex = exporters(config_text(viap=mod(proxy="http://127.0.0.1:%d" % proxy.port),
                               direct=mod()))
    exp = ex.probe_exp(echo.url("/x"), "viap")
    assert exp.value("wsprobe_probe_success") == 1, exp.text
    assert "proxy" in phases(exp)
    assert "proxy" not in phases(ex.probe_exp(echo.url("/x"), "direct"))
    # the proxy's log shows the tunnel was really asked for
    end = time.monotonic() + 3
    log = ""
    while time.monotonic() < end:
        log = (proxy.workdir / "log").read_text(errors="replace") if (
            proxy.workdir / "log").exists() else ""
        if "CONNECT" in log:
            break
        time.sleep(0.05)
    assert "CONNECT" in log, log[-2000:]


def test_each_address_ipv6_label(exporters, peers, ipv6):
    peer = peers.echo(ipv6=True)
    ex = exporters(config_text(dual=mod(
        allowed=["ws://dual.test:%d/*" % peer.port], each_address=True,
        resolve=["dual.test:%d:127.0.0.1,::1" % peer.port])))
    exp = ex.probe_exp("ws://dual.test:%d/ws" % peer.port, "dual")
    assert exp.value("wsprobe_probe_success") == 1, exp.text
    assert exp.value("wsprobe_probe_success", address="::1") == 1
    assert exp.value("wsprobe_probe_success", address="127.0.0.1") == 1
    assert not exp.has("wsprobe_probe_failure_info")


# ---------------------------------------------------------------------------------------------
# Content negotiation and the scrape timeout

@pytest.mark.parametrize("accept,om", [
    (None, False),
    ("text/plain", False),
    ("*/*", False),
    ("application/openmetrics-text;version=1.0.0", True),
    ("application/openmetrics-text; version=1.0.0; charset=utf-8", True),
    (PROM_ACCEPT, True),
    ("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.2", False),
    ("text/plain;version=0.0.4;q=0.3,application/openmetrics-text;version=1.0.0;q=0.8", True),
    ("application/openmetrics-text;version=1.0.0;q=0,text/plain", False),
    ("Application/OpenMetrics-Text; Version=1.0.0", True),
])
def test_content_negotiation(exporters, echo, accept, om):
    ex = exporters(config_text(ws=mod()))
    for path in ("/probe?" + urllib.parse.urlencode({"target": echo.url("/x"), "module": "ws"}),
                 "/metrics"):
        r = ex.get(path, headers={"Accept": accept} if accept else None)
        assert r.status == 200
        ct = r.headers["content-type"]
        if om:
            assert ct.startswith(OM_CT), ct
            assert r.text.endswith("# EOF\n")
        else:
            assert ct.startswith(TEXT_CT), ct
            assert "# EOF" not in r.text
            promtool_check(r.text)
        exp = r.exposition()
        assert exp.openmetrics == om
        if path.startswith("/probe"):
            assert exp.value("wsprobe_probe_success") == 1
            check_probe_labels(exp)
        else:
            assert exp.has("wsprobe_exporter_probes_total")


def test_scrape_timeout_header_bounds_the_probe(exporters, unanswered):
    target = "ws://127.0.0.1:%d/x" % unanswered
    ex = exporters(config_text(slow=mod(timeout="10s", deadline="20s"),
                               short=mod(timeout="10s", deadline="1s")))
    t0 = time.monotonic()
    r = ex.probe(target, "slow", headers={"X-Prometheus-Scrape-Timeout-Seconds": "2"})
    elapsed = time.monotonic() - t0
    assert r.status == 200, r
    exp = r.exposition()
    # the deadline is 2 s less the margin: answered before Prometheus would give up
    assert 1.0 <= elapsed < 2.0, elapsed
    assert exp.value("wsprobe_probe_success") == 0
    assert failure(exp) == [("TCP_TIMEOUT", "connect")], exp.text
    assert exp.value("wsprobe_probe_duration_seconds") < 2.0
    # the module's deadline wins when it is shorter than the scrape timeout
    t0 = time.monotonic()
    r = ex.probe(target, "short", headers={"X-Prometheus-Scrape-Timeout-Seconds": "10"})
    elapsed = time.monotonic() - t0
    assert r.status == 200
    assert 0.7 <= elapsed < 2.0, elapsed
    assert failure(r.exposition()) == [("TCP_TIMEOUT", "connect")]


# ---------------------------------------------------------------------------------------------
# The exporter's own metrics and the small endpoints

def test_own_metrics_count_what_happened(exporters, echo):
    t_start = time.time()
    dead = refused_port()
    ex = exporters(config_text(ws=mod(allowed=["ws://127.0.0.1:%d/*" % echo.port,
                                               "ws://127.0.0.1:%d/*" % dead])))
    for _ in range(2):
        assert ex.probe_exp(echo.url("/x"), "ws").value("wsprobe_probe_success") == 1
    assert failure(ex.probe_exp("ws://127.0.0.1:%d/x" % dead, "ws")) == [("TCP_REFUSED",
                                                                           "connect")]
    assert ex.probe("ws://127.0.0.1:1/x", "ws").status == 403
    assert ex.probe(echo.url("/x"), "nosuch").status == 400
    assert ex.get("/no/such/path").status == 404
    r = ex.get("/metrics")
    assert r.status == 200 and r.headers["content-type"].startswith(TEXT_CT)
    promtool_check(r.text)
    m = r.exposition()
    assert m.types["wsprobe_exporter_probes_total"] == "counter"
    assert m.types["wsprobe_exporter_probe_duration_seconds"] == "histogram"
    assert m.value("wsprobe_exporter_probes_total", module="ws", result="success") == 2
    assert m.value("wsprobe_exporter_probes_total", module="ws", result="failure") == 1
    assert [v for lb, v in m.find("wsprobe_exporter_probe_failures_total", module="ws")
            if lb.get("class") == "TCP_REFUSED"] == [1]
    assert m.value("wsprobe_exporter_probe_duration_seconds_count", module="ws") == 3
    buckets = [(float(lb["le"]), v) for lb, v in
               m.find("wsprobe_exporter_probe_duration_seconds_bucket", module="ws")]
    buckets.sort()
    assert buckets[-1] == (float("inf"), 3)
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:]))
    les = [b[0] for b in buckets]
    assert les[0] <= 0.005 and 30 in les  # 5 ms to 30 s
    assert m.value("wsprobe_exporter_probe_duration_seconds_sum", module="ws") > 0
    assert m.value("wsprobe_exporter_probes_in_flight") == 0
    assert m.value("wsprobe_exporter_requests_refused_total", reason="target_not_allowed") == 1
    assert m.value("wsprobe_exporter_requests_refused_total", reason="unknown_module") == 1
    assert m.value("wsprobe_exporter_requests_refused_total", reason="not_found") == 1
    assert m.value("wsprobe_exporter_config_reloads_total", result="success") == 1
    assert m.value("wsprobe_exporter_config_last_reload_successful") == 1
    ts = m.value("wsprobe_exporter_config_last_reload_success_timestamp_seconds")
    assert t_start - 5 <= ts <= time.time() + 5
    build = m.find("wsprobe_exporter_build_info")
    assert len(build) == 1 and build[0][1] == 1 and build[0][0].get("version")
    # process metrics, against what the kernel says about the process
    pid = ex.proc.pid
    start = m.value("process_start_time_seconds")
    assert t_start - 5 <= start <= time.time() + 1
    fds = len(os.listdir("/proc/%d/fd" % pid))
    assert abs(m.value("process_open_fds") - fds) <= 4, (m.value("process_open_fds"), fds)
    soft = None
    for line in Path("/proc/%d/limits" % pid).read_text().splitlines():
        if line.startswith("Max open files"):
            soft = int(line.split()[3])
    assert m.value("process_max_fds") == soft
    rss = int(re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/%d/status" % pid).read_text())
              .group(1)) * 1024
    assert 0.5 * rss <= m.value("process_resident_memory_bytes") <= 2 * rss
    assert m.value("process_virtual_memory_bytes") >= m.value("process_resident_memory_bytes")
    assert m.value("process_cpu_seconds_total") >= 0
    assert m.types["process_cpu_seconds_total"] == "counter"


def test_endpoints_healthy_ready_index_and_methods(exporters):
    ex = exporters(config_text(ws=mod()))
    for path in ("/-/healthy", "/-/ready", "/"):
        r = ex.get(path)
        assert r.status == 200, (path, r)
    assert ex.get("/nope").status == 404
    r = ex.request("POST", "/metrics")
    assert r.status == 405 and r.headers.get("allow"), r
    r = ex.request("DELETE", "/probe?target=ws://127.0.0.1:1/&module=ws")
    assert r.status == 405 and "GET" in r.headers.get("allow", ""), r
    r = ex.get("/-/reload")
    assert r.status == 405 and "POST" in r.headers.get("allow", ""), r
    # keep-alive: several requests on one connection
    c = ex.conn()
    try:
        for _ in range(3):
            assert ex.request("GET", "/-/healthy", conn=c).status == 200
    finally:
        c.close()


# ---------------------------------------------------------------------------------------------
# Reload: POST /-/reload and SIGHUP; a bad configuration keeps the old one

BAD_CONFIG = "modules:\n  ws:\n    allowed_targets: ['ws://127.0.0.1:*/*']\n    tiemout: 2s\n"


def test_reload_by_post(exporters, echo):
    ex = exporters(config_text(first=mod()))
    assert ex.probe(echo.url("/x"), "second").status == 400
    ex.config_path.write_text(config_text(first=mod(), second=mod()))
    r = ex.request("POST", "/-/reload")
    assert r.status == 200, r
    assert "first" in r.text and "second" in r.text  # 200 with the modules
    assert ex.probe_exp(echo.url("/x"), "second").value("wsprobe_probe_success") == 1
    loaded_at = ex.metrics().value("wsprobe_exporter_config_last_reload_success_timestamp_seconds")
    assert abs(loaded_at - time.time()) < 5
    time.sleep(1.1)
    # a bad configuration: 500 with the located error, the old configuration stays
    ex.config_path.write_text(BAD_CONFIG.replace("ws:", "third:"))
    r = ex.request("PUT", "/-/reload")
    assert r.status == 500, r
    assert re.search(r"exporter\.yml:4:\d+", r.text), r.text
    assert ex.probe_exp(echo.url("/x"), "second").value("wsprobe_probe_success") == 1
    assert ex.probe(echo.url("/x"), "third").status == 400
    m = ex.metrics()
    assert m.value("wsprobe_exporter_config_last_reload_successful") == 0
    assert m.value("wsprobe_exporter_config_reloads_total", result="failure") == 1
    assert m.value("wsprobe_exporter_config_reloads_total", result="success") == 2
    # the configuration in use is still the one loaded before
    assert m.value("wsprobe_exporter_config_last_reload_success_timestamp_seconds") == loaded_at
    assert ex.alive()


def test_reload_by_sighup(exporters, echo):
    ex = exporters(config_text(first=mod()))

    def metric(name, **lb):
        return ex.metrics().value(name, **lb)

    def wait_for(pred, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            time.sleep(0.05)
        return False

    ex.config_path.write_text(BAD_CONFIG)
    ex.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: metric("wsprobe_exporter_config_last_reload_successful") == 0)
    assert ex.alive()
    assert metric("wsprobe_exporter_config_reloads_total", result="failure") == 1
    assert ex.probe_exp(echo.url("/x"), "first").value("wsprobe_probe_success") == 1
    assert ex.probe(echo.url("/x"), "ws").status == 400
    assert wait_for(lambda: re.search(r"exporter\.yml:4:\d+", ex.stderr())), ex.stderr()
    ex.config_path.write_text(config_text(renamed=mod()))
    ex.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: metric("wsprobe_exporter_config_last_reload_successful") == 1)
    assert metric("wsprobe_exporter_config_reloads_total", result="success") == 2
    assert ex.probe_exp(echo.url("/x"), "renamed").value("wsprobe_probe_success") == 1
    assert ex.probe(echo.url("/x"), "first").status == 400
    assert ex.stop() == 0


def test_probe_in_flight_keeps_its_configuration(exporters, unanswered, echo):
    ex = exporters(config_text(old=mod(timeout="10s")))
    result = {}

    def scrape():
        result["r"] = ex.probe("ws://127.0.0.1:%d/x" % unanswered, "old",
                               headers={"X-Prometheus-Scrape-Timeout-Seconds": "2.5"})
    th = threading.Thread(target=scrape)
    th.start()
    try:
        end = time.monotonic() + 5
        while ex.metrics().value("wsprobe_exporter_probes_in_flight") < 1:
            assert time.monotonic() < end
            time.sleep(0.05)
        ex.config_path.write_text(config_text(new=mod()))
        r = ex.request("POST", "/-/reload")
        assert r.status == 200, r
        assert ex.probe(echo.url("/x"), "old").status == 400
        assert ex.probe_exp(echo.url("/x"), "new").value("wsprobe_probe_success") == 1
    finally:
        th.join(timeout=10)
    r = result["r"]
    assert r.status == 200
    assert failure(r.exposition()) == [("TCP_TIMEOUT", "connect")]
    m = ex.metrics()
    assert [v for lb, v in m.find("wsprobe_exporter_probes_total", module="old")
            if lb["result"] == "failure"] == [1]


def _many_tls_modules(pki, prefix, n=64):
    return config_text(**{"%s%02d" % (prefix, i): mod(allowed=["ws://127.0.0.1:*/*",
                                                             "wss://127.0.0.1:*/*"],
                                                    tls={"cacert": str(pki.ca)})
                          for i in range(n)})


def test_one_reload_at_a_time(exporters, pki):
    """A reload builds every module (a TLS context each): 64 of them take a while, and a POST
    meanwhile gets 503; the loop keeps serving during it; a SIGHUP meanwhile is not lost."""
    ex = exporters(_many_tls_modules(pki, "a"))
    conns = [ex.conn() for _ in range(8)]
    for c in conns:
        c.connect()
    gate = threading.Barrier(len(conns))
    statuses = []
    lock = threading.Lock()

    def post(c):
        gate.wait(timeout=10)
        r = ex.request("POST", "/-/reload", conn=c)
        with lock:
            statuses.append(r.status)
    threads = [threading.Thread(target=post, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    for c in conns:
        c.close()
    assert len(statuses) == 8
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 1 and statuses.count(503) >= 1, statuses
    m = ex.metrics()
    ok = m.value("wsprobe_exporter_config_reloads_total", result="success")
    assert ok == 1 + statuses.count(200)
    # a SIGHUP that comes during a reload is not lost: it runs after it
    th = threading.Thread(target=lambda: statuses.append(ex.request("POST", "/-/reload").status))
    th.start()
    time.sleep(0.005)
    ex.proc.send_signal(signal.SIGHUP)
    th.join(timeout=20)
    assert statuses[-1] in (200, 503)  # 503 if the SIGHUP's reload came first
    want = ok + 1 + (statuses[-1] == 200)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        if ex.metrics().value("wsprobe_exporter_config_reloads_total", result="success") >= want:
            break
        time.sleep(0.05)
    assert ex.metrics().value("wsprobe_exporter_config_reloads_total",
                              result="success") == want
    assert ex.metrics().value("wsprobe_exporter_config_reloads_total", result="failure") == 0


def test_loop_serves_during_a_reload(exporters, pki):
    ex = exporters(_many_tls_modules(pki, "b"))
    th = threading.Thread(target=lambda: ex.request("POST", "/-/reload"))
    c = ex.conn()
    c.connect()
    worst = 0.0
    try:
        th.start()
        for _ in range(20):
            t = time.monotonic()
            assert ex.request("GET", "/-/healthy", conn=c).status == 200
            worst = max(worst, time.monotonic() - t)
    finally:
        th.join(timeout=20)
        c.close()
    assert worst < 0.5, worst


def test_module_labels_are_capped_at_256(exporters, pki):
    dead = refused_port()
    # modules with their own small CA build quickly (no system trust store to load)
    def gen_config(gen):
        return config_text(**{"g%dm%02d" % (gen, i): mod(tls={"cacert": str(pki.ca)})
                              for i in range(64)})
    ex = exporters(gen_config(0))
    for gen in range(5):
        if gen:
            ex.config_path.write_text(gen_config(gen))
            assert ex.request("POST", "/-/reload").status == 200
        c = ex.conn()
        try:
            for i in range(64):
                path = "/probe?" + urllib.parse.urlencode(
                    {"target": "ws://127.0.0.1:%d/" % dead, "module": "g%dm%02d" % (gen, i)})
                assert ex.request("GET", path, conn=c).status == 200
        finally:
            c.close()
    m = ex.metrics()
    mods = {lb["module"] for _, lb, _ in m.samples if "module" in lb}
    assert 64 <= len(mods) <= 256, len(mods)
    assert {"g0m%02d" % i for i in range(64)} <= mods
    promtool_check(ex.get("/metrics").text)


# ---------------------------------------------------------------------------------------------
# Exit codes

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_exit_zero_on_signal(exporters, echo, sig):
    ex = exporters(config_text(ws=mod()))
    assert ex.probe_exp(echo.url("/x"), "ws").value("wsprobe_probe_success") == 1
    idle = socket.create_connection(("127.0.0.1", ex.port), timeout=5)  # an idle connection
    try:
        assert ex.stop(sig) == 0
        assert read_until_close(idle, 2.0) == b""  # closed, not answered
    finally:
        idle.close()


@pytest.mark.parametrize("each_address", [False, True])
def test_sigterm_answers_the_probe_in_flight_first(exporters, unanswered, each_address):
    keys = {"timeout": "10s"}
    host = "127.0.0.1"
    if each_address:
        host = "slow.test"
        keys.update(each_address=True, resolve=["slow.test:%d:127.0.0.1" % unanswered])
    ex = exporters(config_text(ws=mod(allowed=["ws://%s:*/*" % host], **keys)))
    partial = socket.create_connection(("127.0.0.1", ex.port), timeout=5)
    partial.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # a head never finished
    result = {}

    def scrape():
        t0 = time.monotonic()
        try:
            result["resp"] = ex.probe("ws://%s:%d/x" % (host, unanswered), "ws",
                                      headers={"X-Prometheus-Scrape-Timeout-Seconds": "2.5"})
        except Exception as e:  # noqa: BLE001 - reported below
            result["error"] = e
        result["elapsed"] = time.monotonic() - t0

    th = threading.Thread(target=scrape)
    th.start()
    end = time.monotonic() + 5
    while time.monotonic() < end and ex.metrics().value("wsprobe_exporter_probes_in_flight") < 1:
        time.sleep(0.05)
    ex.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    if ex.alive():  # the listener is closed while the probe finishes
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", ex.port), timeout=1).close()
    th.join(timeout=10)
    assert not th.is_alive()
    assert "error" not in result, result
    r = result["resp"]
    assert r.status == 200
    assert failure(r.exposition()) == [("TCP_TIMEOUT", "connect")]
    assert 1.5 <= result["elapsed"] < 3.0
    assert ex.proc.wait(timeout=5) == 0
    partial.close()


@pytest.mark.parametrize("name,config,line", [
    ("not yaml", "modules: [\n", None),
    ("unknown key", BAD_CONFIG, 4),
    ("no allowed_targets", "modules:\n  ws:\n    timeout: 2s\n", None),
    ("pattern without port", "modules:\n  ws:\n    allowed_targets: ['ws://127.0.0.1/*']\n", 3),
    ("uppercase host", "modules:\n  ws:\n    allowed_targets: ['ws://LOCALHOST:80/*']\n", 3),
    ("bad scheme", "modules:\n  ws:\n    allowed_targets: ['http://127.0.0.1:80/*']\n", 3),
    ("unclosed set", "modules:\n  ws:\n    allowed_targets: ['ws://127.0.0.1:80/[a-z']\n", 3),
    ("secret written", "modules:\n  ws:\n    allowed_targets: ['ws://127.0.0.1:*/*']\n"
     "    auth:\n      jwt: {secret: literal-secret-value-123}\n", 5),
    ("unset variable", "modules:\n  ws:\n    allowed_targets: ['ws://127.0.0.1:*/*']\n"
     "    auth:\n      jwt: {secret_env: WSP_SURELY_UNSET_VARIABLE_4242}\n", 5),
    ("auth with expect_auth_required", "modules:\n  ws:\n"
     "    allowed_targets: ['ws://127.0.0.1:*/*']\n    expect_auth_required: true\n"
     "    auth:\n      token_env: HOME\n", None),
    ("run-only key", "modules:\n  ws:\n    allowed_targets: ['ws://127.0.0.1:*/*']\n"
     "    url: ws://127.0.0.1:80/\n", 4),
    ("authorization header written", "modules:\n  ws:\n"
     "    allowed_targets: ['ws://127.0.0.1:*/*']\n"
     "    headers: {Authorization: 'Bearer literal-secret-value-123'}\n", 4),
    ("limits key", "modules:\n  ws:\n    allowed_targets: ['ws://127.0.0.1:*/*']\n"
     "    limits: {max_message: 64K}\n", 4),
])
def test_bad_config_exits_2(tmp_path, name, config, line):
    rc, err, wrote = run_exporter_expect_exit(tmp_path, config)
    assert rc == 2, (name, rc, err)
    assert not wrote, "a port file was written by an exporter that refused to start"
    assert err.strip()
    if line is not None:
        assert re.search(r"exporter\.yml:%d:\d+" % line, err), err
    assert "literal-secret-value-123" not in err


def test_missing_config_exits_2(tmp_path):
    rc, err, wrote = run_exporter_expect_exit(tmp_path, None)
    assert rc == 2 and not wrote, err


@pytest.mark.parametrize("listen", ["127.0.0.1:notaport", "127.0.0.1:70000", "999.1.1.1:0",
                                    "192.0.2.1:0", "[::1", "", "in-use"])
def test_bad_listen_exits_2(tmp_path, listen):
    holder = None
    if listen == "in-use":
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        listen = "127.0.0.1:%d" % holder.getsockname()[1]
    try:
        rc, err, wrote = run_exporter_expect_exit(tmp_path, config_text(ws=mod()), listen=listen)
    finally:
        if holder:
            holder.close()
    assert rc == 2, (listen, rc, err)
    assert not wrote


@pytest.mark.parametrize("args", [["--max-concurrent", "abc"], ["--max-concurrent", "-1"],
                                  ["--no-such-flag"], ["--web.config.file", "/nonexistent/w.yml"]])
def test_bad_flags_exit_2(tmp_path, args):
    rc, err, wrote = run_exporter_expect_exit(tmp_path, config_text(ws=mod()), *args)
    assert rc == 2, (args, rc, err)
    assert not wrote


def test_port_zero_is_said_on_stderr(exporters):
    ex = exporters(config_text(ws=mod()))
    assert re.search(r"\b%d\b" % ex.port, ex.stderr()), ex.stderr()


def test_default_listen_is_loopback_9725(exporters):
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 9725))
    except OSError:
        pytest.skip("port 9725 is in use on this machine")
    ex = exporters(config_text(ws=mod()), listen=None)
    assert ex.port == 9725
    assert ex.get("/-/healthy").status == 200
    # not reachable on a non-loopback address of this machine (if it has one)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        try:
            u.connect(("192.0.2.1", 9))
            mine = u.getsockname()[0]
        except OSError:
            mine = None
    if mine and not mine.startswith("127."):
        with pytest.raises(OSError):
            socket.create_connection((mine, 9725), timeout=2).close()


# ---------------------------------------------------------------------------------------------
# allowed_targets: not an open relay

@pytest.fixture
def relay(exporters, echo):
    """An exporter whose module allows a few patterns, a canary on 127.0.0.2 at the echo's port
    and one on 127.0.0.1 at another port: a refused target must never reach either."""
    e = echo.port
    canary2 = Canary("127.0.0.2", e)
    canary_port = Canary("127.0.0.1")
    ex = exporters(config_text(m=mod(
        allowed=["ws://127.0.0.1:%d/ok/*" % e, "ws://localhost:%d/ok/*" % e,
                 "ws://*.allowed.test:%d/*" % e],
        resolve=["evil.test:%d:127.0.0.2" % e, "x.allowed.test:%d:127.0.0.1" % e,
                 "a.b.allowed.test:%d:127.0.0.1" % e, "allowed.test.evil.test:%d:127.0.0.2" % e,
                 "evil.test:%d:127.0.0.2" % canary_port.port])))
    yield ex, e, canary2, canary_port
    canary2.close()
    canary_port.close()


ALLOWED = ["ws://127.0.0.1:E/ok/x", "ws://127.0.0.1:E/ok/x?q=1", "WS://127.0.0.1:E/ok/x",
           "ws://LOCALHOST:E/ok/x", "ws://LocalHost:E/ok/", "ws://x.allowed.test:E/",
           "ws://X.Allowed.TEST:E/path", "ws://a.b.allowed.test:E/deep/path"]

REFUSED = [
    "ws://127.0.0.1:E/OK/x",                     # path kept byte for byte
    "ws://127.0.0.1:E/other",                    # path outside the pattern
    "ws://127.0.0.2:E/ok/x",                     # another host
    "ws://127.0.0.1:C/ok/x",                     # another port
    "ws://127.0.0.1:E0/ok/x",                    # a longer port
    "ws://127.0.0.2:E/ws://127.0.0.1:E/ok/x",    # the allowed URL hidden in the path
    "ws://127.0.0.2:E/?u=ws://127.0.0.1:E/ok/x",  # ... or in the query
    "ws://127.0.0.1:E@127.0.0.2:E/ok/x",         # userinfo
    "ws://127.0.0.1@127.0.0.2:E/ok/x",
    "ws://u:p@127.0.0.1:E/ok/x",                 # userinfo, even towards an allowed host
    "ws://127.0.0.2:E\\@127.0.0.1:E/ok/x",
    "ws://127.0.0.2:E#@127.0.0.1:E/ok/x",
    "ws://127.0.0.1:E/ok/../../admin",           # dot segments
    "ws://127.0.0.1:E/ok/./x",
    "ws://127.0.0.1:E/ok/%2e%2e/x",
    "ws://127.0.0.1:E/ok/%2E%2E/x",
    "ws://evil.test:E/x.allowed.test",           # a host hidden in the path
    "ws://allowed.test.evil.test:E/",            # suffix trick
    "ws://evil.test:C/.allowed.test:E/",
    "ws://%31%32%37.0.0.2:E/ok/x",               # percent-encoded host
    "ws://0x7f000002:E/ok/x",                    # numeric forms of 127.0.0.2
    "ws://2130706434:E/ok/x",
    "ws://127.2:E/ok/x",
    "ws://[::ffff:127.0.0.2]:E/ok/x",
    "ws://127.0.0.1:E%2f@127.0.0.2:E/ok/x",
]


def _fill(t, e, c):
    return t.replace(":E", ":%d" % e).replace(":C", ":%d" % c)


@pytest.mark.parametrize("target", ALLOWED)
def test_allowed_targets_normal_form_allows(relay, target):
    ex, e, canary2, canary_port = relay
    exp = ex.probe_exp(_fill(target, e, canary_port.port), "m")
    assert exp.value("wsprobe_probe_success") == 1, exp.text


def test_allowed_targets_refuse_bypasses(relay):
    ex, e, canary2, canary_port = relay
    bad = []
    for t in REFUSED:
        target = _fill(t, e, canary_port.port)
        r = ex.probe(target, "m")
        if r.status not in (400, 403):
            bad.append((target, r.status, r.body[:200]))
        else:
            assert r.text.count("\n") <= 1, r.text
    assert not bad, bad
    assert canary2.count == 0 and canary_port.count == 0
    m = ex.metrics()
    refused = sum(m.value("wsprobe_exporter_requests_refused_total", reason=x)
                  for x in ("target_not_allowed", "bad_request"))
    assert refused == len(REFUSED)
    assert m.value("wsprobe_exporter_requests_refused_total", reason="target_not_allowed") >= 10
    assert all(v == 0 for _, v in m.find("wsprobe_exporter_probes_total", module="m"))


def test_plain_refusal_is_403(relay):
    ex, e, canary2, canary_port = relay
    r = ex.probe("ws://127.0.0.2:%d/ok/x" % e, "m")
    assert r.status == 403
    assert r.text.count("\n") <= 1
    assert ex.metrics().value("wsprobe_exporter_requests_refused_total",
                              reason="target_not_allowed") == 1
    assert canary2.count == 0


def test_allowed_targets_pattern_syntax(exporters):
    """Each wildcard of docs/exporter.md's table, matched part by part against the normal form.
    Targets are loopback ports where nothing listens: an allowed one is probed (200,
    TCP_REFUSED), a refused one gets 403."""
    r = refused_port()
    table = {
        "qhost": ("ws://127.0.0.?:%d/x" % r, [("ws://127.0.0.2:%d/x" % r, True),
                                             ("ws://127.0.0.12:%d/x" % r, False)]),
        "qport": ("ws://127.0.0.1:1000?/x", [("ws://127.0.0.1:10007/x", True),
                                            ("ws://127.0.0.1:1000/x", False),
                                            ("ws://127.0.0.1:20007/x", False)]),
        "set": ("ws://127.0.0.1:%d/v[1-3]" % r, [("ws://127.0.0.1:%d/v2" % r, True),
                                                ("ws://127.0.0.1:%d/v4" % r, False),
                                                ("ws://127.0.0.1:%d/v12" % r, False),
                                                ("ws://127.0.0.1:%d/V2" % r, False)]),
        "notset": ("ws://127.0.0.1:%d/id[!a-z]" % r, [("ws://127.0.0.1:%d/id5" % r, True),
                                                     ("ws://127.0.0.1:%d/idx" % r, False)]),
        "quoted": ("ws://127.0.0.1:%d/q\\?a=1" % r, [("ws://127.0.0.1:%d/q?a=1" % r, True),
                                                   ("ws://127.0.0.1:%d/qXa=1" % r, False)]),
        "anyscheme": ("*://127.0.0.3:%d/s" % r, [("ws://127.0.0.3:%d/s" % r, True),
                                                ("wss://127.0.0.3:%d/s" % r, True),
                                                ("ws://127.0.0.3:%d/t" % r, False)]),
        "nopath": ("ws://127.0.0.4:%d" % r, [("ws://127.0.0.4:%d/a/b?c=d" % r, True),
                                            ("ws://127.0.0.4:%d" % r, True),
                                            ("ws://127.0.0.5:%d/" % r, False)]),
        "hoststar": ("ws://*:%d/p" % r, [("ws://127.0.0.5:%d/p" % r, True),
                                        ("ws://127.0.0.5:%d/p" % (r ^ 2), False),
                                        ("ws://127.0.0.5:%d/px" % r, False)]),
        "exact": ("ws://127.0.0.1:%d/x" % r, [("ws://127.0.0.1:%d/x" % r, True),
                                             ("ws://127.0.0.1:%d/x?y=1" % r, False),
                                             ("ws://127.0.0.1:%d/x/" % r, False),
                                             ("ws://127.0.0.1:%d/X" % r, False)]),
        "dirstar": ("ws://127.0.0.1:%d/ok/*" % r, [("ws://127.0.0.1:%d/ok/" % r, True),
                                                  ("ws://127.0.0.1:%d/ok/a/b" % r, True),
                                                  ("ws://127.0.0.1:%d/ok" % r, False),
                                                  ("ws://127.0.0.1:%d/okx" % r, False)]),
        "anything": ("*", [("ws://127.0.0.6:%d/z" % r, True), ("wss://127.0.0.6:%d/" % r, True)]),
    }
    ex = exporters(config_text(**{name: mod(allowed=[pat], timeout="1s")
                                  for name, (pat, _) in table.items()}))
    wrong = []
    for name, (pat, cases) in table.items():
        for target, allowed in cases:
            resp = ex.probe(target, name)
            if resp.status != (200 if allowed else 403):
                wrong.append((pat, target, allowed, resp.status, resp.text[:120]))
    assert not wrong, "\n".join(map(repr, wrong))


def test_redirects_are_not_followed_out_of_the_list(exporters, peers):
    canary = Canary("127.0.0.2")
    try:
        peer = peers.hostile("status", status=302,
                             headers=("Location: ws://127.0.0.2:%d/elsewhere" % canary.port,))
        ex = exporters(config_text(m=mod(allowed=["ws://127.0.0.1:%d/*" % peer.port])))
        exp = ex.probe_exp(peer.url("/ws"), "m")
        assert exp.value("wsprobe_http_status_code") == 302
        assert failure(exp) == [("UPGRADE_REDIRECT", "upgrade")]
        time.sleep(0.2)
        assert canary.count == 0
    finally:
        canary.close()


def test_default_port_is_made_explicit(exporters):
    ex = exporters(config_text(m=mod(allowed=["ws://127.0.0.1:80/*", "wss://localhost:443/*"])))
    for t in ("ws://127.0.0.1/x", "ws://127.0.0.1:80/x", "wss://localhost/x"):
        r = ex.probe(t, "m")
        assert r.status == 200, (t, r)  # allowed (whatever the probe's result)
    assert ex.probe("ws://127.0.0.1:8080/x", "m").status == 403
    assert ex.probe("wss://127.0.0.1/x", "m").status == 403  # 443 is not 80, wss is not ws


def test_allow_any_target(tmp_path, exporters, echo):
    no_list = config_text(open=mod(allowed=None))
    rc, err, _ = run_exporter_expect_exit(tmp_path, no_list)
    assert rc == 2
    ex = exporters(no_list, "--allow-any-target")
    assert "warn" in ex.stderr().lower(), ex.stderr()
    assert ex.probe_exp(echo.url("/x"), "open").value("wsprobe_probe_success") == 1
    exp = ex.probe_exp("ws://127.0.0.1:%d/y" % refused_port(), "open")
    assert failure(exp) == [("TCP_REFUSED", "connect")]
    # without the flag, a reload to a module without a list fails and keeps the old one
    ex3 = exporters(config_text(listed=mod()))
    ex3.config_path.write_text(no_list)
    assert ex3.request("POST", "/-/reload").status == 500
    assert ex3.probe_exp(echo.url("/x"), "listed").value("wsprobe_probe_success") == 1
    assert ex3.probe(echo.url("/x"), "open").status == 400


def test_allow_any_target_keeps_the_lists_that_exist(exporters, echo):
    canary = Canary("127.0.0.2")
    try:
        ex = exporters(config_text(open=mod(allowed=None),
                                   listed=mod(allowed=["ws://127.0.0.1:%d/*" % echo.port])),
                       "--allow-any-target")
        assert ex.probe_exp(echo.url("/x"), "listed").value("wsprobe_probe_success") == 1
        r = ex.probe("ws://127.0.0.2:%d/x" % canary.port, "listed")
        assert canary.count == 0, "the exporter connected to a target outside the module's list"
        assert r.status == 403, r
    finally:
        canary.close()


def test_listen_on_ipv6_loopback(exporters, ipv6):
    ex = exporters(config_text(ws=mod()), listen="[::1]:0")
    with socket.create_connection(("::1", ex.port), timeout=5) as s:
        s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_close(s, 5).startswith(b"HTTP/1.1 200")


def test_ipv6_pattern(exporters, peers, ipv6):
    peer = peers.echo(ipv6=True)
    ex = exporters(config_text(m=mod(allowed=["ws://[::1]:%d/ws" % peer.port])))
    assert ex.probe_exp("ws://[::1]:%d/ws" % peer.port, "m").value("wsprobe_probe_success") == 1
    assert ex.probe("ws://[::1]:%d/other" % peer.port, "m").status == 403
    assert ex.probe("ws://127.0.0.1:%d/ws" % peer.port, "m").status == 403


# ---------------------------------------------------------------------------------------------
# Bad input: one-line 4xx, never blocking

@pytest.mark.parametrize("query", [
    "target=%zz&module=ws",
    "target=ws://127.0.0.1:1/x%4&module=ws",
    "target=ws://127.0.0.1:1/x%&module=ws",
    "target=ws://127.0.0.1:1/x%01&module=ws",
    "target=ws://127.0.0.1:1/x%0a&module=ws",
    "target=ws://127.0.0.1:1/x&target=ws://127.0.0.1:2/x&module=ws",
    "target=ws://127.0.0.1:1/x&module=ws&module=ws",
    "module=ws",
    "target=&module=ws",
])
def test_malformed_query_strings_get_400(exporters, query):
    ex = exporters(config_text(ws=mod()))
    r = ex.get("/probe?" + query)
    assert r.status == 400, (query, r)
    assert r.text.strip() and r.text.rstrip("\n").count("\n") == 0, r.text
    assert ex.get("/-/healthy").status == 200


@pytest.mark.parametrize("target", ["http://127.0.0.1:80/x", "https://127.0.0.1/x",
                                    "ftp://127.0.0.1/", "127.0.0.1:80", "ws://", "ws://:80/x",
                                    "wss//127.0.0.1/x", "not a url", "ws://127.0.0.1:0/x",
                                    "ws://127.0.0.1:65536/x"])
def test_non_ws_targets_get_400(exporters, target):
    ex = exporters(config_text(ws=mod(allowed=["*"])))
    r = ex.probe(target, "ws")
    assert r.status == 400, (target, r)
    assert r.text.strip() and r.text.rstrip("\n").count("\n") == 0, r.text


def test_unknown_module_lists_the_modules(exporters, echo):
    ex = exporters(config_text(alpha_mod=mod(), beta_mod=mod()))
    r = ex.probe(echo.url("/x"), "gamma")
    assert r.status == 400
    assert "alpha_mod" in r.text and "beta_mod" in r.text
    assert r.text.rstrip("\n").count("\n") == 0
    assert ex.metrics().value("wsprobe_exporter_requests_refused_total",
                              reason="unknown_module") == 1


def _one_response(data):
    return data.count(b"HTTP/1.1 ") + data.count(b"HTTP/1.0 ")


def _status(data):
    assert data.startswith(b"HTTP/1."), data[:200]
    return int(data.split(b" ", 2)[1])


def test_request_size_and_header_caps(exporters, echo):
    ex = exporters(config_text(ws=mod()))
    probe_path = "/probe?" + urllib.parse.urlencode({"target": echo.url("/x"), "module": "ws"})
    # a head under 16 KiB is served
    r = ex.get(probe_path, headers={"X-Pad": "a" * 8000})
    assert r.status == 200
    # a head over 16 KiB: 431, answered once
    for extra in (["X-Big: " + "a" * 17000],
                  ["X-H%d: %s" % (i, "b" * 60) for i in range(300)]):
        raw = ("GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n" % (probe_path, "\r\n".join(extra)))
        data = ex.raw(raw.encode())
        assert _status(data) == 431, data[:200]
        assert _one_response(data) == 1
    # a body: 413 (the exporter takes none), the body consumed, answered once
    for head, body in (("Content-Length: 5\r\n", b"hello"),
                       ("Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n"),
                       ("Content-Length: 5\r\nContent-Length: 5\r\n", b"hello")):
        raw = ("GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (probe_path, head)).encode() + body
        data = ex.raw(raw)
        assert _status(data) == 413, (head, data[:300])
        assert _one_response(data) == 1, data
        body_part = data.split(b"\r\n\r\n", 1)[1]
        assert body_part.strip() and body_part.rstrip(b"\n").count(b"\n") == 0, body_part
    # a request smuggled in a body is never answered as a request of its own
    smuggled = b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
    for head, body in (("Content-Length: %d\r\n" % len(smuggled), smuggled),
                       ("Content-Length: 0\r\nContent-Length: %d\r\n" % len(smuggled),
                        smuggled),
                       ("Transfer-Encoding: chunked\r\n",
                        b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled)),
                       ("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
                        b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled))):
        raw = ("GET /metrics HTTP/1.1\r\nHost: x\r\n%s\r\n" % head).encode() + body
        data = ex.raw(raw)
        assert _status(data) in (400, 413), (head, data[:300])
        assert _one_response(data) == 1, data
    # a request line too long for the head cap
    data = ex.raw(("GET /probe?module=ws&target=ws://127.0.0.1:1/%s HTTP/1.1\r\nHost: x\r\n\r\n"
                   % ("p" * 20000)).encode())
    assert _status(data) in (414, 431), data[:200]
    assert _one_response(data) == 1
    m = ex.metrics()
    assert m.value("wsprobe_exporter_requests_refused_total", reason="too_large") >= 8
    assert m.value("wsprobe_exporter_probes_total", module="ws", result="success") == 1


def test_garbage_request_lines_get_400(exporters):
    ex = exporters(config_text(ws=mod()))
    for raw in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(40) + b"\r\n\r\n",
                b"GET /probe HTTP/9.9\r\n\r\n",
                b"GET\r\n\r\n",
                b"GET /metrics HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                b"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n",
                b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n"):
        data = ex.raw(raw, timeout=5)
        assert data and 400 <= _status(data) < 500, (raw[:30], data[:200])
    assert ex.get("/-/healthy").status == 200


def test_slow_clients_do_not_block_scrapes(exporters, echo):
    ex = exporters(config_text(ws=mod()))
    partial, silent = [], []
    t0 = time.monotonic()
    try:
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", ex.port), timeout=5)
            s.sendall(b"GET /probe?target=ws://127.0.0.1:1/&module=ws HTTP/1.1\r\nHost: x\r\n")
            partial.append(s)
            silent.append(socket.create_connection(("127.0.0.1", ex.port), timeout=5))
        trickler = socket.create_connection(("127.0.0.1", ex.port), timeout=5)
        stop = threading.Event()

        def trickle():
            for b in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
                if stop.wait(0.2):
                    return
                try:
                    trickler.send(bytes([b]))
                except OSError:
                    return
        th = threading.Thread(target=trickle, daemon=True)
        th.start()
        # meanwhile, scrapes are answered promptly
        for _ in range(5):
            t = time.monotonic()
            exp = ex.probe_exp(echo.url("/x"), "ws")
            assert exp.value("wsprobe_probe_success") == 1
            assert time.monotonic() - t < 2.0
        assert ex.get("/metrics").status == 200
        assert time.monotonic() - t0 < 8  # all of that well before the 10 s head deadline
        # the incomplete heads get 408 (and the silent ones are closed) after about 10 s
        for s in partial + [trickler]:
            data = read_until_close(s, max(0.5, t0 + 14 - time.monotonic()))
            assert data and _status(data) == 408, data[:200]
        for s in silent:
            data = read_until_close(s, max(0.5, t0 + 14 - time.monotonic()))
            assert not data or _status(data) == 408
        elapsed = time.monotonic() - t0
        assert 8 <= elapsed < 14.5, elapsed
        stop.set()
        th.join(timeout=2)
    finally:
        for s in partial + silent:
            s.close()
    assert ex.metrics().value("wsprobe_exporter_requests_refused_total", reason="timeout") >= 21


def test_at_most_1024_connections(exporters):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1300:
        if hard != resource.RLIM_INFINITY and hard < 1300:
            pytest.skip("the file limit (%d) is too low to open 1,100 connections" % hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (1300 if hard == resource.RLIM_INFINITY
                                                    else min(hard, 4096), hard))
    ex = exporters(config_text(ws=mod()))
    socks = []
    try:
        for _ in range(1100):
            socks.append(socket.create_connection(("127.0.0.1", ex.port), timeout=5))
        time.sleep(1.0)
        alive = 0
        for s in socks:
            s.setblocking(False)
            try:
                s.recv(1)
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        assert 1000 <= alive <= 1024, alive
    finally:
        for s in socks:
            s.close()
    end = time.monotonic() + 5
    while True:  # the server takes new connections again once they are gone
        try:
            assert ex.get("/-/healthy", timeout=2).status == 200
            break
        except (OSError, http.client.HTTPException):
            assert time.monotonic() < end
            time.sleep(0.1)


def test_max_concurrent_answers_503(exporters, unanswered, echo):
    ex = exporters(config_text(ws=mod(timeout="10s")), "--max-concurrent", "1")
    result = {}

    def long_probe():
        result["r"] = ex.probe("ws://127.0.0.1:%d/x" % unanswered, "ws",
                               headers={"X-Prometheus-Scrape-Timeout-Seconds": "3"})
    th = threading.Thread(target=long_probe)
    th.start()
    try:
        end = time.monotonic() + 5
        while ex.metrics().value("wsprobe_exporter_probes_in_flight") < 1:
            assert time.monotonic() < end, "the first probe never started"
            time.sleep(0.05)
        t = time.monotonic()
        r = ex.probe(echo.url("/x"), "ws")
        assert r.status == 503, r
        assert r.headers.get("retry-after") == "1"
        assert time.monotonic() - t < 1.0
        assert ex.get("/-/healthy").status == 200
    finally:
        th.join(timeout=10)
    assert result["r"].status == 200
    assert ex.probe_exp(echo.url("/x"), "ws").value("wsprobe_probe_success") == 1
    m = ex.metrics()
    assert m.value("wsprobe_exporter_requests_refused_total", reason="too_many_probes") == 1
    assert m.value("wsprobe_exporter_probes_in_flight") == 0


# ---------------------------------------------------------------------------------------------
# Secrets never appear in metrics, logs or error pages

def test_secrets_never_leak(exporters, serve, echo):
    ready = mint(sub="ready-secret-holder")
    leak_q = "LeakedQueryValue5f1e2d"
    ex = exporters(config_text(
        jwt=mod(auth={"jwt": {"secret_env": SECRET_ENV}}),
        ready=mod(auth={"token_env": "WSP_READY_TOKEN"}),
        wrong=mod(auth={"jwt": {"secret_env": "WSP_OTHER_SECRET"}})),
        env={SECRET_ENV: SECRET, "WSP_READY_TOKEN": ready, "WSP_OTHER_SECRET": OTHER_SECRET})
    seen = []
    for module in ("jwt", "ready", "wrong"):
        for accept in (None, PROM_ACCEPT):
            r = ex.probe(serve.url(), module, headers={"Accept": accept} if accept else None)
            assert r.status == 200
            seen.append(r.text)
    # error pages that quote the target
    for target in ("ws://127.0.0.2:%d/ws?token=%s" % (serve.port(), leak_q),
                   "http://127.0.0.1:%d/ws?token=%s" % (serve.port(), leak_q),
                   "ws://127.0.0.1:%d/ws?access_token=%s" % (serve.port(), leak_q),
                   "ws://127.0.0.1:%d/ws?token=%s" % (serve.port(), ready),
                   "ws://user:Sup3rPassw0rdX@127.0.0.1:%d/ws" % serve.port(),
                   "ws://127.0.0.1:%d/ws?password=%s" % (serve.port(), leak_q),
                   "ws://127.0.0.2:%d/%s" % (serve.port(), ready)):
        r = ex.probe(target, "jwt")
        seen.append(r.text)
    # anything shaped like a JWT is redacted, wherever it comes from
    r = ex.probe(serve.url(), ready)
    assert r.status == 400
    seen.append(r.text)
    # a reload with a secret written in the configuration: refused without quoting it
    ex.config_path.write_text("modules:\n  jwt:\n    allowed_targets: ['ws://127.0.0.1:*/*']\n"
                              "    auth:\n      jwt: {secret: %s}\n" % SECRET)
    r = ex.request("POST", "/-/reload")
    assert r.status == 500
    seen.append(r.text)
    seen.append(ex.get("/metrics").text)
    seen.append(ex.get("/metrics", headers={"Accept": PROM_ACCEPT}).text)
    seen.append(ex.get("/").text)
    assert ex.stop() == 0
    seen.append(ex.stderr())
    blob = "\n".join(seen)
    for needle in (SECRET, OTHER_SECRET, ready, ready.split(".")[2], leak_q, "Sup3rPassw0rdX"):
        assert needle not in blob, "secret %r leaked:\n%s" % (needle[:12], blob[-3000:])
    assert not JWT_SHAPE.search(blob), JWT_SHAPE.search(blob).group(0)


# ---------------------------------------------------------------------------------------------
# The web configuration: basic auth and TLS

def bcrypt_hash(user, password):
    r = subprocess.run([HTPASSWD, "-nbBC", "10", user, password], capture_output=True,
                       timeout=20, check=True)
    return r.stdout.decode().strip().split(":", 1)[1]


def test_basic_auth(exporters, echo):
    h = bcrypt_hash("prom", "correct horse")
    h2 = bcrypt_hash("other", "battery staple")
    ex = exporters(config_text(ws=mod()),
                   web="basic_auth_users:\n  prom: '%s'\n  other: '%s'\n" % (h, h2))
    probe_path = "/probe?" + urllib.parse.urlencode({"target": echo.url("/x"), "module": "ws"})
    for path in ("/metrics", probe_path):
        r = ex.get(path)
        assert r.status == 401, r
        assert r.headers.get("www-authenticate", "").lower().startswith("basic"), r.headers
        assert ex.get(path, auth=("prom", "wrong")).status == 401
        assert ex.get(path, auth=("nobody", "correct horse")).status == 401
        assert ex.get(path, auth=("other", "correct horse")).status == 401
    r = ex.get(probe_path, auth=("prom", "correct horse"))
    assert r.status == 200 and r.exposition().value("wsprobe_probe_success") == 1
    assert ex.get("/metrics", auth=("other", "battery staple")).status == 200
    # verified once, then cached: the password still has to be the right one, for that user
    assert ex.get("/metrics", auth=("prom", "correct horsE")).status == 401
    assert ex.get("/metrics", auth=("other", "correct horse")).status == 401
    assert ex.get("/metrics", auth=("Prom", "correct horse")).status == 401
    assert ex.get("/metrics", auth=("prom", "battery staple")).status == 401
    for bad in ("Basic !!!notbase64", "Bearer abc", "Basic " + base64.b64encode(b"nocolon")
                .decode(), "Basic"):
        assert ex.get("/metrics", headers={"Authorization": bad}).status == 401, bad
    m = ex.get("/metrics", auth=("prom", "correct horse")).exposition()
    assert m.value("wsprobe_exporter_requests_refused_total", reason="unauthorized") >= 11
    err = ex.stderr()
    assert "correct horse" not in err and h not in err


def test_basic_auth_password_with_a_colon(exporters):
    h = bcrypt_hash("prom", "pa:ss wd")
    ex = exporters(config_text(ws=mod()), web="basic_auth_users:\n  prom: '%s'\n" % h)
    assert ex.get("/metrics", auth=("prom", "pa:ss wd")).status == 200
    assert ex.get("/metrics", auth=("prom", "pa")).status == 401
    assert ex.get("/metrics", auth=("prom", "pa:ss")).status == 401


def test_basic_auth_bcrypt_is_cached_and_unknown_users_cost_the_same(exporters):
    h = bcrypt_hash("prom", "pw-for-timing")
    ex = exporters(config_text(ws=mod()), web="basic_auth_users:\n  prom: '%s'\n" % h)

    def timed(auth, conn):
        t = time.monotonic()
        r = ex.request("GET", "/metrics", auth=auth, conn=conn)
        return r.status, time.monotonic() - t

    c = ex.conn()
    try:
        wrong = [timed(("prom", "nope-%d" % i), c) for i in range(3)]
        unknown = [timed(("ghost%d" % i, "nope"), c) for i in range(3)]
        first = timed(("prom", "pw-for-timing"), c)
        cached = [timed(("prom", "pw-for-timing"), c) for _ in range(15)]
    finally:
        c.close()
    assert all(s == 401 for s, _ in wrong + unknown)
    assert first[0] == 200 and all(s == 200 for s, _ in cached)
    bcrypt_cost = min(d for _, d in wrong)
    assert bcrypt_cost > 0.01, "a cost-10 bcrypt took %.4fs: was it checked?" % bcrypt_cost
    cached_median = sorted(d for _, d in cached)[len(cached) // 2]
    assert cached_median < bcrypt_cost / 3, (cached_median, bcrypt_cost)
    # an unknown user is checked against a dummy hash of the same cost
    assert min(d for _, d in unknown) > bcrypt_cost / 3, (unknown, wrong)


def test_basic_auth_concurrent_checks_are_capped(exporters):
    slow = subprocess.run([HTPASSWD, "-nbBC", "12", "prom", "right-one"], capture_output=True,
                          timeout=20, check=True).stdout.decode().strip().split(":", 1)[1]
    ex = exporters(config_text(ws=mod()), web="basic_auth_users:\n  prom: '%s'\n" % slow)
    statuses = []
    lock = threading.Lock()
    gate = threading.Barrier(40)

    def attempt(i):
        c = ex.conn(timeout=20)
        try:
            c.connect()
            gate.wait(timeout=10)
            r = ex.request("GET", "/metrics", auth=("prom", "wrong-%d" % i), conn=c)
            with lock:
                statuses.append(r.status)
        except Exception as e:  # noqa: BLE001
            with lock:
                statuses.append(repr(e))
        finally:
            c.close()
    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(statuses) == 40
    assert set(statuses) <= {401, 503}, statuses
    assert statuses.count(503) >= 1 and statuses.count(401) >= 1, statuses
    assert ex.get("/metrics", auth=("prom", "right-one")).status == 200


def _client_cert(pki, tmp_path, ca, ca_key, name):
    key = tmp_path / (name + ".key")
    csr = tmp_path / (name + ".csr")
    crt = tmp_path / (name + ".pem")
    ext = tmp_path / (name + ".ext")
    ext.write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=clientAuth\n")
    for args in (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                  str(key)],
                 ["req", "-new", "-key", str(key), "-out", str(csr), "-subj", "/CN=" + name],
                 ["x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
                  "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-out", str(crt),
                  "-days", "2", "-extfile", str(ext)]):
        subprocess.run([OPENSSL] + args, check=True, capture_output=True, timeout=30)
    return crt, key


def test_tls_web_config(exporters, pki, echo):
    cert, key = pki.server_pair("trusted")
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    h = bcrypt_hash("prom", "tls-pass")
    ex = exporters(config_text(ws=mod()),
                   web="tls_server_config:\n  cert_file: %s\n  key_file: %s\n"
                       "basic_auth_users:\n  prom: '%s'\n" % (cert, key, h),
                   tls_ctx=ctx)
    r = ex.get("/metrics", auth=("prom", "tls-pass"))
    assert r.status == 200
    assert ex.get("/metrics").status == 401
    exp = ex.probe_exp(echo.url("/x"), "ws", auth=("prom", "tls-pass"))
    assert exp.value("wsprobe_probe_success") == 1
    # the certificate served is the one configured
    with socket.create_connection(("127.0.0.1", ex.port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            der = t.getpeercert(binary_form=True)
    assert der == ssl.PEM_cert_to_DER_cert(Path(cert).read_text())
    # plain HTTP on the TLS port is not served
    data = ex.raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n"
                  % base64.b64encode(b"prom:tls-pass"), timeout=5)
    assert b"wsprobe_exporter" not in data and not data.startswith(b"HTTP/1.1 200")


def test_tls_web_config_min_version(exporters, pki):
    cert, key = pki.server_pair("trusted")
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    ex = exporters(config_text(ws=mod()),
                   web="tls_server_config:\n  cert_file: %s\n  key_file: %s\n"
                       "  min_version: TLS13\n" % (cert, key), tls_ctx=ctx)
    assert ex.get("/-/healthy").status == 200
    old = ssl.create_default_context(cafile=str(pki.ca))
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", ex.port), timeout=5) as s:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            old.wrap_socket(s, server_hostname="localhost")


@pytest.mark.parametrize("auth_type,none_ok,good_ok,bad_ok", [
    ("NoClientCert", True, True, True),
    ("RequestClientCert", True, True, True),
    ("RequireAnyClientCert", False, True, True),
    ("VerifyClientCertIfGiven", True, True, False),
    ("RequireAndVerifyClientCert", False, True, False),
])
def test_tls_client_certificates(exporters, pki, tmp_path, auth_type, none_ok, good_ok, bad_ok):
    """client_auth_type as exporter-toolkit (Go's tls.ClientAuthType) defines it."""
    cert, key = pki.server_pair("trusted")
    web = ("tls_server_config:\n  cert_file: %s\n  key_file: %s\n  client_auth_type: %s\n"
           % (cert, key, auth_type))
    if "Verify" in auth_type:  # a CA only where the certificate is verified
        web += "  client_ca_file: %s\n" % pki.ca
    ex = exporters(config_text(ws=mod()), web=web)
    good_crt, good_key = _client_cert(pki, tmp_path, pki.ca, pki.ca_key, "prom-client")
    bad_crt, bad_key = _client_cert(pki, tmp_path, pki.other_ca, pki.other_ca_key, "intruder")

    def attempt(crt=None, k=None):
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        if crt:
            ctx.load_cert_chain(str(crt), str(k))
        c = http.client.HTTPSConnection("127.0.0.1", ex.port, timeout=5, context=ctx)
        try:
            c.request("GET", "/-/healthy")
            return c.getresponse().status == 200
        except (ssl.SSLError, ConnectionError, OSError, http.client.HTTPException):
            return False
        finally:
            c.close()
    assert attempt(good_crt, good_key) is good_ok
    assert attempt() is none_ok
    assert attempt(bad_crt, bad_key) is bad_ok
    assert ex.alive()


def test_tls_web_config_max_version(exporters, pki):
    cert, key = pki.server_pair("trusted")
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    ex = exporters(config_text(ws=mod()),
                   web="tls_server_config:\n  cert_file: %s\n  key_file: %s\n"
                       "  max_version: TLS12\n" % (cert, key), tls_ctx=ctx)
    with socket.create_connection(("127.0.0.1", ex.port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            assert t.version() == "TLSv1.2"
    new = ssl.create_default_context(cafile=str(pki.ca))
    new.minimum_version = ssl.TLSVersion.TLSv1_3
    with socket.create_connection(("127.0.0.1", ex.port), timeout=5) as s:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            new.wrap_socket(s, server_hostname="localhost")


@pytest.mark.parametrize("web", [
    "tls_server_config:\n  cert_file: CERT\n  key_file: KEY\n"
    "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
    "tls_server_config:\n  cert_file: CERT\n  key_file: KEY\n  curve_preferences: [X25519]\n",
    "tls_server_config:\n  cert_file: CERT\n  key_file: KEY\n  prefer_server_cipher_suites: true\n",
    "tls_server_config:\n  cert_file: CERT\n  key_file: KEY\n  min_version: TLS99\n",
    "http_server_config:\n  http2: false\n",
    "tls_server_config:\n  cert_file: /nonexistent/cert.pem\n  key_file: KEY\n",
    "tls_server_config:\n  cert_file: CERT\n  key_file: KEY\n  client_auth_type: Sometimes\n",
    "basic_auth_users: [prom]\n",
    "no_such_key: 1\n",
])
def test_bad_web_config_exits_2(tmp_path, pki, web):
    cert, key = pki.server_pair("trusted")
    web = web.replace("CERT", str(cert)).replace("KEY", str(key))
    rc, err, wrote = run_exporter_expect_exit(tmp_path, config_text(ws=mod()), web=web)
    assert rc == 2, (web, rc, err)
    assert not wrote
    for name in ("cipher_suites", "curve_preferences", "http_server_config"):
        if name in web:  # refused by name, not ignored
            assert name in err, err


# ---------------------------------------------------------------------------------------------
# The examples name metrics that a real exposition has

def test_examples_name_real_metrics(exporters, serve):
    ex_dir = Path(__file__).resolve().parents[2] / "examples" / "prometheus"
    ex = exporters(config_text(
        wss=mod(allowed=["wss://127.0.0.1:*/*"], tls={"cacert": serve.ca},
                auth={"jwt": {"secret_env": SECRET_ENV}}),
        ws=mod()), env={SECRET_ENV: SECRET})
    names = set()
    names |= ex.probe_exp(serve.url(tls=True), "wss").names()
    names |= ex.probe_exp(serve.url(), "ws").names()  # a failure (401): failure_info
    names |= ex.metrics().names()
    rules = (ex_dir / "rules.yml").read_text()
    dashboard = json.loads((ex_dir / "grafana-dashboard.json").read_text())
    exprs = [rules]

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("expr", "query") and isinstance(v, str):
                    exprs.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(dashboard)
    used = set()
    for e in exprs:
        used |= set(re.findall(r"(?<![:\w])((?:wsprobe|process)_[a-z_]+)", e))
    assert used, exprs
    missing = sorted(u for u in used if u not in names)
    assert not missing, missing
    for args in (["check", "rules", str(ex_dir / "rules.yml")],
                 ["test", "rules", str(ex_dir / "rules.test.yml")]):
        r = subprocess.run([PROMTOOL] + args, capture_output=True, timeout=30, cwd=ex_dir)
        assert r.returncode == 0, (args, r.stdout.decode(), r.stderr.decode())


# ---------------------------------------------------------------------------------------------
# Prometheus itself scrapes the exporter

def test_prometheus_scrapes_the_exporter(exporters, tmp_path):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("prometheus is not installed")
    live = CountingWS()
    dead = refused_port()
    ex = exporters(config_text(ws=mod(timeout="2s")))
    live_url = "ws://127.0.0.1:%d/live" % live.port
    dead_url = "ws://127.0.0.1:%d/dead" % dead
    proc = None
    try:
        for _ in range(5):
            port = free_port()
            wd = tmp_path / ("prom-%d" % port)
            wd.mkdir()
            (wd / "prometheus.yml").write_text(json.dumps({
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                           "evaluation_interval": "1s"},
                "scrape_configs": [
                    {"job_name": "websocket", "metrics_path": "/probe",
                     "params": {"module": ["ws"]},
                     "static_configs": [{"targets": [live_url, dead_url]}],
                     "relabel_configs": [
                         {"source_labels": ["__address__"], "target_label": "__param_target"},
                         {"source_labels": ["__param_target"], "target_label": "instance"},
                         {"target_label": "__address__",
                          "replacement": "127.0.0.1:%d" % ex.port}]},
                    {"job_name": "exporter",
                     "static_configs": [{"targets": ["127.0.0.1:%d" % ex.port]}]}]}))
            err = open(wd / "stderr.log", "wb")
            proc = subprocess.Popen(
                [PROMETHEUS, "--config.file=%s" % (wd / "prometheus.yml"),
                 "--storage.tsdb.path=%s" % (wd / "data"),
                 "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                stdout=err, stderr=err, stdin=subprocess.DEVNULL, cwd=wd,
                start_new_session=True)
            err.close()
            end = time.monotonic() + 10
            ready = False
            while time.monotonic() < end and proc.poll() is None:
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % port,
                                                timeout=1) as resp:
                        if resp.status == 200:
                            ready = True
                            break
                except OSError:
                    time.sleep(0.1)
            if ready:
                break
            proc.terminate()
            proc.wait(timeout=5)
            proc = None
        assert proc is not None, "prometheus did not start"

        def query(q):
            url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode(
                {"query": q}))
            with urllib.request.urlopen(url, timeout=3) as resp:
                body = json.loads(resp.read())
            assert body["status"] == "success", body
            return {tuple(sorted((k, v) for k, v in s["metric"].items() if k != "__name__")):
                    float(s["value"][1]) for s in body["data"]["result"]}

        def wait_query(q, pred, timeout=15.0):
            end = time.monotonic() + timeout
            last = None
            while time.monotonic() < end:
                last = query(q)
                if pred(last):
                    return last
                time.sleep(0.3)
            pytest.fail("%s never held: %r\n%s" % (q, last, (wd / "stderr.log").read_text()))

        wait_query('wsprobe_probe_success{instance="%s"}' % live_url,
                   lambda r: list(r.values()) == [1.0])
        wait_query('wsprobe_probe_success{instance="%s"}' % dead_url,
                   lambda r: list(r.values()) == [0.0])
        r = wait_query('wsprobe_probe_failure_info{instance="%s"}' % dead_url, lambda r: r)
        assert [dict(k)["class"] for k in r] == ["TCP_REFUSED"]
        up = wait_query('up{job="websocket"}', lambda r: len(r) == 2)
        assert set(up.values()) == {1.0}  # both expositions were accepted
        wait_query('wsprobe_exporter_probes_total{job="exporter",result="success"}',
                   lambda r: r and list(r.values())[0] >= 1)
        # the live target stops: its success flips to 0 with the class
        live.close()
        wait_query('wsprobe_probe_success{instance="%s"}' % live_url,
                   lambda r: list(r.values()) == [0.0])
        r = wait_query('wsprobe_probe_failure_info{instance="%s"}' % live_url, lambda r: r)
        assert [dict(k)["class"] for k in r] == ["TCP_REFUSED"]
    finally:
        live.close()
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
