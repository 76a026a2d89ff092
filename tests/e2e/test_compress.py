"""permessage-deflate (RFC 7692) in the client: `--compress` and `--compress=PARAMS` against
servers this project did not write (python3-websockets, Node `ws` with perMessageDeflate, Bun.serve
with perMessageDeflate) and
against the hostile peer (negotiation answers that break RFC 7692 section 7, RSV1 without
negotiation, a compressed ping, garbage, a decompression bomb).

What each server really did comes from the wire first: the raw client of corpus_peers.py shows
the server's answer to the same offer, and the hostile peer's deflate-echo mode inflates what
wsprobe sent (with zlib, in Python) and logs it, so the compression itself is checked by a
decompressor that is not ours.
"""
import json
import time

import pytest

from corpus_peers import corpus, expect, open_raw  # noqa: F401

MSG = json.dumps({"type": "chat", "content": "hello " * 500})  # 3 KiB, compresses well
DEFLATE = "Sec-WebSocket-Extensions: permessage-deflate"


def compression(j):
    c = j["ws"].get("compression")
    assert c is not None, j
    return c


@pytest.mark.parametrize("peer", ["python-websockets", "node-ws", "bun"])
def test_compressed_echo_against_real_servers(probe, corpus, peer):
    p = {"python-websockets": corpus.py_deflate, "node-ws": lambda: corpus.node_ws("deflate"),
         "bun": lambda: corpus.bun(deflate=True)}[peer]()
    # the peer's own answer to the default offer, from the raw client
    with open_raw(p.port, extensions="permessage-deflate; client_max_window_bits") as c:
        answer = c.response.header("Sec-WebSocket-Extensions")
    assert answer and answer.startswith("permessage-deflate")
    j = expect(probe(p.url("/"), "--compress", "--send", MSG, "--send", MSG, "--expect-text",
                     MSG, "--expect-text", MSG), "OK")
    c = compression(j)
    assert c["offered"] == "permessage-deflate; client_max_window_bits"
    assert c["accepted"] is True
    assert j["ws"]["extensions"] == [answer]
    assert c["sent_inflated"] == 2 * len(MSG) and c["received_inflated"] == 2 * len(MSG)
    assert c["sent_wire"] < c["sent_inflated"] // 10        # really compressed
    assert c["received_wire"] < c["received_inflated"] // 10


def test_exact_parameters_are_offered_and_honoured(probe, corpus):
    p = corpus.py_deflate()
    offer = "client_no_context_takeover,server_max_window_bits=10"
    with open_raw(p.port, extensions="permessage-deflate; client_no_context_takeover; "
                  "server_max_window_bits=10") as c:
        answer = c.response.header("Sec-WebSocket-Extensions")
    assert "server_max_window_bits=10" in answer
    j = expect(probe(p.url("/"), "--compress=" + offer, "--send", MSG, "--send", MSG,
                     "--expect-text", MSG, "--expect-text", MSG), "OK")
    c = compression(j)
    assert c["offered"] == ("permessage-deflate; client_no_context_takeover; "
                            "server_max_window_bits=10")
    assert "client_no_context_takeover" in c["params"]
    assert "server_max_window_bits=10" in c["params"]


def test_what_wsprobe_sends_inflates_with_an_independent_zlib(probe, peers):
    """The hostile peer accepts the offer, inflates each message with Python's zlib and logs
    it: the bytes wsprobe compressed are the message, with RSV1 on the frame."""
    h = peers.hostile("deflate-echo", headers=[DEFLATE])
    j = expect(probe(h.url("/"), "--compress", "--send", MSG, "--expect-text", MSG), "OK")
    assert compression(j)["accepted"] is True
    evs = h.events(wait_for=lambda e: any(x.get("event") == "inflated" for x in e))
    inflated = [e for e in evs if e.get("event") == "inflated"]
    assert inflated and inflated[-1]["rsv"] == 4 and inflated[-1]["length"] == len(MSG)
    assert bytes.fromhex(inflated[-1]["data"]) == MSG.encode()[:64]
    assert inflated[-1]["wire"] < len(MSG) // 10


