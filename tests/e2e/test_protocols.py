"""The protocols on top (issue 17): `--protocol socketio` against npm socket.io, `--protocol
graphql` against npm graphql-ws, and both spoken wrongly by tests/e2e/peers/proto_hostile.py.

Each right verdict is first shown on the wire with the raw client of corpus_peers.py (the
test_raw_* tests): what the server sends, and what it does to a client that breaks the
protocol; the wsprobe tests then assert the verdict that follows from it.

Run: WSPROBE=build/wsprobe /usr/bin/python3 -m pytest tests/e2e/test_protocols.py
"""
import json
import time

import pytest

from conftest import exit_codes
from corpus_peers import RawWS, corpus  # noqa: F401  (fixture)

SIO = "/socket.io/?EIO=4&transport=websocket"
TOKEN = "s3cret"  # the test servers' own token (tests/node/*.js): not a secret anywhere else


def sio(port, path=""):
    return "ws://127.0.0.1:%d%s" % (port, path)


def raw_sio(port, query="EIO=4&transport=websocket"):
    c = RawWS(port, "/socket.io/?" + query)
    r = c.handshake()
    return c, r


def texts(c, n, timeout=3.0):
    out = []
    end = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < end:
        f = c.recv(timeout=max(0.05, end - time.monotonic()))
        if f is None:
            break
        if f.opcode == 1:
            out.append(f.payload.decode())
    return out


def steps(r):
    return [(s["kind"], s["ok"]) for s in r["steps"]]


# --- Socket.IO: the wire ------------------------------------------------------------------

def test_raw_sio_open_connect_and_first_events(corpus):
    """The truth of a socket.io v4 server: the open packet, the CONNECT answer with a sid, then
    the events it emits first ("hello", then an unrelated "news")."""
    c, r = raw_sio(corpus.sio_app().port)
    assert r.status == 101
    first = texts(c, 1)[0]
    assert first.startswith("0{")
    op = json.loads(first[1:])
    assert op["pingInterval"] == 25000 and op["pingTimeout"] == 20000 and op["sid"]
    c.send_text("40")
    got = texts(c, 3)
    assert got[0].startswith("40{") and "sid" in json.loads(got[0][2:])
    hello = json.loads(got[1][2:])
    assert hello[0] == "hello" and hello[1]["text"] == "hi"
    assert json.loads(got[2][2:]) == ["news", "unrelated broadcast"]
    c.send_text('421["add",2,3]')
    assert texts(c, 1) == ['431[{"sum":5}]']
    c.close()


def test_raw_sio_chat_refuses_without_token(corpus):
    c, _ = raw_sio(corpus.sio_app().port)
    texts(c, 1)
    c.send_text("40/chat,{}")
    got = texts(c, 1)[0]
    assert got.startswith("44/chat,")
    assert json.loads(got[len("44/chat,"):])["message"] == "not authorized"
    c.send_text('40/chat,{"token":"%s"}' % TOKEN)
    assert texts(c, 1)[0].startswith("40/chat,{\"sid\"")
    c.close()


# --- Socket.IO: the verdicts --------------------------------------------------------------

def test_sio_event_then_ack(corpus, probe):
    r = probe(sio(corpus.sio_app().port), "--protocol", "socketio",
              "--expect-event", "hello", "--expect-json", "/0/text=hi",
              "--emit-ack", "add [2,3]", "--expect-json", "/0/sum=5", expect="OK")
    assert steps(r) == [("expect_event", True), ("expect", True), ("emit_ack", True),
                        ("expect", True)]
    p = r["protocol"]
    assert p["kind"] == "socketio" and p["ready"] is True and p["socketio_version"] == 5
    assert p["engineio"]["ping_interval_ms"] == 25000
    assert p["engineio"]["ping_timeout_ms"] == 20000
    assert p["engineio"]["max_payload"] == 1000000
    assert p["sid"]
    for ph in ("eio_open_ms", "namespace_connect_ms"):
        assert ph in r["phases"], r
    # the URL was shaped as the client library shapes it
    assert r["http"]["status"] == 101


def test_sio_ack_mismatch_fails_at_once(corpus, probe):
    t0 = time.monotonic()
    r = probe(sio(corpus.sio_app().port), "--protocol", "socketio", "--timeout", "8s",
              "--emit-ack", "add [2,3]", "--expect-json", "/0/sum=6", expect="WS_EXPECT_MISMATCH")
    assert time.monotonic() - t0 < 6, "an ack is the answer: no waiting for another"
    assert '{"sum":5}' in r["message"]
    assert r.rc == exit_codes()["WS_EXPECT_MISMATCH"]


