"""The close rules of RFC 6455 section 7, the expectations that skip what is not theirs, the
headers a user may not set, handshake strictness, and no signal deaths (issue 10).

The truth of each case is what the peer really does, shown first with an independent client
(python3-websockets or a raw socket), then wsprobe's verdict is asserted against it: exit code,
class and the JSON fields. Peers: tests/e2e/peers/ws_echo.py (python3-websockets) and
tests/e2e/peers/hostile.py (raw sockets).
"""
import asyncio
import json
import socket
import time

import pytest
import websockets

from conftest import assert_report, exit_codes, run_wsprobe

EXIT = exit_codes()


def expect(r, cls):
    assert_report(r)
    assert r.json["class"] == cls, "expected %s\n%s" % (cls, r)
    assert r.rc == EXIT[cls], "expected exit %d for %s\n%s" % (EXIT[cls], cls, r)
    return r.json


def what_the_server_does(url, send=None):
    """(messages received, close code, close reason) as python3-websockets' client sees them:
    the independent truth for a case."""
    async def go():
        got = []
        async with websockets.connect(url, open_timeout=5, close_timeout=2) as ws:
            if send is not None:
                await ws.send(send)
            try:
                while True:
                    got.append(await asyncio.wait_for(ws.recv(), 2))
            except websockets.ConnectionClosed as e:
                return got, e.rcvd.code if e.rcvd else None, e.rcvd.reason if e.rcvd else None
            except asyncio.TimeoutError:
                return got, None, None
    return asyncio.run(go())


# --- a server's close is the server's, whenever it comes ------------------------------------

@pytest.mark.parametrize("code", [1002, 4001, 1011])
def test_a_close_right_after_the_upgrade_is_the_servers(probe, peers, code):
    url = peers.echo().url("/closeopen/%d" % code)
    assert what_the_server_does(url) == ([], code, "closing with %d" % code)
    j = expect(probe(url), "WS_CLOSED")
    assert j["ws"]["closed_by"] == "server" and j["ws"]["close_code"] == code, j
    assert j["ws"]["close_reason"] == "closing with %d" % code, j


def test_close_1002_hint_names_the_subprotocol_option(probe, peers):
    j = expect(probe(peers.echo().url("/closeopen/1002")), "WS_CLOSED")
    assert "--subprotocol" in j["hint"], j


def test_close_1009_hint_names_the_size_limit(probe, peers):
    j = expect(probe(peers.echo().url("/closeopen/1009")), "WS_CLOSED")
    assert "size limit" in j["hint"], j


def test_connections_are_not_ok_when_each_is_closed_at_once(wsprobe, peers):
    url = peers.echo().url("/closeopen/4001")
    r = wsprobe("probe", url, "--connections", "5", "--json")
    assert r.rc == EXIT["WS_CLOSED"], r


def test_wait_does_not_pass_a_server_that_closes_every_connection(wsprobe, peers):
    url = peers.echo().url("/closeopen/1011")
    r = wsprobe("wait", url, "--deadline", "2s", "--json", timeout=15)
    # wait stops at once on a class retrying cannot fix, or runs out of time: never a pass
    assert r.rc in (EXIT["WS_CLOSED"], EXIT["WAIT_DEADLINE"]), r
    assert r.json["class"] in ("WS_CLOSED", "WAIT_DEADLINE"), r


def test_reply_then_close_1011_is_not_ok(probe, peers):
    url = peers.echo().url("/reply-close/1011")
    assert what_the_server_does(url, send="hi") == (["hi"], 1011, "closing with 1011")
    j = expect(probe(url, "--send", "hi", "--expect-text", "hi", "--timeout", "2s"), "WS_CLOSED")
    assert j["ws"]["closed_by"] == "server" and j["ws"]["close_code"] == 1011, j


def test_a_normal_close_after_the_last_expectation_is_ok(probe, peers):
    url = peers.echo().url("/reply-close/1000")
    assert what_the_server_does(url, send="hi") == (["hi"], 1000, "closing with 1000")
    expect(probe(url, "--send", "hi", "--expect-text", "hi", "--timeout", "2s"), "OK")


