"""Each --unsafe-* switch changes exactly the behaviour it names.

For every switch: the defence it names is off (what the hardened server refuses is accepted),
the other defences still hold, and a warning naming the switch is printed at start. The
hardened side of each pair is asserted too, so a test cannot pass with a server that ignores
the switch."""
import asyncio
import json
import time

import pytest
import websockets

from serve_helpers import (OTHER_SECRET, FrameReader, close_code_after, frame, http_get, mint,
                           mint_none, raw_ws, run, start_serve, status_of, ws_connect)

FOREIGN = "https://cswsh.example"
XSS = "<img src=x onerror=alert(7)>"


@pytest.fixture
def serve(tmp_path):
    started = []

    def start(*args, **kw):
        kw.setdefault("tls", False)
        srv = start_serve(tmp_path / ("srv%d" % len(started)), *args, **kw)
        started.append(srv)
        return srv
    yield start
    for srv in started:
        # 0: a clean shutdown (under ASan, 99 would mean a leak or an error)
        assert srv.stop() == 0, srv.log()[-2000:]


def warned(srv, name):
    return any("WARNING: --unsafe-%s" % name in line for line in srv.log().splitlines())


async def broadcast_content(srv, content, token=None):
    """What a second client of the room receives when the first sends `content`."""
    async with ws_connect(srv, token=token or mint("a"), query="room=x") as a, \
            ws_connect(srv, token=token or mint("b"), query="room=x") as b:
        await a.send(json.dumps({"type": "chat_message", "id": 1, "content": content}))
        msg = json.loads(await asyncio.wait_for(b.recv(), 3))
        return msg["content"]


async def oversize_code(srv, token=None):
    async with ws_connect(srv, token=token or mint()) as ws:
        await ws.send("z" * (64 * 1024 + 1))
        try:
            reply = await asyncio.wait_for(ws.recv(), 3)
            return "accepted:%d" % len(reply)
        except websockets.exceptions.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None


def test_hardened_defaults_refuse_everything_the_switches_allow(serve):
    srv = serve("--echo")
    assert not any("WARNING" in line for line in srv.log().splitlines())
    assert run(status_of(srv)) == 401
    assert run(status_of(srv, token=mint_none())) == 401
    assert run(status_of(srv, token=mint(ttl=-3600))) == 401
    assert run(status_of(srv, token=mint(), origin=FOREIGN)) == 403
    assert run(oversize_code(srv)) == 1009
    assert json.loads(http_get(srv, "/health")[2])["unsafe"] == []


def test_no_auth_refusal_without_key_material(tmp_path):
    rc, err = start_serve(tmp_path, tls=False, auth=False, expect_fail=True)
    assert rc == 2


def test_unsafe_no_auth(serve):
    srv = serve("--unsafe-no-auth", auth=False)
    assert warned(srv, "no-auth")
    assert run(status_of(srv)) == 101
    assert json.loads(http_get(srv, "/health")[2])["unsafe"] == ["no-auth"]
    # the other defences hold
    assert run(status_of(srv, origin=FOREIGN)) == 403
    assert run(oversize_code(srv)) == 1009
    assert run(broadcast_content(srv, XSS)) == "&lt;img src&#61;x onerror&#61;alert(7)&gt;"


def test_unsafe_accept_alg_none(serve):
    srv = serve("--unsafe-accept-alg-none")
    assert warned(srv, "accept-alg-none")
    for spelling in ("none", "None", "NONE", "nOnE"):
        assert run(status_of(srv, token=mint_none(alg_header=spelling))) == 101, spelling
    # a signed token is still verified, and the claims of an unsigned one still checked
    assert run(status_of(srv, token=mint(key=OTHER_SECRET))) == 401
    assert run(status_of(srv, token=mint_none(ttl=-3600))) == 401
    assert run(status_of(srv)) == 401
    assert run(status_of(srv, token=mint(), origin=FOREIGN)) == 403


def test_unsafe_skip_claims(serve):
    srv = serve("--unsafe-skip-claims")
    assert warned(srv, "skip-claims")
    assert run(status_of(srv, token=mint(ttl=-3600))) == 101
    assert run(status_of(srv, token=mint(nbf=int(time.time()) + 3600))) == 101
    assert run(status_of(srv, token=mint(aud="someone-else"))) == 101
    # the signature and the algorithm are still checked
    assert run(status_of(srv, token=mint(key=OTHER_SECRET, ttl=-3600))) == 401
    assert run(status_of(srv, token=mint_none())) == 401
    assert run(status_of(srv)) == 401


def test_unsafe_skip_claims_keeps_connections_past_expiry(serve):
    srv = serve("--unsafe-skip-claims", "--jwt-leeway", "0s")

    async def go():
        async with ws_connect(srv, token=mint(ttl=1)) as ws:
            await asyncio.sleep(2.0)
            await ws.send(json.dumps({"type": "ping"}))
            return json.loads(await asyncio.wait_for(ws.recv(), 3))
    assert run(go()) == {"type": "pong"}


def test_unsafe_any_origin(serve):
    srv = serve("--unsafe-any-origin", "--allow-origin", "https://app.example")
    assert warned(srv, "any-origin")
    assert run(status_of(srv, token=mint(), origin=FOREIGN)) == 101
    assert run(status_of(srv, token=mint(), origin="null")) == 101
    assert run(status_of(srv, origin=FOREIGN)) == 401  # auth still required
    assert run(oversize_code(srv)) == 1009


def test_unsafe_no_sanitize(serve):
    srv = serve("--unsafe-no-sanitize")
    assert warned(srv, "no-sanitize")
    assert run(broadcast_content(srv, XSS)) == XSS
    assert run(status_of(srv)) == 401
    assert run(status_of(srv, token=mint(), origin=FOREIGN)) == 403
    assert run(oversize_code(srv)) == 1009


def test_unsafe_no_limits(serve):
    srv = serve("--unsafe-no-limits", "--echo", "--max-conns-per-ip", "1", "--rate-limit", "2",
                "--idle-timeout", "300ms", "--handshake-timeout", "300ms")
    assert warned(srv, "no-limits")
    assert run(oversize_code(srv)) == "accepted:65537"

    async def go():
        tok = mint()
        async with ws_connect(srv, token=tok) as a, ws_connect(srv, token=tok) as b:
            for i in range(20):  # 10x the configured rate
                await a.send("m%d" % i)
            got = [await asyncio.wait_for(a.recv(), 3) for _ in range(20)]
            await asyncio.sleep(0.8)  # past the idle timeout
            await b.send("still here")
            return got, await asyncio.wait_for(b.recv(), 3)
    got, late = run(go())
    assert got == ["m%d" % i for i in range(20)] and late == "still here"
    # a frame declaring 2^62 bytes is still refused: the server keeps a ceiling for itself
    s, rest = raw_ws(srv, token=mint())
    s.sendall(frame(0x2, b"0123456789", length=1 << 62))
    assert FrameReader(s, rest).close_code() == 1009
    s.close()
    # the other defences hold
    assert run(status_of(srv)) == 401
    assert run(status_of(srv, token=mint(), origin=FOREIGN)) == 403


def test_unsafe_no_limits_keeps_slow_handshakes(serve):
    import socket
    srv = serve("--unsafe-no-limits", "--handshake-timeout", "300ms")
    s = socket.create_connection(("127.0.0.1", srv.ws_port), timeout=3)
    s.sendall(b"GET /ws HTTP/1.1\r\n")
    time.sleep(1.0)
    s.settimeout(0.2)
    try:
        data = s.recv(100)
        still_open = data != b""
    except socket.timeout:
        still_open = True
    s.close()
    assert still_open
