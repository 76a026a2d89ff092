"""Helpers for the `wsprobe serve` end-to-end tests: start the server, mint tokens with Debian's
python3-jwt (an implementation independent of wsprobe's), speak raw RFC 6455 over a socket, and
drive Debian's python3-websockets and Node's `ws` clients.

Every wait is bounded; every process started is stopped at teardown (the `serve` fixture in the
test modules owns the ServeProc objects made here).
"""
import asyncio
import base64
import json
import os
import resource
import signal
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path

import jwt  # Debian's python3-jwt
import pytest
import websockets  # Debian's python3-websockets

from conftest import REPO, wsprobe_path

SECRET = "serve-e2e-secret-0123456789abcdef-0123456789"
OTHER_SECRET = "another-key-entirely-9876543210-zyxwvutsrq"
SECRET_ENV = "WSP_SERVE_TEST_SECRET"
NODE_DIR = REPO / "tests" / "node"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


# ---------------------------------------------------------------------------------------------
# Tokens

def mint(sub="alice", ttl=300, key=SECRET, alg="HS256", **claims):
    """A token minted by PyJWT. ttl None: no exp; negative: already expired."""
    now = int(time.time())
    payload = {"sub": sub, "iat": now}
    if ttl is not None:
        payload["exp"] = now + ttl
    payload.update(claims)
    return jwt.encode(payload, key, algorithm=alg)


def mint_none(sub="mallory", ttl=300, alg_header="none"):
    """An unsigned token (alg none), as PyJWT makes it, with the header's alg spelled as asked."""
    now = int(time.time())
    tok = jwt.encode({"sub": sub, "iat": now, "exp": now + ttl}, None, algorithm="none")
    if alg_header != "none":
        h = base64.urlsafe_b64encode(json.dumps({"alg": alg_header, "typ": "JWT"}).encode())
        tok = h.decode().rstrip("=") + tok[tok.index("."):]
    return tok


# ---------------------------------------------------------------------------------------------
# The server

