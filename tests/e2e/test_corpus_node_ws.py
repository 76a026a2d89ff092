"""Conformance corpus: Node's `ws` (npm) as the server (tests/node/corpus_ws_server.js).

Every case first shows what the peer really does with the independent raw client of
corpus_peers.py (test_peer_*), then states the verdict wsprobe must give for it. The verdicts
follow RFC 6455 section 7's close semantics as docs/exit-codes.md's classes apply them:

- a close frame that arrives before ours was sent is the server's close; one that arrives after
  ours acknowledges ours only when it carries our code (1000) or no status; any other code is
  the server's own close;
- a probe is OK only when every expectation held and then our close was acknowledged, or the
  server closed with 1000/1001 after the last expectation held;
- any server close before the last expectation held (without expectations: before our close
  was sent) is WS_CLOSED whatever its code, unless --expect-close names it (a named code: OK;
  another code: WS_EXPECT_MISMATCH; no close in time: WS_MSG_TIMEOUT).

Run: WSPROBE=build/wsprobe /usr/bin/python3 -m pytest tests/e2e/test_corpus_node_ws.py
"""
import json

import pytest

from corpus_peers import (EXIT, OP_CLOSE, OP_TEXT, Listener, RawWS, corpus,  # noqa: F401
                          expect, hint_mentions, no_deflate_unless_offered, open_raw, show,
                          unique)

CLOSE_ON_OPEN = [  # mode, the close code the server sends, its reason
    pytest.param("close-4001", 4001, "unauthorized", id="4001"),
    pytest.param("close-1011", 1011, "", id="1011"),
]


# =============================================================================================
# What the peer really does (raw client, no wsprobe)

def test_peer_echo(corpus):
    with open_raw(corpus.node_ws("echo").port) as c:
        assert c.response.header("Sec-WebSocket-Extensions") is None
        assert c.response.header("Sec-WebSocket-Protocol") is None
        c.send_text("hi")
        f = c.recv(2)
        assert (f.opcode, f.payload, f.fin, f.rsv) == (OP_TEXT, b"hi", True, 0)
        c.send_close(1000)
        data, close, _ = c.messages_until_close(2)
        assert data == [] and close.close_code == 1000       # our close, acknowledged
        assert c.wait_eof(2)


def test_peer_plain_get_is_426(corpus):
    c = RawWS(corpus.node_ws("echo").port, "/", upgrade=False)
    r = c.handshake()
    c.close()
    assert r.status == 426 and r.body == b"Upgrade Required"


@pytest.mark.parametrize("mode,code,reason", CLOSE_ON_OPEN + [
    pytest.param("close-1000", 1000, "done", id="1000"),
    pytest.param("close-1001", 1001, "going away", id="1001"),
    pytest.param("close-1008", 1008, "token required", id="1008")])
def test_peer_closes_on_open(corpus, mode, code, reason):
    """The server's close frame comes right after the 101, before the client sent anything;
    after the client answers it, the server ends the TCP connection."""
    with open_raw(corpus.node_ws(mode).port) as c:
        f = c.recv(2)
        assert f.opcode == OP_CLOSE
        assert f.close_code == code and f.close_reason == reason
        c.send_close(code)                                   # RFC 6455 5.5.1: echo its code
        frames, eof = c.drain(2)
        assert frames == [] and eof


def test_peer_close_empty_has_no_status(corpus):
    """ws.close() without arguments: a close frame with an empty body (wsprobe's 1005)."""
    with open_raw(corpus.node_ws("close-empty").port) as c:
        f = c.recv(2)
        assert f.opcode == OP_CLOSE and f.payload == b"" and f.close_code is None


@pytest.mark.parametrize("code,reason", [(1011, "internal error"), (1000, "done"),
                                         (1001, "going away")])
def test_peer_reply_then_close_both_frames_arrive(corpus, code, reason):
    """ws.send(data); ws.close(CODE) in one tick: the echo, then the close, with nothing sent
    by the client in between."""
    with open_raw(corpus.node_ws("reply-close-%d" % code).port) as c:
        c.send_text("hi")
        first = c.recv(2)
        second = c.recv(2)
        assert (first.opcode, first.payload) == (OP_TEXT, b"hi")
        assert second.opcode == OP_CLOSE
        assert (second.close_code, second.close_reason) == (code, reason)