def test_a_server_without_deflate_declines_and_messages_go_plain(probe, corpus):
    p = corpus.node_ws("echo")
    j = expect(probe(p.url("/"), "--compress", "--send", "hi", "--expect-text", "hi"), "OK")
    c = compression(j)
    assert c["accepted"] is False and c["params"] is None
    assert c["sent_wire"] == 0 and j["ws"]["extensions"] == []


BAD_ANSWERS = [
    ("no-value", "permessage-deflate; client_max_window_bits", "client_max_window_bits"),
    ("too-big", "permessage-deflate; server_max_window_bits=16", "server_max_window_bits"),
    ("unknown", "permessage-deflate; x_compression_level=9", "x_compression_level"),
    ("duplicate", "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
     "server_no_context_takeover"),
    ("twice", "permessage-deflate, permessage-deflate", "twice"),
    ("leading-zero", "permessage-deflate; server_max_window_bits=09", "server_max_window_bits"),
]


@pytest.mark.parametrize("case", BAD_ANSWERS, ids=[b[0] for b in BAD_ANSWERS])
def test_a_broken_negotiation_answer_is_hs_negotiation_naming_the_parameter(probe, peers, case):
    _, answer, named = case
    h = peers.hostile("echo", headers=["Sec-WebSocket-Extensions: " + answer])
    r = probe(h.url("/"), "--compress", "--send", "x")
    j = expect(r, "HS_NEGOTIATION")
    assert named in j["message"], j["message"]
    assert j["failed_phase"] == "upgrade"


def test_an_answer_above_the_offered_window_is_refused(probe, peers):
    h = peers.hostile("echo", headers=[DEFLATE + "; server_max_window_bits=12"])
    j = expect(probe(h.url("/"), "--compress=server_max_window_bits=10", "--send", "x"),
               "HS_NEGOTIATION")
    assert "server_max_window_bits=12" in j["message"] and "10" in j["message"]


@pytest.mark.parametrize("mode,code,words", [
    ("deflate-bomb", 1009, "limit"),
    ("deflate-garbage", 1007, "deflate"),
    ("deflate-control", 1002, "RSV1"),
])
def test_bad_compressed_input_is_ws_protocol(probe, peers, mode, code, words):
    h = peers.hostile(mode, headers=[DEFLATE])
    j = expect(probe(h.url("/"), "--compress", "--max-message", "64K", "--send", "x",
                     "--expect-text", "never"), "WS_PROTOCOL")
    assert j["ws"]["close_code"] == code, j["ws"]
    assert words.lower() in j["message"].lower(), j["message"]
    # the close frame wsprobe sent carries the code (from the peer's log of our frames)
    evs = h.events(wait_for=lambda e: any(x.get("opcode") == 8 for x in e))
    closes = [e for e in evs if e.get("event") == "frame" and e.get("opcode") == 8]
    assert closes and int(closes[-1]["payload"][:4], 16) == code


def test_rsv1_without_negotiation_is_ws_protocol_even_with_compress_offered(probe, peers):
    """The hostile peer ignores the offer (no extension in its 101) and sends RSV1 anyway."""
    h = peers.hostile("rsv1")
    j = expect(probe(h.url("/"), "--compress", "--send", "x", "--expect-text", "never"),
               "WS_PROTOCOL")
    assert compression(j)["accepted"] is False


@pytest.mark.parametrize("value", ["", "foo", "server_max_window_bits=16",
                                   "client_no_context_takeover,client_no_context_takeover"])
def test_bad_compress_parameters_are_usage_errors(wsprobe, value):
    r = wsprobe("probe", "ws://127.0.0.1:9/", "--compress=" + value, "--json")
    assert r.rc == 2, r
    assert "--compress" in r.stderr


