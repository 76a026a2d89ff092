"""`wsprobe serve` against Debian's python3-websockets client and raw sockets, over ws and wss.

Tokens are minted by python3-jwt, never by wsprobe. Each test asserts on what went over the wire:
HTTP status, close codes, the JSON of the chat protocol, bytes."""
import asyncio
import json
import socket
import struct
import time

import pytest
import websockets

from serve_helpers import (OTHER_SECRET, FrameReader, close_code_after, close_code_after_flood,
                           frame, http_get, mint,
                           mint_none, raw_connect, raw_ws, read_head, run, start_serve,
                           status_of, upgrade_request, ws_connect)

TLS = [pytest.param(False, id="ws"), pytest.param(True, id="wss")]


@pytest.fixture(scope="module")
def chat(tmp_path_factory):
    """The hardened server, chat protocol, defaults but a smaller message cap."""
    srv = start_serve(tmp_path_factory.mktemp("serve-chat"), "--max-message", "16K",
                      "--max-conns-per-ip", "40")
    yield srv
    assert srv.stop() == 0, srv.log()[-2000:]


@pytest.fixture(scope="module")
def echo(tmp_path_factory):
    srv = start_serve(tmp_path_factory.mktemp("serve-echo"), "--echo", "--max-message", "16K",
                      "--max-conns-per-ip", "40")
    yield srv
    assert srv.stop() == 0, srv.log()[-2000:]


@pytest.fixture
def serve(tmp_path):
    """Start a server with extra options for this test only; stopped at teardown."""
    started = []

    def start(*args, **kw):
        srv = start_serve(tmp_path / ("srv%d" % len(started)), *args, **kw)
        started.append(srv)
        return srv
    yield start
    for srv in started:
        # 0: a clean shutdown (under ASan, 99 would mean a leak or an error)
        assert srv.stop() == 0, srv.log()[-2000:]


# ---------------------------------------------------------------------------------------------
# HTTP side


@pytest.mark.parametrize("tls", TLS)
def test_health_json_and_hsts_on_tls_only(chat, tls):
    status, hdrs, body = http_get(chat, "/health", tls=tls)
    assert status == 200
    j = json.loads(body)
    assert j["status"] == "ok" and isinstance(j["version"], str)
    assert isinstance(j["uptime_s"], (int, float)) and j["uptime_s"] >= 0
    assert isinstance(j["connections"], int) and j["connections"] >= 1
    assert j["unsafe"] == []
    if tls:
        max_age = int(hdrs["strict-transport-security"].split("=")[1])
        assert max_age >= 31536000
    else:
        assert "strict-transport-security" not in hdrs


def test_unknown_path_404_plain_get_426_bad_version_426_post_405(chat):
    assert http_get(chat, "/nope")[0] == 404
    status, hdrs, _ = http_get(chat, "/ws")
    assert status == 426 and hdrs["sec-websocket-version"] == "13"
    s = raw_connect(chat)
    s.sendall(upgrade_request(chat, token=mint(), version="1337"))
    status, hdrs, _ = read_head(s)
    s.close()
    assert status == 426 and hdrs["sec-websocket-version"] == "13"
    raw = b"POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    assert http_get(chat, "/ws", raw=raw)[0] == 405


def test_hixie76_handshake_is_never_upgraded(chat):
    raw = (b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nSec-WebSocket-Key2: 12998 5 Y3 1  .P00"
           b"\r\n\r\n^n:ds[4U")
    status = http_get(chat, "/ws", raw=raw)[0]
    assert 400 <= status < 500


# ---------------------------------------------------------------------------------------------
# python3-websockets: the happy paths


@pytest.mark.parametrize("tls", TLS)
def test_echo_text_binary_and_fragmented(echo, tls):
    async def go():
        async with ws_connect(echo, tls=tls, token=mint()) as ws:
            await ws.send("héllo wörld")
            assert await ws.recv() == "héllo wörld"
            await ws.send(b"\x00\x01\xfe\xff")
            assert await ws.recv() == b"\x00\x01\xfe\xff"
            await ws.send(["frag", "ment", "ed ✓"])  # one message in three frames
            assert await ws.recv() == "fragmented ✓"
    run(go())


