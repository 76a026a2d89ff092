"""--trace FILE (issue 14, docs/cli.md "Trace"): every head and every frame each way, as JSON
lines, redacted. What the peer did is known from the peer (python3-websockets' echo sends
back what it gets; the hostile peer's `fragments` mode sends each echo in three frames), and
the trace must show exactly that.

Run: WSPROBE=build/wsprobe /usr/bin/python3 -m pytest tests/e2e/test_trace.py
"""
import json
import os

import pytest

from serve_helpers import mint

SECRET_TOKEN_SIG = "trace-secret-signature-xyz"


def lines(path):
    out = []
    for raw in path.read_text().splitlines():
        out.append(json.loads(raw))  # every line is one JSON object
    return out


def test_probe_trace_shows_heads_and_frames(wsprobe, peers, tmp_path):
    echo = peers.echo()
    t = tmp_path / "trace.jsonl"
    r = wsprobe("probe", echo.url("/"), "--send", "hello trace", "--expect-text", "hello trace",
                "--send-binary", "hex:00ff7f", "--expect-binary", "hex:00ff7f", "--ping",
                "--trace", t, "--json")
    assert r.rc == 0, r
    ev = lines(t)
    assert {e["conn"] for e in ev} == {1}
    assert all(e["dir"] in ("in", "out") and e["ms"] >= 0 for e in ev)
    heads = [e for e in ev if e["kind"] == "http"]
    assert heads[0]["dir"] == "out" and heads[0]["head"].startswith("GET / HTTP/1.1\r\n")
    assert "Upgrade: websocket" in heads[0]["head"]
    assert heads[1]["dir"] == "in" and heads[1]["head"].startswith("HTTP/1.1 101")
    out = [e for e in ev if e["kind"] == "frame" and e["dir"] == "out"]
    assert [f["opcode"] for f in out] == ["text", "binary", "ping", "close"]
    assert out[0]["text"] == "hello trace" and out[0]["length"] == 11 and out[0]["masked"]
    assert out[1]["hex"] == "00ff7f"
    assert out[3]["hex"] == "03e8"  # close 1000
    # the echo: one unmasked frame per message, then the message as delivered
    inbound = [e for e in ev if e["dir"] == "in" and e["kind"] != "http"]
    frames = [e for e in inbound if e["kind"] == "frame"]
    assert [f["opcode"] for f in frames] == ["text", "binary", "pong", "close"]
    assert not any(f["masked"] for f in frames)
    msgs = [e for e in inbound if e["kind"] == "message"]
    assert msgs[0]["text"] == "hello trace" and msgs[1]["hex"] == "00ff7f"
    assert msgs[-1]["opcode"] == "close" and msgs[-1]["close_code"] == 1000
    # the times only grow
    assert [e["ms"] for e in ev] == sorted(e["ms"] for e in ev)


def test_fragments_are_traced_one_by_one(wsprobe, peers, tmp_path):
    bad = peers.hostile("fragments")
    t = tmp_path / "trace.jsonl"
    r = wsprobe("probe", bad.url("/"), "--send", "abcdefghi", "--expect-text", "abcdefghi",
                "--trace", t)
    assert r.rc == 0, r
    frames = [e for e in lines(t) if e["kind"] == "frame" and e["dir"] == "in"
              and e["opcode"] in ("text", "continuation")]
    assert [(f["opcode"], f["fin"]) for f in frames][:3] == [
        ("text", False), ("continuation", False), ("continuation", True)]
    assert sum(f["length"] for f in frames[:3]) == 9
    msg = [e for e in lines(t) if e["kind"] == "message" and e["opcode"] == "text"][0]
    assert msg["frames"] == 3 and msg["text"] == "abcdefghi"


def test_trace_is_redacted(wsprobe, peers, tmp_path):
    echo = peers.echo()
    token = mint() + SECRET_TOKEN_SIG
    t = tmp_path / "trace.jsonl"
    r = wsprobe("probe", echo.url("/ws?access_token=q-" + SECRET_TOKEN_SIG), "--token-env", "TOK",
                "--header", "Cookie: session=cookie-" + SECRET_TOKEN_SIG,
                "--send", '{"echo":"%s"}' % token, "--trace", t, env={"TOK": token})
    assert r.rc == 0, r
    text = t.read_text()
    assert SECRET_TOKEN_SIG not in text
    assert "[redacted]" in text
    assert SECRET_TOKEN_SIG not in r.stdout + r.stderr


def test_load_trace_many_connections(wsprobe, peers, tmp_path):
    echo = peers.echo()
    t = tmp_path / "trace.jsonl"
    r = wsprobe("load", echo.url("/"), "--connections", "8", "--duration", "1s", "--rate", "40",
                "--message", "m", "--echo", "--threshold", "rate>=1", "--trace", t, "--json",
                timeout=60)
    assert r.rc == 0, r
    ev = lines(t)  # written from the workers' threads: still whole lines
    assert len({e["conn"] for e in ev}) == 8
    assert sum(1 for e in ev if e["kind"] == "frame" and e["dir"] == "out"
               and e["opcode"] == "text") >= 8


def test_run_plan_trace(wsprobe, peers, tmp_path):
    echo = peers.echo()
    plan = tmp_path / "plan.yaml"
    plan.write_text("environments:\n  x:\n    url: %s\nchecks:\n  - conversation:\n"
                    "      name: c\n      send: hi\n      expect: {text: hi}\n" % echo.url("/"))
    t = tmp_path / "trace.jsonl"
    r = wsprobe("run", plan, "--env", "x", "--trace", t, "--json")
    assert r.rc == 0, r
    assert any(e["kind"] == "message" and e.get("text") == "hi" for e in lines(t))


def test_trace_that_cannot_be_written(wsprobe, peers, tmp_path):
    echo = peers.echo()
    full = tmp_path / "full"
    try:
        os.mknod(full, 0o666 | 0o020000, os.makedev(1, 7))  # a /dev/full of our own
    except PermissionError:
        pytest.skip("mknod needs root")
    r = wsprobe("probe", echo.url("/"), "--send", "x", "--trace", full)
    assert r.rc == 71, r
    assert "OUTPUT_FAILED" in r.stderr and "--trace" in r.stderr
    r = wsprobe("probe", echo.url("/"), "--trace", tmp_path / "no" / "such" / "dir")
    assert r.rc == 2, r