def test_a_normal_close_before_the_expectation_held_is_ws_closed(probe, peers):
    url = peers.echo().url("/close/1000")
    j = expect(probe(url, "--send", "hi", "--expect-text", "hi", "--timeout", "2s"), "WS_CLOSED")
    assert j["ws"]["close_code"] == 1000 and j["ws"]["closed_by"] == "server", j


def test_a_close_without_status_reads_as_1005(probe, peers):
    peer = peers.hostile("close-nostatus")
    j = expect(probe(peer.url("/"), "--send", "x", "--expect-text", "x", "--timeout", "2s"),
               "WS_CLOSED")
    assert j["ws"]["close_code"] == 1005 and j["ws"]["closed_by"] == "server", j


def test_our_close_acknowledged_by_the_echo(probe, peers):
    j = expect(probe(peers.echo().url("/"), "--send", "x", "--expect-text", "x"), "OK")
    assert j["ws"]["closed_by"] == "client" and j["ws"]["close_acknowledged"] is True, j
    assert j["ws"]["close_code"] == 1000, j


# --- --expect-close ---------------------------------------------------------------------------

def test_expect_close_names_the_code(probe, peers):
    j = expect(probe(peers.echo().url("/closeopen/4001"), "--expect-close", "4001"), "OK")
    assert j["ws"]["close_code"] == 4001 and j["ws"]["closed_by"] == "server", j


def test_expect_close_list(probe, peers):
    expect(probe(peers.echo().url("/closeopen/4003"), "--expect-close", "4001,4003"), "OK")


def test_expect_close_another_code_is_a_mismatch(probe, peers):
    j = expect(probe(peers.echo().url("/closeopen/4001"), "--expect-close", "1000"),
               "WS_EXPECT_MISMATCH")
    assert j["ws"]["close_code"] == 4001, j


def test_expect_close_after_a_conversation(probe, peers):
    url = peers.echo().url("/reply-close/4000")
    expect(probe(url, "--send", "a", "--expect-text", "a", "--expect-close", "4000",
                 "--timeout", "2s"), "OK")


def test_expect_close_too_early_is_ws_closed(probe, peers):
    # the server closes 4001 before anything comes back: the expectation did not hold
    url = peers.echo().url("/closeopen/4001")
    expect(probe(url, "--send", "a", "--expect-text", "a", "--expect-close", "4001",
                 "--timeout", "1s"), "WS_CLOSED")


def test_expect_close_that_never_comes_is_a_timeout(probe, peers):
    j = expect(probe(peers.echo().url("/"), "--expect-close", "1000", "--timeout", "1s"),
               "WS_MSG_TIMEOUT")
    assert j["ws"]["closed_by"] == "client", j


@pytest.mark.parametrize("bad", ["1006", "999", "abc", "1000,", "5000"])
def test_expect_close_refuses_codes_no_server_sends(wsprobe, peers, bad):
    r = wsprobe("probe", peers.echo().url("/"), "--expect-close", bad)
    assert r.rc == EXIT["USAGE"], r


def test_expect_auth_required_passes_a_close_4001_without_send(probe, peers):
    j = expect(probe(peers.echo().url("/closeopen/4001"), "--expect-auth-required"), "OK")
    assert j["ws"]["close_code"] == 4001, j


def test_expect_auth_required_fails_a_server_that_keeps_the_client(probe, peers):
    expect(probe(peers.echo().url("/"), "--expect-auth-required", "--timeout", "1s"),
           "AUTH_NOT_ENFORCED")


# --- expectations skip what is not theirs -----------------------------------------------------

def test_expect_text_skips_a_greeting(probe, peers):
    url = peers.echo().url("/greet")
    assert what_the_server_does(url, send="hello")[0] == ["welcome", "hello"]
    j = expect(probe(url, "--send", "hello", "--expect-text", "hello"), "OK")
    assert j["steps"][1]["skipped"] == 1, j


def test_expect_regex_skips_a_greeting(probe, peers):
    expect(probe(peers.echo().url("/greet"), "--send", "hello", "--expect-regex", "^hel+o$"),
           "OK")


