"""Conformance corpus: nginx 1.22 and HAProxy 2.6 (Debian) in front of Node's `ws` echo.

    correct proxying      nginx (peers/nginx-ws-proxy.conf.in), HAProxy (haproxy-ws.cfg.in)
    Upgrade dropped       nginx-no-upgrade.conf.in, haproxy-no-upgrade.cfg.in: the backend
                          sees a plain GET and answers 426, which the proxy passes back
    idle timeout 1 s      nginx proxy_read_timeout 1s, HAProxy timeout tunnel 1s: an open
                          WebSocket that carries nothing for a second is cut by the proxy
    TLS port, ws://       nginx `listen ... ssl`: a plain request gets nginx's 400 "The plain
                          HTTP request was sent to HTTPS port"

The raw client shows what each proxy really does (test_peer_*); then wsprobe's verdict.

Run: WSPROBE=build/wsprobe /usr/bin/python3 -m pytest tests/e2e/test_corpus_proxies.py
"""
import ssl
import time

import pytest

from corpus_peers import (OP_TEXT, RawWS, corpus, expect, hint_mentions,  # noqa: F401
                          no_deflate_unless_offered, open_raw, show)

PROXIES = ["nginx", "haproxy"]


def proxy(corpus, kind, config):
    backend = corpus.node_ws("echo")
    if kind == "haproxy":
        return corpus.haproxy(config, backend)
    if config == "ws":
        return corpus.mgr.nginx("ws-proxy", backend)      # conftest's correct-proxy config
    return corpus.nginx(config, backend)


# =============================================================================================
# What the proxies really do (raw client)

@pytest.mark.parametrize("kind", PROXIES)
def test_peer_proxy_passes_the_upgrade(corpus, kind):
    with open_raw(proxy(corpus, kind, "ws").port) as c:
        c.send_text("through")
        f = c.recv(2)
        assert (f.opcode, f.payload) == (OP_TEXT, b"through")
        c.send_close(1000)
        _, close, _ = c.messages_until_close(2)
        assert close is not None and close.close_code == 1000


@pytest.mark.parametrize("kind", PROXIES)
def test_peer_upgrade_dropped_backend_answers_426(corpus, kind):
    """The upgrade never reaches the backend: Node ws answers the plain GET with 426, and
    the proxy passes it back unchanged."""
    c = RawWS(proxy(corpus, kind, "no-upgrade").port, "/")
    r = c.handshake()
    c.close()
    assert r.status == 426 and r.body == b"Upgrade Required"
    assert r.header("Sec-WebSocket-Accept") is None


@pytest.mark.parametrize("kind", PROXIES)
def test_peer_idle_timeout_cuts_without_close_frame(corpus, kind):
    """After the echo, nothing for a second: the proxy ends the TCP connection; no close
    frame comes first."""
    with open_raw(proxy(corpus, kind, "idle").port) as c:
        c.send_text("a")
        assert c.recv(2).payload == b"a"
        t0 = time.monotonic()
        frames, eof = c.drain(4)
        waited = time.monotonic() - t0
        assert frames == [] and eof
        assert 0.5 < waited < 3.5                         # the 1 s timeout, not our 4 s


def test_peer_nginx_ssl_port_plain_request_is_400(corpus, pki):
    port = corpus.nginx("ssl", corpus.node_ws("echo"), cert="trusted").port
    c = RawWS(port, "/")
    r = c.handshake()
    c.close()
    assert r.status == 400
    assert b"The plain HTTP request was sent to HTTPS port" in r.body
    # and over TLS the same port is a working WebSocket proxy
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    with open_raw(port, tls=ctx, server_hostname="localhost") as t:
        t.send_text("tls")
        assert t.recv(2).payload == b"tls"


# =============================================================================================
# wsprobe's verdicts

@pytest.mark.parametrize("kind", PROXIES)
def test_proxy_ok(probe, corpus, kind):
    j = expect(probe(proxy(corpus, kind, "ws").url("/"), "--send", "hi", "--expect-text", "hi"),
               "OK")
    assert j["ws"]["close_code"] == 1000 and j["ws"]["close_acknowledged"] is True, show(j)
    no_deflate_unless_offered(j)


@pytest.mark.parametrize("kind", PROXIES)
def test_upgrade_dropped_by_proxy_is_rejected_with_proxy_hint(probe, corpus, kind):
    r = probe(proxy(corpus, kind, "no-upgrade").url("/"), "--send", "hi", "--expect-text", "hi")
    j = expect(r, "UPGRADE_REJECTED")
    assert j["http"]["status"] == 426, show(j)
    assert j["evidence"]["handshake_completed"] is False, show(j)
    hint_mentions(r, "proxy")


@pytest.mark.parametrize("kind", PROXIES)
def test_idle_timeout_cut_is_ws_dropped(probe, corpus, kind):
    """The second expectation waits (up to 3 s) past the proxy's 1 s idle timeout; the proxy
    then ends the connection without a close frame."""
    j = expect(probe(proxy(corpus, kind, "idle").url("/"), "--send", "a", "--expect-text", "a",
                     "--expect-text", "never", "--timeout", "3s"), "WS_DROPPED")
    assert j["ws"]["close_code"] == 1006, show(j)
    assert j["ws"]["closed_by"] != "client", show(j)
    assert [s["ok"] for s in j["steps"]][:2] == [True, True], show(j)


@pytest.mark.parametrize("kind", PROXIES)
def test_idle_timeout_proxy_is_ok_when_not_idle(probe, corpus, kind):
    expect(probe(proxy(corpus, kind, "idle").url("/"), "--send", "a", "--expect-text", "a"),
           "OK")


def test_ws_scheme_to_tls_port_is_rejected_with_wss_hint(probe, corpus):
    n = corpus.nginx("ssl", corpus.node_ws("echo"), cert="trusted")
    r = probe(n.url("/"), "--send", "hi", "--expect-text", "hi")
    j = expect(r, "UPGRADE_REJECTED")
    assert j["http"]["status"] == 400, show(j)
    hint_mentions(r, "wss://")


def test_wss_to_nginx_ssl_ok(probe, corpus, pki):
    n = corpus.nginx("ssl", corpus.node_ws("echo"), cert="trusted")
    expect(probe(n.url("/", scheme="wss", host="localhost"), "--cacert", pki.ca,
                 "--send", "hi", "--expect-text", "hi"), "OK")
