"""Issue 4 end to end: credentials in every placement against `wsprobe serve`, refusals that
send nothing, --expect-auth-required, conversations with correlation while other clients
broadcast, concurrency, and secret hygiene across every output mode.

Tokens the server accepts are minted by wsprobe itself here (the independent check of wsprobe's
minting is tests/e2e/test_token.py, with python3-jwt); tokens given ready (--token-env) are
minted by python3-jwt."""
import asyncio
import json
import os
import socket
import threading
import time

import pytest
import websockets

from conftest import run_wsprobe
from serve_helpers import SECRET, SECRET_ENV, OTHER_SECRET, mint, start_serve

CHAT = '{"type":"chat_message","content":"hello {{uuid}}","id":"{{uuid}}"}'
ENV = {SECRET_ENV: SECRET}


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    srv = start_serve(tmp_path_factory.mktemp("serve-auth"), tls=True)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def serve_noauth(tmp_path_factory):
    srv = start_serve(tmp_path_factory.mktemp("serve-noauth"), "--unsafe-no-auth", tls=False,
                      auth=False)
    yield srv
    srv.stop()


def probe(url, *args, env=None, timeout=30):
    e = dict(ENV)
    if env:
        e.update(env)
    return run_wsprobe("probe", url, *args, env=e, timeout=timeout)


def conversation(n=1):
    args = []
    for _ in range(n):
        args += ["--send", CHAT, "--expect-json", "/type=ack", ]
    return args


@pytest.mark.parametrize("where", ["header", "query:token", "subprotocol", "cookie:token"])
@pytest.mark.parametrize("tls", [False, True])
def test_every_placement_is_accepted(serve, where, tls):
    extra = ["--cacert", serve.ca] if tls else []
    r = probe(serve.url(tls=tls), "--jwt-secret-env", SECRET_ENV, "--jwt-claim", "sub=e2e-bot",
              "--auth-in", where, "--send", CHAT, "--expect-json", "/id={{sent./id}}",
              "--json", *extra)
    assert r.rc == 0, r.stderr + r.stdout
    j = r.json
    assert j["class"] == "OK" and j["http"]["status"] == 101
    assert j["steps"][1]["ok"] is True and j["steps"][1]["roundtrip_ms"] is not None
    if where == "subprotocol":
        # the server echoes the chosen protocol; the report shows it without the token
        assert j["ws"]["subprotocol"].startswith("bearer.eyJ")
        assert "[redacted]" in j["ws"]["subprotocol"]


def test_ready_token_from_env(serve):
    tok = mint(sub="ready")
    r = probe(serve.url(), "--token-env", "READY_TOKEN", *conversation(), "--json",
              env={"READY_TOKEN": tok})
    assert r.rc == 0, r.stderr
    assert tok not in r.stdout and tok not in r.stderr


@pytest.mark.parametrize("why,args,env", [
    ("wrong secret", ["--jwt-secret-env", "WRONG"], {"WRONG": OTHER_SECRET}),
    ("expired", ["--jwt-secret-env", SECRET_ENV, "--jwt-ttl", "-1h"], None),
    ("not yet valid", ["--jwt-secret-env", SECRET_ENV, "--jwt-nbf", "1h"], None),
])
def test_refused_credentials_send_nothing(serve, why, args, env):
    r = probe(serve.url(), *args, *conversation(), "--json", env=env)
    assert r.rc == 44, (why, r.stdout, r.stderr)
    j = r.json
    assert j["class"] == "UPGRADE_AUTH" and j["exit_code"] == 44
    assert j["http"]["status"] == 401
    assert j["ws"]["sent_frames"] == 0 and j["ws"]["sent_bytes"] == 0
    assert j["evidence"]["handshake_completed"] is False
    assert [s["ran"] for s in j["steps"]] == [False, False]
    # the human view says plainly that nothing was sent
    h = probe(serve.url(), *args, *conversation(), env=env)
    assert h.rc == 44
    assert "nothing was sent" in h.stdout
    assert "UPGRADE_AUTH" in h.stdout


def test_expect_auth_required_passes_against_hardened_serve(serve):
    r = probe(serve.url(), "--expect-auth-required", *conversation(), "--json")
    assert r.rc == 0, r.stdout
    assert r.json["ok"] is True and r.json["http"]["status"] == 401
    assert "authentication enforced" in r.json["message"]
    assert r.json["ws"]["sent_frames"] == 0


