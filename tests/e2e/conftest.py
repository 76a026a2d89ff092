"""Shared fixtures for the end-to-end tests: real peers on loopback and a wsprobe runner.

Every suite in tests/e2e can use these (see docs/testing.md for the whole picture):

    wsprobe            run the binary under test: wsprobe("probe", url, "--json") -> Result
    probe              run `wsprobe probe URL --json ARGS...`, check the report's shape -> Result
    pki                a test CA and certificates made with the openssl CLI (session)
    peers              start peers, shared by the whole session (cached by their arguments)
    fresh_peers        the same, but new processes for this test only (clean logs)
    refused_port       a loopback TCP port with nothing listening
    unanswered_port    a loopback TCP port that drops SYNs (full accept queue)
    ipv6               skips the test unless ::1 can be bound

Plain functions: free_port(), wait_tcp(), run_wsprobe(), assert_report(), exit_codes() (the
table of docs/exit-codes.md as {class: code}), schema_errors() / check_schema() (a report
against docs/schema/COMMAND.schema.json).

Every report run_wsprobe parses (stdout one JSON object with a "command") is validated against
its command's schema in docs/schema; a mismatch fails the test. The number validated is printed
at the end of the session.

Peers (methods of `peers` / `fresh_peers`; each returns a Peer with .port, .host, .url(...)):
    echo(tls=None|"trusted"|"untrusted"|"wrong-name"|"expired"|"not-yet-valid"|"self-signed",
         ipv6=False, tls_max=None, subprotocols=())   python3-websockets echo server
    hostile(mode, **options)   tests/e2e/peers/hostile.py (modes listed in its docstring)
    nginx("ws-proxy"|"upgrade-stripped", backend)   nginx in front of a backend peer
    dnsmasq()                  real resolver: ok.test, ws.test -> 127.0.0.1, dual.test ->
                               127.0.0.1 and ::1, v6only.test -> ::1, other *.test -> NXDOMAIN
    dns_stub("silent"|"rcode", rcode=2)   broken DNS server on a UDP port

Rules kept here so tests need not think about them: peers bind loopback only; ports come from
the kernel (port 0) or, for nginx and dnsmasq, from a just-freed port with a bounded retry;
every wait has a timeout; every process started is terminated (then killed) at teardown, and
its stderr is kept in its folder under pytest's tmp dir for post-mortems.

The binary under test is $WSPROBE, default build/wsprobe relative to the repository root.
Python is Debian's /usr/bin/python3 (it has python3-websockets).
"""
import functools
import json
import os
import pwd
import grp
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

try:
    import jsonschema
    from jsonschema import Draft202012Validator
except ImportError as _e:  # a declared dependency (scripts/deps.sh: python3-jsonschema)
    raise ImportError("tests/e2e needs python3-jsonschema to validate the JSON reports against "
                      "docs/schema (install it: scripts/deps.sh): %s" % _e) from _e

REPO = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO / "docs" / "schema"
PEERS_DIR = Path(__file__).resolve().parent / "peers"
PYTHON = "/usr/bin/python3"
NGINX = "/usr/sbin/nginx"
DNSMASQ = "/usr/sbin/dnsmasq"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

START_TIMEOUT = 10.0      # seconds for a peer to say READY / accept connections
STOP_TIMEOUT = 3.0        # seconds between SIGTERM and SIGKILL
RUN_TIMEOUT = 20.0        # seconds a wsprobe run may take before the test calls it a hang

# A sanitized binary (make check runs the e2e suite with build-asan/wsprobe) reports here.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error: ")

PHASES = ("resolve_ms", "connect_ms", "proxy_ms", "tls_ms", "upgrade_ms", "first_message_ms",
          "eio_open_ms", "namespace_connect_ms", "connection_ack_ms", "roundtrip_ms", "close_ms",
          "total_ms")


# ---------------------------------------------------------------------------------------------
# Ports and addresses

def free_port(family=socket.AF_INET, host="127.0.0.1", udp_too=False):
    """A port that was free on `host` a moment ago (TCP, and UDP too if asked).

    Prefer letting a peer bind port 0 itself; this is for programs that need the port on their
    command line (nginx, dnsmasq). Callers retry on a lost race (see Peers._start_retry)."""
    for _ in range(50):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if not udp_too:
            return port
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as u:
                u.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port found on %s" % host)


