"""The conformance corpus's helpers: an independent raw-socket WebSocket client, and the
third-party peers (started lazily, once per pytest session or xdist worker).

The raw client (RawWS) is written from RFC 6455 with nothing but `socket`, `ssl`, `hashlib`
and `struct`: it sends the upgrade request byte for byte, parses the status line and headers
itself, checks Sec-WebSocket-Accept, sends masked frames and reads the server's frames
(close code and reason included) exactly as they arrive, up to EOF. The corpus states each
peer's real behaviour with it first; only then does it run wsprobe against the same peer.

Peers (methods of the `corpus` fixture; each returns a conftest.Peer with .port and .url()):
    lws()                    Debian's libwebsockets-test-server (dumb-increment-protocol,
                             lws-mirror-protocol)
    websocketd()             Debian's websocketd around a line-echo program
    node_ws(mode, ...)       Node `ws` server (tests/node/corpus_ws_server.js, modes there)
    faye()                   faye-websocket echo on node's http server
    socketio()               socket.io server (Engine.IO v4)
    bun(deflate=False)       Bun.serve echo (the `bun` npm package's binary); perMessageDeflate
    py_deflate()             python3-websockets echo with permessage-deflate on
    http10_101()             a raw server answering the upgrade with `HTTP/1.0 101`
    haproxy(config, backend) HAProxy 2.6 in front of a peer (peers/corpus/haproxy-*.cfg.in)
    nginx(config, backend)   nginx in front of a peer (peers/corpus/nginx-*.conf.in)
    serve(*args)             `wsprobe serve` with a port file (the browser tests' server)
    static(name)             a static HTTP server on 127.0.0.1 for the browser's page

Every process is started through conftest.Peers (READY <port> on stdout, or a just-freed port
with a bounded retry), with _die_with_parent, and stopped by pid at teardown.
"""
import base64
import hashlib
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import time
from dataclasses import dataclass
from html import unescape as html_unescape
from pathlib import Path
from typing import List

import pytest

from conftest import (PYTHON, NGINX, REPO, Peer, Peers, _die_with_parent, exit_codes,
                      read_ready, stop_process, wsprobe_path)

E2E = Path(__file__).resolve().parent
CORPUS_DIR = E2E / "peers" / "corpus"
NODE_DIR = REPO / "tests" / "node"
LWS = "/usr/bin/libwebsockets-test-server"
WEBSOCKETD = "/usr/bin/websocketd"
HAPROXY = "/usr/sbin/haproxy"
CHROMIUM = "/usr/bin/chromium"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


# =============================================================================================
# The raw client

class HandshakeError(Exception):
    pass


@dataclass
class Frame:
    fin: bool
    rsv: int          # the three RSV bits, as 0..7
    opcode: int
    payload: bytes

    @property
    def text(self):
        return self.payload.decode("utf-8", "replace")

    @property
    def close_code(self):
        """The status code of a close frame; None for a close frame without a body."""
        assert self.opcode == OP_CLOSE
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self):
        assert self.opcode == OP_CLOSE
        return self.payload[2:].decode("utf-8", "replace")


