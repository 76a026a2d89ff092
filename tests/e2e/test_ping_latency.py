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


# ---- load --ping-interval ---------------------------------------------------------------------

from conftest import run_wsprobe  # noqa: E402


@pytest.mark.parametrize("name", ["python-websockets", "node-ws", "serve"])
def test_load_ping_interval(corpus, serve_echo, name, tmp_path):
    """Every open connection pings on its own schedule; the pongs are timed apart from the
    messages, and a threshold can judge them."""
    url, _, extra = peer_url(name, corpus, serve_echo)
    r = run_wsprobe("load", url, *extra, "--connections", "5", "--duration", "2s",
                    "--ping-interval", "200ms", "--rate", "20", "--message", "m", "--echo",
                    "--threshold", "rate>=1", "--threshold", "pong_p99<2s", "--json",
                    env={SECRET_ENV: SECRET}, timeout=60)
    assert r.rc == 0, r
    p = r.json["pings"]
    # 5 connections x 2 s / 200 ms: about 50 pings; none may go unanswered
    assert 35 <= p["sent"] <= 55, p
    assert p["answered"] + p["unfinished"] == p["sent"] and p["timeouts"] == 0, p
    assert p["pong_ms"]["count"] == p["answered"]
    assert r.json["messages"]["matched"] > 0  # messages were measured beside the pings
    assert "pong" in r.json["histograms"]


def test_load_unanswered_pings_are_ws_pong_timeout(peers):
    h = peers.hostile("deaf")  # the 101, then nothing: no pong ever
    r = run_wsprobe("load", h.url("/"), "--connections", "3", "--duration", "1500ms",
                    "--ping-interval", "200ms", "--reply-timeout", "300ms", "--json", timeout=60)
    assert r.rc == 1, r
    p = r.json["pings"]
    assert p["answered"] == 0 and p["timeouts"] >= 3, p
    assert r.json["errors"]["by_class"]["WS_PONG_TIMEOUT"] >= p["timeouts"]


def test_load_merge_adds_pings(corpus, tmp_path):
    p = corpus.py_deflate()
    reports = []
    for i in range(2):
        r = run_wsprobe("load", p.url("/"), "--connections", "2", "--duration", "1s",
                        "--ping-interval", "100ms", "--json", timeout=60)
        assert r.rc == 0, r
        f = tmp_path / ("a%d.json" % i)
        f.write_text(r.stdout)
        reports.append(r.json)
    m = run_wsprobe("load-merge", tmp_path / "a0.json", tmp_path / "a1.json", "--json",
                    "--threshold", "pong_max<5s")
    assert m.rc == 0, m
    mp = m.json["pings"]
    assert mp["sent"] == sum(x["pings"]["sent"] for x in reports)
    assert mp["pong_ms"]["count"] == sum(x["pings"]["pong_ms"]["count"] for x in reports)
    assert mp["pong_ms"]["max"] == max(x["pings"]["pong_ms"]["max"] for x in reports)