def test_sio_unrelated_events_are_skipped(corpus, probe):
    """hello and news come before the echo: skipped, counted, not a failure."""
    r = probe(sio(corpus.sio_app().port), "--protocol", "socketio",
              "--emit", 'echo {"n":7}', "--expect-event", "echo", "--expect-json", "/0/n=7",
              expect="OK")
    assert r["protocol"]["events_skipped"] >= 2
    assert r["steps"][1]["skipped"] >= 2


def test_sio_event_never_comes(corpus, probe):
    r = probe(sio(corpus.sio_app().port), "--protocol", "socketio", "--timeout", "1s",
              "--expect-event", "never", expect="WS_EXPECT_MISMATCH")
    assert "hello" in r["message"] or "news" in r["message"], "the last skipped event is quoted"


def test_sio_namespace_refused_is_app_auth_refused(corpus, probe):
    r = probe(sio(corpus.sio_app().port, "/chat"), "--protocol", "socketio",
              expect="APP_AUTH_REFUSED")
    assert r.rc == 61
    assert r["failed_phase"] == "namespace_connect"
    assert "not authorized" in r["message"]
    assert r["protocol"]["ready"] is False


def test_sio_token_in_auth_payload(corpus, probe):
    env = {"SIO_T": TOKEN}
    url = sio(corpus.sio_app().port, "/chat")
    r = probe(url, "--protocol", "socketio", "--token-env", "SIO_T", "--auth-in", "socketio-auth",
              "--emit-ack", 'join "r1"', "--expect-json", "/0/joined=r1", env=env, expect="OK")
    assert TOKEN not in r.stdout and TOKEN not in r.stderr
    # the same token under another key is not where this server reads it
    probe(url, "--protocol", "socketio", "--token-env", "SIO_T", "--auth-in",
          "socketio-auth:password", env=env, expect="APP_AUTH_REFUSED")
    # a wrong token
    probe(url, "--protocol", "socketio", "--token-env", "SIO_T", "--auth-in", "socketio-auth",
          env={"SIO_T": "wrong"}, expect="APP_AUTH_REFUSED")


def test_sio_token_not_in_text_output(corpus, wsprobe):
    r = wsprobe("probe", sio(corpus.sio_app().port, "/chat"), "--protocol", "socketio",
                "--token-env", "SIO_T", "--auth-in", "socketio-auth", "-v",
                env={"SIO_T": TOKEN})
    assert r.rc == 0, r
    assert TOKEN not in r.stdout and TOKEN not in r.stderr


def test_sio_namespace_option_and_url(corpus, probe, wsprobe):
    port = corpus.sio_app().port
    probe(sio(port), "--protocol", "socketio", "--namespace", "/chat", expect="APP_AUTH_REFUSED")
    r = wsprobe("probe", sio(port, "/chat"), "--protocol", "socketio", "--namespace", "/other")
    assert r.rc == exit_codes()["USAGE"], r


def test_sio_unknown_namespace_is_app_error(corpus, probe):
    r = probe(sio(corpus.sio_app().port, "/nope"), "--protocol", "socketio", expect="APP_ERROR")
    assert r.rc == 63 and "Invalid namespace" in r["message"]


def test_sio_binary_attachment_reported(corpus, probe):
    r = probe(sio(corpus.sio_app().port), "--protocol", "socketio",
              "--emit-ack", "bin", "--expect-json", "/0/name=blob", expect="OK")
    assert r["protocol"]["attachments"] == 1
    assert r["protocol"]["attachment_bytes"] == 5


def test_sio_server_disconnect_is_ws_closed(corpus, probe):
    r = probe(sio(corpus.sio_app().port), "--protocol", "socketio", "--timeout", "3s",
              "--emit", "bye", "--expect-event", "never", expect="WS_CLOSED")
    assert r["protocol"]["disconnected"] is True


def test_sio_compression(corpus, probe):
    r = probe(sio(corpus.sio_app().port), "--protocol", "socketio", "--compress",
              "--emit-ack", "add [1,2]", "--expect-json", "/0/sum=3", expect="OK")
    assert r["ws"]["compression"]["accepted"] is True
    assert r["ws"]["compression"]["received_inflated"] > 0