def test_expect_auth_required_fails_against_unsafe_no_auth(serve_noauth):
    r = probe(serve_noauth.url(), "--expect-auth-required", *conversation(), "--json")
    assert r.rc == 60, r.stdout
    assert r.json["class"] == "AUTH_NOT_ENFORCED"
    assert r.json["http"]["status"] == 101 and r.json["steps"][1]["ok"] is True


def test_expect_auth_required_accepts_close_1008_before_any_reply(tmp_path):
    """A server that upgrades everyone, then closes 1008 when the first message carries no
    credential (message-based auth): that is authentication enforced."""
    port_holder = {}
    ready = threading.Event()
    stop = threading.Event()

    async def handler(ws):
        await ws.recv()
        await ws.close(code=1008, reason="authentication required")

    def run():
        async def main():
            async with websockets.serve(handler, "127.0.0.1", 0) as s:
                port_holder["port"] = s.sockets[0].getsockname()[1]
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.02)
        asyncio.run(main())

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert ready.wait(5)
    try:
        r = probe("ws://127.0.0.1:%d/" % port_holder["port"], "--expect-auth-required",
                  "--send", "hi", "--expect-text", "hi", "--json")
        assert r.rc == 0, r.stdout
        assert r.json["ws"]["close_code"] == 1008 and r.json["ws"]["closed_by"] == "server"
    finally:
        stop.set()
        t.join(5)


def test_message_placement_against_a_message_auth_server():
    """--auth-in message: the credential is the first message; the server (python3-websockets)
    checks it with python3-jwt and answers only then."""
    import jwt as pyjwt
    port_holder = {}
    ready = threading.Event()
    stop = threading.Event()

    async def handler(ws):
        first = json.loads(await ws.recv())
        try:
            pyjwt.decode(first["token"], SECRET, algorithms=["HS256"])
        except Exception:
            await ws.close(code=4001, reason="bad token")
            return
        async for m in ws:
            await ws.send(m)

    def run():
        async def main():
            async with websockets.serve(handler, "127.0.0.1", 0) as s:
                port_holder["port"] = s.sockets[0].getsockname()[1]
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.02)
        asyncio.run(main())

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert ready.wait(5)
    url = "ws://127.0.0.1:%d/" % port_holder["port"]
    try:
        ok = probe(url, "--jwt-secret-env", SECRET_ENV, "--auth-in", "message", "--send", "ping",
                   "--expect-text", "ping", "--json")
        assert ok.rc == 0, ok.stdout
        bad = probe(url, "--jwt-secret-env", "WRONG", "--auth-in", "message", "--send", "ping",
                    "--expect-text", "ping", "--json", env={"WRONG": OTHER_SECRET})
        assert bad.rc == 80 and bad.json["ws"]["close_code"] == 4001
    finally:
        stop.set()
        t.join(5)


def _broadcaster(url, token, stop, sent):
    """A second client in the same room, chatting every 10 ms until told to stop."""
    async def main():
        async with websockets.connect(url, extra_headers={"Authorization": "Bearer " + token}) as ws:
            n = 0
            while not stop.is_set() and n < 2000:
                await ws.send(json.dumps({"type": "chat_message", "content": "noise %d" % n,
                                          "id": "other-%d" % n}))
                n += 1
                sent[0] = n
                await asyncio.sleep(0.01)
    asyncio.run(main())


