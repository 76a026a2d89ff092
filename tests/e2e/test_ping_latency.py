"""Ping latency (issue 14): `probe --ping=N` sends N pings after open, one after the other, and
reports the pong round trips (min, median, max) apart from message latency; an unanswered ping
is WS_PONG_TIMEOUT. Against python3-websockets, Node `ws` and `wsprobe serve`; the raw client
first shows each peer answering a ping with a pong of the same payload (RFC 6455 5.5.3).
"""
import pytest

from corpus_peers import OP_PING, OP_PONG, corpus, expect, open_raw  # noqa: F401
from serve_helpers import SECRET, SECRET_ENV, start_serve


@pytest.fixture
def serve_echo(tmp_path):
    srv = start_serve(tmp_path, "--echo", tls=False)
    yield srv
    srv.stop()


def peer_url(name, corpus, serve_echo):
    if name == "python-websockets":
        p = corpus.py_deflate()
    elif name == "node-ws":
        p = corpus.node_ws("echo")
    else:
        return serve_echo.url(), serve_echo.port(), ["--jwt-secret-env", SECRET_ENV]
    return p.url("/"), p.port, []


@pytest.mark.parametrize("name", ["python-websockets", "node-ws", "serve"])
def test_pings_round_trips(probe, corpus, serve_echo, name):
    url, port, extra = peer_url(name, corpus, serve_echo)
    if name != "serve":  # the peer's own behaviour, from the raw client
        with open_raw(port) as c:
            c.send_frame(OP_PING, b"ping-payload")
            f = c.recv(3)
            assert f.opcode == OP_PONG and f.payload == b"ping-payload"
    j = expect(probe(url, "--ping=5", *extra, env={SECRET_ENV: SECRET}), "OK")
    p = j["pings"]
    assert p["count"] == 5 and p["answered"] == 5
    assert 0 <= p["min_ms"] <= p["median_ms"] <= p["max_ms"]
    assert [s["kind"] for s in j["steps"]] == ["ping"] * 5
    assert all(s["ok"] for s in j["steps"])


def test_an_unanswered_ping_is_ws_pong_timeout(probe, peers):
    h = peers.hostile("deaf")
    j = expect(probe(h.url("/"), "--ping=3", "--pong-timeout", "300ms", "--timeout", "1s"),
               "WS_PONG_TIMEOUT")
    assert j["pings"]["count"] == 3 and j["pings"]["answered"] == 0
    assert j["pings"]["median_ms"] is None


def test_ping_count_is_range_checked(wsprobe):
    for v in ("0", "101", "x"):
        r = wsprobe("probe", "ws://127.0.0.1:9/", "--ping=" + v, "--json")
        assert r.rc == 2 and "--ping" in r.stderr, r
