"""`wsprobe serve` against Node's `ws` client (npm), over ws and wss. Skips with a reason when
tests/node/node_modules is missing (`npm ci --prefix tests/node`)."""
import base64
import json
import time

import pytest

from serve_helpers import OTHER_SECRET, mint, mint_none, node_client, require_node, start_serve

TLS = [pytest.param(False, id="ws"), pytest.param(True, id="wss")]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    require_node()
    chat = start_serve(tmp_path_factory.mktemp("node-chat"), "--max-message", "16K")
    echo = start_serve(tmp_path_factory.mktemp("node-echo"), "--echo", "--max-message", "16K")
    yield {"chat": chat, "echo": echo}
    assert chat.stop() == 0
    assert echo.stop() == 0


def conn(srv, tls, token=None, **kw):
    spec = {"url": srv.url(tls=tls, query=kw.pop("query", ""))}
    if tls:
        spec["ca"] = srv.ca
    if token:
        spec["token"] = token
    spec.update(kw)
    return spec


@pytest.mark.parametrize("tls", TLS)
def test_node_echo_fragmented_ping_close(servers, tls):
    srv = servers["echo"]
    r = node_client({"conns": [conn(srv, tls, mint())], "steps": [
        {"send": "hello from node ✓", "expect": True},
        {"send_binary": base64.b64encode(b"\x00\xffbin").decode(), "expect": True},
        {"send_fragments": ["one ", "two ", "three"], "expect": True},
        {"ping": "ping-payload"},
        {"close": 4000},
    ]})
    assert r["error"] is None, r
    assert r["status"] == [101]
    assert r["messages"] == ["hello from node ✓", {"binary": base64.b64encode(b"\x00\xffbin").decode()},
                             "one two three"]
    assert r["pongs"] == ["ping-payload"]
    assert r["close_codes"] == [4000]


@pytest.mark.parametrize("tls", TLS)
def test_node_chat_ack_and_broadcast(servers, tls):
    srv = servers["chat"]
    msg = json.dumps({"type": "chat_message", "id": "n1", "content": "<b>bold</b>"})
    r = node_client({"conns": [conn(srv, tls, mint("nina"), query="room=node"),
                               conn(srv, tls, mint("otto"), query="room=node")],
                     "steps": [{"conn": 0, "send": msg, "expect": True},
                               {"conn": 0, "expect": True},
                               {"conn": 1, "expect": True}]})
    assert r["error"] is None and r["status"] == [101, 101], r
    ack, own, other = (json.loads(m) for m in r["messages"])
    assert ack == {"type": "ack", "id": "n1"}
    assert own == other
    assert other["sub"] == "nina" and other["content"] == "&lt;b&gt;bold&lt;&#47;b&gt;"


@pytest.mark.parametrize("tls", TLS)
def test_node_refusals_401_403(servers, tls):
    srv = servers["chat"]
    port = srv.port(tls)
    r = node_client({"conns": [
        conn(srv, tls),
        conn(srv, tls, mint(key=OTHER_SECRET)),
        conn(srv, tls, mint_none()),
        conn(srv, tls, mint(), origin="https://cswsh.example"),
        conn(srv, tls, mint(), origin="%s://127.0.0.1:%d" % ("https" if tls else "http", port)),
    ]})
    assert r["status"] == [401, 401, 401, 403, 101], r


@pytest.mark.parametrize("tls", TLS)
def test_node_1009_oversized_and_subprotocol_token(servers, tls):
    srv = servers["echo"]
    tok = mint("sp")
    r = node_client({"conns": [conn(srv, tls, mint()),
                               conn(srv, tls, protocols=["bearer." + tok])],
                     "steps": [{"conn": 1, "send": "via subprotocol", "expect": True},
                               {"conn": 0, "send": "x" * (16 * 1024 + 1), "wait_close": True}]})
    assert r["status"] == [101, 101], r
    assert r["protocol"][1] == "bearer." + tok
    assert r["messages"] == ["via subprotocol"]
    assert r["close_codes"] == [1009]
