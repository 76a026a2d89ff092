"""Forward proxies between wsprobe and the endpoint (issue 14, docs/proxies.md): HTTP CONNECT
through tinyproxy (open, with Basic auth, with ConnectPort rules), https:// as stunnel4 in
front of tinyproxy, SOCKS5 through microsocks (open, with RFC 1929 user and password, with and
without remote resolution), the environment's *_proxy and no_proxy, and proxies that misbehave
(the hostile peer: silent, closing, garbage, 502).

The endpoint is python3-websockets' echo server. A raw client (socket, no wsprobe) first shows
what each proxy really answers; wsprobe's verdict must agree with it.

Run: WSPROBE=build/wsprobe /usr/bin/python3 -m pytest tests/e2e/test_forward_proxies.py
"""
import json
import socket
import ssl
import time

import pytest

from conftest import free_port

USER, PASSWORD = "alice", "Pr0xy-s3cret-pw"
SOCKS_USER, SOCKS_PASSWORD = "bob", "S0cks-hunter-22"


# ---- raw clients: what the proxies do, without wsprobe ---------------------------------------

def raw_connect(proxy_port, target, auth=None, tls_ctx=None):
    """Send CONNECT target to a proxy; return (status, head bytes)."""
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=5)
    if tls_ctx:
        s = tls_ctx.wrap_socket(s, server_hostname="127.0.0.1")
    req = "CONNECT %s HTTP/1.1\r\nHost: %s\r\n" % (target, target)
    if auth:
        import base64
        req += "Proxy-Authorization: Basic %s\r\n" % base64.b64encode(
            ("%s:%s" % auth).encode()).decode()
    s.sendall((req + "\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    s.close()
    return int(head.split()[1]), head


def raw_socks(proxy_port, name, port, auth=None):
    """A SOCKS5 CONNECT to a domain name; returns (method, auth status or None, reply code)."""
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=5)
    s.sendall(b"\x05\x01" + (b"\x02" if auth else b"\x00"))
    ver, method = s.recv(2)
    status = None
    if method == 0xFF:
        s.close()
        return method, None, None
    if method == 2:
        u, p = auth
        s.sendall(b"\x01" + bytes([len(u)]) + u.encode() + bytes([len(p)]) + p.encode())
        status = s.recv(2)[1]
        if status != 0:
            s.close()
            return method, status, None
    n = name.encode()
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(n)]) + n + port.to_bytes(2, "big"))
    reply = s.recv(4)
    s.close()
    return method, status, reply[1]


def elapsed(fn):
    t = time.monotonic()
    r = fn()
    return r, time.monotonic() - t


# ---- fixtures -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def echo(peers):
    return peers.echo()


@pytest.fixture(scope="module")
def echo_tls(peers):
    return peers.echo(tls="trusted")


@pytest.fixture(scope="module")
def tiny(peers):
    return peers.tinyproxy()


@pytest.fixture(scope="module")
def tiny_auth(peers, echo, echo_tls):
    """Basic auth, and only the two echo ports tunnelled."""
    return peers.tinyproxy(basic_auth=(USER, PASSWORD), connect_ports=(echo.port, echo_tls.port))


@pytest.fixture(scope="module")
def socks(peers):
    return peers.microsocks()


@pytest.fixture(scope="module")
def socks_auth(peers):
    return peers.microsocks(SOCKS_USER, SOCKS_PASSWORD)


@pytest.fixture(scope="module")
def https_proxy(peers, tiny):
    return peers.stunnel(tiny)


def ok_through(r, kind, port):
    """The probe passed, connected to the proxy (not the endpoint) and says which it was."""
    assert r.rc == 0, r
    j = r.json
    assert j["class"] == "OK"
    assert j["port"] == port
    assert j["proxy"]["used"] is True and j["proxy"]["type"] == kind, j["proxy"]
    assert "proxy_ms" in j["phases"]
    return j


# ---- HTTP CONNECT: tinyproxy ------------------------------------------------------------------

def test_connect_through_tinyproxy(probe, echo, tiny):
    status, _ = raw_connect(tiny.port, "127.0.0.1:%d" % echo.port)
    assert status == 200
    r = probe(echo.url("/"), "--proxy", "http://127.0.0.1:%d" % tiny.port, "--send", "via",
              "--expect-text", "via")
    j = ok_through(r, "http", tiny.port)
    assert j["proxy"]["connect_status"] == 200
    assert j["proxy"]["source"] == "--proxy"
    assert j["proxy"]["tunnel_target"] == "127.0.0.1:%d" % echo.port
    # the proxy says so too: its log names the tunnel
    log = (tiny.workdir / "log").read_text(errors="replace")
    assert "Established connection" in log