@dataclass
class Response:
    """An HTTP response head as it came: the status line's parts and the headers in order."""
    version: str
    status: int
    reason: str
    headers: List[tuple]
    raw: bytes
    body: bytes = b""

    def header(self, name):
        vals = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(vals) if vals else None


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def parse_head(head: bytes) -> Response:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise HandshakeError("not an HTTP status line: %r" % lines[0])
    headers = []
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
    return Response(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", headers, head)


class RawWS:
    """One client connection, raw. Typical use:

        c = RawWS(port, "/path", subprotocols=["chat"])
        r = c.handshake()             # Response; c.opened is True on a valid 101
        c.send_text("hi")
        f = c.recv(timeout=2)         # a Frame, or None on EOF
        frames, eof = c.drain(2)      # everything until EOF or the timeout
    """

    def __init__(self, port, path="/", host="127.0.0.1", headers=(), subprotocols=(),
                 extensions=None, origin=None, tls=None, server_hostname=None, timeout=5.0,
                 version="13", upgrade=True, http_version="1.1"):
        self.port, self.path, self.host = port, path, host
        self.extra = list(headers)
        self.subprotocols = list(subprotocols)
        self.extensions = extensions
        self.origin = origin
        self.timeout = timeout
        self.version = version
        self.upgrade = upgrade
        self.http_version = http_version
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.buf = b""
        self.eof = False
        self.opened = False
        self.response = None
        s = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            s = tls.wrap_socket(s, server_hostname=server_hostname or host)
        self.sock = s

    # -- handshake ---------------------------------------------------------------------------

    def request_bytes(self):
        lines = ["GET %s HTTP/%s" % (self.path, self.http_version),
                 "Host: %s:%d" % (self.host, self.port)]
        if self.upgrade:
            lines += ["Upgrade: websocket", "Connection: Upgrade",
                      "Sec-WebSocket-Key: " + self.key,
                      "Sec-WebSocket-Version: " + self.version]
        if self.subprotocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(self.subprotocols))
        if self.extensions:
            lines.append("Sec-WebSocket-Extensions: " + self.extensions)
        if self.origin:
            lines.append("Origin: " + self.origin)
        lines += list(self.extra)
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def handshake(self, read_body=True):
        """Send the upgrade request and read the response head. On a 101 with the right
        Accept, the connection is open (self.opened). Otherwise (read_body) the body goes
        into response.body: Content-Length bytes, or all until EOF (3 s at most). Raises
        HandshakeError when the head does not complete (EOF, or the timeout)."""
        self.sock.sendall(self.request_bytes())
        end = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(end):
                raise HandshakeError("no complete response head (%s; %d bytes: %r)" % (
                    "EOF" if self.eof else "timeout", len(self.buf), self.buf[:200]))
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        r = parse_head(head)
        self.response = r
        if r.status == 101:
            self.opened = (r.header("Sec-WebSocket-Accept") == accept_for(self.key))
        elif read_body:
            # the body: Content-Length bytes when it is given, else until EOF (3 s at most)
            end = time.monotonic() + min(self.timeout, 3.0)
            length = r.header("Content-Length")
            if length is not None and length.strip().isdigit():
                self._need(int(length), end)
                r.body, self.buf = self.buf[:int(length)], self.buf[int(length):]
            else:
                while self._fill(end):
                    pass
                r.body, self.buf = self.buf, b""
        return r

    # -- frames ------------------------------------------------------------------------------

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0):
        n = len(payload)
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        if n < 126:
            head = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", b0, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send_text(self, text):
        self.send_frame(OP_TEXT, text.encode() if isinstance(text, str) else text)

    def send_close(self, code=1000, reason=""):
        payload = b"" if code is None else struct.pack("!H", code) + reason.encode()
        self.send_frame(OP_CLOSE, payload)

    def _fill(self, end):
        """Read more bytes before `end`; False on EOF/reset or timeout."""
        if self.eof:
            return False
        left = end - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionError, ssl.SSLError, OSError):
            self.eof = True
            return False
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _need(self, n, end):
        while len(self.buf) < n:
            if not self._fill(end):
                return False
        return True

    def recv(self, timeout=None):
        """The next frame as it came (pings are returned, not answered); None on EOF; raises
        TimeoutError when nothing complete came in time. A masked server frame raises."""
        end = time.monotonic() + (self.timeout if timeout is None else timeout)
        if not self._need(2, end):
            if self.eof:
                return None
            raise TimeoutError("no frame within the timeout")
        b0, b1 = self.buf[0], self.buf[1]
        if b1 & 0x80:
            raise AssertionError("the server sent a masked frame")
        n, off = b1 & 0x7F, 2
        if n == 126:
            if not self._need(4, end):
                return self._short()
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            if not self._need(10, end):
                return self._short()
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        if not self._need(off + n, end):
            return self._short()
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, payload)

    def _short(self):
        if self.eof:
            return None
        raise TimeoutError("a frame started but did not complete in time")

    def drain(self, timeout=3.0):
        """Every frame until EOF or the timeout: (frames, eof_seen)."""
        end = time.monotonic() + timeout
        out = []
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return out, self.eof
            try:
                f = self.recv(left)
            except TimeoutError:
                return out, self.eof
            if f is None:
                return out, True
            out.append(f)

    def messages_until_close(self, timeout=3.0):
        """(data frames, the close frame or None, eof seen) until a close frame, EOF or the
        timeout."""
        end = time.monotonic() + timeout
        data = []
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return data, None, self.eof
            try:
                f = self.recv(left)
            except TimeoutError:
                return data, None, self.eof
            if f is None:
                return data, None, True
            if f.opcode == OP_CLOSE:
                return data, f, self.eof
            data.append(f)

    def wait_eof(self, timeout=3.0):
        """True when the server ends the TCP connection within the timeout (bytes that come
        meanwhile are kept in the buffer)."""
        end = time.monotonic() + timeout
        while self._fill(end):
            pass
        return self.eof

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Listener:
    """A bare TCP listener on 127.0.0.1:0 that records whether anyone connected: for the
    cases where wsprobe must send nothing."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def connections(self, wait=0.3):
        """How many connections were made (accepting them), after waiting `wait` seconds."""
        time.sleep(wait)
        n = 0
        for _ in range(64):
            try:
                c, _ = self.sock.accept()
            except (BlockingIOError, OSError):
                break
            c.close()
            n += 1
        return n

    def close(self):
        self.sock.close()


# =============================================================================================
# The peers

def _node():
    return shutil.which("node")


def _bun():
    """The Bun binary of the `bun` npm package: bin/bun.exe once its postinstall has put the
    platform's binary there, else the binary inside the @oven/bun-linux-x64(-baseline)
    optional dependency. Only a real ELF file counts (the package ships a placeholder)."""
    for p in (NODE_DIR / "node_modules" / "bun" / "bin" / "bun.exe",
              NODE_DIR / "node_modules" / "@oven" / "bun-linux-x64" / "bin" / "bun",
              NODE_DIR / "node_modules" / "@oven" / "bun-linux-x64-baseline" / "bin" / "bun"):
        try:
            with open(p, "rb") as f:
                if f.read(4) == b"\x7fELF" and os.access(p, os.X_OK):
                    return p
        except OSError:
            continue
    return None


def require_node_module(name):
    if not _node():
        pytest.skip("node is not installed")
    if not (NODE_DIR / "node_modules" / name).is_dir():
        pytest.skip("npm package %s is not installed: run `npm ci --prefix tests/node`" % name)


def require_binary(path, what):
    if not os.access(path, os.X_OK):
        pytest.skip("%s is not installed (%s)" % (what, path))


class CorpusPeers:
    """Starts the corpus's peers through a conftest.Peers (cached by arguments) and stops
    them all at teardown."""

    def __init__(self, mgr: Peers):
        self.mgr = mgr

    # -- programs that print READY <port> ---------------------------------------------------

    def _ready(self, name, cmd, env=None, cwd=None):
        wd = self.mgr._workdir(name)
        err = open(wd / "stderr.log", "wb")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                                stdin=subprocess.DEVNULL, cwd=cwd or wd, env=env,
                                preexec_fn=_die_with_parent)
        err.close()
        self.mgr.all.append(proc)
        port = read_ready(proc)
        if port is None:
            stop_process(proc)
            pytest.fail("peer %s did not start: %s\n%s" % (
                name, " ".join(map(str, cmd)),
                (wd / "stderr.log").read_text(errors="replace")[-2000:]))
        return Peer(name, proc, port, wd)

    def node_ws(self, mode="echo", max_payload=None):
        require_node_module("ws")
        cmd = [_node(), str(NODE_DIR / "corpus_ws_server.js"), mode]
        if max_payload is not None:
            cmd += ["--max-payload", str(max_payload)]
        return self.mgr._cached(("node-ws", mode, max_payload),
                                lambda: self._ready("node-ws-" + mode, cmd))

    def faye(self):
        require_node_module("faye-websocket")
        return self.mgr._cached(("faye",), lambda: self._ready(
            "faye", [_node(), str(NODE_DIR / "faye_server.js")]))

    def socketio(self):
        require_node_module("socket.io")
        return self.mgr._cached(("socketio",), lambda: self._ready(
            "socketio", [_node(), str(NODE_DIR / "socketio_server.js")]))

    def sio_app(self, *args):
        """tests/node/sio_app_server.js (namespaces, auth, acks, emits first, binary); args:
        "--eio3", "--ping-interval", "MS", "--ping-timeout", "MS"."""
        require_node_module("socket.io")
        return self.mgr._cached(("sio-app",) + args, lambda: self._ready(
            "sio-app", [_node(), str(NODE_DIR / "sio_app_server.js")] + list(args)))

    def gql(self, *args):
        """tests/node/gql_server.js (graphql-ws over ws at /graphql); args: "--open" (no
        token needed), "--legacy" (answers with the subprotocol graphql-ws)."""
        require_node_module("graphql-ws")
        return self.mgr._cached(("gql",) + args, lambda: self._ready(
            "gql", [_node(), str(NODE_DIR / "gql_server.js")] + list(args)))

    def bun(self, deflate=False):
        """Bun.serve echo; deflate: perMessageDeflate on."""
        bun = _bun()
        if bun is None:
            pytest.skip("the bun npm package's binary is missing: run `npm ci --prefix tests/node`")
        v = subprocess.run([str(bun), "--version"], capture_output=True, timeout=20)
        if v.returncode != 0:
            # e.g. -4 (SIGILL): the x64 build needs AVX2; @oven/bun-linux-x64-baseline does not
            pytest.skip("bun (%s) cannot run on this machine: exit %d %s" % (
                bun, v.returncode, v.stderr.decode(errors="replace")[-200:]))
        return self.mgr._cached(("bun", deflate), lambda: self._ready(
            "bun", [str(bun), str(NODE_DIR / "bun_server.js")] + (["--deflate"] if deflate else []),
            env=dict(os.environ, BUN_RUNTIME_TRANSPILER_CACHE_PATH="0",
                     DO_NOT_TRACK="1", BUN_DISABLE_TELEMETRY="1")))

    def lifetime_cap(self, seconds):
        """python3-websockets echo that ends each connection `seconds` after it opened, busy or
        not, with a FIN and no close frame (peers/corpus/lifetime_cap.py)."""
        return self.mgr._cached(("lifetime-cap", seconds), lambda: self._ready(
            "lifetime-cap", [PYTHON, str(CORPUS_DIR / "lifetime_cap.py"), str(seconds)]))

    def py_deflate(self):
        return self.mgr._cached(("py-deflate",), lambda: self._ready(
            "py-deflate", [PYTHON, str(CORPUS_DIR / "py_deflate.py")]))

    def http10_101(self):
        return self.mgr._cached(("http10",), lambda: self._ready(
            "http10-101", [PYTHON, str(CORPUS_DIR / "http10_101.py")]))

    def static(self, name="a", directory=CORPUS_DIR / "browser"):
        """A static HTTP server of `directory` (the browser page); each name is one server,
        so two names are two origins (http://127.0.0.1:PORT)."""
        return self.mgr._cached(("static", name, str(directory)), lambda: self._ready(
            "static-" + name, [PYTHON, str(CORPUS_DIR / "static_http.py"), str(directory)]))

    # -- programs that take their port on the command line ------------------------------------

    def lws(self):
        """libwebsockets-test-server on the loopback interface (-i lo: it then listens on
        ::ffff:127.0.0.1), its resources from the Debian package."""
        require_binary(LWS, "libwebsockets-test-server")

        def attempt(port, wd):
            return [LWS, "--port=%d" % port, "-i", "lo", "-d", "7"]
        return self.mgr._cached(("lws",), lambda: self.mgr._start_retry("lws", attempt))

    def websocketd(self):
        require_binary(WEBSOCKETD, "websocketd")

        def attempt(port, wd):
            return [WEBSOCKETD, "--address=127.0.0.1", "--port=%d" % port, "--loglevel=access",
                    PYTHON, "-u", str(CORPUS_DIR / "line_echo.py")]
        return self.mgr._cached(("websocketd",),
                                lambda: self.mgr._start_retry("websocketd", attempt))

    def haproxy(self, config, backend):
        """HAProxy (foreground, -db) from peers/corpus/haproxy-CONFIG.cfg.in in front of
        `backend`."""
        require_binary(HAPROXY, "haproxy")
        template = (CORPUS_DIR / ("haproxy-%s.cfg.in" % config)).read_text()

        def attempt(port, wd):
            conf = (template.replace("@PORT@", str(port))
                    .replace("@BACKEND_PORT@", str(backend.port)))
            (wd / "haproxy.cfg").write_text(conf)
            return [HAPROXY, "-db", "-f", str(wd / "haproxy.cfg")]
        return self.mgr._cached(("haproxy", config, backend.port),
                                lambda: self.mgr._start_retry("haproxy-" + config, attempt))

    def haproxy_two(self, backend, backend2):
        """HAProxy round robin over two backends (peers/corpus/haproxy-two.cfg.in), retrying
        and redispatching past one that is gone: the shape of a rolling deploy."""
        require_binary(HAPROXY, "haproxy")
        template = (CORPUS_DIR / "haproxy-two.cfg.in").read_text()

        def attempt(port, wd):
            conf = (template.replace("@PORT@", str(port))
                    .replace("@BACKEND_PORT@", str(backend.port))
                    .replace("@BACKEND2_PORT@", str(backend2.port)))
            (wd / "haproxy.cfg").write_text(conf)
            return [HAPROXY, "-db", "-f", str(wd / "haproxy.cfg")]
        return self.mgr._start_retry("haproxy-two", attempt)

    def nginx(self, config, backend=None, cert=None):
        """nginx (foreground, everything in its folder) from peers/corpus/nginx-CONFIG.conf.in,
        in front of `backend`; cert names a pki pair for the ssl configs."""
        require_binary(NGINX, "nginx")
        template = (CORPUS_DIR / ("nginx-%s.conf.in" % config)).read_text()
        pki = self.mgr.pki

        def attempt(port, wd):
            for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
                (wd / sub).mkdir(exist_ok=True)
            conf = template.replace("@PREFIX@", str(wd)).replace("@PORT@", str(port))
            conf = conf.replace("@BACKEND_PORT@", str(backend.port if backend else 9))
            if cert:
                c, k = pki.server_pair(cert)
                conf = conf.replace("@CERT@", str(c)).replace("@KEY@", str(k))
            if os.geteuid() == 0:
                conf = "user root root;\n" + conf
            (wd / "nginx.conf").write_text(conf)
            return [NGINX, "-p", str(wd), "-c", str(wd / "nginx.conf"), "-e",
                    str(wd / "error.log"), "-g", "daemon off;"]
        return self.mgr._cached(("nginx", config, backend.port if backend else None, cert),
                                lambda: self.mgr._start_retry("nginx-" + config, attempt))

    # -- wsprobe serve -----------------------------------------------------------------------

    def serve(self, *args, env=None):
        """`wsprobe serve --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 --self-signed DIR
        --port-file F ARGS` (the server under the browser tests). Returns a Peer whose port is
        the ws port; extra: wss (port), ca, cert (paths), info (the port file)."""
        key = ("serve",) + tuple(map(str, args)) + tuple(sorted((env or {}).items()))

        def start():
            wd = self.mgr._workdir("serve")
            port_file = wd / "ports.json"
            cmd = [str(wsprobe_path()), "serve", "--listen", "127.0.0.1:0", "--tls-listen",
                   "127.0.0.1:0", "--self-signed", str(wd / "pki"), "--port-file",
                   str(port_file)] + [str(a) for a in args]
            err = open(wd / "stderr.log", "wb")
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err,
                                    stdin=subprocess.DEVNULL, cwd=wd,
                                    env=dict(os.environ, **(env or {})),
                                    preexec_fn=_die_with_parent)
            err.close()
            self.mgr.all.append(proc)
            end = time.monotonic() + 10
            while time.monotonic() < end and proc.poll() is None:
                if port_file.exists():
                    try:
                        info = json.loads(port_file.read_text())
                    except ValueError:
                        info = None
                    if info:
                        p = Peer("serve", proc, info["ws"], wd)
                        p.extra.update(info=info, wss=info["wss"], ca=wd / "pki" / "ca.pem",
                                       cert=wd / "pki" / "cert.pem")
                        return p
                time.sleep(0.02)
            stop_process(proc)
            pytest.fail("wsprobe serve did not start: %s\n%s" % (
                " ".join(cmd), (wd / "stderr.log").read_text(errors="replace")[-2000:]))
        return self.mgr._cached(key, start)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory, pki):
    """The corpus's peers, shared by the session (one set per xdist worker), started lazily."""
    mgr = Peers(tmp_path_factory.mktemp("corpus"), pki, cache=True)
    yield CorpusPeers(mgr)
    mgr.stop_all()