@pytest.mark.parametrize("tls", TLS)
def test_ping_pong_and_close_code_echoed(echo, tls):
    async def go():
        ws = await ws_connect(echo, tls=tls, token=mint())
        waiter = await ws.ping(b"are you there")
        await asyncio.wait_for(waiter, 3)
        await ws.close(code=4321, reason="done")
        return ws.close_code
    assert run(go()) == 4321


@pytest.mark.parametrize("tls", TLS)
def test_chat_ack_and_escaped_broadcast_between_two_clients(chat, tls):
    async def go():
        async with ws_connect(chat, tls=tls, token=mint("alice"), query="room=r1") as a, \
                ws_connect(chat, tls=tls, token=mint("bob"), query="room=r1") as b, \
                ws_connect(chat, tls=tls, token=mint("carol"), query="room=other") as c:
            await a.send(json.dumps({"type": "chat_message", "id": "m-1",
                                     "content": "<script>alert(1)</script> & 'x'"}))
            got_a = [json.loads(await asyncio.wait_for(a.recv(), 3)) for _ in range(2)]
            got_b = json.loads(await asyncio.wait_for(b.recv(), 3))
            await c.send(json.dumps({"type": "ping"}))
            got_c = json.loads(await asyncio.wait_for(c.recv(), 3))
            return got_a, got_b, got_c
    got_a, got_b, got_c = run(go())
    assert got_a[0] == {"type": "ack", "id": "m-1"}
    assert got_a[1] == got_b
    assert got_b["type"] == "chat_message" and got_b["id"] == "m-1"
    assert got_b["sub"] == "alice" and got_b["room"] == "r1"
    assert got_b["content"] == ("&lt;script&gt;alert(1)&lt;&#47;script&gt; &amp; &#39;x&#39;")
    assert "<" not in got_b["content"]
    assert got_c == {"type": "pong"}  # room "other" got no broadcast before its pong


def test_chat_errors_then_close_1008_after_repeated_errors(chat):
    async def go():
        async with ws_connect(chat, token=mint()) as ws:
            replies = []
            for bad in ["not json", "[1,2]", '{"type":"nope"}', '{"type":"chat_message"}',
                        '{"type":"chat_message","content":1}']:
                await ws.send(bad)
                replies.append(json.loads(await asyncio.wait_for(ws.recv(), 3)))
            return replies, await close_code_after(ws)
    replies, code = run(go())
    assert [r["type"] for r in replies] == ["error"] * 5
    assert code == 1008


@pytest.mark.parametrize("where", ["query", "subprotocol", "cookie"])
def test_token_from_query_subprotocol_cookie(chat, where):
    tok = mint("dora")

    async def go():
        kw = {}
        if where == "query":
            kw["query"] = "token=" + tok
        elif where == "subprotocol":
            kw["subprotocols"] = ["bearer." + tok]
        else:
            kw["extra_headers"] = {"Cookie": "theme=dark; token=" + tok}
        async with ws_connect(chat, **kw) as ws:
            await ws.send(json.dumps({"type": "chat_message", "content": "hi", "id": 7}))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 3))
            bc = json.loads(await asyncio.wait_for(ws.recv(), 3))
            return ws.subprotocol, ack, bc
    proto, ack, bc = run(go())
    assert ack == {"type": "ack", "id": 7} and bc["sub"] == "dora"
    if where == "subprotocol":
        assert proto == "bearer." + tok  # the chosen protocol is echoed
    else:
        assert proto is None


# ---------------------------------------------------------------------------------------------
# Refusals at the handshake


@pytest.mark.parametrize("tls", TLS)
def test_401_without_token_with_foreign_key_with_alg_none(chat, tls):
    assert run(status_of(chat, tls=tls)) == 401
    assert run(status_of(chat, tls=tls, token="invalid")) == 401
    assert run(status_of(chat, tls=tls, token=mint(key=OTHER_SECRET))) == 401
    for spelling in ("none", "None", "NONE", "nOnE"):
        assert run(status_of(chat, tls=tls, token=mint_none(alg_header=spelling))) == 401
    good = mint()
    assert run(status_of(chat, tls=tls, token=good[:-3])) == 401  # signature cut
    assert run(status_of(chat, tls=tls, token=good)) == 101  # the baseline