def ipv6_loopback_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def wait_tcp(host, port, timeout=START_TIMEOUT, proc=None):
    """Wait until host:port accepts a TCP connection (bounded); fail if proc died."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


# ---------------------------------------------------------------------------------------------
# Processes

@dataclass
class Peer:
    """A running peer process. `port` is where it listens; `workdir` holds its files."""
    name: str
    proc: subprocess.Popen
    port: int
    workdir: Path
    host: str = "127.0.0.1"
    log_path: Optional[Path] = None
    extra: dict = field(default_factory=dict)

    def url(self, path="/", scheme="ws", host=None):
        """URL of this peer; `host` overrides the address (e.g. "localhost")."""
        h = host or self.host
        if ":" in h and not h.startswith("["):
            h = "[%s]" % h
        return "%s://%s:%d%s" % (scheme, h, self.port, path)

    def events(self, wait_for=None, timeout=3.0):
        """The JSON-lines log of a hostile peer, as a list of dicts.

        With wait_for (a predicate on the list), poll until it holds or the timeout passes:
        the peer may still be writing when wsprobe has already exited."""
        end = time.monotonic() + timeout
        while True:
            evs = []
            if self.log_path and self.log_path.exists():
                for line in self.log_path.read_text().splitlines():
                    if line.strip():
                        evs.append(json.loads(line))
            if wait_for is None or wait_for(evs) or time.monotonic() >= end:
                return evs
            time.sleep(0.05)

    def stderr_text(self):
        p = self.workdir / "stderr.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def alive(self):
        return self.proc.poll() is None


def _die_with_parent():
    """preexec_fn for peers: start a new session (a test's signals do not reach the peer) and
    ask the kernel to SIGTERM the peer if pytest dies without its teardown (PR_SET_PDEATHSIG),
    so no peer outlives a killed test run."""
    os.setsid()
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def child_pids(pid):
    """The processes `pid` forked (/proc's children list), [] when it is gone."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def wait_child_pids(pid, n, timeout=10.0):
    """Wait until `pid` has n children; returns their pids, or fails the test."""
    end = time.monotonic() + timeout
    kids = []
    while time.monotonic() < end:
        kids = child_pids(pid)
        if len(kids) == n:
            return kids
        time.sleep(0.05)
    pytest.fail("process %d has %d children, not %d" % (pid, len(kids), n))


def pid_alive(pid):
    """A process that exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_process(proc):
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)


def read_ready(proc, timeout=START_TIMEOUT):
    """Read the `READY <port>` line a peer prints on stdout; None if it died or timed out."""
    end = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], max(0.0, min(0.2, end - time.monotonic())))
        if r:
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            buf += chunk
            for line in buf.split(b"\n"):
                if line.startswith(b"READY "):
                    return int(line.split()[1])
        elif proc.poll() is not None:
            return None
    return None


class Peers:
    """Starts peers and stops them all at teardown. With cache=True, asking twice for the
    same peer (same arguments) returns the running one."""

    def __init__(self, base: Path, pki: "PKI", cache: bool):
        self.base = base
        self.pki = pki
        self.cache = cache
        self.running = {}
        self.all = []
        self.counter = 0

    def _workdir(self, name):
        self.counter += 1
        d = self.base / ("%02d-%s" % (self.counter, name))
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _cached(self, key, start):
        if self.cache and key in self.running and self.running[key].alive():
            return self.running[key]
        peer = start()
        self.running[key] = peer
        return peer

    def _spawn_ready(self, name, cmd, host="127.0.0.1", log=False):
        """Start a Python peer that prints READY <port>; fail the test if it does not."""
        wd = self._workdir(name)
        log_path = wd / "events.jsonl" if log else None
        if log_path:
            cmd = cmd + ["--log", str(log_path)]
        err = open(wd / "stderr.log", "wb")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                cwd=wd, preexec_fn=_die_with_parent)
        err.close()
        self.all.append(proc)
        port = read_ready(proc)
        if port is None:
            stop_process(proc)
            pytest.fail("peer %s did not start: %s\n%s" % (
                name, " ".join(cmd), (wd / "stderr.log").read_text(errors="replace")[-2000:]))
        return Peer(name, proc, port, wd, host=host, log_path=log_path)

    # -- python3-websockets ------------------------------------------------------------------

    def echo(self, tls=None, ipv6=False, tls_max=None, subprotocols=()):
        """python3-websockets echo server (tests/e2e/peers/ws_echo.py). tls names a certificate
        of the pki fixture; the server then speaks wss on the same kind of port."""
        key = ("echo", tls, ipv6, tls_max, tuple(subprotocols))

        def start():
            cmd = [PYTHON, str(PEERS_DIR / "ws_echo.py")]
            if ipv6:
                cmd.append("--also-ipv6")
            if tls:
                cert, keyfile = self.pki.server_pair(tls)
                cmd += ["--cert", str(cert), "--key", str(keyfile)]
            if tls_max:
                cmd += ["--tls-max", tls_max]
            for sp in subprotocols:
                cmd += ["--subprotocol", sp]
            peer = self._spawn_ready("echo-%s" % (tls or "plain"), cmd)
            peer.extra["scheme"] = "wss" if tls else "ws"
            return peer
        return self._cached(key, start)

    # -- hostile -----------------------------------------------------------------------------

    def hostile(self, mode, host="127.0.0.1", status=None, reason=None, headers=(), body=None,
                text=None, hold=None):
        """The hostile server in one mode (see tests/e2e/peers/hostile.py). Its log of what the
        client sent is peer.events()."""
        key = ("hostile", mode, host, status, reason, tuple(headers), body, text, hold)

        def start():
            cmd = [PYTHON, str(PEERS_DIR / "hostile.py"), "--mode", mode, "--host", host]
            if status is not None:
                cmd += ["--status", str(status)]
            if reason is not None:
                cmd += ["--reason", reason]
            for h in headers:
                cmd += ["--header", h]
            if body is not None:
                cmd += ["--body", body]
            if text is not None:
                cmd += ["--text", text]
            if hold is not None:
                cmd += ["--hold", str(hold)]
            return self._spawn_ready("hostile-%s" % mode.replace("^", ""), cmd, host=host,
                                     log=True)
        return self._cached(key, start)

    def proto_hostile(self, mode):
        """tests/e2e/peers/proto_hostile.py: Socket.IO or GraphQL spoken wrongly on cue."""
        return self._cached(("proto-hostile", mode), lambda: self._spawn_ready(
            "proto-hostile-" + mode, [PYTHON, str(PEERS_DIR / "proto_hostile.py"), "--mode", mode],
            log=True))

    # -- DNS ---------------------------------------------------------------------------------

    def dns_stub(self, mode, rcode=2):
        """A UDP DNS server that never answers (silent) or answers with an RCODE."""
        key = ("dns_stub", mode, rcode)
        return self._cached(key, lambda: self._spawn_ready(
            "dns-%s" % mode,
            [PYTHON, str(PEERS_DIR / "dns_stub.py"), "--mode", mode, "--rcode", str(rcode)]))

    def dnsmasq(self):
        """dnsmasq on 127.0.0.1:PORT (UDP and TCP), the only server for *.test:
        ok.test and ws.test -> 127.0.0.1 (AAAA: no data), dual.test -> 127.0.0.1 and ::1,
        v6only.test -> ::1 (A: no data), three.test -> 127.0.0.1, 127.0.0.2 and 127.0.0.3
        (three A records), any other name under .test -> NXDOMAIN. Nothing is
        forwarded anywhere."""
        if not os.access(DNSMASQ, os.X_OK):
            pytest.skip("dnsmasq is not installed (%s)" % DNSMASQ)

        def start():
            def attempt(port, wd):
                return [DNSMASQ, "--no-daemon", "--conf-file=/dev/null", "--pid-file=",
                       "--port=%d" % port, "--listen-address=127.0.0.1", "--bind-interfaces",
                       "--no-resolv", "--no-hosts", "--no-poll", "--local=/test/",
                       "--host-record=ok.test,127.0.0.1", "--host-record=ws.test,127.0.0.1",
                       "--host-record=dual.test,127.0.0.1,::1",
                       "--host-record=v6only.test,::1",
                       "--host-record=three.test,127.0.0.1",
                       "--host-record=three.test,127.0.0.2",
                       "--host-record=three.test,127.0.0.3",
                       "--log-queries", "--log-facility=-"] + (
                           ["--user=root"] if os.geteuid() == 0 else [])
            return self._start_retry("dnsmasq", attempt, udp=True)
        return self._cached(("dnsmasq",), start)

    # -- nginx -------------------------------------------------------------------------------

    def nginx(self, config, backend):
        """nginx (non-daemon, everything under its folder) in front of `backend` (a Peer).
        config: "ws-proxy" (correct WebSocket proxying) or "upgrade-stripped" (Upgrade not
        forwarded, errors turned into 200 index.html)."""
        if not os.access(NGINX, os.X_OK):
            pytest.skip("nginx is not installed (%s)" % NGINX)
        template = (PEERS_DIR / ("nginx-%s.conf.in" % config)).read_text()

        def start():
            def attempt(port, wd):
                for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi", "html"):
                    (wd / sub).mkdir(exist_ok=True)
                shutil.copy(PEERS_DIR / "index.html", wd / "html" / "index.html")
                user = pwd.getpwuid(os.geteuid()).pw_name
                group = grp.getgrgid(os.getegid()).gr_name
                conf = (template.replace("@PREFIX@", str(wd)).replace("@PORT@", str(port))
                        .replace("@BACKEND_PORT@", str(backend.port))
                        .replace("@USER@", "%s %s" % (user, group)))
                if os.geteuid() != 0:
                    conf = "\n".join(l for l in conf.splitlines() if not l.startswith("user "))
                (wd / "nginx.conf").write_text(conf)
                return [NGINX, "-p", str(wd), "-c", str(wd / "nginx.conf"), "-e",
                        str(wd / "error.log"), "-g", "daemon off;"]
            return self._start_retry("nginx-%s" % config, attempt)
        return self._cached(("nginx", config, backend.port), start)

    # -- forward proxies (Debian: tinyproxy, microsocks, stunnel4) ----------------------------

    def tinyproxy(self, basic_auth=None, connect_ports=()):
        """tinyproxy (HTTP CONNECT) on loopback. basic_auth: (user, password) it demands;
        connect_ports: the only ports it tunnels to (ConnectPort; none listed: every port)."""
        exe = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
        if not os.access(exe, os.X_OK):
            pytest.skip("tinyproxy is not installed")

        def start():
            def attempt(port, wd):
                lines = ["Port %d" % port, "Listen 127.0.0.1", "Timeout 30", "MaxClients 100",
                         "Allow 127.0.0.1", "LogLevel Connect", "LogFile \"%s\"" % (wd / "log"),
                         "DisableViaHeader Yes"]
                if basic_auth:
                    lines.append("BasicAuth %s %s" % basic_auth)
                lines += ["ConnectPort %d" % p for p in connect_ports]
                (wd / "tinyproxy.conf").write_text("\n".join(lines) + "\n")
                return [exe, "-d", "-c", str(wd / "tinyproxy.conf")]
            return self._start_retry("tinyproxy", attempt)
        return self._cached(("tinyproxy", basic_auth, tuple(connect_ports)), start)

    def microsocks(self, user=None, password=None):
        """microsocks (SOCKS5, remote names too) on loopback, with RFC 1929 auth if user."""
        exe = shutil.which("microsocks") or "/usr/bin/microsocks"
        if not os.access(exe, os.X_OK):
            pytest.skip("microsocks is not installed")

        def start():
            def attempt(port, wd):
                cmd = [exe, "-i", "127.0.0.1", "-p", str(port)]
                if user:
                    cmd += ["-u", user, "-P", password]
                return cmd
            return self._start_retry("microsocks", attempt)
        return self._cached(("microsocks", user, password), start)

    def stunnel(self, backend, cert="trusted"):
        """stunnel4 terminating TLS (a pki certificate) in front of backend (a Peer): with
        tinyproxy behind it, an https:// proxy."""
        exe = shutil.which("stunnel4") or shutil.which("stunnel") or "/usr/bin/stunnel4"
        if not os.access(exe, os.X_OK):
            pytest.skip("stunnel4 is not installed")
        crt, key = self.pki.server_pair(cert)

        def start():
            def attempt(port, wd):
                (wd / "stunnel.conf").write_text(
                    "foreground = yes\npid =\n[tls]\naccept = 127.0.0.1:%d\n"
                    "connect = 127.0.0.1:%d\ncert = %s\nkey = %s\n" % (port, backend.port, crt, key))
                return [exe, str(wd / "stunnel.conf")]
            return self._start_retry("stunnel", attempt)
        return self._cached(("stunnel", backend.port, cert), start)

    def _start_retry(self, name, attempt, udp=False, tries=5):
        """Start a program that takes its port on the command line: attempt(port, workdir)
        returns its argv. Retry with a new port when it does not come up (a lost race)."""
        last = ""
        for _ in range(tries):
            port = free_port(udp_too=udp)
            wd = self._workdir(name)
            cmd = attempt(port, wd)
            err = open(wd / "stderr.log", "wb")
            proc = subprocess.Popen(cmd, stdout=err, stderr=err, stdin=subprocess.DEVNULL,
                                    cwd=wd, preexec_fn=_die_with_parent)
            err.close()
            self.all.append(proc)
            if wait_tcp("127.0.0.1", port, proc=proc):
                return Peer(name, proc, port, wd)
            stop_process(proc)
            last = (wd / "stderr.log").read_text(errors="replace")[-2000:]
        pytest.fail("%s did not start after %d tries:\n%s" % (name, tries, last))

    def stop_all(self):
        for proc in reversed(self.all):
            stop_process(proc)
        self.all.clear()
        self.running.clear()


# ---------------------------------------------------------------------------------------------
# Certificates (openssl CLI only: python's cryptography is not a dependency)

class PKI:
    """A test CA and server certificates in one folder.

    ca                  the trusted CA ("wsprobe test CA"); pass it with --cacert
    other_ca            a CA nobody trusts
    server_pair(kind)   (cert, key) for kind in:
        trusted         leaf from `ca` for localhost, ws.test, 127.0.0.1, ::1 (30 days)
        untrusted       same names, issued by `other_ca`
        wrong-name      from `ca`, only for wrong.example
        expired         from `ca`, valid 2020-01-01 to 2020-02-01
        not-yet-valid   from `ca`, valid from 2099
        self-signed     a self-signed certificate for localhost/127.0.0.1
    """
    NAMES = "DNS:localhost,DNS:ws.test,IP:127.0.0.1,IP:::1"

    def __init__(self, d: Path):
        self.dir = d
        d.mkdir(parents=True, exist_ok=True)
        self.ca, self.ca_key = self._ca("ca", "wsprobe test CA")
        self.other_ca, self.other_ca_key = self._ca("other-ca", "untrusted test CA")
        self.pairs = {
            "trusted": self._leaf("trusted", "localhost", self.NAMES, self.ca, self.ca_key),
            "untrusted": self._leaf("untrusted", "localhost", self.NAMES, self.other_ca,
                                    self.other_ca_key),
            "wrong-name": self._leaf("wrong-name", "wrong.example", "DNS:wrong.example",
                                     self.ca, self.ca_key),
            "expired": self._dated("expired", "20200101000000Z", "20200201000000Z"),
            "not-yet-valid": self._dated("not-yet-valid", "20990101000000Z", "20991231000000Z"),
            "self-signed": self._self_signed("self-signed"),
        }

    def server_pair(self, kind):
        return self.pairs[kind]

    def _run(self, *args):
        r = subprocess.run([OPENSSL] + list(args), cwd=self.dir, capture_output=True,
                           timeout=30)
        if r.returncode != 0:
            raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr.decode()))

    def _key(self, name):
        key = self.dir / (name + ".key")
        self._run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-out", str(key))
        return key

    def _ca(self, name, cn):
        key = self._key(name)
        cert = self.dir / (name + ".pem")
        self._run("req", "-x509", "-new", "-key", str(key), "-out", str(cert), "-days", "3650",
                  "-subj", "/O=wsprobe tests/CN=%s" % cn,
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                  "-addext", "subjectKeyIdentifier=hash")
        return cert, key

    def _ext(self, name, sans):
        ext = self.dir / (name + ".ext")
        ext.write_text("[v3]\nbasicConstraints=critical,CA:FALSE\n"
                       "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                       "subjectAltName=%s\nauthorityKeyIdentifier=keyid\n" % sans)
        return ext

    def _csr(self, name, cn):
        key = self._key(name)
        csr = self.dir / (name + ".csr")
        self._run("req", "-new", "-key", str(key), "-out", str(csr),
                  "-subj", "/O=wsprobe tests/CN=%s" % cn)
        return key, csr

    def _leaf(self, name, cn, sans, ca, ca_key, days=30):
        key, csr = self._csr(name, cn)
        cert = self.dir / (name + ".pem")
        self._run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
                  "-CAcreateserial", "-out", str(cert), "-days", str(days),
                  "-extfile", str(self._ext(name, sans)), "-extensions", "v3")
        return cert, key

    def _dated(self, name, start, end):
        """A leaf from the trusted CA with explicit validity dates, via `openssl ca`
        (openssl 3.0's `x509 -req` cannot set a start date)."""
        key, csr = self._csr(name, "localhost")
        db = self.dir / ("%s-db" % name)
        db.mkdir(exist_ok=True)
        (db / "index.txt").write_text("")
        (db / "serial").write_text("%04X\n" % (0x1000 + len(name)))
        cnf = self.dir / ("%s-ca.cnf" % name)
        cnf.write_text(
            "[ca]\ndefault_ca = test\n"
            "[test]\ndir = %s\ndatabase = $dir/index.txt\nnew_certs_dir = $dir\n"
            "serial = $dir/serial\ncertificate = %s\nprivate_key = %s\n"
            "default_md = sha256\npolicy = any\nunique_subject = no\n"
            "[any]\ncommonName = supplied\norganizationName = optional\n"
            "[v3]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % (db, self.ca, self.ca_key,
                                                                 self.NAMES))
        cert = self.dir / (name + ".pem")
        self._run("ca", "-batch", "-config", str(cnf), "-in", str(csr), "-out", str(cert),
                  "-startdate", start, "-enddate", end, "-extensions", "v3", "-notext")
        return cert, key

    def _self_signed(self, name):
        key = self._key(name)
        cert = self.dir / (name + ".pem")
        self._run("req", "-x509", "-new", "-key", str(key), "-out", str(cert), "-days", "30",
                  "-subj", "/CN=localhost", "-addext", "subjectAltName=" + self.NAMES)
        return cert, key