def test_wss_inside_connect_tunnel(probe, pki, echo_tls, tiny):
    r = probe(echo_tls.url("/", scheme="wss", host="localhost"), "--cacert", pki.ca, "--proxy",
              "http://127.0.0.1:%d" % tiny.port, "--send", "x", "--expect-text", "x")
    j = ok_through(r, "http", tiny.port)
    assert j["tls"]["verified"] is True and j["tls"]["sni"] == "localhost"
    assert j["proxy"]["tunnel_target"] == "localhost:%d" % echo_tls.port


def test_basic_auth(probe, echo, tiny_auth):
    target = "127.0.0.1:%d" % echo.port
    status, head = raw_connect(tiny_auth.port, target)
    assert status == 407 and b"Basic" in head
    assert raw_connect(tiny_auth.port, target, auth=(USER, PASSWORD))[0] == 200
    # wrong credentials: tinyproxy 1.11 answers 401, not 407 (the proxy refused them all
    # the same: PROXY_AUTH)
    assert raw_connect(tiny_auth.port, target, auth=(USER, "wrong"))[0] in (401, 407)
    url, px = echo.url("/"), "http://127.0.0.1:%d" % tiny_auth.port
    r = probe(url, "--proxy", px, expect="PROXY_AUTH")
    assert r.rc == 24 and r.json["proxy"]["connect_status"] == 407
    assert "Basic" in r.json["message"] and "--proxy-user-env" in r.json["hint"]
    assert r.json["failed_phase"] == "proxy"
    env = {"PX_CRED": "%s:%s" % (USER, PASSWORD), "PX_BAD": "%s:nope-wrong" % USER}
    r = probe(url, "--proxy", px, "--proxy-user-env", "PX_CRED", "-v", env=env)
    assert r.rc == 0, r
    assert r.json["proxy"]["credentials"] is True
    assert r.json["proxy"]["credentials_from"] == "PX_CRED"
    assert PASSWORD not in r.stdout + r.stderr
    r = probe(url, "--proxy", px, "--proxy-user-env", "PX_BAD", expect="PROXY_AUTH", env=env)
    assert "PX_BAD" in r.json["hint"]
    # user:password in the proxy variable's URL (the environment: allowed), never shown
    r = probe(url, env={"http_proxy": "http://%s:%s@127.0.0.1:%d" % (USER, PASSWORD,
                                                                  tiny_auth.port)})
    assert r.rc == 0, r
    assert r.json["proxy"]["credentials_from"] == "http_proxy"
    assert PASSWORD not in r.stdout + r.stderr


def test_credentials_on_the_command_line_are_refused(wsprobe, echo, tiny_auth):
    r = wsprobe("probe", echo.url("/"), "--proxy",
                "http://%s:%s@127.0.0.1:%d" % (USER, PASSWORD, tiny_auth.port))
    assert r.rc == 2, r
    assert "--proxy-user-env" in r.stderr and PASSWORD not in r.stdout + r.stderr


def test_port_the_proxy_refuses(probe, echo, tiny_auth, refused_port):
    """ConnectPort lists only the echo ports: tinyproxy answers 403 for any other."""
    target = "127.0.0.1:%d" % refused_port
    assert raw_connect(tiny_auth.port, target, auth=(USER, PASSWORD))[0] == 403
    r = probe("ws://%s/" % target, "--proxy", "http://127.0.0.1:%d" % tiny_auth.port,
              "--proxy-user-env", "PX_CRED", env={"PX_CRED": "%s:%s" % (USER, PASSWORD)},
              expect="PROXY_TUNNEL_FAILED")
    assert r.rc == 25 and r.json["proxy"]["connect_status"] == 403
    assert "403" in r.json["message"]


# ---- https:// proxy: stunnel4 in front of tinyproxy --------------------------------------------

def test_https_proxy(probe, pki, echo, echo_tls, https_proxy):
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    assert raw_connect(https_proxy.port, "127.0.0.1:%d" % echo.port, tls_ctx=ctx)[0] == 200
    px = "https://127.0.0.1:%d" % https_proxy.port
    r = probe(echo.url("/"), "--proxy", px, "--cacert", pki.ca, "--send", "a", "--expect-text", "a")
    ok_through(r, "https", https_proxy.port)
    # TLS to the proxy, and the endpoint's own TLS inside it
    r = probe(echo_tls.url("/", scheme="wss"), "--proxy", px, "--cacert", pki.ca, "--send", "b",
              "--expect-text", "b")
    j = ok_through(r, "https", https_proxy.port)
    assert j["tls"]["verified"] is True
    # the proxy's certificate is verified like the endpoint's
    r = probe(echo.url("/"), "--proxy", px, expect="CERT_UNTRUSTED")
    assert r.json["failed_phase"] == "proxy" and "proxy" in r.json["message"]