def test_raw_sio_heartbeat_drops_a_silent_client(corpus):
    """pingInterval 300 + pingTimeout 300: a client that never answers "2" is cut."""
    c, _ = raw_sio(corpus.sio_app("--ping-interval", "300", "--ping-timeout", "300").port)
    texts(c, 1)
    c.send_text("40")
    t0 = time.monotonic()
    got, ended = [], None
    while time.monotonic() - t0 < 5 and ended is None:
        f = c.recv(timeout=1.0)
        if f is None or f.opcode == 8:
            ended = time.monotonic() - t0
        elif f.opcode == 1:
            got.append(f.payload.decode())
    assert "2" in got, "the server pinged"
    assert ended is not None and ended < 3, "the server cut the client that did not answer"


def test_sio_heartbeat_answered(corpus, probe):
    """wsprobe answers the pings: after 2 s (several ping intervals) it is still connected
    and fails only because the awaited event never came (hello and news did: a mismatch)."""
    srv = corpus.sio_app("--ping-interval", "300", "--ping-timeout", "300")
    r = probe(sio(srv.port), "--protocol", "socketio", "--timeout", "2s",
              "--expect-event", "never", expect="WS_EXPECT_MISMATCH")
    assert r["protocol"]["server_pings"] >= 4
    assert r["protocol"]["disconnected"] is False


def test_raw_sio_v4_server_refuses_eio3(corpus):
    """engine.io (websocket transport only) completes the upgrade, then writes an HTTP 400
    "Unsupported protocol version" where the first frame belongs."""
    c, r = raw_sio(corpus.sio_app().port, "EIO=3&transport=websocket")
    assert r.status == 101
    c.sock.settimeout(3)
    rest = c.buf
    while b"Unsupported protocol version" not in rest and len(rest) < 4096:
        chunk = c.sock.recv(4096)
        if not chunk:
            break
        rest += chunk
    assert rest.startswith(b"HTTP/1.1 400") and b"Unsupported protocol version" in rest
    c.close()


def test_sio_engineio3(corpus, probe):
    srv = corpus.sio_app("--eio3", "--ping-interval", "300")
    r = probe(sio(srv.port), "--protocol", "socketio", "--engineio", "3", "--timeout", "1500ms",
              "--emit-ack", "add [4,5]", "--expect-json", "/0/sum=9", "--expect-event", "never",
              expect="WS_MSG_TIMEOUT")  # hello and news came during the emit-ack: skipped there
    assert r["steps"][1]["ok"] is True
    assert r["protocol"]["socketio_version"] == 4
    assert r["protocol"]["client_pings"] >= 2 and r["protocol"]["pongs"] >= 2
    # a v4-only server refuses Engine.IO 3 in its HTTP answer
    r = probe(sio(corpus.sio_app().port), "--protocol", "socketio", "--engineio", "3",
              expect="APP_PROTOCOL")
    assert r.rc == 62 and "Unsupported protocol version" in r["message"]


@pytest.mark.parametrize("args", [
    ["--emit", "x 1"],                                             # no --protocol
    ["--protocol", "socketio", "--expect-text", "hi"],             # raw expectation
    ["--protocol", "socketio", "--emit", "connect {}"],            # reserved name
    ["--protocol", "socketio", "--expect-json", "/0=1"],           # nothing to judge
    ["--protocol", "socketio", "--emit", "x {bad"],                # not JSON
    ["--protocol", "socketio", "--engineio", "3", "--token-env", "T", "--auth-in",
     "socketio-auth"],                                             # v2 has no auth payload
    ["--token-env", "T", "--auth-in", "socketio-auth"],            # needs --protocol
    ["--protocol", "graphql", "--expect-complete"],                # no subscription
    ["--protocol", "graphql", "--variables", "{}"],                # no --subscribe before
    ["--protocol", "socketio", "--subscribe", "{ a }"],            # a GraphQL step
    ["--namespace", "/x"],                                         # needs socketio
])
def test_protocol_usage_errors(wsprobe, args):
    r = wsprobe("probe", "ws://127.0.0.1:9/", "--json", *args, env={"T": "t0ken"})
    assert r.rc == exit_codes()["USAGE"], r
    assert r.stderr.startswith("wsprobe: probe: ") and not r.stdout, r


# --- GraphQL: the wire --------------------------------------------------------------------

def test_raw_gql_ack_and_refusal(corpus):
    port = corpus.gql().port
    c = RawWS(port, "/graphql", subprotocols=["graphql-transport-ws"])
    r = c.handshake()
    assert r.status == 101 and r.header("sec-websocket-protocol") == "graphql-transport-ws"
    c.send_text(json.dumps({"type": "connection_init", "payload": {"token": TOKEN}}))
    assert json.loads(texts(c, 1)[0])["type"] == "connection_ack"
    c.send_text(json.dumps({"id": "1", "type": "subscribe",
                            "payload": {"query": "subscription { count(to: 2) }"}}))
    got = [json.loads(t) for t in texts(c, 3)]
    assert [g["type"] for g in got] == ["next", "next", "complete"]
    assert got[1]["payload"] == {"data": {"count": 2}}
    c.close()
    c = RawWS(port, "/graphql", subprotocols=["graphql-transport-ws"])
    c.handshake()
    c.send_text(json.dumps({"type": "connection_init", "payload": {}}))
    frames, _ = c.drain(3.0)
    closes = [f for f in frames if f.opcode == 8]
    assert closes and closes[0].close_code == 4403
    c.close()