# ---------------------------------------------------------------------------------------------
# Running wsprobe

@dataclass
class Result:
    """One wsprobe run. `json` is the parsed stdout when it was one JSON object, else None."""
    args: list
    rc: int
    stdout: str
    stderr: str
    json: Optional[Any]

    def __str__(self):
        return "wsprobe %s\n  exit %s\n  stdout: %s\n  stderr: %s" % (
            " ".join(self.args), self.rc, self.stdout[:3000], self.stderr[-3000:])

    def __getitem__(self, key):
        assert isinstance(self.json, dict), "no JSON report\n%s" % self
        return self.json[key]


@functools.lru_cache(maxsize=1)
def _exit_table():
    table = {}
    for line in (REPO / "docs" / "exit-codes.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].isdigit() and cells[1].replace("_", "").isalnum():
            table[cells[1]] = int(cells[0])
    if len(table) < 30:
        raise RuntimeError("docs/exit-codes.md: table not found (%d rows)" % len(table))
    return tuple(table.items())


def exit_codes():
    """{class name: exit code} from the table in docs/exit-codes.md (a fresh dict)."""
    return dict(_exit_table())


def wsprobe_path():
    p = Path(os.environ.get("WSPROBE", "build/wsprobe"))
    return p if p.is_absolute() else REPO / p


def run_wsprobe(*args, timeout=RUN_TIMEOUT, env=None, stdin=None):
    """Run the binary; a run longer than `timeout` fails the test as a hang."""
    exe = wsprobe_path()
    if not os.access(exe, os.X_OK):
        pytest.fail("wsprobe binary not found at %s (build it, or set WSPROBE)" % exe)
    full_env = dict(os.environ, NO_COLOR="1")
    if env:
        full_env.update(env)
    argv = [str(a) for a in args]
    try:
        r = subprocess.run([str(exe)] + argv, capture_output=True, timeout=timeout,
                           env=full_env, stdin=subprocess.DEVNULL if stdin is None else stdin)
    except subprocess.TimeoutExpired as e:
        pytest.fail("wsprobe %s hung: no exit after %.0fs\nstdout: %r\nstderr: %r" % (
            " ".join(argv), timeout, (e.stdout or b"")[:2000], (e.stderr or b"")[-2000:]))
    out = r.stdout.decode("utf-8", "replace")
    err = r.stderr.decode("utf-8", "replace")
    for marker in SANITIZER_MARKERS:
        if marker in err:
            pytest.fail("sanitizer report from wsprobe %s:\n%s" % (" ".join(argv), err[-6000:]))
    parsed = None
    if out.strip():
        try:
            parsed = json.loads(out)
        except ValueError:
            parsed = None
    if isinstance(parsed, dict) and "command" in parsed:
        check_schema(parsed, "wsprobe %s (exit %d)\nstdout: %s" % (" ".join(argv), r.returncode,
                                                                   out[:4000]))
    return Result(argv, r.returncode, out, err, parsed)


# ---------------------------------------------------------------------------------------------
# JSON Schemas of the reports (docs/schema, draft 2020-12; docs/schema/README.md)

SCHEMA_STATS = {"validated": 0, "workers": 0}


@functools.lru_cache(maxsize=1)
def _schema_store():
    """Every docs/schema/*.schema.json by file name: what their relative $refs resolve to."""
    store = {p.name: json.loads(p.read_text()) for p in sorted(SCHEMA_DIR.glob("*.schema.json"))}
    if not store:
        raise RuntimeError("no schema in %s" % SCHEMA_DIR)
    return store


@functools.lru_cache(maxsize=None)
def schema_validator(name):
    """The validator of docs/schema/NAME (e.g. "probe.schema.json"), loaded once."""
    store = _schema_store()
    if name not in store:
        raise KeyError("no schema %s in %s" % (name, SCHEMA_DIR))
    schema = store[name]
    import warnings
    with warnings.catch_warnings():  # RefResolver is deprecated after jsonschema 4.17
        warnings.simplefilter("ignore", DeprecationWarning)
        resolver = jsonschema.RefResolver(base_uri=name, referrer=schema, store=store)
    return Draft202012Validator(schema, resolver=resolver)


def schema_errors(report, name=None):
    """The ways `report` breaks its schema (docs/schema/COMMAND.schema.json, or NAME), as a list
    of messages (empty: valid). A report without a string "command" and no NAME is one error."""
    if name is None:
        cmd = report.get("command") if isinstance(report, dict) else None
        if not isinstance(cmd, str):
            return ["no \"command\" to choose a schema by"]
        name = cmd + ".schema.json"
        if name not in _schema_store():
            return ["no schema for command %r (docs/schema/%s)" % (cmd, name)]
    SCHEMA_STATS["validated"] += 1
    errs = list(schema_validator(name).iter_errors(report))
    # the telling errors first: unevaluatedProperties only repeats that a branch failed
    errs.sort(key=lambda e: e.validator == "unevaluatedProperties")
    return [_describe(e) for e in errs[:6]]


def _describe(e):
    """An error, and for a oneOf/anyOf the branch that got furthest (the deepest error)."""
    while e.context:
        e = max(e.context, key=lambda c: (len(c.absolute_path), c.validator != "required"))
    return "%s at /%s (schema: %s)" % (e.message[:600], "/".join(str(p) for p in e.absolute_path),
                                       "/".join(str(p) for p in e.absolute_schema_path))


def check_schema(report, context="", name=None):
    """Fail the test when `report` does not match its schema."""
    errs = schema_errors(report, name)
    if errs:
        pytest.fail("the JSON report does not match docs/schema/%s:\n  %s\n%s" % (
            name or "%s.schema.json" % (report.get("command") if isinstance(report, dict) else "?"),
            "\n  ".join(errs), context), pytrace=False)


def pytest_sessionfinish(session):
    out = getattr(session.config, "workeroutput", None)
    if out is not None:  # an xdist worker: the controller adds them up
        out["schema_validations"] = SCHEMA_STATS["validated"]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    SCHEMA_STATS["validated"] += getattr(node, "workeroutput", {}).get("schema_validations", 0)
    SCHEMA_STATS["workers"] += 1


def pytest_terminal_summary(terminalreporter):
    if getattr(terminalreporter.config, "workeroutput", None) is None:
        terminalreporter.write_line("schema: %d JSON reports validated against docs/schema" %
                                    SCHEMA_STATS["validated"])


def assert_report(r: Result, expect_class=None, expect_rc=None):
    """Check a --json probe report against SPEC.md's contract and, if given, its class.

    The shape: one JSON object on stdout and nothing else; url, ok, class and exit_code
    always, the class one of docs/exit-codes.md and the exit status its code; evidence whenever the probe got past its arguments; exit code equal to "exit_code";
    ok exactly when class is OK; a failure has a message and a non-empty hint; phases and
    marks are non-negative numbers, marks never decrease along the phase order and never pass
    total; ws counters are non-negative integers; evidence fields are booleans."""
    assert isinstance(r.json, dict), "stdout is not one JSON object\n%s" % r
    j = r.json
    for k in ("url", "ok", "class", "exit_code"):
        assert k in j, "report lacks %r\n%s" % (k, r)
    # A report of a probe that got past its arguments carries its evidence (errors found
    # before any I/O are checked for it by their own test).
    if j["class"] not in ("USAGE", "URL_INVALID"):
        assert "evidence" in j, "report lacks 'evidence'\n%s" % r
    assert j["exit_code"] == r.rc, "exit code %d but report says %r\n%s" % (r.rc, j["exit_code"], r)
    assert isinstance(j["ok"], bool)
    assert j["ok"] == (j["class"] == "OK"), r
    codes = exit_codes()
    assert j["class"] in codes, "class %r is not in docs/exit-codes.md\n%s" % (j["class"], r)
    assert codes[j["class"]] == r.rc, "exit %d is not %s's code\n%s" % (r.rc, j["class"], r)
    if expect_class is not None:
        assert j["class"] == expect_class, "expected %s\n%s" % (expect_class, r)
    if expect_rc is not None:
        assert r.rc == expect_rc, "expected exit %d\n%s" % (expect_rc, r)
    if not j["ok"]:
        assert isinstance(j.get("message"), str) and j["message"].strip(), r
        assert isinstance(j.get("hint"), str) and j["hint"].strip(), r
    ev = j.get("evidence", {"network": False, "handshake_completed": False})
    assert isinstance(ev.get("network"), bool), r
    assert isinstance(ev.get("handshake_completed"), bool), r
    for key in ("phases", "marks"):
        block = j.get(key) or {}
        assert isinstance(block, dict), r
        for name, v in block.items():
            assert name in PHASES, "unknown phase %r\n%s" % (name, r)
            assert isinstance(v, (int, float)) and v >= 0, "%s.%s=%r\n%s" % (key, name, v, r)
    marks = j.get("marks") or {}
    seq = [marks[p] for p in PHASES[:-1] if p in marks]
    assert seq == sorted(seq), "marks go backwards: %r\n%s" % (marks, r)
    if "total_ms" in marks and seq:
        assert max(seq) <= marks["total_ms"] + 0.001, "a mark after total: %r\n%s" % (marks, r)
    http = j.get("http")
    if http:
        names = list((http.get("headers") or {}).keys())
        assert names == [n.lower() for n in names], "header names not lower case\n%s" % r
        body = http.get("body")
        assert body is None or len(body) <= 512, "body over 512 bytes\n%s" % r
    ws = j.get("ws")
    if ws:
        for k in ("sent_frames", "received_frames", "sent_bytes", "received_bytes"):
            assert isinstance(ws.get(k), int) and ws[k] >= 0, "ws.%s\n%s" % (k, r)
    return j


# ---------------------------------------------------------------------------------------------
# Fixtures

@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return PKI(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def peers(tmp_path_factory, pki):
    mgr = Peers(tmp_path_factory.mktemp("peers"), pki, cache=True)
    yield mgr
    mgr.stop_all()


@pytest.fixture
def fresh_peers(tmp_path, pki):
    mgr = Peers(tmp_path / "peers", pki, cache=False)
    yield mgr
    mgr.stop_all()


@pytest.fixture
def wsprobe():
    """wsprobe(*args, timeout=..., env=...) -> Result."""
    return run_wsprobe


@pytest.fixture
def probe():
    """probe(url, *options, expect=CLASS) -> Result of `wsprobe probe URL --json OPTIONS`,
    with the report's shape checked (assert_report) and, if given, its class."""
    def run(url, *options, expect=None, timeout=RUN_TIMEOUT, env=None):
        r = run_wsprobe("probe", url, "--json", *options, timeout=timeout, env=env)
        assert_report(r, expect_class=expect)
        return r
    return run


@pytest.fixture
def refused_port():
    """A loopback port with nothing listening (bound then released; nothing else binds it
    in the meantime on a test machine)."""
    return free_port()


@pytest.fixture
def unanswered_port():
    """A loopback port whose SYNs go unanswered: a listener with backlog 0 that never accepts,
    its queue filled first. Linux drops further SYNs, so a connect times out (TCP_TIMEOUT)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    fillers = make_unanswered(srv)
    yield srv.getsockname()[1]
    for c in fillers:
        c.close()
    srv.close()


def make_unanswered(srv):
    """Make a bound socket a listener that never answers: backlog 0, its queue filled by
    connections that are never accepted. Returns the filling sockets (close them after)."""
    srv.listen(0)
    host, port = srv.getsockname()[:2]
    fillers = []
    for _ in range(8):
        c = socket.socket(srv.family, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect((host, port))
        except BlockingIOError:
            pass
        fillers.append(c)
    time.sleep(0.2)
    return fillers


@pytest.fixture
def ipv6():
    if not ipv6_loopback_available():
        pytest.skip("this machine has no ::1")
    return "::1"