def test_401_on_claims_expired_future_aud_iss_and_no_exp(chat):
    assert run(status_of(chat, token=mint(ttl=-3600))) == 401
    assert run(status_of(chat, token=mint(nbf=int(time.time()) + 3600))) == 401
    assert run(status_of(chat, token=mint(aud="someone-else"))) == 401
    assert run(status_of(chat, token=mint(ttl=None))) == 401
    assert run(status_of(chat, token=mint(alg="HS512"))) == 401  # not the pinned algorithm


def test_aud_and_iss_when_configured(serve):
    srv = serve("--jwt-aud", "chat", "--jwt-iss", "https://issuer.test", tls=False)
    ok = mint(aud="chat", iss="https://issuer.test")
    assert run(status_of(srv, token=ok)) == 101
    assert run(status_of(srv, token=mint(aud="chat"))) == 401
    assert run(status_of(srv, token=mint(aud="other", iss="https://issuer.test"))) == 401
    assert run(status_of(srv, token=mint(aud="chat", iss="https://evil.test"))) == 401


def test_es256_public_key_and_key_confusion(serve, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    priv = ec.generate_private_key(ec.SECP256R1())
    pub_pem = priv.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "pub.pem").write_bytes(pub_pem)
    srv = serve("--jwt-key-file", str(tmp_path / "pub.pem"), tls=False, auth=False)
    assert run(status_of(srv, token=mint(key=priv, alg="ES256"))) == 101
    other = ec.generate_private_key(ec.SECP256R1())
    assert run(status_of(srv, token=mint(key=other, alg="ES256"))) == 401
    # HS256 with the public key as the HMAC secret (built by hand: PyJWT refuses to)
    import base64, hashlib, hmac
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    now = int(time.time())
    signing = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(
        {"sub": "x", "exp": now + 60}).encode())
    sig = b64(hmac.new(pub_pem, signing.encode(), hashlib.sha256).digest())
    assert run(status_of(srv, token=signing + "." + sig)) == 401


@pytest.mark.parametrize("tls", TLS)
def test_403_foreign_origin_and_bypasses(chat, tls):
    tok = mint()
    port = chat.port(tls)
    scheme = "https" if tls else "http"
    same = "%s://127.0.0.1:%d" % (scheme, port)
    assert run(status_of(chat, tls=tls, token=tok, origin=same)) == 101
    for o in ["https://cswsh.example", "null", "%s://127.0.0.1:%d.attacker.example" % (scheme, port),
              "%s://127.0.0.1:%d" % ("http" if tls else "https", port),
              "%s://127.0.0.1:%d" % (scheme, port + 1)]:
        assert run(status_of(chat, tls=tls, token=tok, origin=o)) == 403, o


def test_origin_allow_list_is_exact(serve):
    srv = serve("--allow-origin", "https://app.example", tls=False)
    tok = mint()
    assert run(status_of(srv, token=tok, origin="https://app.example")) == 101
    assert run(status_of(srv, token=tok)) == 101  # no Origin: a non-browser client
    for o in ["http://app.example", "https://app.example.attacker.example",
              "https://attacker-app.example", "https://APP.example", "https://app.example/",
              "https://app-example", "http://127.0.0.1:%d" % srv.ws_port]:
        assert run(status_of(srv, token=tok, origin=o)) == 403, o


def test_503_over_the_per_client_connection_limit(serve):
    srv = serve("--max-conns-per-ip", "2", tls=False)

    async def go():
        tok = mint()
        async with ws_connect(srv, token=tok), ws_connect(srv, token=tok):
            third = await status_of(srv, token=tok)
        after = await status_of(srv, token=tok)  # the two closed: room again
        return third, after
    third, after = run(go())
    assert third == 503
    assert after == 101


# ---------------------------------------------------------------------------------------------
# Limits and protocol violations after the upgrade