# --- GraphQL: the verdicts ----------------------------------------------------------------

def gql(port):
    return "ws://127.0.0.1:%d/graphql" % port


GQL_AUTH = ("--protocol", "graphql", "--token-env", "GQL_T", "--auth-in", "init-payload")


def test_gql_subscription_three_values_and_complete(corpus, probe):
    r = probe(gql(corpus.gql().port), *GQL_AUTH, "--subscribe", "subscription { count }",
              "--expect-json", "/data/count=1", "--expect-json", "/data/count=2",
              "--expect-json", "/data/count=3", "--expect-complete", env={"GQL_T": TOKEN},
              expect="OK")
    assert steps(r) == [("subscribe", True)] + [("expect", True)] * 3 + [
        ("expect_complete", True)]
    assert r["ws"]["subprotocol"] == "graphql-transport-ws"
    assert "connection_ack_ms" in r["phases"]
    assert r["protocol"]["kind"] == "graphql" and r["protocol"]["ready"] is True
    assert TOKEN not in r.stdout and TOKEN not in r.stderr


def test_gql_variables(corpus, probe):
    probe(gql(corpus.gql().port), *GQL_AUTH, "--subscribe",
          "subscription ($n: Int) { count(to: $n) }", "--variables", '{"n": 1}',
          "--expect-json", "/data/count=1", "--expect-complete", env={"GQL_T": TOKEN},
          expect="OK")


def test_gql_value_mismatch(corpus, probe):
    r = probe(gql(corpus.gql().port), *GQL_AUTH, "--subscribe", "subscription { count }",
              "--expect-json", "/data/count=2", env={"GQL_T": TOKEN}, expect="WS_EXPECT_MISMATCH")
    assert '"count":1' in r["message"], "one expectation per value: the first value is judged"


def test_gql_more_values_expected_than_sent(corpus, probe):
    r = probe(gql(corpus.gql().port), *GQL_AUTH, "--subscribe", "subscription { count(to: 1) }",
              "--expect-json", "/data/count=1", "--expect-json", "/data/count=2",
              env={"GQL_T": TOKEN}, expect="WS_EXPECT_MISMATCH")
    assert "completed" in r["message"]


def test_gql_refused_in_onconnect(corpus, probe):
    r = probe(gql(corpus.gql().port), "--protocol", "graphql", expect="APP_AUTH_REFUSED")
    assert r.rc == 61 and r["ws"]["close_code"] == 4403
    assert r["failed_phase"] == "connection_ack"
    probe(gql(corpus.gql().port), *GQL_AUTH, env={"GQL_T": "wrong"}, expect="APP_AUTH_REFUSED")


@pytest.mark.parametrize("doc", ["query { boom }", "subscription { fail }"])
def test_gql_errors_are_app_error(corpus, probe, doc):
    r = probe(gql(corpus.gql().port), *GQL_AUTH, "--subscribe", doc, env={"GQL_T": TOKEN},
              expect="APP_ERROR")
    assert r.rc == 63
    assert "boom failed" in r["message"] or "the stream broke" in r["message"]


def test_gql_query_answer(corpus, probe):
    probe(gql(corpus.gql("--open").port), "--protocol", "graphql", "--subscribe",
          "query { hello }", "--expect-json", "/data/hello=world", "--expect-complete",
          expect="OK")


def test_gql_legacy_server(corpus, probe):
    r = probe(gql(corpus.gql("--open", "--legacy").port), "--protocol", "graphql",
              "--subscribe", "{ hello }", expect="APP_PROTOCOL")
    assert r.rc == 62 and "subscriptions-transport-ws" in r["message"]


# --- spoken wrongly -------------------------------------------------------------------------

