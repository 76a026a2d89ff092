"""The peers themselves, checked with independent clients (python3-websockets client, curl,
openssl s_client/verify, raw DNS queries), without wsprobe.

If one of these fails, a wsprobe failure in test_probe.py says nothing about wsprobe: fix the
peer first. These tests also pin down what each peer models, so the classes asserted in
test_probe.py rest on behaviour seen by a third-party client.
"""
import asyncio
import json
import socket
import ssl
import struct
import subprocess

import pytest
import websockets

from conftest import OPENSSL


def ws_talk(url, send="hello", cafile=None, subprotocols=None, timeout=3.0, headers=None):
    """Connect with the python3-websockets client, send one message, return (reply, ws info)
    or raise what the client raised."""
    async def go():
        ctx = None
        if url.startswith("wss:"):
            ctx = ssl.create_default_context(cafile=cafile)
        async with websockets.connect(url, ssl=ctx, open_timeout=timeout, close_timeout=1,
                                      subprotocols=subprotocols,
                                      extra_headers=headers or {}) as ws:
            reply = None
            if send is not None:
                await ws.send(send)
                reply = await asyncio.wait_for(ws.recv(), timeout)
            return reply, ws.subprotocol
    return asyncio.run(go())


def ws_error(url, **kw):
    """The exception the python client raises against url (None if it succeeded)."""
    try:
        ws_talk(url, **kw)
    except Exception as e:  # the point is which exception: the caller asserts on it
        return e
    return None


def curl(*args):
    r = subprocess.run(["curl", "-s", "-i", "--max-time", "5"] + list(args), capture_output=True,
                       timeout=10)
    return r.stdout.decode("latin-1")


def status_of(http_text):
    return int(http_text.split(" ", 2)[1])


def dns_query(port, name, qtype=1, timeout=2.0):
    """One UDP query to 127.0.0.1:port; returns (rcode, answer count) or None on timeout."""
    msg = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    msg += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    msg += struct.pack("!HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(msg, ("127.0.0.1", port))
        try:
            data, _ = s.recvfrom(4096)
        except socket.timeout:
            return None
    assert data[:2] == b"\x42\x42"
    return data[3] & 0xF, struct.unpack("!H", data[6:8])[0]


# --- certificates -------------------------------------------------------------------------

@pytest.mark.parametrize("kind,error", [
    ("trusted", None),
    ("untrusted", 20),        # unable to get local issuer certificate
    ("self-signed", 18),      # self-signed certificate
    ("expired", 10),          # certificate has expired
    ("not-yet-valid", 9),     # certificate is not yet valid
])
def test_openssl_verify_sees_each_certificate_as_intended(pki, kind, error):
    cert, _ = pki.server_pair(kind)
    r = subprocess.run([OPENSSL, "verify", "-CAfile", str(pki.ca), "-verify_hostname",
                        "localhost", str(cert)], capture_output=True, text=True, timeout=10)
    if error is None:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode != 0
        assert "error %d at" % error in r.stdout + r.stderr, r.stdout + r.stderr


def test_wrong_name_certificate_is_valid_except_for_the_name(pki):
    cert, _ = pki.server_pair("wrong-name")
    ok = subprocess.run([OPENSSL, "verify", "-CAfile", str(pki.ca), "-verify_hostname",
                         "wrong.example", str(cert)], capture_output=True, text=True, timeout=10)
    bad = subprocess.run([OPENSSL, "verify", "-CAfile", str(pki.ca), "-verify_hostname",
                          "localhost", str(cert)], capture_output=True, text=True, timeout=10)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert bad.returncode != 0 and "error 62 at" in bad.stdout + bad.stderr  # hostname mismatch


# --- python3-websockets echo server --------------------------------------------------------

def test_echo_server_echoes_over_ws(peers):
    e = peers.echo()
    assert ws_talk(e.url("/")) == ("hello", None)


def test_echo_server_echoes_over_wss_with_the_test_ca(peers, pki):
    e = peers.echo(tls="trusted")
    assert ws_talk(e.url("/", scheme="wss", host="localhost"), cafile=str(pki.ca))[0] == "hello"
    assert ws_talk(e.url("/", scheme="wss"), cafile=str(pki.ca))[0] == "hello"  # IP SAN


def test_echo_server_negotiates_tls13_and_verifies_with_openssl_s_client(peers, pki):
    e = peers.echo(tls="trusted")
    r = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % e.port,
                        "-servername", "localhost", "-CAfile", str(pki.ca),
                        "-verify_return_error", "-verify_hostname", "localhost"],
                       input=b"", capture_output=True, timeout=10)
    out = r.stdout.decode("latin-1")
    assert "TLSv1.3" in out and "Verify return code: 0 (ok)" in out, out[-2000:]