@pytest.mark.parametrize("tls", TLS)
def test_1009_on_an_oversized_message(chat, tls):
    async def go():
        async with ws_connect(chat, tls=tls, token=mint()) as ws:
            await ws.send("x" * (16 * 1024 + 1))
            return await close_code_after(ws)
    assert run(go()) == 1009


def test_1009_on_fragments_adding_up_past_the_limit(chat):
    async def go():
        async with ws_connect(chat, token=mint()) as ws:
            await ws.send(["y" * 8192, "y" * 8192, "y"])
            return await close_code_after(ws)
    assert run(go()) == 1009


@pytest.mark.parametrize("tls", TLS)
def test_1007_on_invalid_utf8_raw_socket(chat, tls):
    s, rest = raw_ws(chat, tls=tls, token=mint())
    s.sendall(frame(0x1, b"\xc3\x28"))
    r = FrameReader(s, rest)
    assert r.close_code() == 1007
    assert r.closed()
    s.close()


@pytest.mark.parametrize("tls", TLS)
def test_1002_on_an_unmasked_frame(chat, tls):
    s, rest = raw_ws(chat, tls=tls, token=mint())
    s.sendall(frame(0x1, b'{"type":"ping"}', mask=False))
    r = FrameReader(s, rest)
    assert r.close_code() == 1002
    s.close()


@pytest.mark.parametrize("bad", [
    pytest.param(frame(0x1, b"x", rsv=0x40), id="rsv1"),
    pytest.param(frame(0x3, b"x"), id="reserved-opcode"),
    pytest.param(frame(0x9, b"p" * 126), id="ping-over-125"),
    pytest.param(frame(0x9, b"p", fin=False), id="fragmented-ping"),
    pytest.param(frame(0x0, b"x"), id="continuation-first"),
])
def test_1002_on_protocol_violations(chat, bad):
    s, rest = raw_ws(chat, token=mint())
    s.sendall(bad)
    assert FrameReader(s, rest).close_code() == 1002
    s.close()


@pytest.mark.parametrize("spelling", ["--rate-limit", "--rate"])
def test_rate_limit_closes_1008(serve, spelling):
    """--rate-limit, and its old name --rate (docs/cli.md): the same limit, the old name warned
    of at start with the new one named."""
    srv = serve(spelling, "5", tls=False)
    assert close_code_after_flood(srv) == 1008
    warned = "--rate is now --rate-limit" in srv.log()
    assert warned == (spelling == "--rate"), srv.log()[-2000:]


def test_idle_timeout_closes_1001(serve):
    srv = serve("--idle-timeout", "500ms", tls=False)

    async def go():
        async with ws_connect(srv, token=mint()) as ws:
            t0 = time.monotonic()
            code = await close_code_after(ws, timeout=5)
            return code, time.monotonic() - t0
    code, took = run(go())
    assert code == 1001 and took < 4


def test_token_expiry_closes_an_open_connection_1008(serve):
    srv = serve("--jwt-leeway", "0s", tls=False)

    async def go():
        async with ws_connect(srv, token=mint(ttl=2)) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await ws.recv()) == {"type": "pong"}
            return await close_code_after(ws, timeout=6)
    assert run(go()) == 1008


def test_slow_handshake_is_cut_while_others_are_served(serve):
    srv = serve("--handshake-timeout", "1s", tls=False)
    s = raw_connect(srv)
    t0 = time.monotonic()
    s.sendall(b"GET /ws HTTP/1.1\r\n")
    got = b""
    closed_after = None
    for i in range(40):  # one header line every 100 ms, never the blank line
        try:
            s.sendall(b"X-Slow-%d: a\r\n" % i)
        except OSError:
            closed_after = time.monotonic() - t0
            break
        if i == 3:
            assert http_get(srv, "/health")[0] == 200  # the server serves others meanwhile
        s.settimeout(0.1)
        try:
            chunk = s.recv(4096)
            if not chunk:
                closed_after = time.monotonic() - t0
                break
            got += chunk
        except socket.timeout:
            pass
        except OSError:
            closed_after = time.monotonic() - t0
            break
    s.close()
    assert got.startswith(b"HTTP/1.1 408 "), got[:100]
    assert closed_after is not None and closed_after < 3.5