@pytest.mark.parametrize("mode,cls,phase,quote", [
    ("sio-malformed", "APP_PROTOCOL", "eio_open", '0{"sid":'),
    ("sio-absurd", "APP_PROTOCOL", "eio_open", "pingInterval"),
    ("sio-not-open", "APP_PROTOCOL", "eio_open", "40{"),
    ("sio-silent", "WS_MSG_TIMEOUT", "eio_open", "open packet"),
    ("sio-v2", "APP_PROTOCOL", "namespace_connect", "--engineio 3"),
    ("sio-bad-packet", "APP_PROTOCOL", "open", '2["unterminated'),
    ("sio-no-heartbeat", "APP_PROTOCOL", "open", "ping"),
])
def test_sio_spoken_wrongly(peers, probe, mode, cls, phase, quote):
    srv = peers.proto_hostile(mode)
    t0 = time.monotonic()
    r = probe(sio(srv.port), "--protocol", "socketio", "--timeout", "2s",
              "--expect-event", "never", expect=cls)
    assert time.monotonic() - t0 < 6, "within the timeout"
    assert r["failed_phase"] == phase, r
    assert quote in r["message"] + r["hint"], r


@pytest.mark.parametrize("mode,cls,phase,quote", [
    ("gql-never-ack", "WS_MSG_TIMEOUT", "connection_ack", "connection_ack"),
    ("gql-next-first", "APP_PROTOCOL", "connection_ack", '"type":"next"'),
    ("gql-not-json", "APP_PROTOCOL", "open", "not json"),
    ("gql-legacy", "APP_PROTOCOL", "connection_ack", "graphql-ws"),
    ("gql-legacy-types", "APP_PROTOCOL", "open", '"ka"'),
    ("gql-close-4400", "WS_CLOSED", "open", "subscribe's payload"),  # the code's own hint
])
def test_gql_spoken_wrongly(peers, probe, mode, cls, phase, quote):
    srv = peers.proto_hostile(mode)
    t0 = time.monotonic()
    r = probe(gql(srv.port), "--protocol", "graphql", "--timeout", "2s", "--subscribe",
              "subscription { count }", expect=cls)
    assert time.monotonic() - t0 < 6
    assert r["failed_phase"] == phase, r
    assert quote in r["message"] + r["hint"], r
    if mode == "gql-never-ack":
        sent = [bytes.fromhex(e["payload"]).decode() for e in srv.events()
                if e.get("event") == "frame" and e.get("opcode") == 1]
        assert any(json.loads(t).get("type") == "connection_init" for t in sent), sent


# --- load: every connection speaks the protocol -------------------------------------------

def load_json(wsprobe, *args, env=None):
    r = wsprobe("load", *args, "--json", timeout=60, env=env)
    assert r.json is not None, r
    return r


def test_load_keeps_socketio_sessions_alive(corpus, wsprobe):
    """The server cuts a client that does not answer its pings after pingInterval +
    pingTimeout (600 ms; test_raw_sio_heartbeat_drops_a_silent_client). Plain WebSocket load
    on its Engine.IO URL is cut so; under --protocol socketio every session lives 3 s."""
    srv = corpus.sio_app("--ping-interval", "300", "--ping-timeout", "300")
    plain = load_json(wsprobe, "ws://127.0.0.1:%d%s" % (srv.port, SIO), "--connections", "3",
                      "--duration", "2s")
    assert plain.rc != 0 and plain["errors"]["total"] >= 3, plain
    r = load_json(wsprobe, sio(srv.port), "--protocol", "socketio", "--connections", "3",
                  "--duration", "3s", "--rate", "60", "--emit-ack", "add [1,2]")
    assert r.rc == 0, r
    assert r["connections"]["opened"] == 3 and r["connections"]["failed"] == 0
    assert r["errors"]["total"] == 0
    m = r["messages"]
    assert m["sent"] >= 150 and m["matched"] == m["sent"] and m["lost"] == 0
    assert r["config"]["match"] == "ack"


def test_load_emit_correlated_by_event_field(corpus, wsprobe):
    r = load_json(wsprobe, sio(corpus.sio_app().port), "--protocol", "socketio",
                  "--connections", "2", "--duration", "2s", "--rate", "20",
                  "--emit", 'echo {"id":"{{uuid}}"}', "--expect-event", "echo",
                  "--expect-json", "/0/id={{sent./0/id}}")
    assert r.rc == 0, r
    assert r["messages"]["matched"] == r["messages"]["sent"] >= 30
    assert r["messages"]["unexpected"] >= 4, "hello and news of each session were skipped"


def test_load_refused_namespace(corpus, wsprobe):
    r = load_json(wsprobe, sio(corpus.sio_app().port, "/chat"), "--protocol", "socketio",
                  "--connections", "3", "--duration", "1s")
    assert r.rc != 0
    assert r["connections"]["opened"] == 0 and r["connections"]["failed"] == 3
    assert r["errors"]["by_class"].get("APP_AUTH_REFUSED") == 3, r


