"""`wsprobe security` against servers whose clients see each other's traffic: the checks must
not see each other. Each check's connections correlate replies with their own messages (the
marker's {{sent./id}}, expanded per connection); a broadcast of another connection's message
is skipped, not counted; the suite gives the same verdicts at --parallel 1 and at the default.

Peers: a chat relay on Node's `ws` (tests/node/broadcast_server.js, which this project did not
write the WebSocket stack of: every message goes to every client, the sender too, and a JSON
message with an id is acked with that id; with --skip-utf8 it relays invalid UTF-8 as it came),
and `wsprobe serve`, whose rooms broadcast every chat_message (docs/serve.md). What each peer
really does is shown first with a raw-socket client (serve_helpers), independent of wsprobe.
Skips with a reason when tests/node/node_modules is missing (`npm ci --prefix tests/node`).
"""
import json
import subprocess

import pytest

from conftest import read_ready, run_wsprobe, stop_process, _die_with_parent
from serve_helpers import (NODE_DIR, SECRET, SECRET_ENV, FrameReader, frame, mint, raw_ws,
                           require_node, start_serve)

# The truth about the Node relay: no credential (auth.missing fails: it serves anyone), any
# origin, no size limit (maxPayload 16 MiB), every message acked (malformed ones too: they
# carry an id) and relayed. With --skip-utf8 the invalid bytes come back: input.invalid_utf8
# fails; without it, ws closes 1007: it passes.
RELAY_TRUTH = {
    "auth.missing": "fail",
    "origin.foreign": "fail",
    "origin.bypass": "fail",
    "origin.missing": "pass",
    "input.invalid_utf8": "fail",
    "input.framing": "pass",
    "input.malformed": "fail",
    "input.xss": "fail",
    "limits.message_size": "fail",
    "limits.fragments": "fail",
    "limits.rate": "fail",
    "handshake.hygiene": "pass",
    "handshake.version": "pass",
}

RUNS = 5  # runs per setting: --parallel 1, then the default


class Relay:
    def __init__(self, proc, port):
        self.proc = proc
        self._port = port

    def port(self, tls=False):
        return self._port

    def url(self):
        return "ws://127.0.0.1:%d/ws" % self._port


@pytest.fixture
def relay(tmp_path):
    require_node()
    procs = []

    def start(*args):
        log = tmp_path / ("relay-%d.err" % len(procs))
        err = open(log, "wb")
        p = subprocess.Popen(["node", str(NODE_DIR / "broadcast_server.js"), *args],
                             stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                             cwd=NODE_DIR, preexec_fn=_die_with_parent)
        err.close()
        procs.append(p)
        port = read_ready(p)
        if port is None:
            pytest.fail("the Node relay did not start:\n%s" % log.read_text()[-2000:])
        return Relay(p, port)
    yield start
    for p in procs:
        stop_process(p)


def suite(url, *args, parallel=None, env=None):
    argv = ["security", url, "--json", "--timeout", "1s"] + list(args)
    if parallel is not None:
        argv += ["--parallel", str(parallel)]
    r = run_wsprobe(*argv, env=env, timeout=30)
    assert r.json is not None, str(r)
    return r


def verdicts(r):
    return {c["id"]: c["verdict"] for c in r["checks"]}


def check(r, cid):
    return [c for c in r["checks"] if c["id"] == cid][0]


def same_verdicts(url, *args, env=None, runs=RUNS):
    """The suite at --parallel 1 and at the default, `runs` times each: one verdict per check
    id across all of them (else the differing runs are reported). Returns those verdicts."""
    seen = {}
    for parallel in (1, None):
        for _ in range(runs):
            r = suite(url, *args, parallel=parallel, env=env)
            seen.setdefault(json.dumps(verdicts(r), sort_keys=True), []).append(
                (parallel or "default", r.stdout))
    assert len(seen) == 1, "the verdicts differ between runs:\n" + "\n".join(
        "%s x%d %s" % (v, len(runs_), [p for p, _ in runs_]) for v, runs_ in seen.items())
    return json.loads(next(iter(seen)))


# ---------------------------------------------------------------------------------------------
# What the peers really do (a raw-socket client, not wsprobe)

def test_the_node_relay_acks_with_the_id_and_broadcasts_to_everyone(relay):
    srv = relay("--skip-utf8")
    a, ra = raw_ws(srv)
    b, rb = raw_ws(srv)
    try:
        ra, rb = FrameReader(a, ra), FrameReader(b, rb)
        msg = json.dumps({"type": "chat_message", "content": "hi", "id": "A-1"}).encode()
        a.sendall(frame(0x1, msg))
        assert json.loads(ra.next()[1]) == {"type": "ack", "id": "A-1"}
        assert ra.next() == (0x1, msg)          # the sender gets the broadcast too
        assert rb.next() == (0x1, msg)          # and so does every other client
        a.sendall(frame(0x1, b"\xc3\x28"))       # invalid UTF-8: relayed as it came
        assert ra.next() == (0x1, b"\xc3\x28")
        assert rb.next() == (0x1, b"\xc3\x28")
    finally:
        a.close()
        b.close()
    srv = relay()                               # ws's own UTF-8 validation on
    a, ra = raw_ws(srv)
    try:
        a.sendall(frame(0x1, b"\xc3\x28"))
        assert FrameReader(a, ra).close_code() == 1007
    finally:
        a.close()