def test_strict_order_judges_the_next_message(probe, peers):
    j = expect(probe(peers.echo().url("/greet"), "--send", "hello", "--expect-text", "hello",
                     "--strict-order"), "WS_EXPECT_MISMATCH")
    assert "welcome" in j["message"], j


def test_strict_order_json(probe, peers):
    expect(probe(peers.echo().url("/greet"), "--send", '{"a":1}', "--expect-json", "/a=1",
                 "--strict-order"), "WS_EXPECT_MISMATCH")


def test_messages_that_never_match_are_a_mismatch_not_a_timeout(probe, peers):
    j = expect(probe(peers.echo().url("/"), "--send", "hi", "--expect-text", "nope",
                     "--timeout", "1s"), "WS_EXPECT_MISMATCH")
    assert j["steps"][1]["skipped"] == 1 and "hi" in j["message"], j


def test_nothing_at_all_is_a_timeout(probe, peers):
    expect(probe(peers.echo().url("/"), "--expect-text", "nope", "--timeout", "1s"),
           "WS_MSG_TIMEOUT")


# --- headers the user sets --------------------------------------------------------------------

RESERVED = ["Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Extensions: permessage-deflate",
            "Host: example.com", "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
            "sec-websocket-protocol: chat"]


@pytest.mark.parametrize("header", RESERVED)
def test_reserved_headers_are_a_usage_error_and_nothing_is_sent(wsprobe, header):
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(4)
    lsn.setblocking(False)
    try:
        url = "ws://127.0.0.1:%d/" % lsn.getsockname()[1]
        for cmd in ("probe", "wait", "security"):
            r = wsprobe(cmd, url, "-H", header, "--json")
            assert r.rc == EXIT["USAGE"], r
        with pytest.raises(BlockingIOError):
            lsn.accept()  # no connection was made
    finally:
        lsn.close()


def test_subprotocol_header_advice_names_the_option(wsprobe):
    r = wsprobe("probe", "ws://127.0.0.1:9/", "-H", "Sec-WebSocket-Protocol: chat")
    assert r.rc == EXIT["USAGE"] and "--subprotocol" in r.stderr, r


def test_an_ordinary_header_is_sent_once(probe, peers):
    j = probe(peers.echo().url("/headers"), "-H", "X-Team: blue", "--expect-regex", "x-team")
    assert j["ok"], j


# --- handshake strictness ---------------------------------------------------------------------

def test_http10_101_is_malformed(probe, peers):
    peer = peers.hostile("http10-101")
    raw = socket.create_connection(("127.0.0.1", peer.port), timeout=3)
    raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert raw.recv(4096).startswith(b"HTTP/1.0 101 ")
    raw.close()
    expect(probe(peer.url("/"), "--timeout", "2s"), "HS_MALFORMED")


# --- no signal deaths -------------------------------------------------------------------------

# The peer answers the upgrade, sends 200 pings and resets the connection at once: each pong
# (and the client's own message) is written to a socket that is already gone. Without SIGPIPE
# ignored, the second such write kills the process (exit 141, no report).
MIDWRITE = "pings-then-reset"


@pytest.fixture
def big_message(tmp_path):
    p = tmp_path / "big.txt"
    p.write_text("x" * (15 << 20))
    return "@%s" % p


def alive_after(r):
    """The process ended by itself with a report, not by a signal."""
    assert r.rc >= 0 and r.rc != 128 + 13, "killed by a signal\n%s" % r
    assert r.rc != 70, r


def test_probe_survives_a_peer_gone_mid_write(probe, peers, big_message):
    peer = peers.hostile(MIDWRITE)
    j = expect(probe(peer.url("/"), "--send", big_message, "--expect-text", "x",
                     "--timeout", "3s"), "WS_DROPPED")
    assert j["ws"]["close_code"] == 1006, j


def test_load_survives_a_peer_gone_mid_write(wsprobe, peers, big_message):
    peer = peers.hostile(MIDWRITE)
    r = wsprobe("load", peer.url("/"), "--connections", "3", "--rate", "30", "--duration", "1s",
                "--message", big_message, "--json", timeout=30)
    alive_after(r)
    assert r.json is not None and r.rc != 0, r