# =============================================================================================
# Assertions shared by the corpus's tests

EXIT = exit_codes()


def expect(r, cls):
    """The class and its exit code, both (the report's shape was checked by `probe`)."""
    assert isinstance(r.json, dict), "no JSON report\n%s" % r
    assert r.json.get("class") == cls, "expected %s (exit %d)\n%s" % (cls, EXIT[cls], r)
    assert r.rc == EXIT[cls], "expected exit %d for %s\n%s" % (EXIT[cls], cls, r)
    return r.json


def hint_mentions(r, *words):
    """The hint contains at least one of the words (case-insensitive)."""
    hint = (r.json or {}).get("hint") or ""
    assert any(w.lower() in hint.lower() for w in words), \
        "hint names none of %r: %r\n%s" % (words, hint, r)


def no_deflate_unless_offered(j):
    """ws.extensions lists permessage-deflate only when it was negotiated, i.e. when the
    server's 101 (which a server only sends when the client offered it) carries it."""
    exts = j["ws"].get("extensions") or []
    answered = ((j.get("http") or {}).get("headers") or {}).get("sec-websocket-extensions") or ""
    named = any("permessage-deflate" in str(e) for e in exts)
    assert named == ("permessage-deflate" in answered), j


def open_raw(port, path="/", **kw):
    """A RawWS whose handshake gave a valid 101 (asserted)."""
    c = RawWS(port, path, **kw)
    r = c.handshake()
    assert r.status == 101 and c.opened, "no valid 101: %r" % r.raw
    return c