def test_serve_rooms_broadcast_each_chat_message_with_its_id(tmp_path):
    srv = start_serve(tmp_path / "serve", "--unsafe-no-limits", tls=False)
    try:
        a, ra = raw_ws(srv, token=mint("alice"))
        b, rb = raw_ws(srv, token=mint("bob"))
        ra, rb = FrameReader(a, ra), FrameReader(b, rb)
        a.sendall(frame(0x1, json.dumps({"type": "chat_message", "content": "x",
                                          "id": "A-1"}).encode()))
        assert json.loads(ra.next()[1]) == {"type": "ack", "id": "A-1"}
        got = json.loads(rb.next()[1])
        assert got["type"] == "chat_message" and got["id"] == "A-1" and got["room"] == "default"
        a.close()
        b.close()
    finally:
        srv.stop()


# ---------------------------------------------------------------------------------------------
# The suite against them

@pytest.mark.parametrize("marker", [[], ["--marker-expect", "/id={{sent./id}}"]],
                         ids=["default-marker", "sent-id-marker"])
def test_relay_verdicts_are_the_truth_at_any_parallelism(relay, marker):
    srv = relay("--skip-utf8")
    got = same_verdicts(srv.url(), "--include-staging-only", *marker)
    wrong = {c: (got.get(c), v) for c, v in RELAY_TRUTH.items() if got.get(c) != v}
    assert not wrong, "verdicts (got, truth): %s" % wrong
    assert "pass" not in {got[c] for c in got if c.startswith("auth.") and c != "auth.missing"}


def test_invalid_utf8_sent_back_fails_and_a_close_1007_passes(relay):
    srv = relay("--skip-utf8")
    c = check(suite(srv.url(), "--checks", "input.invalid_utf8"), "input.invalid_utf8")
    assert c["verdict"] == "fail", c
    ev = c["evidence"]["c3_28"]
    # the bytes came back: our own parser failed the connection (1007), not the server
    assert ev["outcome"] == "sent_back" and ev["server_sent_invalid_utf8"] is True
    assert ev["class"] == "WS_PROTOCOL" and "UTF-8" in ev["message"]
    srv = relay()
    c = check(suite(srv.url(), "--checks", "input.invalid_utf8"), "input.invalid_utf8")
    assert c["verdict"] == "pass", c
    ev = c["evidence"]["c3_28"]
    assert ev["outcome"] == "refused_after_open" and ev["server_sent_invalid_utf8"] is False
    assert ev["closed_by"] == "server" and ev["close_code"] == 1007


def test_a_broadcast_of_another_connection_is_skipped_not_counted(relay):
    """limits.rate against the relay: every burst message is acked once with its own id, and
    the relay sends every other check's messages to this connection too. Only this
    connection's acks count; the rest is skipped (skipped_foreign) or ours coming back."""
    srv = relay()
    r = suite(srv.url(), "--include-staging-only", "--checks",
              "limits.rate,input.xss,input.framing,limits.message_size")
    c = check(r, "limits.rate")
    assert c["verdict"] == "fail", c
    ev = c["evidence"]
    assert ev["acks"] == ev["burst_size"] == ev["sent"], ev
    # what was counted is this connection's own: its acks and its messages coming back (the
    # relay sends each to the sender too); nothing else passes for a throttling reply
    conn = ev["burst"]
    assert conn["received_messages"] == ev["acks"] + conn.get("echoes", 0), conn
    assert conn.get("echoes", 0) > 0, conn


@pytest.mark.parametrize("switch,truth", [
    (None, {"limits.message_size": "pass", "limits.fragments": "pass", "limits.rate": "pass",
            "input.invalid_utf8": "pass", "input.xss": "pass", "input.framing": "pass",
            "input.malformed": "pass", "origin.foreign": "pass"}),
    ("--unsafe-no-limits", {"limits.message_size": "fail", "limits.fragments": "fail",
                            "limits.rate": "fail", "input.invalid_utf8": "pass",
                            "input.xss": "pass", "input.framing": "pass",
                            "input.malformed": "pass", "origin.foreign": "pass"}),
], ids=["hardened", "no-limits"])
def test_serve_rooms_with_the_sent_id_marker(tmp_path, switch, truth):
    """Every connection of the suite is in serve's `default` room, so each chat_message is
    broadcast to all of them with its id; with --marker-expect /id={{sent./id}} a check counts
    only the replies to its own connection (truth: fail where serve has no limits)."""
    srv = start_serve(tmp_path / "serve", *([switch] if switch else []), tls=False)
    try:
        got = same_verdicts(srv.url(), "--include-staging-only", "--jwt-secret-env", SECRET_ENV,
                            "--checks", ",".join(sorted(truth)), "--marker-expect",
                            "/id={{sent./id}}", env={SECRET_ENV: SECRET})
    finally:
        srv.stop()
    assert got == truth