def test_plan_compress_key(wsprobe, corpus, tmp_path):
    p = corpus.py_deflate()
    for value in ("true", '"client_no_context_takeover"'):
        plan = tmp_path / "plan.yaml"
        plan.write_text("environments:\n  x:\n    url: %s\n    compress: %s\n"
                        "checks:\n  - conversation:\n      name: c\n      send: %s\n"
                        "      expect: {text: %s}\n" % (p.url("/"), value, json.dumps(MSG),
                                                       json.dumps(MSG)))
        r = wsprobe("run", plan, "--env", "x", "--json")
        assert r.rc == 0, r
        assert r.json["summary"]["failed"] == 0, r.json
    plan.write_text("environments:\n  x:\n    url: %s\n    compress: 'server_max_window_bits=99'\n"
                    "checks:\n  - connect\n" % p.url("/"))
    r = wsprobe("run", plan, "--env", "x", "--json")
    assert r.rc == 2 and "compress" in r.stderr, r


# ---------------------------------------------------------------------------------------------
# serve's side: permessage-deflate accepted by default, its inflate cap, --no-compress

import asyncio  # noqa: E402
import socket  # noqa: E402
import zlib  # noqa: E402

import websockets  # noqa: E402

from serve_helpers import (FrameReader, frame, mint, read_head, start_serve,  # noqa: E402
                           upgrade_request)

OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"


def deflate_raw(data, bits=15):
    z = zlib.compressobj(6, zlib.DEFLATED, -bits)
    return (z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH))[:-4]


def health_of(srv):
    from serve_helpers import http_get
    return json.loads(http_get(srv, "/health")[2])


def compressed_ws(srv, extra=(OFFER,)):
    """A raw client that offered permessage-deflate: (socket, reader, the answer)."""
    s = socket.create_connection(("127.0.0.1", srv.port()), timeout=5)
    s.sendall(upgrade_request(srv, token=mint(), extra=list(extra)))
    status, hdrs, rest = read_head(s)
    assert status == 101
    return s, FrameReader(s, rest), hdrs.get("sec-websocket-extensions")


def test_serve_accepts_deflate_from_python_websockets(tmp_path):
    """python3-websockets' client (compression="deflate", its default) against serve --echo:
    the answer, and compressed round trips both ways."""
    srv = start_serve(tmp_path, "--echo", tls=False)

    async def go():
        async with websockets.connect(srv.url(), extra_headers={"Authorization":
                                                                "Bearer " + mint()},
                                      compression="deflate") as ws:
            got = []
            for _ in range(3):
                await ws.send(MSG)
                got.append(await ws.recv())
            return ws.response_headers.get("Sec-WebSocket-Extensions"), got

    try:
        answer, got = asyncio.run(asyncio.wait_for(go(), 20))
        assert answer == ("permessage-deflate; server_no_context_takeover; "
                          "client_no_context_takeover; client_max_window_bits=12")
        assert got == [MSG] * 3
    finally:
        srv.stop()


def test_serve_compresses_its_frames_and_inflates_ours_from_the_wire(tmp_path):
    srv = start_serve(tmp_path, "--echo", tls=False)
    try:
        s, rd, answer = compressed_ws(srv)
        assert answer.startswith("permessage-deflate")
        s.sendall(frame(0x1, deflate_raw(MSG.encode(), 12), rsv=0x40))
        b0 = None
        rd._need(2, time.monotonic() + 5)
        b0 = rd.buf[0]
        op, payload = rd.next()
        assert op == 0x1 and b0 & 0x40, "the echo is compressed (RSV1)"
        assert zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff") == MSG.encode()
        assert len(payload) < len(MSG) // 10
        s.close()
        # --no-compress: the same offer gets no extension, and RSV1 is a protocol error
    finally:
        srv.stop()
    srv = start_serve(tmp_path / "nc", "--echo", "--no-compress", tls=False)
    try:
        s, rd, answer = compressed_ws(srv)
        assert answer is None
        s.sendall(frame(0x1, deflate_raw(b"x"), rsv=0x40))
        assert rd.close_code() == 1002
        s.close()
    finally:
        srv.stop()


