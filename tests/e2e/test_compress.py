"""permessage-deflate (RFC 7692) in the client: `--compress` and `--compress=PARAMS` against
servers this project did not write (python3-websockets, Node `ws` with perMessageDeflate) and
against the hostile peer (negotiation answers that break RFC 7692 section 7, RSV1 without
negotiation, a compressed ping, garbage, a decompression bomb).

What each server really did comes from the wire first: the raw client of corpus_peers.py shows
the server's answer to the same offer, and the hostile peer's deflate-echo mode inflates what
wsprobe sent (with zlib, in Python) and logs it, so the compression itself is checked by a
decompressor that is not ours.
"""
import json

import pytest

from corpus_peers import corpus, expect, open_raw  # noqa: F401

MSG = json.dumps({"type": "chat", "content": "hello " * 500})  # 3 KiB, compresses well
DEFLATE = "Sec-WebSocket-Extensions: permessage-deflate"


def compression(j):
    c = j["ws"].get("compression")
    assert c is not None, j
    return c


@pytest.mark.parametrize("peer", ["python-websockets", "node-ws"])
def test_compressed_echo_against_real_servers(probe, corpus, peer):
    p = corpus.py_deflate() if peer == "python-websockets" else corpus.node_ws("deflate")
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