def test_load_graphql_connections(corpus, wsprobe):
    r = load_json(wsprobe, gql(corpus.gql().port), "--protocol", "graphql", "--token-env",
                  "GQL_T", "--auth-in", "init-payload", "--connections", "3", "--duration", "1s",
                  env={"GQL_T": TOKEN})
    assert r.rc == 0, r
    assert r["connections"]["opened"] == 3
    assert TOKEN not in r.stdout and TOKEN not in r.stderr
    r = load_json(wsprobe, gql(corpus.gql().port), "--protocol", "graphql", "--connections", "2",
                  "--duration", "1s")
    assert r["errors"]["by_class"].get("APP_AUTH_REFUSED") == 2, r


# --- hold: sessions that must live ----------------------------------------------------------

def test_hold_socketio_sessions_live_past_the_heartbeat(corpus, wsprobe):
    """Behind the Engine.IO heartbeat (600 ms, test_raw_sio_heartbeat_drops_a_silent_client) a
    WebSocket-level hold dies at 0.6 s whatever it does; under --protocol socketio every
    strategy lives the whole 3 s."""
    srv = corpus.sio_app("--ping-interval", "300", "--ping-timeout", "300")
    common = ("--duration", "3s", "--per-strategy", "1", "--ping-ladder", "1s", "--json")
    plain = wsprobe("hold", "ws://127.0.0.1:%d%s" % (srv.port, SIO), *common, timeout=30)
    ends = {s["name"]: s for s in plain["strategies"]}
    assert ends["silent"]["ended"] == 1 and ends["silent"]["lifetime_s"]["max"] < 2.0
    r = wsprobe("hold", sio(srv.port), "--protocol", "socketio", *common,
                "--emit", 'echo {"a":1}', "--message-every", "500ms", "--expect-lifetime", "2s",
                timeout=30)
    assert r.rc == 0, r
    for s in r["strategies"]:
        assert s["opened"] == 1 and s["held"] == 1, r


def test_hold_refused_namespace_never_opens(corpus, wsprobe):
    r = wsprobe("hold", sio(corpus.sio_app().port, "/chat"), "--protocol", "socketio",
                "--duration", "1s", "--per-strategy", "1", "--ping-ladder", "300ms", "--json",
                timeout=30)
    assert r.rc == exit_codes()["APP_AUTH_REFUSED"], r
    assert all(s["opened"] == 0 for s in r["strategies"])


def test_hold_graphql(corpus, wsprobe):
    r = wsprobe("hold", gql(corpus.gql().port), "--protocol", "graphql", "--token-env", "GQL_T",
                "--auth-in", "init-payload", "--duration", "1s", "--per-strategy", "1",
                "--ping-ladder", "300ms", "--json", env={"GQL_T": TOKEN}, timeout=30)
    assert r.rc == 0, r
    assert all(s["held"] == 1 for s in r["strategies"])
    assert TOKEN not in r.stdout and TOKEN not in r.stderr


# --- security: the marker is an emit-ack or a subscription ---------------------------------

def test_raw_sio_foreign_origin_is_served(corpus):
    """socket.io checks no Origin on its websocket transport: a foreign origin connects the
    namespace and gets its ack (so origin.* must fail)."""
    c = RawWS(corpus.sio_app().port, "/socket.io/?EIO=4&transport=websocket",
              origin="https://cswsh.example")
    assert c.handshake().status == 101
    texts(c, 1)
    c.send_text('40/chat,{"token":"%s"}' % TOKEN)
    assert texts(c, 1)[0].startswith('40/chat,{"sid"')
    c.send_text('42/chat,1["join","r1"]')
    assert texts(c, 1) == ['43/chat,1[{"joined":"r1"}]']
    c.close()


def security_json(wsprobe, *args, env=None):
    r = wsprobe("security", *args, "--json", env=env, timeout=120)
    assert r.json is not None, r
    return r, {c["id"]: c for c in r["checks"]}


def test_security_socketio(corpus, wsprobe):
    r, checks = security_json(
        wsprobe, sio(corpus.sio_app().port, "/chat"), "--protocol", "socketio", "--token-env",
        "SIO_T", "--auth-in", "socketio-auth", "--marker-send", 'join "r1"', "--marker-expect",
        "/0/joined=r1", "--checks", "auth.missing,origin.foreign,input.framing,limits.idle",
        env={"SIO_T": TOKEN})
    # the baseline (the marker with the token) came back, so every verdict is about the app
    assert checks["auth.missing"]["verdict"] == "pass", checks["auth.missing"]
    assert checks["origin.foreign"]["verdict"] == "fail", checks["origin.foreign"]
    for raw in ("input.framing", "limits.idle"):
        assert checks[raw]["verdict"] == "not_applicable", checks[raw]
    assert r.rc == 1
    assert TOKEN not in r.stdout and TOKEN not in r.stderr