def test_peer_subprotocol_required(corpus):
    """What ws really does: handleProtocols is only called when the client offers a
    subprotocol, and returning false accepts the upgrade without a Sec-WebSocket-Protocol
    header (it does not refuse it). So the 'required' part is the server's own close, 1002,
    sent on open when ws.protocol is empty."""
    port = corpus.node_ws("subprotocol").port
    for offered in ([], ["chat.v2"]):
        with open_raw(port, subprotocols=offered) as c:
            assert c.response.header("Sec-WebSocket-Protocol") is None
            f = c.recv(2)
            assert f.opcode == OP_CLOSE
            assert (f.close_code, f.close_reason) == (1002, "subprotocol required")
    with open_raw(port, subprotocols=["chat"]) as c:
        assert c.response.header("Sec-WebSocket-Protocol") == "chat"
        c.send_text("hi")
        assert c.recv(2).payload == b"hi"


def test_peer_greeting_first(corpus):
    with open_raw(corpus.node_ws("greet").port) as c:
        first = c.recv(2)                                    # before the client sent anything
        assert json.loads(first.text) == {"type": "welcome"}
        c.send_text("hello")
        assert c.recv(2).payload == b"hello"


def test_peer_max_payload_closes_1009(corpus):
    with open_raw(corpus.node_ws("max-payload").port) as c:
        c.send_text("x" * 100)                               # over maxPayload 16
        data, close, _ = c.messages_until_close(2)
        assert data == [] and close is not None and close.close_code == 1009
        assert c.wait_eof(2)


def test_peer_deflate_only_when_offered(corpus):
    port = corpus.node_ws("deflate").port
    with open_raw(port, extensions="permessage-deflate; client_max_window_bits") as c:
        assert "permessage-deflate" in c.response.header("Sec-WebSocket-Extensions")
        c.send_text("hello")
        f = c.recv(2)
        assert f.rsv == 4 and f.payload != b"hello"          # RSV1: compressed
    with open_raw(port) as c:
        assert c.response.header("Sec-WebSocket-Extensions") is None
        c.send_text("hello")
        f = c.recv(2)
        assert f.rsv == 0 and f.payload == b"hello"


# =============================================================================================
# wsprobe's verdicts

def test_echo_ok(probe, corpus):
    j = expect(probe(corpus.node_ws("echo").url("/"), "--send", "hi", "--expect-text", "hi"),
               "OK")
    ws = j["ws"]
    assert ws["close_code"] == 1000 and ws["closed_by"] == "client"
    assert ws["close_acknowledged"] is True
    assert ws["subprotocol"] is None
    no_deflate_unless_offered(j)


def test_deflate_server_interoperates(probe, corpus):
    j = expect(probe(corpus.node_ws("deflate").url("/"), "--send", "hi", "--expect-text", "hi"),
               "OK")
    no_deflate_unless_offered(j)


@pytest.mark.parametrize("mode,code,reason", CLOSE_ON_OPEN)
def test_close_on_open_is_ws_closed(probe, corpus, mode, code, reason):
    """No expectations: the server's close (4001/1011, not our 1000) is its own close."""
    j = expect(probe(corpus.node_ws(mode).url("/")), "WS_CLOSED")
    ws = j["ws"]
    assert ws["close_code"] == code and ws["closed_by"] == "server", show(j)
    if reason:
        assert ws["close_reason"] == reason, show(j)


@pytest.mark.parametrize("mode,code", [("close-1000", 1000), ("close-1001", 1001),
                                       ("close-empty", 1005)])
def test_close_before_the_expectation_is_ws_closed_whatever_its_code(probe, corpus, mode, code):
    """The server closed (even with 1000, or without a status) before the expectation held:
    the conversation did not happen."""
    j = expect(probe(corpus.node_ws(mode).url("/"), "--send", "hi", "--expect-text", "hi",
                     "--timeout", "2s"), "WS_CLOSED")
    assert j["ws"]["close_code"] == code and j["ws"]["closed_by"] == "server", show(j)