def unique(prefix="corpus"):
    return "%s-%s" % (prefix, base64.b32encode(os.urandom(5)).decode().lower())


def show(j):
    """The parts of a report that a failed assertion should print in full."""
    if not isinstance(j, dict):
        return repr(j)
    return json.dumps({k: j.get(k) for k in ("class", "exit_code", "message", "hint", "ws",
                                             "http", "steps")}, indent=1, default=str)


# =============================================================================================
# Headless Chromium as a client

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--disable-default-apps", "--disable-domain-reliability",
    "--disable-client-side-phishing-detection", "--metrics-recording-only", "--no-pings",
    "--disable-breakpad", "--mute-audio",
    # nothing but loopback: every name that would need DNS fails
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


def spki_hash(cert_pem):
    """base64(SHA-256(SubjectPublicKeyInfo)) of a certificate, as Chromium's
    --ignore-certificate-errors-spki-list wants it (openssl CLI)."""
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(cert_pem)],
                         capture_output=True, check=True, timeout=10).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         capture_output=True, check=True, timeout=10).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def browser_outcome(page_url, workdir, spki=None, budget_ms=5000, timeout=30.0):
    """Load page_url in headless Chromium (a fresh profile in workdir) and return the outcome
    the page wrote into <pre id="out"> (a dict: events, done). The page keeps a fetch pending
    until its WebSocket is settled, so the virtual-time budget waits for the real outcome;
    the run itself is bounded by `timeout` and its whole process group is killed after."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("chromium is not installed (%s)" % CHROMIUM)
    workdir = Path(workdir)
    profile = workdir / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    cmd = [CHROMIUM] + CHROMIUM_FLAGS + ["--user-data-dir=%s" % profile,
                                         "--virtual-time-budget=%d" % budget_ms]
    if spki:
        cmd.append("--ignore-certificate-errors-spki-list=%s" % spki)
    cmd += ["--dump-dom", page_url]
    env = dict(os.environ, HOME=str(workdir), XDG_CONFIG_HOME=str(workdir / "xdg-config"),
               XDG_CACHE_HOME=str(workdir / "xdg-cache"))
    err = open(workdir / "chromium-stderr.log", "ab")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                            env=env, preexec_fn=_die_with_parent)
    err.close()
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        out = b""
        pytest.fail("chromium did not finish within %.0fs: %s" % (timeout, page_url))
    finally:
        try:
            os.killpg(proc.pid, 9)          # its renderer and zygote children, by our group id
        except (ProcessLookupError, PermissionError):
            pass
        if proc.poll() is None:
            proc.wait(timeout=5)
    html = out.decode("utf-8", "replace")
    start = html.find('<pre id="out">')
    end = html.find("</pre>", start)
    assert start >= 0 and end > start, "no outcome in the page: %r" % html[:2000]
    return json.loads(html_unescape(html[start + len('<pre id="out">'):end]))