def test_sigterm_closes_1001_and_exits_0(serve):
    srv = serve(tls=False)

    async def go():
        async with ws_connect(srv, token=mint()) as ws:
            srv.proc.send_signal(15)
            return await close_code_after(ws)
    assert run(go()) == 1001
    assert srv.proc.wait(timeout=5) == 0


def test_logs_never_contain_the_token_or_secret(chat):
    from serve_helpers import SECRET
    tok = mint("logcheck")
    assert run(status_of(chat, token=tok)) == 101
    assert run(status_of(chat, query="token=" + tok)) == 101
    time.sleep(0.2)
    log = chat.log()
    assert tok not in log and tok.split(".")[2] not in log and SECRET not in log
    opens = [e for e in chat.events() if e.get("event") == "open" and e.get("sub") == "logcheck"]
    assert {e["token"] for e in opens} == {"header", "query"}


def test_ipv6_listener_and_same_origin(serve, ipv6):
    srv = serve("--listen", "[::1]:0", tls=False)
    v6 = [l for l in srv.info["listeners"] if l["host"] == "::1"][0]
    assert v6["url"] == "ws://[::1]:%d/ws" % v6["port"]

    async def go(origin):
        try:
            async with websockets.connect(v6["url"], origin=origin, open_timeout=5,
                                          extra_headers={"Authorization": "Bearer " + mint()}):
                return 101
        except websockets.exceptions.InvalidStatusCode as e:
            return e.status_code
    assert run(go("http://[::1]:%d" % v6["port"])) == 101
    assert run(go("http://[::2]:%d" % v6["port"])) == 403


def test_secret_file_and_secret_never_on_the_command_line(serve, tmp_path, wsprobe):
    from serve_helpers import SECRET
    (tmp_path / "secret").write_text(SECRET + "\n")
    srv = serve("--jwt-secret-file", str(tmp_path / "secret"), tls=False, auth=False)
    assert run(status_of(srv, token=mint())) == 101
    r = wsprobe("serve", "--listen", "127.0.0.1:0", "--jwt-secret", "hunter2-topsecret")
    assert r.rc == 2 and "hunter2-topsecret" not in r.stdout + r.stderr
    r = wsprobe("serve", "--listen", "127.0.0.1:0", "--jwt-secret-env", "WSP_UNSET_VAR_X")
    assert r.rc == 2
    r = wsprobe("serve", "--listen", "127.0.0.1:0", "--unsafe-no-auth", "--jwt-alg", "none")
    assert r.rc == 2


def test_port_in_use_is_a_usage_error(chat, wsprobe):
    r = wsprobe("serve", "--listen", "127.0.0.1:%d" % chat.ws_port, "--unsafe-no-auth")
    assert r.rc == 2


def test_json_log_to_a_file_keeps_the_text_log(tmp_path):
    """--json=FILE (docs/cli.md): the JSON log lines go to FILE, the text log stays on stderr;
    --log-json, the old name of --json, still works with a warning naming --json."""
    from serve_helpers import start_serve as start
    jl = tmp_path / "log.jsonl"
    srv = start(tmp_path / "a", "--json=%s" % jl, tls=False)
    try:
        async def go():
            async with ws_connect(srv, token=mint()) as ws:
                await ws.send(json.dumps({"type": "ping"}))
                await ws.recv()
        run(go())
    finally:
        assert srv.stop() == 0, srv.log()[-2000:]
    events = [json.loads(line) for line in jl.read_text().splitlines()]
    assert any(e.get("event") == "open" for e in events), events
    text = srv.log()
    # the helper's own --json comes first; --json=FILE given after it wins: text on stderr
    lines = text.splitlines()
    assert any(l.startswith("wsprobe serve:") and "open" in l for l in lines), text
    assert not any(l.startswith("{") for l in lines), text

    old = start(tmp_path / "b", "--log-json", tls=False)
    try:
        assert "--log-json is now --json" in old.log(), old.log()
    finally:
        assert old.stop() == 0