def test_https_scheme_against_a_plain_proxy(probe, echo, tiny):
    """TLS to tinyproxy: it waits for a request line that never comes (silent), or answers
    400 in plaintext; either way the proxy's own class, within --timeout."""
    r, secs = elapsed(lambda: probe(echo.url("/"), "--proxy", "https://127.0.0.1:%d" % tiny.port,
                                    "--timeout", "2s"))
    assert r.json["class"] in ("PROXY_UNREACHABLE", "PROXY_PROTOCOL"), r.json
    assert secs < 8


# ---- SOCKS5: microsocks -----------------------------------------------------------------------

def test_socks5(probe, echo, socks):
    assert raw_socks(socks.port, "127.0.0.1", echo.port) == (0, None, 0)
    r = probe(echo.url("/"), "--proxy", "socks5://127.0.0.1:%d" % socks.port, "--send-binary",
              "hex:00ff10", "--expect-binary", "hex:00ff10")
    j = ok_through(r, "socks5", socks.port)
    assert j["proxy"]["socks_reply"] == 0


def test_socks5_remote_and_local_resolution(probe, echo, socks):
    # socks5h: the name goes to the proxy
    r = probe(echo.url("/", host="localhost"), "--proxy", "socks5h://127.0.0.1:%d" % socks.port,
              "--send", "h", "--expect-text", "h")
    j = ok_through(r, "socks5h", socks.port)
    assert j["proxy"]["tunnel_target"] == "localhost:%d" % echo.port
    # socks5: resolved here, an address goes to the proxy
    r = probe(echo.url("/", host="localhost"), "--proxy", "socks5://127.0.0.1:%d" % socks.port,
              "-4")
    j = ok_through(r, "socks5", socks.port)
    assert j["proxy"]["tunnel_target"] == "127.0.0.1:%d" % echo.port
    # a name only the proxy is asked about: microsocks cannot resolve it and says so (reply 1,
    # as the raw client sees), while socks5:// fails here, in DNS, before any proxy
    name = "wsprobe-nowhere.invalid"
    assert raw_socks(socks.port, name, echo.port)[2] == 1
    r = probe("ws://%s:%d/" % (name, echo.port), "--proxy", "socks5h://127.0.0.1:%d" % socks.port,
              "--timeout", "3s", expect="PROXY_TUNNEL_FAILED")
    assert r.rc == 25 and r.json["proxy"]["socks_reply"] == 1
    r = probe("ws://%s:%d/" % (name, echo.port), "--proxy", "socks5://127.0.0.1:%d" % socks.port,
              "--timeout", "3s")
    assert r.json["class"].startswith("DNS_"), r.json
    assert r.json["proxy"]["socks_reply"] is None


def test_socks5_user_password(probe, echo, socks_auth):
    assert raw_socks(socks_auth.port, "127.0.0.1", echo.port)[0] == 0xFF
    method, status, reply = raw_socks(socks_auth.port, "127.0.0.1", echo.port,
                                      auth=(SOCKS_USER, "wrong"))
    assert method == 2 and status != 0 and reply is None
    assert raw_socks(socks_auth.port, "127.0.0.1", echo.port,
                     auth=(SOCKS_USER, SOCKS_PASSWORD)) == (2, 0, 0)
    px = "socks5://127.0.0.1:%d" % socks_auth.port
    r = probe(echo.url("/"), "--proxy", px, expect="PROXY_AUTH")
    assert r.rc == 24
    env = {"SX": "%s:%s" % (SOCKS_USER, SOCKS_PASSWORD), "SX_BAD": SOCKS_USER + ":wrong"}
    r = probe(echo.url("/"), "--proxy", px, "--proxy-user-env", "SX", "-v", env=env)
    ok_through(r, "socks5", socks_auth.port)
    assert SOCKS_PASSWORD not in r.stdout + r.stderr
    probe(echo.url("/"), "--proxy", px, "--proxy-user-env", "SX_BAD", env=env,
          expect="PROXY_AUTH")


