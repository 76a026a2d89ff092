"""Bad input against `wsprobe serve`: each is cut off with the right status or close code, the
server keeps serving everyone else, and its memory stays bounded."""
import asyncio
import json
import socket
import time

import pytest

from serve_helpers import (FrameReader, frame, http_get, mint, raw_connect, raw_ws, read_head,
                           run, start_serve, status_of, upgrade_request, ws_connect)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = start_serve(tmp_path_factory.mktemp("serve-bad"), "--echo", "--rate-limit", "100000",
                    "--max-message", "16K", "--handshake-timeout", "1s", "--max-conns-per-ip",
                    "100", tls=False)
    yield s
    assert s.stop() == 0, s.log()[-2000:]


def still_serving(srv):
    """A fresh client gets its echo: the server is alive and well."""
    async def go():
        async with ws_connect(srv, token=mint()) as ws:
            await ws.send("alive?")
            return await asyncio.wait_for(ws.recv(), 3)
    return srv.alive() and run(go()) == "alive?"


@pytest.mark.parametrize("raw,status", [
    pytest.param(b"\x16\x03\x01garbage\r\nGET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 400, id="binary"),
    pytest.param(b"hello there\r\nGET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 400, id="text"),
    pytest.param(b"\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n", 400, id="blank-lines"),
    pytest.param(b"GET /ws HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400, id="space-in-name"),
    pytest.param(b"GET /ws HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, id="obs-fold"),
    pytest.param(b"GET /ws HTTP/1.1\r\nHost: a\r\nHost: b\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 400, id="two-hosts"),
    pytest.param(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n", 400,
                 id="bad-key"),
    pytest.param(b"GET http://x/ws HTTP/1.1\r\nHost: x\r\n\r\n", 400, id="absolute-form"),
])
def test_malformed_requests_get_400(srv, raw, status):
    assert http_get(srv, "/", raw=raw)[0] == status


def test_header_flood_431_long_line_414(srv):
    flood = b"GET /ws HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-Flood-%d: %s\r\n" % (i, b"a" * 10) for i in range(200)) + b"\r\n"
    assert http_get(srv, "/", raw=flood)[0] == 431
    big = b"GET /ws HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 8000 + b"\r\nX-Big2: " + \
        b"b" * 8000 + b"\r\nX-Big3: " + b"b" * 8000 + b"\r\n\r\n"
    assert http_get(srv, "/", raw=big)[0] == 431
    longline = b"GET /ws?" + b"q" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert http_get(srv, "/", raw=longline)[0] == 414
    assert still_serving(srv)


def test_endless_head_is_cut_at_the_cap(srv):
    s = raw_connect(srv)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
    sent = 0
    try:
        for _ in range(64):  # 64 x 1 KiB, far past the 16 KiB cap
            s.sendall(b"X-Pad: " + b"p" * 1000 + b"\r\n")
            sent += 1
    except OSError:
        pass
    status, _, _ = read_head(s)
    s.close()
    assert status == 431
    assert still_serving(srv)


@pytest.mark.parametrize("length,code", [
    pytest.param(1 << 63, 1002, id="2^63"),   # RFC 6455 5.2: the top bit must be 0
    pytest.param(1 << 62, 1009, id="2^62"),   # over the message limit, refused before buffering
    pytest.param(16 * 1024 + 1, 1009, id="limit+1"),
])
def test_huge_declared_lengths(srv, length, code):
    rss0 = srv.rss_kib()
    s, rest = raw_ws(srv, token=mint())
    s.sendall(frame(0x2, b"0123456789", length=length))
    r = FrameReader(s, rest)
    assert r.close_code() == code
    assert r.closed()
    s.close()
    assert srv.rss_kib() - rss0 < 16 * 1024  # nothing near the declared size was allocated
    assert still_serving(srv)


def test_broken_utf8_in_a_later_fragment_and_in_a_close_reason(srv):
    s, rest = raw_ws(srv, token=mint())
    s.sendall(frame(0x1, "valid ✓ ".encode(), fin=False) + frame(0x0, b"\xed\xa0\x80", fin=True))
    assert FrameReader(s, rest).close_code() == 1007  # a surrogate, in the second fragment
    s.close()
    s, rest = raw_ws(srv, token=mint())
    s.sendall(frame(0x8, b"\x03\xe8\xff\xfe"))
    assert FrameReader(s, rest).close_code() == 1007
    s.close()
    assert still_serving(srv)


def test_many_slowloris_connections_are_all_cut(srv):
    socks = []
    for i in range(20):
        s = raw_connect(srv)
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    assert still_serving(srv)
    t0 = time.monotonic()
    statuses = []
    for s in socks:
        try:
            statuses.append(read_head(s, timeout=4)[0])
        except (ConnectionError, TimeoutError, OSError):
            statuses.append(None)
        s.close()
    assert statuses == [408] * 20
    assert time.monotonic() - t0 < 4


def test_a_client_that_never_reads_is_dropped_and_memory_stays_bounded(srv):
    rss0 = srv.rss_kib()
    s, rest = raw_ws(srv, token=mint())
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    msg = frame(0x2, b"r" * 16000)
    sent = 0
    dropped = False
    deadline = time.monotonic() + 20
    s.settimeout(2)
    while sent < 256 * 1024 * 1024 and time.monotonic() < deadline:  # bounded: 256 MiB, 20 s
        try:
            s.sendall(msg)
            sent += len(msg)
        except (ConnectionError, OSError):
            dropped = True
            break
    s.close()
    assert dropped, "the server kept echoing into a client that never reads (%d bytes)" % sent
    events = srv.events()
    assert any(e.get("event") == "drop" and "write queue" in e.get("reason", "")
               for e in events), events[-5:]
    assert srv.rss_kib() - rss0 < 48 * 1024
    assert still_serving(srv)


def test_pipelined_frames_after_the_head_are_processed(srv):
    s = raw_connect(srv)
    s.sendall(upgrade_request(srv, token=mint()) + frame(0x1, b"early bird"))
    status, _, rest = read_head(s)
    assert status == 101
    assert FrameReader(s, rest).next() == (0x1, b"early bird")
    s.close()


def test_one_address_cannot_hold_the_accept_queue(tmp_path):
    """Handshaking sockets count per address too: past 2N+16 (N = --max-conns-per-ip) the
    server refuses new ones at once (503 on plaintext, before reading anything), while a
    connection from another address still works."""
    s = start_serve(tmp_path / "srv", "--max-conns-per-ip", "1", "--handshake-timeout", "5s",
                    tls=False)
    socks = []
    try:
        for _ in range(30):
            socks.append(socket.create_connection(("127.0.0.1", s.ws_port), timeout=3))
        time.sleep(0.5)  # the drops are immediate; this only lets them arrive
        dropped = 0
        for k in socks:
            k.settimeout(0.05)
            try:
                dropped += k.recv(64).startswith(b"HTTP/1.1 503 ")
            except socket.timeout:
                pass
        assert dropped == 30 - 18, dropped
        other = socket.create_connection(("127.0.0.1", s.ws_port), timeout=3,
                                         source_address=("127.0.0.2", 0))
        other.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _ = read_head(other)
        other.close()
        assert status == 200
    finally:
        for k in socks:
            k.close()
        assert s.stop() == 0


def test_self_signed_refuses_a_folder_others_can_write(tmp_path):
    """--self-signed writes a private key: a group/world-writable folder (where someone could
    plant a link at key.pem) is refused, and a planted link is never followed."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    rc, err = start_serve(tmp_path / "a", "--self-signed", str(shared), tls=False,
                          expect_fail=True)
    assert rc == 2 and "--self-signed" in err
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (private / "key.pem").symlink_to(victim)
    srv = start_serve(tmp_path / "b", "--tls-listen", "127.0.0.1:0", "--self-signed",
                      str(private), tls=False)
    try:
        assert victim.read_text() == "keep me\n"
        assert not (private / "key.pem").is_symlink()
        assert "PRIVATE KEY" in (private / "key.pem").read_text()
    finally:
        srv.stop()


def test_plain_http_on_the_tls_port_gets_a_well_formed_400(tmp_path):
    import http.client
    srv = start_serve(tmp_path / "srv")  # ws and wss
    try:
        c = http.client.HTTPConnection("127.0.0.1", srv.wss_port, timeout=5)
        c.request("GET", "/ws")
        resp = c.getresponse()
        body = json.loads(resp.read())
        assert resp.status == 400 and body["status"] == 400
    finally:
        srv.stop()