def test_three_step_conversation_with_broadcasts_interleaved(serve):
    stop = threading.Event()
    sent = [0]
    t = threading.Thread(target=_broadcaster, args=(serve.url(), mint(sub="noisy"), stop, sent),
                         daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 5
        while sent[0] < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        args = []
        for i in range(3):
            args += ["--send", '{"type":"chat_message","content":"step %d","id":"{{uuid}}"}' % i,
                     "--expect-json", "/id={{sent./id}}"]
        r = probe(serve.url(), "--jwt-secret-env", SECRET_ENV, *args, "--json")
        assert r.rc == 0, r.stdout
        steps = r.json["steps"]
        assert [s["kind"] for s in steps] == ["send", "expect"] * 3
        assert all(s["ok"] for s in steps)
        assert all(s["roundtrip_ms"] is not None for s in steps[1::2])
        # broadcasts (the other client's and our own) arrived and were skipped as unrelated
        assert sum(s["skipped"] for s in steps[1::2]) >= 1
    finally:
        stop.set()
        t.join(10)


def test_wrong_reply_is_a_mismatch(serve):
    r = probe(serve.url(), "--jwt-secret-env", SECRET_ENV, "--send", CHAT,
              "--expect-json", "/type=no-such-reply", "--timeout", "1s", "--json")
    assert r.rc == 84, r.stdout
    assert r.json["class"] == "WS_EXPECT_MISMATCH"
    assert r.json["steps"][1]["skipped"] >= 1


def test_silent_server_is_a_message_timeout(serve):
    r = probe(serve.url(), "--jwt-secret-env", SECRET_ENV, "--expect-json", "/type=ack",
              "--timeout", "500ms", "--json")
    assert r.rc == 83, r.stdout
    assert r.json["class"] == "WS_MSG_TIMEOUT"


def test_fifty_concurrent_connections(serve):
    r = probe(serve.url(), "--jwt-secret-env", SECRET_ENV, *conversation(), "--connections",
              "50", "--json", timeout=60)
    assert r.rc == 0, r.stdout[-2000:]
    j = r.json
    assert j["connections"] == 50 and j["succeeded"] == 50 and j["failed"] == 0
    assert len(j["results"]) == 50 and all(x["ok"] for x in j["results"])
    for phase in ("connect_ms", "upgrade_ms", "roundtrip_ms", "total_ms"):
        s = j["phases"][phase]
        assert s["count"] == 50 and s["min"] <= s["median"] <= s["p95"] <= s["max"]
    # every connection minted its own token: their jti/iat may match, but each was sent
    assert j["by_class"] == {"OK": 50}


def test_connection_limit_refusals_are_counted_and_classified(tmp_path):
    # 20 WebSockets per address; serve drops plain TCP beyond 2*20+16, which 50 stays under
    srv = start_serve(tmp_path / "limited", "--max-conns-per-ip", "20", tls=False)
    try:
        args = []
        for i in range(3):  # hold each connection open a little: three round trips
            args += ["--send", CHAT, "--expect-json", "/type=ack"]
        r = probe(srv.url(), "--jwt-secret-env", SECRET_ENV, *args, "--connections", "50",
                  "--json", timeout=60)
        j = r.json
        refused = j["by_class"].get("UPGRADE_SERVER_ERROR", 0)
        assert refused >= 1, j["by_class"]
        assert j["succeeded"] + refused == 50, j["by_class"]
        assert r.rc == 47 and j["class"] == "UPGRADE_SERVER_ERROR"
        statuses = {x["http"]["status"] for x in j["results"] if not x["ok"]}
        assert statuses == {503}
    finally:
        srv.stop()


@pytest.mark.parametrize("bad,why", [
    (["--jwt-secret-env", "UNSET_VAR_FOR_TEST"], "UNSET_VAR_FOR_TEST"),
    (["--jwt-secret-env", "EMPTY_VAR_FOR_TEST"], "EMPTY_VAR_FOR_TEST"),
    (["--jwt-key-file", "/nonexistent/key.pem", "--jwt-alg", "RS256"], "--jwt-key-file"),
    (["--jwt-secret-env", SECRET_ENV, "--jwt-claim", "novalue"], "--jwt-claim"),
    (["--token-env", "UNSET_VAR_FOR_TEST"], "--token-env"),
    (["--jwt-secret-env", SECRET_ENV, "--send", "{{env.UNSET_VAR_FOR_TEST}}"], "UNSET_VAR"),
    (["--jwt-secret-env", SECRET_ENV, "--send", "{{nope}}"], "{{nope}}"),
    (["--auth-in", "query:"], "--auth-in"),
    (["--auth-in", "cookie:token"], "--auth-in"),
])
def test_bad_credentials_input_is_a_usage_error_before_connecting(bad, why):
    # port 9 on loopback: a connection attempt would be refused (20); usage must come first
    r = run_wsprobe("probe", "ws://127.0.0.1:9/", *bad, env={"EMPTY_VAR_FOR_TEST": "",
                                                             SECRET_ENV: SECRET})
    assert r.rc == 2, (bad, r.rc, r.stderr)
    assert why in r.stderr
    assert SECRET not in r.stderr and SECRET not in r.stdout


def test_wrong_pem_type_is_a_usage_error(tmp_path):
    import subprocess
    key = tmp_path / "rsa.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", str(key)], check=True, capture_output=True)
    r = run_wsprobe("probe", "ws://127.0.0.1:9/", "--jwt-key-file", str(key), "--jwt-alg", "ES256")
    assert r.rc == 2 and "--jwt-key-file" in r.stderr