def test_http_scheme_against_a_socks_proxy(probe, echo, socks):
    """microsocks answers CONNECT's first bytes with a SOCKS5 refusal: not HTTP."""
    r = probe(echo.url("/"), "--proxy", "http://127.0.0.1:%d" % socks.port,
              expect="PROXY_PROTOCOL")
    assert r.rc == 26


# ---- the environment ---------------------------------------------------------------------------

def test_environment_lowercase_first(probe, echo, echo_tls, pki, tiny, socks, refused_port):
    dead = "http://127.0.0.1:%d" % refused_port
    r = probe(echo.url("/"), env={"http_proxy": "http://127.0.0.1:%d" % tiny.port,
                                  "HTTP_PROXY": dead})
    j = ok_through(r, "http", tiny.port)
    assert j["proxy"]["source"] == "environment" and j["proxy"]["variable"] == "http_proxy"
    r = probe(echo.url("/"), env={"HTTP_PROXY": "http://127.0.0.1:%d" % tiny.port})
    assert ok_through(r, "http", tiny.port)["proxy"]["variable"] == "HTTP_PROXY"
    # ws:// reads ws_proxy before http_proxy; all_proxy last
    r = probe(echo.url("/"), env={"ws_proxy": "socks5://127.0.0.1:%d" % socks.port,
                                  "http_proxy": dead})
    assert ok_through(r, "socks5", socks.port)["proxy"]["variable"] == "ws_proxy"
    r = probe(echo.url("/"), env={"ALL_PROXY": "socks5h://127.0.0.1:%d" % socks.port})
    assert ok_through(r, "socks5h", socks.port)["proxy"]["variable"] == "ALL_PROXY"
    # wss:// reads wss_proxy, https_proxy: never http_proxy
    r = probe(echo_tls.url("/", scheme="wss"), "--cacert", pki.ca,
              env={"https_proxy": "http://127.0.0.1:%d" % tiny.port, "http_proxy": dead})
    assert ok_through(r, "http", tiny.port)["proxy"]["variable"] == "https_proxy"
    r = probe(echo_tls.url("/", scheme="wss"), "--cacert", pki.ca, env={"http_proxy": dead})
    assert r.rc == 0 and "proxy" not in r.json


def test_no_proxy_bypass(probe, wsprobe, echo, refused_port):
    dead = "http://127.0.0.1:%d" % refused_port
    for entry in ("127.0.0.1", "127.0.0.0/8", "*", "localhost,127.0.0.1:%d" % echo.port):
        r = probe(echo.url("/"), env={"http_proxy": dead, "no_proxy": entry})
        assert r.rc == 0, (entry, r)
        p = r.json["proxy"]
        assert p["used"] is False and p["bypass_source"] == "no_proxy", p
        assert r.json["port"] == echo.port
    # the uppercase list; a port that does not match does not bypass
    r = probe(echo.url("/"), env={"http_proxy": dead, "NO_PROXY": "127.0.0.1:1"},
              expect="PROXY_UNREACHABLE")
    assert r.rc == 23 and r.json["failed_phase"] == "connect"
    # --noproxy replaces the environment's list; --proxy "" goes direct whatever is set
    r = probe(echo.url("/"), "--noproxy", "127.0.0.1", env={"http_proxy": dead,
                                                            "no_proxy": "other.example"})
    assert r.rc == 0 and r.json["proxy"]["bypass_source"] == "--noproxy"
    r = probe(echo.url("/"), "--proxy", "", env={"http_proxy": dead})
    assert r.rc == 0 and r.json["proxy"]["used"] is False
    # a bad proxy variable is a usage error naming the variable, not its value
    r = wsprobe("probe", echo.url("/"), env={"http_proxy": "gopher://u:Sekret-in-env@h:1"})
    assert r.rc == 2 and "http_proxy" in r.stderr
    assert "Sekret-in-env" not in r.stdout + r.stderr


# ---- proxies that misbehave ---------------------------------------------------------------------