@pytest.mark.parametrize("unsafe", [False, True], ids=["hardened", "unsafe-no-inflate-limit"])
def test_serve_decompression_bomb(tmp_path, unsafe):
    """1 MiB of zeros compressed to about 1 KiB, against --max-message 64K: closed 1009 without
    the server growing; with --unsafe-no-inflate-limit it is inflated and echoed."""
    args = ["--echo", "--max-message", "64K"] + (["--unsafe-no-inflate-limit"] if unsafe else [])
    srv = start_serve(tmp_path, *args, tls=False)
    try:
        s, rd, _ = compressed_ws(srv)
        bomb = deflate_raw(b"\0" * (1 << 20), 12)
        assert len(bomb) < 4096
        s.sendall(frame(0x1, bomb, rsv=0x40))
        if unsafe:
            op, payload = rd.next(timeout=10)
            assert op == 0x1
            out = zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")
            assert out == b"\0" * (1 << 20)
        else:
            assert rd.close_code() == 1009
        s.close()
    finally:
        srv.stop()


def test_memory_per_idle_compressed_connection(tmp_path):
    """500 connections that negotiated permessage-deflate and exchanged one compressed message
    each, then sit idle, against 500 plain ones: serve keeps no zlib state between messages
    (both no_context_takeover parameters), so the difference per connection is small."""
    figures, sanitized = {}, {}
    for kind in ("plain", "deflate"):
        srv = start_serve(tmp_path / kind, "--echo", "--max-conns-per-ip", "1000", tls=False)
        held = []
        try:
            rss0 = srv.rss_kib()
            for i in range(500):
                s = socket.socket()
                s.bind(("127.0.0.%d" % (2 + i % 20), 0))
                s.settimeout(5)
                s.connect(("127.0.0.1", srv.port()))
                s.sendall(upgrade_request(srv, token=mint(),
                                          extra=[OFFER] if kind == "deflate" else []))
                status, _, rest = read_head(s)
                assert status == 101
                body = MSG.encode()
                s.sendall(frame(0x1, deflate_raw(body, 12), rsv=0x40) if kind == "deflate"
                          else frame(0x1, body))
                FrameReader(s, rest).next()
                held.append(s)
            time.sleep(0.3)
            figures[kind] = (srv.rss_kib() - rss0) / 500.0
            assert health_of(srv)["zlib_streams"] == 0  # nothing held while idle
            with open("/proc/%d/maps" % srv.proc.pid) as maps:
                sanitized[kind] = "libasan" in maps.read()
        finally:
            for s in held:
                s.close()
            srv.stop()
    print("\nserve RSS per idle connection: plain %.1f KiB, compressed %.1f KiB"
          % (figures["plain"], figures["deflate"]))
    if not sanitized["deflate"]:  # ASan's quarantine holds what zlib freed: RSS says nothing
        assert figures["deflate"] - figures["plain"] < 16  # a held compressor: ~64 KiB


def test_load_compresses_every_message_even_pipelined(wsprobe, peers):
    """Batched frames would leave uncompressed: on a compressed connection load sends each
    message through the connection. The hostile peer's deflate-echo logs RSV1 per message."""
    h = peers.hostile("deflate-echo", headers=[DEFLATE])
    r = wsprobe("load", h.url("/"), "--compress", "--connections", "2", "--rate", "400",
                "--pipeline", "16", "--timer-slack", "5ms", "--duration", "1s", "--message",
                MSG, "--echo", "--threshold", "rate>=1", "--json")  # RSV1 is the point, not
    # the rate: the Python peer inflating and deflating each message is slow under ASan
    assert r.rc == 0, r
    evs = h.events(wait_for=lambda e: len([x for x in e if x.get("event") == "inflated"]) >=
                   r.json["messages"]["sent"])
    inflated = [e for e in evs if e.get("event") == "inflated"]
    assert len(inflated) >= 300 and all(e["rsv"] == 4 for e in inflated)
