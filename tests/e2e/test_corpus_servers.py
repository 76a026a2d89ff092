"""Conformance corpus: WebSocket servers nobody on this project wrote.

    libwebsockets-test-server   Debian's libwebsockets 4.1 test server (C)
    websocketd                  Debian's websocketd (Go) around a line-echo program
    faye-websocket              npm, on node's http server
    socket.io                   npm, Engine.IO v4's WebSocket transport
    Bun                         Bun.serve's websocket handler (the `bun` npm package)
    python3-websockets          Debian's, with permessage-deflate on
    an HTTP/1.0 101             a raw server whose 101 has an HTTP/1.0 status line

Each peer's behaviour is first shown with the raw client of corpus_peers.py (test_peer_*);
then wsprobe's verdict is asserted (exit code, class, the JSON fields of the case).

Run: WSPROBE=build/wsprobe /usr/bin/python3 -m pytest tests/e2e/test_corpus_servers.py
"""
import json

import pytest

from corpus_peers import (OP_TEXT, RawWS, HandshakeError, corpus,  # noqa: F401
                          expect, hint_mentions, no_deflate_unless_offered, open_raw, show,
                          unique)

MIRROR = "lws-mirror-protocol"
INCREMENT = "dumb-increment-protocol"
DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"


# =============================================================================================
# libwebsockets-test-server

def test_peer_lws_mirror(corpus):
    """lws-mirror-protocol sends every message to every client of the protocol, the sender
    included: with one client, an echo."""
    msg = unique("mirror")
    with open_raw(corpus.lws().port, subprotocols=[MIRROR]) as c:
        assert c.response.header("Sec-WebSocket-Protocol") == MIRROR
        c.send_text(msg)
        f = c.recv(2)
        assert (f.opcode, f.text) == (OP_TEXT, msg)


def test_peer_lws_dumb_increment(corpus):
    """dumb-increment-protocol sends a counter (decimal text) every ~50 ms, unasked."""
    with open_raw(corpus.lws().port, subprotocols=[INCREMENT]) as c:
        assert c.response.header("Sec-WebSocket-Protocol") == INCREMENT
        nums = [int(c.recv(2).text) for _ in range(3)]
        assert nums == list(range(nums[0], nums[0] + 3))


def test_peer_lws_without_subprotocol_answers_nothing(corpus):
    """No subprotocol offered: lws accepts (101 without Sec-WebSocket-Protocol) and binds the
    connection to its first protocol, the HTTP one, which ignores WebSocket messages."""
    with open_raw(corpus.lws().port) as c:
        assert c.response.header("Sec-WebSocket-Protocol") is None
        c.send_text("anyone?")
        frames, eof = c.drain(1.0)
        assert frames == [] and not eof


def test_peer_lws_unknown_subprotocol_drops_the_connection(corpus):
    """An unknown subprotocol: lws ends the TCP connection without any HTTP response."""
    c = RawWS(corpus.lws().port, "/", subprotocols=["chat.v2"])
    with pytest.raises(HandshakeError):
        c.handshake()
    assert c.buf == b"" and c.eof
    c.close()


def test_lws_mirror_ok(probe, corpus):
    msg = unique("mirror")
    j = expect(probe(corpus.lws().url("/"), "--subprotocol", MIRROR, "--send", msg,
                     "--expect-text", msg), "OK")
    assert j["ws"]["subprotocol"] == MIRROR, show(j)
    assert j["ws"]["close_code"] == 1000 and j["ws"]["closed_by"] == "client", show(j)
    no_deflate_unless_offered(j)


def test_lws_dumb_increment_ok(probe, corpus):
    j = expect(probe(corpus.lws().url("/"), "--subprotocol", INCREMENT, "--expect-regex",
                     "^[0-9]+$"), "OK")
    assert j["ws"]["subprotocol"] == INCREMENT, show(j)


def test_lws_without_subprotocol_is_msg_timeout(probe, corpus):
    """Subprotocol names matter: without one nothing ever answers."""
    expect(probe(corpus.lws().url("/"), "--send", "x", "--expect-text", "x", "--timeout", "1s"),
           "WS_MSG_TIMEOUT")


def test_lws_unknown_subprotocol_hint_names_it(probe, corpus):
    r = probe(corpus.lws().url("/"), "--subprotocol", "chat.v2")
    j = expect(r, "HS_NO_RESPONSE")
    assert j["evidence"]["handshake_completed"] is False, show(j)
    hint_mentions(r, "chat.v2")


# =============================================================================================
# websocketd

