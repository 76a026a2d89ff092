"""Binary messages (issue 14): `--send-binary @FILE|hex:...|base64:...` and `--expect-binary`
(exact, or `sha256:HEX`) against servers this project did not write (python3-websockets, Node
`ws`) and `wsprobe serve --echo`.

The raw client of corpus_peers.py first shows that each peer echoes a binary frame as a binary
frame (opcode 2) byte for byte; then wsprobe's verdicts are stated.
"""
import base64
import hashlib
import os

import pytest

from corpus_peers import OP_BINARY, corpus, expect, open_raw  # noqa: F401
from serve_helpers import start_serve

BLOB = bytes(range(256)) * 12 + os.urandom(1000)  # every byte value, NULs included


def echo_peer(corpus, name):
    return corpus.py_deflate() if name == "python-websockets" else corpus.node_ws("echo")


@pytest.mark.parametrize("name", ["python-websockets", "node-ws"])
def test_peer_echoes_binary_frames(corpus, name):
    p = echo_peer(corpus, name)
    with open_raw(p.port) as c:
        c.send_frame(OP_BINARY, BLOB)
        f = c.recv(3)
        assert f.opcode == OP_BINARY and f.payload == BLOB


@pytest.mark.parametrize("name", ["python-websockets", "node-ws"])
def test_send_and_expect_binary(probe, corpus, tmp_path, name):
    p = echo_peer(corpus, name)
    blob = tmp_path / "blob.bin"
    blob.write_bytes(BLOB)
    digest = hashlib.sha256(BLOB).hexdigest()
    j = expect(probe(p.url("/"), "--send-binary", "@%s" % blob, "--expect-binary",
                     "sha256:" + digest, "--send-binary", "hex:00ff10", "--expect-binary",
                     "base64:AP8Q", "--send-binary", "base64:" +
                     base64.urlsafe_b64encode(b"\xfb\xff").decode().rstrip("="),
                     "--expect-binary", "hex:fb ff"), "OK")
    steps = j["steps"]
    assert [s["ok"] for s in steps] == [True] * 6
    assert steps[0]["binary"]["length"] == len(BLOB)
    assert base64.b64decode(steps[0]["binary"]["base64"]) == BLOB
    assert steps[1]["binary"] == {"sha256": digest}
    assert base64.b64decode(steps[3]["binary"]["base64"]) == b"\x00\xff\x10"


def test_binary_mismatch_shows_hex(probe, tmp_path):
    srv = start_serve(tmp_path, "--echo", tls=False)
    try:
        r = probe(srv.url(), "--jwt-secret-env", "WSP_SERVE_TEST_SECRET", "--send-binary",
                  "hex:00ff10", "--expect-binary", "hex:00ff11", "--strict-order",
                  env={"WSP_SERVE_TEST_SECRET": "serve-e2e-secret-0123456789abcdef-0123456789"})
        j = expect(r, "WS_EXPECT_MISMATCH")
        assert "00ff10" in j["steps"][1]["detail"], j["steps"]
    finally:
        srv.stop()


def test_a_text_message_does_not_satisfy_a_binary_expectation(probe, corpus):
    p = corpus.py_deflate()
    j = expect(probe(p.url("/"), "--send", "AP8Q", "--expect-binary", "base64:AP8Q",
                     "--timeout", "1s"), "WS_EXPECT_MISMATCH")  # messages came, none matched
    assert j["steps"][1]["skipped"] == 1


@pytest.mark.parametrize("spec", ["hex:0", "hex:zz", "base64:!!!", "sha256:abc", "plain",
                                  "@/nonexistent/blob"])
def test_bad_binary_specs_are_usage_errors(wsprobe, spec):
    r = wsprobe("probe", "ws://127.0.0.1:9/", "--expect-binary" if spec.startswith("sha")
                else "--send-binary", spec, "--json")
    assert r.rc == 2, r
    assert "binary" in r.stderr


@pytest.mark.parametrize("cmd,opt", [("load", "--expect-binary"), ("security", "--send-binary"),
                                     ("security", "--expect-binary")])
def test_commands_without_binary_conversations_refuse_the_options(wsprobe, cmd, opt):
    """load matches replies by JSON, text or echo and security sends its own messages: a binary
    option there would be ignored (a green that is not true), so it is refused."""
    extra = ["--rate", "1", "--duration", "1s"] if cmd == "load" else []
    r = wsprobe(cmd, "ws://127.0.0.1:9/", opt, "hex:00", *extra)
    assert r.rc == 2 and opt in r.stderr, r


def test_binary_in_a_plan_conversation(wsprobe, corpus, tmp_path):
    p = corpus.py_deflate()
    blob = tmp_path / "blob.bin"
    blob.write_bytes(BLOB)
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "environments:\n  x:\n    url: %s\nchecks:\n  - conversation:\n      name: bin\n"
        "      send_binary: ['@%s', 'hex:00ff10']\n"
        "      expect: [{binary: 'sha256:%s'}, {binary: 'base64:AP8Q'}]\n"
        % (p.url("/"), blob, hashlib.sha256(BLOB).hexdigest()))
    r = wsprobe("run", plan, "--env", "x", "--json")
    assert r.rc == 0, r
    assert r.json["summary"]["failed"] == 0
    # a wrong expectation fails the check (not a silent pass)
    plan.write_text(plan.read_text().replace("base64:AP8Q", "base64:AP8R"))
    r = wsprobe("run", plan, "--env", "x", "--json")
    assert r.rc == 1, r
    # a spec that does not decode is a plan error with its location
    plan.write_text(plan.read_text().replace("hex:00ff10", "hex:0"))
    r = wsprobe("run", plan, "--env", "x", "--json")
    assert r.rc == 2 and "send_binary" in r.stderr, r


def test_load_sends_binary_messages(wsprobe, corpus):
    """load --send-binary: binary frames on the schedule, matched by --echo (the same bytes)."""
    p = corpus.py_deflate()
    r = wsprobe("load", p.url("/"), "--send-binary", "hex:00ff10203040", "--echo",
                "--connections", "4", "--rate", "200", "--duration", "1s", "--json")
    assert r.rc == 0, r
    m = r.json["messages"]
    assert m["sent"] >= 150 and m["matched"] == m["sent"] and m["mismatched"] == 0