def test_security_graphql(corpus, wsprobe):
    r, checks = security_json(
        wsprobe, gql(corpus.gql().port), "--protocol", "graphql", "--token-env", "GQL_T",
        "--auth-in", "init-payload", "--marker-send", "query { hello }", "--marker-expect",
        "/data/hello=world", "--checks", "auth.missing,handshake.hygiene", env={"GQL_T": TOKEN})
    assert checks["auth.missing"]["verdict"] == "pass", checks["auth.missing"]
    assert checks["handshake.hygiene"]["verdict"] == "pass"
    assert r.rc == 0, r
    assert TOKEN not in r.stdout and TOKEN not in r.stderr


def test_security_protocol_needs_a_marker(wsprobe):
    r = wsprobe("security", "ws://127.0.0.1:9/", "--protocol", "socketio", "--checks",
                "auth.missing", "--token-env", "T", env={"T": "x"})
    assert r.rc == exit_codes()["USAGE"] and "--marker-send" in r.stderr, r


# --- wait and many connections --------------------------------------------------------------

def test_wait_gates_on_the_conversation(corpus, wsprobe):
    port = corpus.sio_app().port
    r = wsprobe("wait", sio(port), "--protocol", "socketio", "--emit-ack", "add [1,1]",
                "--expect-json", "/0/sum=2", "--deadline", "10s", "--json", timeout=30)
    assert r.rc == 0, r
    t0 = time.monotonic()
    r = wsprobe("wait", sio(port, "/chat"), "--protocol", "socketio", "--deadline", "20s",
                "--json", timeout=40)
    assert r.rc == 61, r
    assert time.monotonic() - t0 < 10, "a refused namespace is not retried until the deadline"


def test_probe_connections_each_speak_the_protocol(corpus, wsprobe):
    r = wsprobe("probe", sio(corpus.sio_app().port), "--protocol", "socketio", "--connections",
                "20", "--emit-ack", "add [1,1]", "--expect-json", "/0/sum=2", "--json")
    assert r.rc == 0, r
    assert r["succeeded"] == 20 and r["by_class"] == {"OK": 20}
    r = wsprobe("probe", sio(corpus.sio_app().port, "/chat"), "--protocol", "socketio",
                "--connections", "5", "--json")
    assert r["by_class"] == {"APP_AUTH_REFUSED": 5}, r


# --- the exporter's modules -----------------------------------------------------------------

EXPORTER_MODULES = """
modules:
  sio_chat:
    allowed_targets: ['ws://127.0.0.1:*/*']
    timeout: 3s
    protocol: socketio
    auth: {token_env: SIO_T, in: socketio-auth}
    conversation:
      steps:
        - emit_ack: {event: join, args: r1}
        - expect: {json: {"/0/joined": "r1"}}
  gql_count:
    allowed_targets: ['ws://127.0.0.1:*/*']
    timeout: 3s
    protocol: graphql
    auth: {token_env: SIO_T, in: init-payload}
    conversation:
      steps:
        - subscribe: 'subscription { count(to: 2) }'
        - expect: {json: {"/data/count": 1}}
        - expect: {json: {"/data/count": 2}}
        - expect_complete: true
"""


def test_exporter_modules_speak_the_protocols(corpus, tmp_path):
    from exporter_helpers import one, parse_exposition, start_exporter
    sio_port, gql_port = corpus.sio_app().port, corpus.gql().port
    ex = start_exporter(tmp_path / "ex", EXPORTER_MODULES, env={"SIO_T": TOKEN})
    try:
        st, _, body = ex.probe("ws://127.0.0.1:%d/chat" % sio_port, "sio_chat")
        assert st == 200, body
        s = parse_exposition(body)
        assert one(s, "wsprobe_probe_success") == 1, body
        phases = {lab["phase"] for name, lab, _ in s if name == "wsprobe_phase_duration_seconds"}
        assert {"eio_open", "namespace_connect"} <= phases, phases
        st, _, body = ex.probe("ws://127.0.0.1:%d/graphql" % gql_port, "gql_count")
        s = parse_exposition(body)
        assert one(s, "wsprobe_probe_success") == 1, body
        # the namespace is the target's: the root namespace is not the guarded one, and /nope
        # does not exist (APP_ERROR)
        st, _, body = ex.probe("ws://127.0.0.1:%d/nope" % sio_port, "sio_chat")
        s = parse_exposition(body)
        assert one(s, "wsprobe_probe_success") == 0
        fails = [lab for name, lab, _ in s if name == "wsprobe_probe_failure_info"]
        assert fails and fails[0]["class"] == "APP_ERROR", body
        assert fails[0]["phase"] == "namespace_connect", body
        assert TOKEN not in body
    finally:
        ex.stop()