@pytest.mark.parametrize("mode, kw, cls", [
    ("silent", {}, "PROXY_UNREACHABLE"),
    ("close", {}, "PROXY_PROTOCOL"),
    ("binary", {}, "PROXY_PROTOCOL"),
    ("raw-close", {"text": "HTTP/1.1 200 Connection est"}, "PROXY_PROTOCOL"),
    ("raw", {"text": "SSH-2.0-OpenSSH_9.2\\r\\n\\r\\n"}, "PROXY_PROTOCOL"),
    ("status", {"status": 502, "reason": "Bad Gateway"}, "PROXY_TUNNEL_FAILED"),
])
def test_misbehaving_http_proxy(probe, peers, echo, mode, kw, cls):
    bad = peers.hostile(mode, **kw)
    r, secs = elapsed(lambda: probe(echo.url("/"), "--proxy", "http://127.0.0.1:%d" % bad.port,
                                    "--timeout", "1s"))
    assert r.json["class"] == cls, r.json
    assert r.json["failed_phase"] == "proxy"
    assert secs < 6
    req = bad.events(wait_for=lambda evs: any(e.get("event") == "request" for e in evs))
    heads = [e for e in req if e.get("event") == "request"]
    if mode != "binary":  # it reads the request first: a CONNECT for the endpoint (the peer is
        # shared, so other tests' requests may be in its log too)
        assert any("CONNECT 127.0.0.1:%d" % echo.port in json.dumps(h) for h in heads), heads


def test_refused_proxy(probe, echo, refused_port):
    r = probe(echo.url("/"), "--proxy", "socks5://127.0.0.1:%d" % refused_port,
              expect="PROXY_UNREACHABLE")
    assert r.rc == 23 and "proxy" in r.json["message"]


def test_unresolvable_proxy_name(probe, echo):
    r = probe(echo.url("/"), "--proxy", "http://proxy.wsprobe-nowhere.invalid:3128",
              "--timeout", "3s", expect="PROXY_UNREACHABLE")
    assert "proxy" in r.json["message"]


# ---- wait, plans, load, security ----------------------------------------------------------------

def test_wait_retries_an_unreachable_proxy_and_stops_on_auth(wsprobe, echo, tiny_auth,
                                                             refused_port):
    r = wsprobe("wait", echo.url("/"), "--proxy", "http://127.0.0.1:%d" % refused_port,
                "--deadline", "2s", "--json")
    assert r.rc == 124, r
    assert r.json["attempts"] >= 2
    r = wsprobe("wait", echo.url("/"), "--proxy", "http://127.0.0.1:%d" % tiny_auth.port,
                "--deadline", "10s", "--json")
    assert r.rc == 24, r
    assert r.json["attempts"] == 1


def test_plan_proxy_keys(wsprobe, echo, tiny_auth, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("environments:\n  x:\n    url: %s\n    proxy: http://127.0.0.1:%d\n"
                    "    proxy_user_env: PLAN_PX\n"
                    "checks:\n  - conversation:\n      name: c\n      send: hello\n"
                    "      expect: {text: hello}\n" % (echo.url("/"), tiny_auth.port))
    r = wsprobe("run", plan, "--env", "x", "--json",
                env={"PLAN_PX": "%s:%s" % (USER, PASSWORD)})
    assert r.rc == 0, r
    assert r.json["summary"]["failed"] == 0
    assert PASSWORD not in r.stdout + r.stderr
    r = wsprobe("run", plan, "--env", "x", "--json", env={"PLAN_PX": USER + ":wrong"})
    assert r.rc == 1, r
    plan.write_text("environments:\n  x:\n    url: %s\n    proxy: http://u:%s@127.0.0.1:1\n"
                    "checks:\n  - connect\n" % (echo.url("/"), PASSWORD))
    r = wsprobe("run", plan, "--env", "x", "--json")
    assert r.rc == 2 and "proxy_user_env" in r.stderr
    assert PASSWORD not in r.stdout + r.stderr


def test_load_through_socks(wsprobe, echo, socks):
    r = wsprobe("load", echo.url("/"), "--proxy", "socks5://127.0.0.1:%d" % socks.port,
                "--connections", "20", "--duration", "2s", "--rate", "50", "--message", "m",
                "--echo", "--threshold",
                "rate>=1", "--json", timeout=60)
    assert r.rc == 0, r
    assert r.json["connections"]["failed"] == 0, r.json["connections"]


def test_security_raw_checks_go_through_the_proxy(wsprobe, echo, socks):
    """handshake.version writes raw requests: through the proxy they reach the endpoint and
    are judged as they are directly."""
    direct = wsprobe("security", echo.url("/"), "--checks", "handshake.version", "--json")
    via = wsprobe("security", echo.url("/"), "--checks", "handshake.version", "--proxy",
                  "socks5://127.0.0.1:%d" % socks.port, "--json")
    v = lambda r: {c["id"]: c["verdict"] for c in r.json["checks"]}  # noqa: E731
    assert v(direct)["handshake.version"] in ("pass", "fail", "warn")
    assert v(via) == v(direct), (via.json, direct.json)