def test_echo_server_can_be_capped_at_tls12(peers, pki):
    e = peers.echo(tls="trusted", tls_max="1.2")
    r = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % e.port, "-tls1_3"],
                       input=b"", capture_output=True, timeout=10)
    assert r.returncode != 0 or "TLSv1.3" not in r.stdout.decode("latin-1")
    assert ws_talk(e.url("/", scheme="wss"), cafile=str(pki.ca))[0] == "hello"


@pytest.mark.parametrize("kind,code", [
    ("untrusted", 20), ("self-signed", 18), ("wrong-name", 62), ("expired", 10),
    ("not-yet-valid", 9)])
def test_python_client_refuses_each_bad_certificate(peers, pki, kind, code):
    e = peers.echo(tls=kind)
    err = ws_error(e.url("/", scheme="wss", host="localhost"), cafile=str(pki.ca))
    assert isinstance(err, ssl.SSLCertVerificationError), repr(err)
    assert err.verify_code == code, err.verify_message


def test_echo_server_paths(peers):
    e = peers.echo()

    async def headers_then_echo():
        async with websockets.connect(e.url("/headers"), extra_headers={"X-Probe": "abc"},
                                      origin="http://app.test") as ws:
            first = await asyncio.wait_for(ws.recv(), 3)
            await ws.send("x")
            return first, await asyncio.wait_for(ws.recv(), 3)
    first, echo = asyncio.run(headers_then_echo())
    h = json.loads(first)
    assert h["x-probe"] == "abc" and h["origin"] == "http://app.test" and h["_path"] == "/headers"
    assert echo == "x"

    async def greet():
        async with websockets.connect(e.url("/greet")) as ws:
            return await asyncio.wait_for(ws.recv(), 3)
    assert asyncio.run(greet()) == "welcome"

    err = ws_error(e.url("/close/1011"))
    assert isinstance(err, websockets.ConnectionClosedError) and err.code == 1011


def test_echo_server_selects_an_offered_subprotocol(peers):
    e = peers.echo(subprotocols=("chat.v1",))
    assert ws_talk(e.url("/"), subprotocols=["chat.v1"]) == ("hello", "chat.v1")


def test_echo_server_plain_http_answers(peers):
    e = peers.echo()
    assert status_of(curl(e.url("/health", scheme="http"))) == 200
    assert status_of(curl(e.url("/status/403", scheme="http"))) == 403
    r302 = curl(e.url("/status/302", scheme="http"))
    assert status_of(r302) == 302 and "Location: /moved" in r302
    assert status_of(curl(e.url("/", scheme="http"))) == 426


def test_echo_server_listens_on_ipv6_too(peers, ipv6):
    e = peers.echo(ipv6=True)
    assert ws_talk("ws://[::1]:%d/" % e.port)[0] == "hello"
    assert ws_talk("ws://127.0.0.1:%d/" % e.port)[0] == "hello"


# --- nginx ------------------------------------------------------------------------------------

def test_nginx_ws_proxy_carries_websocket(peers):
    n = peers.nginx("ws-proxy", peers.echo())
    assert ws_talk(n.url("/"))[0] == "hello"
    assert "nginx" in curl(n.url("/health", scheme="http")).lower()


def test_nginx_upgrade_stripped_answers_200_with_the_spa_page(peers):
    n = peers.nginx("upgrade-stripped", peers.echo())
    text = curl("-H", "Connection: Upgrade", "-H", "Upgrade: websocket",
                "-H", "Sec-WebSocket-Version: 13",
                "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                n.url("/ws", scheme="http"))
    assert status_of(text) == 200 and '<div id="root">' in text
    assert "upgrade: websocket" not in text.lower()
    err = ws_error(n.url("/ws"))
    assert isinstance(err, websockets.InvalidStatusCode) and err.status_code == 200


def test_nginx_answers_tls_on_a_plain_port_with_http(peers):
    n = peers.nginx("ws-proxy", peers.echo())
    r = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % n.port],
                       input=b"", capture_output=True, timeout=10)
    assert r.returncode != 0
    assert b"wrong version number" in r.stdout + r.stderr


# --- DNS -------------------------------------------------------------------------------------

def test_dnsmasq_answers_test_names(peers):
    d = peers.dnsmasq()
    assert dns_query(d.port, "ok.test", 1) == (0, 1)
    assert dns_query(d.port, "ok.test", 28) == (0, 0)      # exists, no AAAA: NODATA
    assert dns_query(d.port, "dual.test", 28) == (0, 1)
    assert dns_query(d.port, "nope.test", 1) == (3, 0)     # NXDOMAIN


def test_dns_stubs(peers):
    assert dns_query(peers.dns_stub("silent").port, "ok.test", timeout=0.5) is None
    assert dns_query(peers.dns_stub("rcode", rcode=2).port, "ok.test") == (2, 0)


# --- hostile server, seen by the python client ------------------------------------------------