def test_token_in_the_payload_is_redacted_in_the_trace(corpus, wsprobe, tmp_path):
    """The token travels inside a CONNECT packet: --trace shows the packet, never the token."""
    trace = tmp_path / "trace.jsonl"
    r = wsprobe("probe", sio(corpus.sio_app().port, "/chat"), "--protocol", "socketio",
                "--token-env", "SIO_T", "--auth-in", "socketio-auth", "--trace", str(trace),
                "--emit-ack", 'join "r1"', "--expect-json", "/0/joined=r1",
                env={"SIO_T": TOKEN})
    assert r.rc == 0, r
    lines = [json.loads(x) for x in trace.read_text().splitlines()]
    connect = [x for x in lines if x.get("dir") == "out" and
               x.get("text", "").startswith("40/chat,")]
    assert connect and '"token":"[redacted]"' in connect[0]["text"], connect
    assert TOKEN not in trace.read_text()


# --- found by review --------------------------------------------------------------------------

def test_engineio3_custom_namespace(corpus, probe):
    """Socket.IO v2 writes a namespace's CONNECT as 40/chat, (one comma)."""
    srv = corpus.sio_app("--eio3")
    r = probe(sio(srv.port, "/chat"), "--protocol", "socketio", "--engineio", "3",
              "--token-env", "SIO_T", "--auth-in", "query:token", "--emit-ack", 'join "r1"',
              "--expect-json", "/0/joined=r1", env={"SIO_T": TOKEN}, expect="OK")
    assert r["protocol"]["socketio_version"] == 4


def test_load_ends_with_handshakes_in_flight(peers, wsprobe):
    """Connections still waiting for the open packet when the run ends are released with
    their protocol: the run ends at its duration, not at the handshake timeout (and ASan sees
    no use after free)."""
    srv = peers.proto_hostile("sio-silent")
    t0 = time.monotonic()
    r = wsprobe("load", sio(srv.port), "--protocol", "socketio", "--connections", "5",
                "--duration", "1s", "--timeout", "15s", "--json", timeout=40)
    assert r.json is not None, r
    assert time.monotonic() - t0 < 10, r
    assert r["connections"]["opened"] == 0


def test_graphql_values_during_other_steps(corpus, probe, wsprobe):
    url = gql(corpus.gql().port)
    # the values after the expected one arrive while the ping waits: skipped, not a failure
    probe(url, *GQL_AUTH, "--subscribe", "subscription { count }", "--expect-json",
          "/data/count=1", "--ping", env={"GQL_T": TOKEN}, expect="OK")
    # an expectation separated from its subscription by another step is refused
    r = wsprobe("probe", url, *GQL_AUTH, "--subscribe", "subscription { count }", "--ping",
                "--expect-json", "/data/count=1", env={"GQL_T": TOKEN})
    assert r.rc == exit_codes()["USAGE"], r


@pytest.mark.parametrize("args", [
    ["load", "--emit", "x 1", "--rate", "1"],                              # nothing answers it
    ["probe", "--token-env", "T", "--auth-in", "message"],                 # a raw credential
    ["security", "--marker-send", "connect {}", "--checks", "auth.missing"],  # reserved name
])
def test_protocol_refusals_found_by_review(wsprobe, args):
    r = wsprobe(args[0], "ws://127.0.0.1:9/", "--protocol", "socketio", *args[1:],
                env={"T": "x"})
    assert r.rc == exit_codes()["USAGE"], r


def test_token_with_a_quote_is_redacted_in_the_trace(corpus, wsprobe, tmp_path):
    trace = tmp_path / "trace.jsonl"
    tok = 'q"uo\\te-' + "9" * 12
    wsprobe("probe", sio(corpus.sio_app().port, "/chat"), "--protocol", "socketio",
            "--token-env", "SIO_T", "--auth-in", "socketio-auth", "--trace", str(trace),
            env={"SIO_T": tok})
    text = trace.read_text()
    assert "40/chat," in text
    for form in (tok, json.dumps(tok)[1:-1], "9" * 12):
        assert form not in text, form