CLOSING_SERVERS = [pytest.param("close-4001", 4001, id="4001"),
                   pytest.param("close-1011", 1011, id="1011"),
                   pytest.param("subprotocol", 1002, id="subprotocol-1002")]


@pytest.mark.parametrize("mode,code", CLOSING_SERVERS)
def test_close_on_open_with_five_connections_is_not_ok(wsprobe, corpus, mode, code):
    r = wsprobe("probe", corpus.node_ws(mode).url("/"), "--json", "--connections", "5")
    j = r.json
    assert isinstance(j, dict), r
    assert j["ok"] is False and j["class"] == "WS_CLOSED", r
    assert r.rc == EXIT["WS_CLOSED"] and j["exit_code"] == r.rc, r
    assert j["failed"] == 5 and j["succeeded"] == 0, r
    for one in j["results"]:
        assert one["class"] == "WS_CLOSED" and one["ws"]["close_code"] == code, one


@pytest.mark.parametrize("mode,code", CLOSING_SERVERS)
def test_wait_never_succeeds_on_close_on_open(wsprobe, corpus, mode, code):
    r = wsprobe("wait", corpus.node_ws(mode).url("/"), "--deadline", "3s",
                "--interval", "200ms", "--json", timeout=15)
    # never "up": wait ends at once on a class that retrying cannot fix (wait --help; a close
    # other than 1012/1013 is one) with that class's exit code, or runs out of time (124)
    assert r.rc in (EXIT["WS_CLOSED"], EXIT["WAIT_DEADLINE"]), r
    assert r.json["ok"] is False and r.json["class"] in ("WS_CLOSED", "WAIT_DEADLINE"), r


@pytest.mark.parametrize("mode,named", [("close-4001", "4001"), ("close-4001", "4002,4001"),
                                        ("close-1011", "1011")])
def test_expect_close_named_code_is_ok(probe, corpus, mode, named):
    j = expect(probe(corpus.node_ws(mode).url("/"), "--expect-close", named), "OK")
    ws = j["ws"]
    assert ws["closed_by"] == "server" and str(ws["close_code"]) in named.split(","), show(j)


def test_expect_close_other_code_is_mismatch(probe, corpus):
    j = expect(probe(corpus.node_ws("close-4001").url("/"), "--expect-close", "1000"),
               "WS_EXPECT_MISMATCH")
    assert j["ws"]["close_code"] == 4001 and j["ws"]["closed_by"] == "server", show(j)


def test_expect_close_that_never_comes_is_msg_timeout(probe, corpus):
    expect(probe(corpus.node_ws("echo").url("/"), "--expect-close", "4001", "--timeout", "1s"),
           "WS_MSG_TIMEOUT")


def test_reply_then_1011_is_ws_closed(probe, corpus):
    """The expectation held, but the close that followed is 1011, not 1000/1001, and not an
    acknowledgement of our 1000: the server's own close."""
    j = expect(probe(corpus.node_ws("reply-close-1011").url("/"), "--send", "hi",
                     "--expect-text", "hi"), "WS_CLOSED")
    ws = j["ws"]
    assert ws["close_code"] == 1011 and ws["closed_by"] == "server", show(j)
    assert ws["close_reason"] == "internal error", j


@pytest.mark.parametrize("code", [1000, 1001])
def test_reply_then_normal_close_is_ok(probe, corpus, code):
    """The server closed with 1000/1001 after the last expectation held: a normal end."""
    j = expect(probe(corpus.node_ws("reply-close-%d" % code).url("/"), "--send", "hi",
                     "--expect-text", "hi"), "OK")
    assert j["ws"]["close_code"] == code, show(j)
    if code == 1001:             # not our 1000: the server's own close, whenever it came
        assert j["ws"]["closed_by"] == "server", show(j)


@pytest.mark.parametrize("mode", ["close-4001", "close-1008"])
def test_expect_auth_required_close_before_serving_is_ok(probe, corpus, mode):
    expect(probe(corpus.node_ws(mode).url("/"), "--expect-auth-required"), "OK")


def test_expect_auth_required_open_server_is_not_enforced(probe, corpus):
    expect(probe(corpus.node_ws("echo").url("/"), "--expect-auth-required"), "AUTH_NOT_ENFORCED")