def test_wait_survives_a_peer_gone_mid_write(wsprobe, peers, big_message):
    peer = peers.hostile(MIDWRITE)
    r = wsprobe("wait", peer.url("/"), "--send", big_message, "--expect-text", "x",
                "--deadline", "2s", "--json", timeout=30)
    alive_after(r)
    assert r.rc == EXIT["WAIT_DEADLINE"] and r.json is not None, r


def test_security_survives_a_peer_gone_mid_write(wsprobe, peers):
    peer = peers.hostile(MIDWRITE)
    r = wsprobe("security", peer.url("/"), "--json", timeout=60)
    alive_after(r)
    assert r.json is not None, r


def test_run_survives_a_peer_gone_mid_write(wsprobe, peers, tmp_path, big_message):
    peer = peers.hostile(MIDWRITE)
    plan = tmp_path / "plan.yaml"
    plan.write_text("environments:\n  e:\n    url: %s\n    timeout: 2s\nchecks:\n"
                    "  - conversation:\n      send: '%s'\n      expect: {text: x}\n"
                    % (peer.url("/"), "y" * 100000))
    r = wsprobe("run", plan, "--env", "e", "--json", "-", timeout=30)
    alive_after(r)
    assert r.rc == 1, r


def test_load_echo_skips_a_greeting(wsprobe, peers):
    url = peers.echo().url("/greet")
    r = wsprobe("load", url, "--connections", "2", "--rate", "40", "--duration", "1s",
                "--message", "m-{{uuid}}", "--echo", "--json", timeout=30)
    assert r.rc == 0, r
    msgs = r.json["messages"]
    assert msgs["mismatched"] == 0 and msgs["unexpected"] == 2, msgs
    assert msgs["matched"] > 0, msgs


def test_load_exits_with_the_class_when_every_connection_failed(wsprobe, peers):
    url = peers.echo().url("/closeopen/1011")
    r = wsprobe("load", url, "--connections", "3", "--duration", "1s", "--json", timeout=30)
    assert r.rc == EXIT["WS_CLOSED"] and r.json["exit_code"] == r.rc, r


def test_a_plan_may_not_set_a_reserved_header(wsprobe, peers, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("environments:\n  e:\n    url: %s\n    headers:\n"
                    "      Sec-WebSocket-Protocol: chat\nchecks:\n  - connect\n"
                    % peers.echo().url("/"))
    r = wsprobe("run", plan, "--env", "e")
    assert r.rc == EXIT["USAGE"], r
    assert "plan.yaml:5:" in r.stderr and "subprotocol" in r.stderr, r


def test_http_bytes_after_the_101_are_shown(probe, peers):
    j = expect(probe(peers.hostile("http-after-101").url("/"), "--timeout", "2s"), "WS_PROTOCOL")
    assert "HTTP/1.1 400 Bad Request" in j["message"], j
    assert "proxy" in j["hint"], j


def test_a_close_never_answered_is_not_ok(probe, peers):
    # hostile "deaf" reads every frame (our close too) and never sends anything back
    j = expect(probe(peers.hostile("deaf").url("/"), "--send", "x", "--timeout", "1s"),
               "WS_DROPPED")
    assert j["ws"]["closed_by"] == "client" and j["ws"]["close_acknowledged"] is False, j


def test_security_reports_a_bad_url_with_its_own_exit_code(wsprobe):
    r = wsprobe("security", "http://127.0.0.1:9/", "--json")
    assert r.json["class"] == "URL_INVALID" and r.rc == EXIT["URL_INVALID"] == r.json["exit_code"]


def test_load_that_ends_at_once_took_no_negative_time(wsprobe, refused_port):
    r = wsprobe("load", "ws://127.0.0.1:%d/" % refused_port, "--connections", "2", "--duration",
                "1s", "--json", timeout=30)
    assert 0 <= r.json["elapsed_s"] < 30, r.json["elapsed_s"]


AUDIT_TOKEN = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJlMmUtYXVkaXQifQ."
               "c2lnbmF0dXJlLW9mLXRoZS10b2tlbg")