HANDSHAKE_EXPECTATIONS = [
    # mode, exception type name the python3-websockets client raises, text in its message
    ("silent", "TimeoutError", ""),
    ("close", "InvalidMessage", ""),
    ("reset", "InvalidMessage", ""),
    ("ssh", "InvalidMessage", ""),
    ("bad-accept", "InvalidHeaderValue", "Sec-WebSocket-Accept"),
    ("no-accept", "InvalidHeader", "missing Sec-WebSocket-Accept"),
    ("double-accept", "InvalidHeader", "more than one"),
    ("no-upgrade", "InvalidUpgrade", "Upgrade"),
    ("no-connection", "InvalidUpgrade", "Connection"),
    ("upgrade-h2c", "InvalidUpgrade", "h2c"),
    ("bad-subprotocol", "InvalidHandshake", "subprotocol"),
    ("bad-extension", "NegotiationError", "x-never-offered"),
    ("huge-header", "InvalidMessage", ""),
    ("endless-headers", "InvalidMessage", ""),
    ("trickle", "TimeoutError", ""),
]


@pytest.mark.parametrize("mode,exc,text", HANDSHAKE_EXPECTATIONS)
def test_hostile_handshake_modes_break_the_python_client(peers, mode, exc, text):
    h = peers.hostile(mode, hold=10)
    err = ws_error(h.url("/"), timeout=1.5)
    assert err is not None and type(err).__name__ == exc, repr(err)
    assert text in str(err)


@pytest.mark.parametrize("status", [403, 404, 500, 302])
def test_hostile_status_mode_with_curl(peers, status):
    h = peers.hostile("status", status=status, reason="Whatever",
                      headers=("Location: wss://elsewhere.test/ws",), body="nope")
    text = curl(h.url("/", scheme="http"))
    assert status_of(text) == status and "Location: wss://elsewhere.test/ws" in text
    assert text.endswith("nope")


@pytest.mark.parametrize("mode,code", [
    ("masked", 1002), ("close-1011", 1011), ("drop", 1006), ("len-2^63", 1009),
    ("close-1byte", 1002), ("bad-utf8", 1007), ("bad-utf8-reason", 1007), ("bad-opcode", 1002),
    ("rsv1", 1002), ("long-ping", 1002), ("fragmented-ping", 1002)])
def test_hostile_frame_modes_break_the_python_client(peers, mode, code):
    h = peers.hostile(mode, hold=10)
    err = ws_error(h.url("/"), timeout=3)
    assert isinstance(err, websockets.ConnectionClosedError), repr(err)
    closed_with = err.rcvd.code if err.rcvd else (err.sent.code if err.sent else 1006)
    assert closed_with == code, repr(err)


@pytest.mark.parametrize("mode,reply", [
    ("echo", "hello"), ("ping-echo", "hello"), ("fragments", "hello"), ("mismatch", "nope"),
    ("unrelated", '{"type":"noise"}')])
def test_hostile_reply_modes_with_the_python_client(peers, mode, reply):
    h = peers.hostile(mode, text="nope" if mode == "mismatch" else None)
    assert ws_talk(h.url("/"))[0] == reply


def test_hostile_silence_never_replies(peers):
    err = ws_error(peers.hostile("silence", hold=10).url("/"), timeout=1)
    assert isinstance(err, asyncio.TimeoutError), repr(err)


def test_hostile_logs_the_clients_frames(fresh_peers):
    h = fresh_peers.hostile("echo")
    ws_talk(h.url("/"), send="abc")
    evs = h.events(wait_for=lambda e: any(x["event"] == "closed" for x in e))
    frames = [e for e in evs if e["event"] == "frame"]
    assert frames[0]["opcode"] == 1 and frames[0]["masked"] == 1
    assert bytes.fromhex(frames[0]["payload"]) == b"abc"
    assert frames[-1]["opcode"] == 8
    req = [e for e in evs if e["event"] == "request"][0]
    assert req["request_line"] == "GET / HTTP/1.1"


def test_hostile_raw_sends_its_text_verbatim(peers):
    h = peers.hostile("raw", text=r"HTTP/1.1 abc\r\nX: a\x00b\r\n\r\n")
    with socket.create_connection(("127.0.0.1", h.port), timeout=3) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        for _ in range(100):                      # bounded: the reply is 30 bytes
            chunk = s.recv(100)
            got += chunk
            if not chunk or got.endswith(b"\r\n\r\n"):
                break
    assert got == b"HTTP/1.1 abc\r\nX: a\x00b\r\n\r\n"


def test_hostile_plain_http_answers_a_client_hello(peers):
    h = peers.hostile("plain-http")
    r = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % h.port],
                       input=b"", capture_output=True, timeout=10)
    assert r.returncode != 0 and b"wrong version number" in r.stdout + r.stderr
    with socket.create_connection(("127.0.0.1", h.port), timeout=3) as s:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        assert s.recv(64).startswith(b"HTTP/1.1 400 ")