class ServeProc:
    def __init__(self, proc, workdir, info):
        self.proc = proc
        self.workdir = workdir
        self.info = info
        self.ws_port = info.get("ws")
        self.wss_port = info.get("wss")
        self.ca = str(workdir / "pki" / "ca.pem") if (workdir / "pki" / "ca.pem").exists() else None

    def url(self, path="/ws", tls=False, query=""):
        port = self.wss_port if tls else self.ws_port
        return "%s://127.0.0.1:%d%s%s" % ("wss" if tls else "ws", port, path,
                                            ("?" + query) if query else "")

    def port(self, tls=False):
        return self.wss_port if tls else self.ws_port

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        return ctx

    def log(self):
        p = self.workdir / "stderr.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def events(self):
        """The JSON log lines (the server is started with --json: the log as JSON lines)."""
        out = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        """Signal and wait; returns the exit code (killing after STOP_TIMEOUT)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        return self.proc.returncode


def start_serve(workdir: Path, *args, tls=True, auth=True, env=None, expect_fail=False,
                nofile=None):
    """Start `wsprobe serve` on 127.0.0.1 port 0 (ws and, with tls, wss with --self-signed),
    with the test secret unless auth is False, and with `nofile` as its file limit (soft and
    hard) when given. Returns a ServeProc once the port file exists,
    or, with expect_fail, the CompletedProcess-like (rc, stderr) of a server that must refuse
    to start."""
    workdir.mkdir(parents=True, exist_ok=True)
    port_file = workdir / "ports.json"
    if port_file.exists():
        port_file.unlink()
    cmd = [str(wsprobe_path()), "serve", "--listen", "127.0.0.1:0", "--port-file",
           str(port_file), "--json"]
    if tls:
        cmd += ["--tls-listen", "127.0.0.1:0", "--self-signed", str(workdir / "pki")]
    if auth:
        cmd += ["--jwt-secret-env", SECRET_ENV]
    cmd += [str(a) for a in args]
    full_env = dict(os.environ, NO_COLOR="1")
    full_env[SECRET_ENV] = SECRET
    if env:
        full_env.update(env)
    if not os.access(cmd[0], os.X_OK):
        pytest.fail("wsprobe binary not found at %s (build it, or set WSPROBE)" % cmd[0])
    err = open(workdir / "stderr.log", "wb")
    limit = None
    if nofile:
        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                            env=full_env, start_new_session=True, preexec_fn=limit)
    err.close()
    if expect_fail:
        try:
            rc = proc.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("serve started although it should have refused: %s" % cmd)
        return rc, (workdir / "stderr.log").read_text(errors="replace")
    end = time.monotonic() + START_TIMEOUT
    while time.monotonic() < end:
        if proc.poll() is not None:
            break
        if port_file.exists():
            try:
                info = json.loads(port_file.read_text())
                return ServeProc(proc, workdir, info)
            except ValueError:
                pass
        time.sleep(0.02)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    pytest.fail("serve did not start: %s\n%s" % (
        " ".join(cmd), (workdir / "stderr.log").read_text(errors="replace")[-3000:]))


# ---------------------------------------------------------------------------------------------
# Raw sockets (for what a well-behaved client library refuses to send)

def raw_connect(srv, tls=False, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", srv.port(tls)), timeout=timeout)
    if tls:
        s = srv.ssl_context().wrap_socket(s, server_hostname="localhost")
    return s


def read_head(sock, timeout=5.0):
    """Read an HTTP response head; returns (status, {lower-name: value}, rest bytes)."""
    sock.settimeout(timeout)
    buf = b""
    end = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        if time.monotonic() > end:
            raise TimeoutError("no complete response head: %r" % buf[:200])
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the response head ended: %r" % buf[:200])
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest


def http_get(srv, path, tls=False, headers=(), raw=None, timeout=5.0):
    """One request; returns (status, headers, body bytes read until close)."""
    s = raw_connect(srv, tls, timeout)
    try:
        if raw is None:
            req = "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (path, srv.port(tls))
            for h in headers:
                req += h + "\r\n"
            raw = (req + "\r\n").encode()
        s.sendall(raw)
        status, hdrs, rest = read_head(s, timeout)
        body = rest
        s.settimeout(timeout)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
        except (ConnectionError, socket.timeout, ssl.SSLError):
            pass
        return status, hdrs, body
    finally:
        s.close()


KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 1.3's sample key


def upgrade_request(srv, tls=False, path="/ws", token=None, origin=None, extra=(),
                    version="13"):
    req = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % srv.port(tls),
           "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: " + KEY,
           "Sec-WebSocket-Version: " + version]
    if token:
        req.append("Authorization: Bearer " + token)
    if origin:
        req.append("Origin: " + origin)
    req += list(extra)
    return ("\r\n".join(req) + "\r\n\r\n").encode()


def raw_ws(srv, tls=False, token=None, path="/ws", extra=()):
    """An open WebSocket over a raw socket; returns (sock, leftover bytes)."""
    s = raw_connect(srv, tls)
    s.sendall(upgrade_request(srv, tls, path, token=token, extra=extra))
    status, hdrs, rest = read_head(s)
    assert status == 101, "upgrade refused: %d %r" % (status, hdrs)
    assert hdrs.get("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    return s, rest


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """One frame as a client would (or should not) send it. `length` overrides the declared
    payload length (the payload is still what is given)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | rsv | opcode
    if n < 126:
        head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class FrameReader:
    """Reads server frames (unmasked) from a socket, with a deadline."""

    def __init__(self, sock, rest=b""):
        self.sock = sock
        self.buf = rest

    def _need(self, n, end):
        while len(self.buf) < n:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame in time")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed (EOF) with %d bytes pending" % len(self.buf))
            self.buf += chunk

    def next(self, timeout=5.0):
        """Returns (opcode, payload)."""
        end = time.monotonic() + timeout
        self._need(2, end)
        b0, b1 = self.buf[0], self.buf[1]
        assert b1 & 0x80 == 0, "the server masked a frame"
        n = b1 & 0x7F
        off = 2
        if n == 126:
            self._need(4, end)
            n = struct.unpack("!H", self.buf[2:4])[0]
            off = 4
        elif n == 127:
            self._need(10, end)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            off = 10
        self._need(off + n, end)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return b0 & 0x0F, payload

    def close_code(self, timeout=5.0):
        """Skip data frames until a close frame; return its code (None when empty)."""
        end = time.monotonic() + timeout
        while True:
            op, payload = self.next(max(0.05, end - time.monotonic()))
            if op == 0x8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None

    def closed(self, timeout=5.0):
        """True once the server closes the TCP connection (EOF or reset) within timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.sock.settimeout(max(0.05, end - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionError, ssl.SSLError, OSError):
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False


# ---------------------------------------------------------------------------------------------
# python3-websockets (asyncio API of websockets 10)

def run(coro, timeout=20.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def ws_connect(srv, tls=False, token=None, query="", **kw):
    headers = kw.pop("extra_headers", {})
    if token:
        headers = dict(headers, Authorization="Bearer " + token)
    if tls:
        kw["ssl"] = srv.ssl_context()
    return websockets.connect(srv.url(tls=tls, query=query), extra_headers=headers,
                              open_timeout=5, close_timeout=3, **kw)


async def status_of(srv, tls=False, **kw):
    """The HTTP status a python3-websockets connection attempt gets (101 when it opens)."""
    try:
        async with ws_connect(srv, tls=tls, **kw):
            return 101
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code


async def close_code_after(ws, timeout=5.0):
    """Read until the server closes; the close code it sent."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.exceptions.ConnectionClosed as e:
        return e.rcvd.code if e.rcvd is not None else None


def close_code_after_flood(srv, count=30):
    """Send `count` pings as fast as possible on one connection; the close code the server
    sent (1008 from a server whose rate limit is below the flood)."""
    async def go():
        async with ws_connect(srv, token=mint()) as ws:
            for _ in range(count):
                try:
                    await ws.send(json.dumps({"type": "ping"}))
                except websockets.exceptions.ConnectionClosed:
                    break
            return await close_code_after(ws)
    return run(go())


# ---------------------------------------------------------------------------------------------
# Node's ws client

def node_available():
    return (NODE_DIR / "node_modules" / "ws").is_dir() and _which("node")


def _which(name):
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if os.access(os.path.join(d, name), os.X_OK):
            return True
    return False


def require_node():
    if not node_available():
        pytest.skip("Node's ws client is not installed: run `npm ci --prefix tests/node`")


def node_client(scenario, timeout=20.0):
    """Run tests/node/client.js with a JSON scenario; returns its JSON result."""
    r = subprocess.run(["node", str(NODE_DIR / "client.js"), json.dumps(scenario)],
                       capture_output=True, timeout=timeout, cwd=NODE_DIR)
    out = r.stdout.decode(errors="replace").strip()
    assert r.returncode == 0, "node client failed (%d): %s %s" % (
        r.returncode, out, r.stderr.decode(errors="replace")[-2000:])
    return json.loads(out.splitlines()[-1])