def test_peer_websocketd_line_echo(corpus):
    with open_raw(corpus.websocketd().port) as c:
        for text in ("hello", "second line"):
            c.send_text(text)
            f = c.recv(3)
            assert (f.opcode, f.text) == (OP_TEXT, text)     # websocketd strips the newline
        c.send_close(1000)
        _, close, _ = c.messages_until_close(3)
        assert close is not None and close.close_code == 1000


def test_websocketd_ok(probe, corpus):
    j = expect(probe(corpus.websocketd().url("/"), "--send", "hello", "--expect-text", "hello"),
               "OK")
    assert j["ws"]["close_acknowledged"] is True, show(j)
    no_deflate_unless_offered(j)


# =============================================================================================
# faye-websocket

def test_peer_faye_echo(corpus):
    with open_raw(corpus.faye().port) as c:
        c.send_text("hello")
        assert c.recv(2).payload == b"hello"
        c.send_close(1000)
        _, close, _ = c.messages_until_close(2)
        assert close is not None and close.close_code == 1000


def test_faye_ok(probe, corpus):
    j = expect(probe(corpus.faye().url("/"), "--send", "hello", "--expect-text", "hello"), "OK")
    assert j["ws"]["close_code"] == 1000 and j["ws"]["close_acknowledged"] is True, show(j)
    no_deflate_unless_offered(j)


# =============================================================================================
# socket.io (Engine.IO v4 over WebSocket)

EIO = "/socket.io/?EIO=4&transport=websocket"


def test_peer_socketio_open_packet_first(corpus):
    """The server speaks first: the Engine.IO open packet `0{...}`. A socket.io CONNECT
    (`40`) is answered `40{"sid":...}`, and an event `42[...]` is an event."""
    with open_raw(corpus.socketio().port, EIO) as c:
        first = c.recv(2)
        assert first.opcode == OP_TEXT and first.text.startswith("0{")
        info = json.loads(first.text[1:])
        assert {"sid", "pingInterval", "pingTimeout"} <= set(info)
        c.send_text("40")
        assert c.recv(2).text.startswith("40{")
        c.send_text('42["echo","hi"]')
        assert c.recv(2).text == '42["echo","hi"]'


def test_socketio_open_packet_ok(probe, corpus):
    expect(probe(corpus.socketio().url(EIO), "--expect-regex", r"^0\{"), "OK")


def test_socketio_connect_and_event_ok(probe, corpus):
    """The open packet does not match ^40 and is skipped; then the CONNECT answer and the
    echoed event."""
    expect(probe(corpus.socketio().url(EIO), "--send", "40", "--expect-regex", r"^40\{",
                 "--send", '42["echo","hi"]', "--expect-text", '42["echo","hi"]'), "OK")


# =============================================================================================
# Bun

def test_peer_bun_echo(corpus):
    with open_raw(corpus.bun().port) as c:
        c.send_text("hello")
        assert c.recv(2).payload == b"hello"
        c.send_close(1000)
        _, close, _ = c.messages_until_close(2)
        assert close is not None and close.close_code == 1000


def test_bun_ok(probe, corpus):
    j = expect(probe(corpus.bun().url("/"), "--send", "hello", "--expect-text", "hello"), "OK")
    assert j["ws"]["close_acknowledged"] is True, show(j)
    no_deflate_unless_offered(j)


# =============================================================================================
# python3-websockets with permessage-deflate

def test_peer_py_deflate_negotiates_when_offered(corpus):
    port = corpus.py_deflate().port
    with open_raw(port, extensions=DEFLATE_OFFER) as c:
        ext = c.response.header("Sec-WebSocket-Extensions")
        assert ext and ext.startswith("permessage-deflate")
        c.send_text("hello")                                 # uncompressed is still allowed
        f = c.recv(2)
        assert f.rsv == 4 and f.payload != b"hello"          # RSV1: compressed reply
    with open_raw(port) as c:
        assert c.response.header("Sec-WebSocket-Extensions") is None
        c.send_text("hello")
        f = c.recv(2)
        assert f.rsv == 0 and f.payload == b"hello"


def test_py_deflate_ok(probe, corpus):
    j = expect(probe(corpus.py_deflate().url("/"), "--send", "hello", "--expect-text", "hello"),
               "OK")
    no_deflate_unless_offered(j)


# =============================================================================================
# HTTP/1.0 101

def test_peer_http10_101(corpus):
    c = RawWS(corpus.http10_101().port, "/")
    r = c.handshake()
    c.close()
    assert r.version == "HTTP/1.0" and r.status == 101
    assert c.opened          # every other part of the head is right: only the version is wrong


def test_http10_101_is_malformed(probe, corpus):
    j = expect(probe(corpus.http10_101().url("/"), "--send", "a", "--expect-text", "a"),
               "HS_MALFORMED")
    assert j["evidence"]["handshake_completed"] is False, show(j)