def test_audit_findings_never_quote_a_token(wsprobe, tmp_path):
    report = tmp_path / "r.xml"
    report.write_text(
        '<?xml version="1.0"?><testsuite name="s" tests="1"><testcase classname="ws" '
        'name="test_ws_auth[%s]" time="0.0001"><system-out>token=%s ok</system-out>'
        '</testcase></testsuite>' % (AUDIT_TOKEN, AUDIT_TOKEN))
    junit = tmp_path / "audit.xml"
    outs = []
    for args in (["--json", "-"], [], ["--junit", junit]):
        r = wsprobe("audit", report, "--floor", "test_ws_*=5ms", *args)
        assert r.rc == 1, r  # the floor finding is there
        outs.append(r.stdout + r.stderr)
    outs.append(junit.read_text())
    for text in outs:
        assert "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" not in text, text
        assert "c2lnbmF0dXJl" not in text, text


@pytest.mark.parametrize("header,place", [("Authorization: Bearer x", []),
                                          ("cookie: a=b", ["--auth-in", "cookie:token"])])
def test_a_credential_is_never_sent_twice(wsprobe, header, place):
    r = wsprobe("probe", "ws://127.0.0.1:9/", "-H", header, "--token-env", "TWICE_TOKEN",
                *place, env={"TWICE_TOKEN": "tok-twice-123456"})
    assert r.rc == EXIT["USAGE"] and "two" in r.stderr, r
    assert "tok-twice" not in r.stdout + r.stderr


def test_a_plans_marker_is_answered_for_this_connection(wsprobe, peers, tmp_path):
    # the peer acks, but with an id this connection never sent: not an answer to our marker
    peer = peers.hostile("mismatch", text='{"type":"ack","id":"another-connection"}')
    plan = tmp_path / "plan.yaml"
    plan.write_text("environments:\n  e:\n    url: %s\n    timeout: 1s\nchecks:\n"
                    "  - conversation\n" % peer.url("/"))
    r = wsprobe("run", plan, "--env", "e", "--json", "-")
    assert r.rc == 1, r
    check = r.json["checks"][0]
    assert check["verdict"] == "fail" and check["class"] == "WS_EXPECT_MISMATCH", check


def plan_of(tmp_path, url, conversation):
    plan = tmp_path / "plan.yaml"
    plan.write_text("environments:\n  e:\n    url: %s\n    timeout: 1s\nchecks:\n"
                    "  - conversation:\n%s" % (url, conversation))
    return plan


@pytest.mark.parametrize("conversation,verdict,cls", [
    ("      close: 4001\n", "pass", "OK"),
    ("      close: [4000, 4001]\n", "pass", "OK"),
    ("      close: 1000\n", "fail", "WS_EXPECT_MISMATCH"),
])
def test_a_plan_expects_a_close(wsprobe, peers, tmp_path, conversation, verdict, cls):
    plan = plan_of(tmp_path, peers.echo().url("/closeopen/4001"), conversation)
    r = wsprobe("run", plan, "--env", "e", "--json", "-")
    check = r.json["checks"][0]
    assert check["verdict"] == verdict and check["class"] == cls, check


def test_a_plan_close_code_no_server_sends_is_refused(wsprobe, peers, tmp_path):
    plan = plan_of(tmp_path, peers.echo().url("/"), "      close: 1006\n")
    r = wsprobe("run", plan, "--env", "e")
    assert r.rc == EXIT["USAGE"] and "plan.yaml:7:" in r.stderr, r


def test_a_plan_strict_order(wsprobe, peers, tmp_path):
    url = peers.echo().url("/greet")
    conv = "      send: hello\n      expect: {text: hello}\n"
    r = wsprobe("run", plan_of(tmp_path, url, conv), "--env", "e", "--json", "-")
    assert r.json["checks"][0]["verdict"] == "pass", r
    r = wsprobe("run", plan_of(tmp_path, url, conv + "      strict_order: true\n"), "--env", "e",
                "--json", "-")
    assert r.json["checks"][0]["class"] == "WS_EXPECT_MISMATCH", r