def test_subprotocol_required_without_offer_is_ws_closed(probe, corpus):
    j = expect(probe(corpus.node_ws("subprotocol").url("/")), "WS_CLOSED")
    ws = j["ws"]
    assert ws["close_code"] == 1002 and ws["closed_by"] == "server", show(j)
    assert ws["close_reason"] == "subprotocol required", j


def test_subprotocol_offered_and_chosen_is_ok(probe, corpus):
    j = expect(probe(corpus.node_ws("subprotocol").url("/"), "--subprotocol", "chat",
                     "--send", "hi", "--expect-text", "hi"), "OK")
    assert j["ws"]["subprotocol"] == "chat", show(j)


def test_unknown_subprotocol_hint_names_it(probe, corpus):
    """Offered chat.v2; the server chose none (no header) and closed 1002."""
    r = probe(corpus.node_ws("subprotocol").url("/"), "--subprotocol", "chat.v2")
    j = expect(r, "WS_CLOSED")
    assert j["ws"]["close_code"] == 1002 and j["ws"]["subprotocol"] is None, show(j)
    hint_mentions(r, "chat.v2")


def test_greeting_is_skipped_by_expect_text(probe, corpus):
    expect(probe(corpus.node_ws("greet").url("/"), "--send", "hello", "--expect-text", "hello"),
           "OK")


def test_greeting_is_skipped_by_expect_regex(probe, corpus):
    expect(probe(corpus.node_ws("greet").url("/"), "--send", "hello", "--expect-regex",
                 "^hel+o$"), "OK")


def test_greeting_is_skipped_by_expect_json(probe, corpus):
    msg = json.dumps({"type": "echo", "id": unique()})
    expect(probe(corpus.node_ws("greet").url("/"), "--send", msg, "--expect-json",
                 "/type=echo"), "OK")


def test_greeting_with_strict_order_is_mismatch(probe, corpus):
    expect(probe(corpus.node_ws("greet").url("/"), "--strict-order", "--send", "hello",
                 "--expect-text", "hello"), "WS_EXPECT_MISMATCH")


@pytest.mark.parametrize("send", [["--send", "hello"], []], ids=["after-send", "greeting-only"])
def test_messages_came_but_none_matched_is_mismatch(probe, corpus, send):
    expect(probe(corpus.node_ws("greet").url("/"), *send, "--expect-text", "nope",
                 "--timeout", "1s"), "WS_EXPECT_MISMATCH")


def test_nothing_came_is_msg_timeout(probe, corpus):
    expect(probe(corpus.node_ws("echo").url("/"), "--expect-text", "nope", "--timeout", "1s"),
           "WS_MSG_TIMEOUT")


def test_max_payload_close_1009(probe, corpus):
    big = "x" * 100
    r = probe(corpus.node_ws("max-payload").url("/"), "--send", big, "--expect-text", big)
    j = expect(r, "WS_CLOSED")
    assert j["ws"]["close_code"] == 1009 and j["ws"]["closed_by"] == "server", show(j)
    hint_mentions(r, "size", "limit")


# =============================================================================================
# Headers that belong to the handshake itself are not -H material: USAGE, nothing sent

@pytest.mark.parametrize("header", [
    "Sec-WebSocket-Protocol: x",
    "Sec-WebSocket-Extensions: permessage-deflate",
    "Host: x",
    "Upgrade: x",
    "Connection: x",
    "Sec-WebSocket-Key: x",
    "Sec-WebSocket-Version: 13",
])
def test_handshake_header_is_usage_and_nothing_is_sent(wsprobe, header):
    lis = Listener()
    try:
        r = wsprobe("probe", "ws://127.0.0.1:%d/" % lis.port, "--json", "-H", header,
                    "--timeout", "1s")
        connected = lis.connections()
    finally:
        lis.close()
    assert r.rc == EXIT["USAGE"], r
    if isinstance(r.json, dict):
        assert r.json["class"] == "USAGE", r
    assert connected == 0, "wsprobe connected although the header is refused\n%s" % r
    if header.startswith("Sec-WebSocket-Protocol"):
        said = r.stderr + r.stdout
        if isinstance(r.json, dict):
            said += " %s %s" % (r.json.get("message"), r.json.get("hint"))
        assert "--subprotocol" in said, r
