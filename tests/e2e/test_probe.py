"""End-to-end tests of `wsprobe probe` against real peers on loopback (issue 2).

Each test starts (or reuses) real peers: Debian's python3-websockets server, nginx, dnsmasq,
the hostile server in peers/hostile.py, and asserts on the exit code, the JSON report's
"class" and the evidence fields that matter for the case. The peers are checked on their own,
with independent clients, in test_probe_peers.py.

Run: /usr/bin/python3 -m pytest tests/e2e/test_probe.py   (binary: $WSPROBE or build/wsprobe)
"""
import base64

import pytest

from conftest import assert_report, exit_codes

# Exit codes by class, read from docs/exit-codes.md (the contract; a unit test keeps the code
# equal to it).
EXIT = exit_codes()


def expect(r, cls):
    """The class and its exit code, both."""
    assert r.json["class"] == cls, "expected %s\n%s" % (cls, r)
    assert r.rc == EXIT[cls], "expected exit %d for %s\n%s" % (EXIT[cls], cls, r)
    return r.json


def not_upgraded(j):
    """Evidence of a handshake that did not complete: nothing was sent as WebSocket."""
    assert j["evidence"]["handshake_completed"] is False, j
    assert j["ws"]["sent_frames"] == 0 and j["ws"]["received_frames"] == 0, j


def frames(peer, conn=None, wait_closed=True):
    """Client frames the hostile peer logged (payload as bytes), for one connection."""
    evs = peer.events(wait_for=(lambda e: any(x["event"] == "closed" for x in e))
                      if wait_closed else None)
    out = []
    for e in evs:
        if e["event"] == "frame" and (conn is None or e["conn"] == conn):
            e = dict(e, payload=bytes.fromhex(e["payload"]))
            out.append(e)
    return out


def requests(peer):
    return [e for e in peer.events(wait_for=lambda e: any(x["event"] == "request" for x in e))
            if e["event"] == "request"]


def header(req, name):
    vals = [v for k, v in req["headers"] if k.lower() == name.lower()]
    return ", ".join(vals) if vals else None


# =============================================================================================
# Command line: usage, version, URL errors

def test_no_arguments_prints_usage_and_exits_2(wsprobe):
    r = wsprobe()
    assert r.rc == 2, r
    assert (r.stdout + r.stderr).strip(), r


def test_version_exits_0(wsprobe):
    r = wsprobe("--version")
    assert r.rc == 0 and r.stdout.strip(), r


@pytest.mark.parametrize("args", [["--help"], ["probe", "--help"]])
def test_help_exits_0(wsprobe, args):
    r = wsprobe(*args)
    assert r.rc == 0 and r.stdout.strip(), r


@pytest.mark.parametrize("args", [
    ["probe"],                                                    # no URL
    ["probe", "ws://127.0.0.1:9/", "--no-such-flag"],
    ["probe", "ws://127.0.0.1:9/", "--timeout", "soon"],
    ["probe", "ws://127.0.0.1:9/", "--timeout", "-1s"],
    ["probe", "ws://127.0.0.1:9/", "--deadline"],                 # missing value
    ["probe", "ws://127.0.0.1:9/", "--expect-text"],              # missing value
    ["probe", "ws://127.0.0.1:9/", "--send", "@/nonexistent/wsprobe-e2e-file"],
    ["probe", "ws://127.0.0.1:9/", "--resolve", "not-a-resolve-spec"],
    ["probe", "ws://127.0.0.1:9/", "--min-cert-days", "many"],
    ["probe", "ws://127.0.0.1:9/", "--tls-min", "0.9"],
    ["probe", "ws://127.0.0.1:9/", "-H", "no colon here"],
    ["probe", "wss://127.0.0.1:9/", "--cacert", "/nonexistent/ca.pem"],
    ["no-such-command"],
])
def test_bad_flags_are_usage_errors(wsprobe, args):
    r = wsprobe(*args)
    assert r.rc == EXIT["USAGE"], r


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/", "https://example.test/", "ftp://example.test/", "ws://",
    "ws:///path", "ws://127.0.0.1:99999/", "ws://127.0.0.1:0/", "ws://127.0.0.1:port/",
    "ws://[::1/", "not a url",
])
def test_invalid_urls_are_url_invalid(probe, url):
    expect(probe(url), "URL_INVALID")


def test_url_invalid_report_keeps_the_stable_keys(probe):
    # SPEC.md: keys are stable. A URL error touched no network, and the report says so.
    j = expect(probe("ws://127.0.0.1:99999/"), "URL_INVALID")
    assert j["evidence"] == {"network": False, "handshake_completed": False}, j


# =============================================================================================
# OK: real servers

def test_ok_ws_echo_python_websockets(probe, peers):
    e = peers.echo()
    r = probe(e.url("/"), "--send", "hello", "--expect-text", "hello", expect="OK")
    j = expect(r, "OK")
    assert j["url"] == e.url("/")
    assert j["address"] == "127.0.0.1" and j["port"] == e.port
    assert "127.0.0.1" in j["addresses"]
    assert j["tls"] is None
    assert j["http"]["status"] == 101
    assert j["evidence"] == {"network": True, "handshake_completed": True}
    ws = j["ws"]
    assert ws["sent_frames"] >= 2 and ws["received_frames"] >= 1       # hello + close; echo
    assert ws["sent_bytes"] >= len("hello") and ws["received_bytes"] >= len("hello")
    assert ws["close_code"] == 1000 and ws["closed_by"] == "client"
    assert [s["kind"] for s in j["steps"]] == ["send", "expect"]
    assert all(s["ok"] for s in j["steps"])
    for phase in ("connect_ms", "upgrade_ms", "roundtrip_ms", "total_ms"):
        assert phase in j["phases"] and phase in j["marks"], phase
    assert "tls_ms" not in j["phases"]


def test_ok_without_messages_still_opens_and_closes(probe, fresh_peers):
    h = fresh_peers.hostile("echo")
    j = expect(probe(h.url("/")), "OK")
    assert j["evidence"]["handshake_completed"] is True
    assert j["steps"] == []
    assert j["ws"]["close_code"] == 1000
    # On the wire: one upgrade, then only the client's close frame (code 1000).
    assert len(requests(h)) == 1
    fs = frames(h)
    assert [f["opcode"] for f in fs] == [8] and fs[0]["payload"][:2] == b"\x03\xe8"


def test_ok_wss_python_websockets(probe, peers, pki):
    e = peers.echo(tls="trusted")
    r = probe(e.url("/", scheme="wss", host="localhost"), "--cacert", pki.ca,
              "--send", "hello", "--expect-text", "hello")
    j = expect(r, "OK")
    t = j["tls"]
    assert t["verified"] is True and not t.get("verify_error")
    assert t["version"] == "TLSv1.3"
    assert t["sni"] == "localhost"
    assert t["cipher"]
    assert "localhost" in t["subject"] and "wsprobe test CA" in t["issuer"]
    assert any("localhost" in s for s in t["sans"]) and any("127.0.0.1" in s for s in t["sans"])
    assert 28 <= t["days_left"] <= 30
    assert "tls_ms" in j["phases"]
    assert j["marks"]["connect_ms"] <= j["marks"]["tls_ms"] <= j["marks"]["upgrade_ms"]
    assert all(s["ok"] for s in j["steps"]) and j["ws"]["received_frames"] >= 1


def test_ok_wss_to_an_ip_literal_sends_no_sni(probe, peers, pki):
    # RFC 6066 section 3: literal IP addresses are not permitted in the server name.
    e = peers.echo(tls="trusted")
    j = expect(probe(e.url("/", scheme="wss"), "--cacert", pki.ca), "OK")
    assert j["tls"]["verified"] is True
    assert not j["tls"]["sni"]


def test_ok_wss_tls12_server(probe, peers, pki):
    e = peers.echo(tls="trusted", tls_max="1.2")
    j = expect(probe(e.url("/", scheme="wss"), "--cacert", pki.ca), "OK")
    assert j["tls"]["version"] == "TLSv1.2"


def test_tls_min_13_against_a_tls12_server_is_tls_handshake(probe, peers, pki):
    e = peers.echo(tls="trusted", tls_max="1.2")
    j = expect(probe(e.url("/", scheme="wss"), "--cacert", pki.ca, "--tls-min", "1.3"),
               "TLS_HANDSHAKE")
    not_upgraded(j)


def test_ok_through_nginx_websocket_proxy(probe, peers):
    n = peers.nginx("ws-proxy", peers.echo())
    r = probe(n.url("/chat"), "--send", "through nginx", "--expect-text", "through nginx")
    j = expect(r, "OK")
    assert j["http"]["status"] == 101
    assert "nginx" in j["http"]["headers"].get("server", "")
    assert j["ws"]["received_frames"] >= 1 and all(s["ok"] for s in j["steps"])


def test_ok_first_message_from_server(probe, peers):
    j = expect(probe(peers.echo().url("/greet"), "--expect-text", "welcome"), "OK")
    assert "first_message_ms" in j["phases"]
    assert [s["kind"] for s in j["steps"]] == ["expect"]


def test_ping_is_answered_by_python_websockets(probe, peers):
    j = expect(probe(peers.echo().url("/"), "--ping"), "OK")
    assert j["ws"]["sent_frames"] >= 2 and j["ws"]["received_frames"] >= 1


def test_ws_pong_timeout(probe, peers):
    # The silent peer reads everything and never answers, pings included.
    j = expect(probe(peers.hostile("silence").url("/"), "--send", "x", "--ping",
                     "--timeout", "1s", timeout=10), "WS_PONG_TIMEOUT")
    assert j["evidence"]["handshake_completed"] is True


def test_sends_and_expects_run_in_order(probe, peers):
    r = probe(peers.echo().url("/"), "--send", "one", "--expect-text", "one",
              "--send", "two", "--expect-text", "two")
    j = expect(r, "OK")
    assert [s["kind"] for s in j["steps"]] == ["send", "expect", "send", "expect"]
    assert j["ws"]["received_frames"] >= 2


@pytest.mark.parametrize("size", [125, 126, 65535, 65536, 100000])
def test_message_length_encodings_against_a_real_server(probe, peers, tmp_path, size):
    # 7-bit, 16-bit and 64-bit payload lengths (RFC 6455 section 5.2), checked by
    # python3-websockets, which fails the connection on a wrong encoding.
    text = ("0123456789abcdef" * (size // 16 + 1))[:size]
    f = tmp_path / "big.txt"
    f.write_text(text)
    j = expect(probe(peers.echo().url("/"), "--send", "@%s" % f, "--expect-regex",
                     "^(0123456789abcdef)*[0-9a-f]{0,15}$", "--timeout", "3s"), "OK")
    assert j["ws"]["sent_bytes"] >= size and j["ws"]["received_bytes"] >= size


def test_message_length_encodings_on_the_wire(probe, fresh_peers, tmp_path):
    h = fresh_peers.hostile("echo")
    files = []
    for size in (125, 126, 65536):
        f = tmp_path / ("m%d" % size)
        f.write_text("x" * size)
        files += ["--send", "@%s" % f]
    expect(probe(h.url("/"), *files), "OK")
    data = [f for f in frames(h) if f["opcode"] == 1]
    assert [f["length"] for f in data] == [125, 126, 65536]
    assert all(f["payload"] == b"x" * f["length"] for f in data)


def test_utf8_text_round_trip(probe, peers):
    text = "h\u00e9llo \u2713 \U0001f680"
    expect(probe(peers.echo().url("/"), "--send", text, "--expect-text", text), "OK")


def test_send_from_file(probe, peers, tmp_path):
    f = tmp_path / "msg.txt"
    f.write_text("from a file")
    j = expect(probe(peers.echo().url("/"), "--send", "@%s" % f, "--expect-text", "from a file"),
               "OK")
    assert j["ws"]["sent_bytes"] >= len("from a file")


def test_expect_regex(probe, peers):
    j = expect(probe(peers.echo().url("/"), "--send", "order 12345 ok",
                     "--expect-regex", "^order [0-9]+ ok$"), "OK")
    assert [(s["kind"], s["ok"]) for s in j["steps"]] == [("send", True), ("expect", True)]
    assert j["ws"]["received_frames"] >= 1


def test_expect_json_pointer(probe, peers):
    msg = '{"type":"ack","id":7,"nested":{"a~b":[1,"x"]}}'
    url = peers.echo().url("/")
    for ptr in ("/id=7", "/type=ack", "/nested/a~0b/1=x"):
        j = expect(probe(url, "--send", msg, "--expect-json", ptr), "OK")
        assert [(s["kind"], s["ok"]) for s in j["steps"]] == [("send", True), ("expect", True)]
    wrong = probe(url, "--send", msg, "--expect-json", "/id=8", "--timeout", "1s")
    assert wrong.json["ok"] is False and wrong.rc != 0, wrong


def test_expect_json_skips_unrelated_messages(probe, peers):
    h = peers.hostile("unrelated", text='{"type":"noise"}')
    j = expect(probe(h.url("/"), "--send", '{"type":"ack","id":7}', "--expect-json", "/id=7"),
               "OK")
    assert j["ws"]["received_frames"] >= 2


def test_fragmented_reply_is_reassembled(probe, peers):
    h = peers.hostile("fragments")
    j = expect(probe(h.url("/"), "--send", "fragmented reply", "--expect-text",
                     "fragmented reply"), "OK")
    assert j["ws"]["received_frames"] >= 3


def test_server_ping_is_answered_with_pong(probe, fresh_peers):
    # The peer holds its echo back until the pong with its ping's payload comes.
    h = fresh_peers.hostile("ping-echo")
    expect(probe(h.url("/"), "--send", "hello", "--expect-text", "hello", "--timeout", "2s"),
           "OK")
    pongs = [f for f in frames(h) if f["opcode"] == 0xA]    # RFC 6455 section 5.5.3
    assert [f["payload"] for f in pongs] == [b"hostile-ping"] and pongs[0]["masked"] == 1


def test_subprotocol_negotiated(probe, peers):
    e = peers.echo(subprotocols=("chat.v1",))
    j = expect(probe(e.url("/"), "--subprotocol", "chat.v1"), "OK")
    assert j["ws"]["subprotocol"] == "chat.v1"
    assert j["ws"]["extensions"] == []


def test_headers_and_origin_reach_the_server(probe, peers):
    # The server's first message is the JSON of the request headers it saw.
    url = peers.echo().url("/headers")
    opts = ("-H", "X-Probe: abc", "--origin", "https://app.test")
    expect(probe(url, *opts, "--expect-json", "/x-probe=abc"), "OK")
    expect(probe(url, *opts, "--expect-json", "/origin=https://app.test"), "OK")
    wrong = probe(url, *opts, "--expect-json", "/x-probe=abd", "--timeout", "1s")
    assert wrong.json["class"] in ("WS_EXPECT_MISMATCH", "WS_MSG_TIMEOUT"), wrong


def test_resolve_pins_an_address_for_a_name(probe, peers):
    e = peers.echo()
    url = "ws://pinned.invalid:%d/" % e.port
    j = expect(probe(url, "--resolve", "pinned.invalid:%d:127.0.0.1" % e.port), "OK")
    assert j["address"] == "127.0.0.1" and j["addresses"] == ["127.0.0.1"]


def test_resolve_with_tls_keeps_the_name_for_sni_and_verification(probe, peers, pki):
    e = peers.echo(tls="trusted")
    url = "wss://ws.test:%d/" % e.port
    j = expect(probe(url, "--resolve", "ws.test:%d:127.0.0.1" % e.port, "--cacert", pki.ca), "OK")
    assert j["tls"]["sni"] == "ws.test" and j["tls"]["verified"] is True


def test_dns_server_resolves_a_name(probe, peers):
    d, e = peers.dnsmasq(), peers.echo()
    j = expect(probe("ws://ok.test:%d/" % e.port, "--dns-server", "127.0.0.1:%d" % d.port), "OK")
    assert j["addresses"] == ["127.0.0.1"] and j["address"] == "127.0.0.1"
    assert "resolve_ms" in j["phases"]


def test_ipv6_literal(probe, peers, ipv6):
    e = peers.echo(ipv6=True)
    url = "ws://[::1]:%d/" % e.port
    j = expect(probe(url, "--send", "v6", "--expect-text", "v6"), "OK")
    assert j["address"] == "::1"


def test_ipv6_host_header_is_bracketed(probe, fresh_peers, ipv6):
    h = fresh_peers.hostile("echo", host="::1")
    expect(probe(h.url("/"), "--send", "x"), "OK")
    assert header(requests(h)[0], "Host") == "[::1]:%d" % h.port


def test_dual_stack_name_with_4_and_6(probe, peers, ipv6):
    d, e = peers.dnsmasq(), peers.echo(ipv6=True)
    url = "ws://dual.test:%d/" % e.port
    dns = ("--dns-server", "127.0.0.1:%d" % d.port)
    both = expect(probe(url, *dns), "OK")
    assert sorted(both["addresses"]) == ["127.0.0.1", "::1"]
    assert expect(probe(url, *dns, "-4"), "OK")["address"] == "127.0.0.1"
    assert expect(probe(url, *dns, "-6"), "OK")["address"] == "::1"


def test_addresses_are_tried_until_one_connects(probe, peers, ipv6):
    # dual.test has 127.0.0.1 and ::1; the server listens on ::1 only, so 127.0.0.1 refuses.
    d = peers.dnsmasq()
    h = peers.hostile("echo", host="::1")
    j = expect(probe("ws://dual.test:%d/" % h.port, "--dns-server", "127.0.0.1:%d" % d.port),
               "OK")
    assert j["address"] == "::1" and "127.0.0.1" in j["addresses"]


def test_health_check_over_https_uses_cacert(probe, peers, pki):
    e = peers.echo(tls="trusted")
    url = e.url("/", scheme="wss", host="localhost")
    health = e.url("/health", scheme="https", host="localhost")
    expect(probe(url, "--cacert", pki.ca, "--health", health), "OK")


def test_health_check_part_of_the_verdict(probe, peers):
    e = peers.echo()
    expect(probe(e.url("/"), "--health", e.url("/health", scheme="http")), "OK")
    bad = probe(e.url("/"), "--health", e.url("/status/503", scheme="http"))
    assert bad.json["ok"] is False and bad.rc != 0, bad


# =============================================================================================
# What goes on the wire (hostile peer's log)

def test_upgrade_request_is_rfc6455(probe, fresh_peers):
    h = fresh_peers.hostile("echo")
    expect(probe(h.url("/chat/room?token=abc&x=1"), "--send", "x"), "OK")
    expect(probe(h.url("/chat/room?token=abc&x=1"), "--send", "x"), "OK")
    reqs = requests(h)
    assert len(reqs) == 2
    for req in reqs:
        # RFC 6455 section 4.1: GET, path and query kept, HTTP/1.1, Host, Upgrade, Connection,
        # a 16-byte base64 nonce, version 13.
        assert req["request_line"] == "GET /chat/room?token=abc&x=1 HTTP/1.1"
        assert header(req, "Host") == "127.0.0.1:%d" % h.port
        assert header(req, "Upgrade").lower() == "websocket"
        assert "upgrade" in header(req, "Connection").lower()
        assert header(req, "Sec-WebSocket-Version") == "13"
        assert len(base64.b64decode(header(req, "Sec-WebSocket-Key"), validate=True)) == 16
    assert header(reqs[0], "Sec-WebSocket-Key") != header(reqs[1], "Sec-WebSocket-Key")


def test_client_frames_are_masked_with_fresh_keys(probe, fresh_peers):
    h = fresh_peers.hostile("echo")
    expect(probe(h.url("/"), "--send", "first", "--send", "second", "--send", "third"), "OK")
    fs = frames(h)
    data = [f for f in fs if f["opcode"] == 1]
    assert [f["payload"] for f in data] == [b"first", b"second", b"third"]
    assert all(f["masked"] == 1 for f in fs)                     # RFC 6455 section 5.3
    masks = [f["mask"] for f in fs]
    assert len(set(masks)) == len(masks), masks
    close = [f for f in fs if f["opcode"] == 8]
    assert len(close) == 1 and close[0]["payload"][:2] == b"\x03\xe8"   # 1000


def test_extra_headers_origin_and_subprotocols_on_the_wire(probe, fresh_peers):
    h = fresh_peers.hostile("echo")
    expect(probe(h.url("/"), "-H", "X-Team: blue", "--origin", "https://app.test",
                 "--subprotocol", "chat.v1,chat.v2"), "OK")
    req = requests(h)[0]
    assert header(req, "X-Team") == "blue"
    assert header(req, "Origin") == "https://app.test"
    offered = [p.strip() for p in header(req, "Sec-WebSocket-Protocol").split(",")]
    assert offered == ["chat.v1", "chat.v2"]


def test_verbose_output_redacts_credentials(wsprobe, fresh_peers):
    secret = "s3cr3t-t0ken-e2e"
    h = fresh_peers.hostile("echo")
    for extra in ([], ["--json"]):
        r = wsprobe("probe", h.url("/"), "-v", "-H", "Authorization: Bearer " + secret, *extra)
        assert r.rc == 0, r
        assert secret not in r.stdout and secret not in r.stderr, r
        assert "authorization" in r.stderr.lower(), r   # shown, redacted: not silently dropped
    # It did go on the wire: redaction is about output, not about what is sent.
    assert header(requests(h)[0], "Authorization") == "Bearer " + secret


@pytest.mark.parametrize("name,value,secret", [
    ("Authorization", "Bearer x#9", "x#9"),
    ("Authorization", "Basic #q==", "#q=="),
    ("Cookie", "s=#1", "s=#1"),
    ("Proxy-Authorization", "Bearer #k7", "#k7"),
])
def test_verbose_never_prints_a_whole_short_credential(wsprobe, peers, name, value, secret):
    # A redaction that keeps a prefix must not print the whole of a short value.
    r = wsprobe("probe", peers.hostile("echo").url("/"), "-v", "-H", "%s: %s" % (name, value))
    assert r.rc == 0, r
    assert secret not in r.stdout and secret not in r.stderr, r


def test_json_mode_writes_only_json_to_stdout_even_with_verbose(wsprobe, peers):
    r = wsprobe("probe", peers.echo().url("/"), "--json", "-v", "--send", "x")
    j = assert_report(r)  # stdout parsed as exactly one JSON object
    assert j["class"] == "OK" and r.stdout.strip().startswith("{")
    assert j["http"]["status"] == 101 and j["ws"]["sent_frames"] >= 2
    assert "sec-websocket-accept" in j["http"]["headers"]


def test_human_and_quiet_modes_exit_with_the_same_code(wsprobe, peers):
    h = peers.hostile("status", status=403, reason="Forbidden")
    human = wsprobe("probe", h.url("/"))
    quiet = wsprobe("probe", h.url("/"), "-q")
    assert human.rc == quiet.rc == EXIT["UPGRADE_AUTH"], (human, quiet)
    assert human.stdout.strip() or human.stderr.strip()
    assert len(quiet.stdout) <= len(human.stdout)
    ok = wsprobe("probe", peers.echo().url("/"), "-q")
    assert ok.rc == 0 and ok.stdout == "", ok      # -q: nothing but a failure


# =============================================================================================
# Resolve and connect failures

def test_dns_nxdomain(probe, peers):
    d = peers.dnsmasq()
    j = expect(probe("ws://nope.test:80/", "--dns-server", "127.0.0.1:%d" % d.port,
                     "--timeout", "2s"), "DNS_NXDOMAIN")
    assert not j.get("addresses") and j["evidence"]["handshake_completed"] is False


def test_dns_tempfail_silent_resolver(probe, peers):
    s = peers.dns_stub("silent")
    expect(probe("ws://ok.test:80/", "--dns-server", "127.0.0.1:%d" % s.port, "--timeout", "1s"),
           "DNS_TEMPFAIL")


@pytest.mark.parametrize("rcode", [2, 5])     # SERVFAIL, REFUSED
def test_dns_tempfail_failing_resolver(probe, peers, rcode):
    s = peers.dns_stub("rcode", rcode=rcode)
    expect(probe("ws://ok.test:80/", "--dns-server", "127.0.0.1:%d" % s.port, "--timeout", "2s"),
           "DNS_TEMPFAIL")


def test_dns_tempfail_no_resolver_on_the_port(probe, refused_port):
    expect(probe("ws://ok.test:80/", "--dns-server", "127.0.0.1:%d" % refused_port,
                 "--timeout", "1s"), "DNS_TEMPFAIL")


def test_tcp_refused(probe, refused_port):
    j = expect(probe("ws://127.0.0.1:%d/" % refused_port, "--timeout", "2s"), "TCP_REFUSED")
    assert j["http"] is None
    not_upgraded(j)
    assert "upgrade_ms" not in j["phases"]


def test_tcp_timeout(probe, unanswered_port):
    j = expect(probe("ws://127.0.0.1:%d/" % unanswered_port, "--timeout", "1s", timeout=10),
               "TCP_TIMEOUT")
    assert j["http"] is None
    not_upgraded(j)


# =============================================================================================
# TLS and certificates

@pytest.mark.parametrize("kind", ["untrusted", "self-signed"])
def test_cert_untrusted(probe, peers, pki, kind):
    e = peers.echo(tls=kind)
    j = expect(probe(e.url("/", scheme="wss", host="localhost"), "--cacert", pki.ca),
               "CERT_UNTRUSTED")
    assert j["tls"]["verified"] is False and j["tls"]["verify_error"]
    assert j["http"] is None
    not_upgraded(j)


def test_cert_untrusted_without_cacert(probe, peers):
    # The system store does not know the test CA.
    e = peers.echo(tls="trusted")
    expect(probe(e.url("/", scheme="wss", host="localhost")), "CERT_UNTRUSTED")


def test_insecure_turns_untrusted_into_ok(probe, peers, pki):
    e = peers.echo(tls="untrusted")
    j = expect(probe(e.url("/", scheme="wss", host="localhost"), "--insecure",
                     "--send", "hi", "--expect-text", "hi"), "OK")
    assert j["tls"]["verified"] is False
    assert j["evidence"]["handshake_completed"] is True


def test_cert_name_mismatch(probe, peers, pki):
    e = peers.echo(tls="wrong-name")
    j = expect(probe(e.url("/", scheme="wss", host="localhost"), "--cacert", pki.ca),
               "CERT_NAME_MISMATCH")
    assert j["tls"]["verified"] is False
    # The evidence that explains the mismatch: the names the certificate does cover.
    assert any("wrong.example" in s for s in j["tls"]["sans"]), j["tls"]
    not_upgraded(j)


def test_cert_name_mismatch_for_a_name_outside_the_sans(probe, peers, pki):
    e = peers.echo(tls="trusted")   # covers localhost, ws.test, 127.0.0.1, ::1; not ok.test
    url = "wss://ok.test:%d/" % e.port
    expect(probe(url, "--resolve", "ok.test:%d:127.0.0.1" % e.port, "--cacert", pki.ca),
           "CERT_NAME_MISMATCH")


@pytest.mark.parametrize("kind", ["expired", "not-yet-valid"])
def test_cert_expired(probe, peers, pki, kind):
    e = peers.echo(tls=kind)
    j = expect(probe(e.url("/", scheme="wss", host="localhost"), "--cacert", pki.ca),
               "CERT_EXPIRED")
    assert j["tls"]["verified"] is False
    not_upgraded(j)
    if kind == "expired":
        days = j["tls"]["days_left"]
        assert isinstance(days, int) and days < 0, "days_left %r for a 2020 certificate" % days


def test_min_cert_days(probe, peers, pki):
    e = peers.echo(tls="trusted")     # 30 days left
    url = e.url("/", scheme="wss", host="localhost")
    expect(probe(url, "--cacert", pki.ca, "--min-cert-days", "7"), "OK")
    j = expect(probe(url, "--cacert", pki.ca, "--min-cert-days", "365"), "CERT_EXPIRED")
    assert 28 <= j["tls"]["days_left"] <= 30


def test_tls_to_plaintext_http_server(probe, peers):
    h = peers.hostile("plain-http")
    j = expect(probe(h.url("/", scheme="wss"), "--timeout", "2s"), "TLS_TO_PLAINTEXT")
    not_upgraded(j)


def test_tls_to_plaintext_nginx(probe, peers):
    n = peers.nginx("ws-proxy", peers.echo())
    expect(probe(n.url("/", scheme="wss"), "--timeout", "2s"), "TLS_TO_PLAINTEXT")


# =============================================================================================
# Upgrade answered with an HTTP status

@pytest.mark.parametrize("status,reason", [(401, "Unauthorized"), (403, "Forbidden"),
                                           (407, "Proxy Authentication Required")])
def test_upgrade_auth(probe, peers, status, reason):
    h = peers.hostile("status", status=status, reason=reason,
                      headers=("Content-Type: text/plain",), body="nope: %d" % status)
    j = expect(probe(h.url("/")), "UPGRADE_AUTH")
    assert j["http"]["status"] == status and j["http"]["reason"] == reason
    assert j["http"]["headers"]["content-type"] == "text/plain"
    assert j["http"]["body"].startswith("nope: %d" % status)
    assert j["evidence"]["network"] is True
    not_upgraded(j)


def test_upgrade_auth_from_python_websockets(probe, peers):
    j = expect(probe(peers.echo().url("/status/403")), "UPGRADE_AUTH")
    assert j["http"]["status"] == 403 and "websockets" in j["http"]["headers"]["server"]
    not_upgraded(j)


@pytest.mark.parametrize("status", [404, 405, 410])
def test_upgrade_not_found(probe, peers, status):
    h = peers.hostile("status", status=status, reason="Nope")
    j = expect(probe(h.url("/missing")), "UPGRADE_NOT_FOUND")
    assert j["http"]["status"] == status
    not_upgraded(j)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_upgrade_server_error(probe, peers, status):
    h = peers.hostile("status", status=status, reason="Bad Day", body="stack trace here")
    j = expect(probe(h.url("/")), "UPGRADE_SERVER_ERROR")
    assert j["http"]["status"] == status and "stack trace here" in j["http"]["body"]
    not_upgraded(j)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_upgrade_redirect(probe, peers, status):
    h = peers.hostile("status", status=status, reason="Moved",
                      headers=("Location: wss://elsewhere.test/ws",))
    j = expect(probe(h.url("/")), "UPGRADE_REDIRECT")
    assert j["http"]["status"] == status
    assert j["http"]["location"] == "wss://elsewhere.test/ws"
    not_upgraded(j)


def test_upgrade_redirect_from_python_websockets(probe, peers):
    j = expect(probe(peers.echo().url("/status/302")), "UPGRADE_REDIRECT")
    assert j["http"]["location"] == "/moved"


@pytest.mark.parametrize("status", [400, 429])
def test_upgrade_rejected(probe, peers, status):
    h = peers.hostile("status", status=status, reason="No", headers=("Retry-After: 1",))
    j = expect(probe(h.url("/")), "UPGRADE_REJECTED")
    assert j["http"]["status"] == status


def test_upgrade_ignored_through_nginx_that_strips_upgrade(probe, peers):
    n = peers.nginx("upgrade-stripped", peers.echo())
    j = expect(probe(n.url("/ws"), "--send", "hello"), "UPGRADE_IGNORED")
    assert j["http"]["status"] == 200
    assert '<div id="root">' in j["http"]["body"]
    assert "nginx" in j["http"]["headers"]["server"]
    not_upgraded(j)
    assert not any(s["ok"] for s in j["steps"] if s["kind"] == "send")  # nothing "sent"


@pytest.mark.parametrize("status", [200, 204])
def test_upgrade_ignored_plain_2xx(probe, peers, status):
    h = peers.hostile("status", status=status, reason="OK")
    j = expect(probe(h.url("/")), "UPGRADE_IGNORED")
    assert j["http"]["status"] == status


def test_non_101_body_is_capped_at_512_bytes(probe, peers):
    h = peers.hostile("status", status=403, reason="Forbidden", body="B" * 5000)
    j = expect(probe(h.url("/")), "UPGRADE_AUTH")
    assert j["http"]["body"] == "B" * 512


# =============================================================================================
# Broken handshakes

def test_hs_timeout_silent_listener(probe, peers):
    j = expect(probe(peers.hostile("silent").url("/"), "--timeout", "1s", timeout=10),
               "HS_TIMEOUT")
    assert j["http"] is None
    not_upgraded(j)


def test_hs_timeout_by_deadline(probe, peers):
    expect(probe(peers.hostile("silent").url("/"), "--timeout", "30s", "--deadline", "1s",
                 timeout=10), "HS_TIMEOUT")


def test_hs_timeout_trickled_response(probe, peers):
    # One byte every 100 ms, never complete: the phase timeout must hold despite progress.
    expect(probe(peers.hostile("trickle").url("/"), "--timeout", "1s", timeout=10), "HS_TIMEOUT")


@pytest.mark.parametrize("mode", ["close", "reset"])
def test_hs_no_response(probe, peers, mode):
    j = expect(probe(peers.hostile(mode).url("/"), "--timeout", "2s"), "HS_NO_RESPONSE")
    assert j["http"] is None
    not_upgraded(j)


@pytest.mark.parametrize("mode", ["ssh", "binary"])
def test_hs_malformed_not_http(probe, peers, mode):
    j = expect(probe(peers.hostile(mode).url("/"), "--timeout", "2s", timeout=10),
               "HS_MALFORMED")
    not_upgraded(j)


@pytest.mark.parametrize("mode", ["bad-accept", "no-accept", "double-accept"])
def test_hs_bad_accept(probe, peers, mode):
    j = expect(probe(peers.hostile(mode).url("/"), "--send", "x", "--timeout", "2s"),
               "HS_BAD_ACCEPT")
    assert j["http"]["status"] == 101
    not_upgraded(j)


@pytest.mark.parametrize("mode", ["no-upgrade", "no-connection", "upgrade-h2c"])
def test_hs_bad_headers(probe, peers, mode):
    j = expect(probe(peers.hostile(mode).url("/"), "--send", "x", "--timeout", "2s"),
               "HS_BAD_HEADERS")
    assert j["http"]["status"] == 101
    not_upgraded(j)


@pytest.mark.parametrize("mode,offer", [("bad-subprotocol", []),
                                        ("bad-subprotocol", ["--subprotocol", "chat.v1"]),
                                        ("bad-extension", [])])
def test_hs_negotiation(probe, peers, mode, offer):
    j = expect(probe(peers.hostile(mode).url("/"), *offer, "--timeout", "2s"), "HS_NEGOTIATION")
    not_upgraded(j)


# =============================================================================================
# After the upgrade

def test_ws_closed_1011(probe, fresh_peers):
    h = fresh_peers.hostile("close-1011")
    j = expect(probe(h.url("/"), "--send", "hello", "--expect-text", "hello", "--timeout", "2s"),
               "WS_CLOSED")
    ws = j["ws"]
    assert ws["close_code"] == 1011 and ws["closed_by"] == "server"
    assert ws["close_reason"] == "hostile close 1011"
    assert j["evidence"]["handshake_completed"] is True and ws["sent_frames"] >= 1
    # RFC 6455 section 5.5.1: the client answers the server's close frame.
    closes = [f for f in frames(h) if f["opcode"] == 8]
    assert len(closes) == 1


@pytest.mark.parametrize("code", [1011, 4001])
def test_ws_closed_by_python_websockets(probe, peers, code):
    j = expect(probe(peers.echo().url("/close/%d" % code), "--send", "x", "--expect-text", "x",
                     "--timeout", "2s"), "WS_CLOSED")
    assert j["ws"]["close_code"] == code and j["ws"]["closed_by"] == "server"
    assert j["ws"]["close_reason"] == "closing with %d" % code


def test_ws_closed_through_nginx(probe, peers):
    n = peers.nginx("ws-proxy", peers.echo())
    j = expect(probe(n.url("/close/1011"), "--send", "x", "--expect-text", "x", "--timeout",
                     "2s"), "WS_CLOSED")
    assert j["ws"]["close_code"] == 1011 and j["ws"]["closed_by"] == "server"


def test_ws_dropped(probe, peers):
    j = expect(probe(peers.hostile("drop").url("/"), "--send", "hello", "--expect-text", "hello",
                     "--timeout", "2s"), "WS_DROPPED")
    # RFC 6455 7.1.5: a connection that ended without a close frame has close code 1006
    assert j["ws"]["close_code"] == 1006 and j["ws"]["closed_by"] == "server"
    assert j["evidence"]["handshake_completed"] is True


PROTOCOL_VIOLATIONS = [
    "masked",            # a masked server frame (RFC 6455 section 5.1)
    "len-2^63",          # 64-bit length with the most significant bit set (section 5.2)
    "close-1byte",       # close frame with a one-byte body (section 5.5.1)
    "bad-utf8",          # text frame that is not UTF-8 (section 8.1)
    "bad-utf8-reason",   # close reason that is not UTF-8 (section 5.5.1)
    "bad-opcode",        # reserved opcode 0x3 (section 5.2)
    "rsv1",              # RSV1 without a negotiated extension (section 5.2)
    "long-ping",         # control frame payload over 125 bytes (section 5.5)
    "fragmented-ping",   # fragmented control frame (section 5.5)
]


@pytest.mark.parametrize("mode", PROTOCOL_VIOLATIONS)
def test_ws_protocol(probe, fresh_peers, mode):
    h = fresh_peers.hostile(mode)
    j = expect(probe(h.url("/"), "--send", "hello", "--expect-text", "hello", "--timeout", "2s"),
               "WS_PROTOCOL")
    assert j["evidence"]["handshake_completed"] is True
    # Failing the connection (section 7.1.7) may send a close frame; it must not claim 1000.
    for f in frames(h):
        if f["opcode"] == 8 and len(f["payload"]) >= 2:
            assert f["payload"][:2] != b"\x03\xe8", "closed a protocol error with 1000"


def test_oversized_frame_is_refused_without_waiting_for_it(probe, peers):
    # 2^63-1 declared, payload trickling in: the frame cap must decide, not the timeout.
    j = probe(peers.hostile("len-huge").url("/"), "--send", "x", "--expect-text", "x",
              "--timeout", "3s", timeout=15).json
    assert j["ok"] is False
    assert j["class"] not in ("INTERNAL", "WS_MSG_TIMEOUT", "WS_DROPPED", "OK"), j


def test_ws_msg_timeout(probe, peers):
    j = expect(probe(peers.hostile("silence").url("/"), "--send", "hello", "--expect-text",
                     "hello", "--timeout", "1s", timeout=10), "WS_MSG_TIMEOUT")
    assert j["evidence"]["handshake_completed"] is True
    assert j["ws"]["sent_frames"] >= 1
    assert [s["ok"] for s in j["steps"]] == [True, False]


def test_expect_json_fails_when_only_unrelated_json_comes(probe, peers):
    # Unrelated messages are skipped until the timeout; then the step fails. Whether that is
    # "nothing expected came" or "what came did not match" is the engine's call.
    r = probe(peers.echo().url("/"), "--send", '{"type":"noise"}', "--expect-json", "/type=ack",
              "--timeout", "1s", timeout=10)
    assert r.json["class"] in ("WS_MSG_TIMEOUT", "WS_EXPECT_MISMATCH"), r
    assert r.rc == EXIT[r.json["class"]]
    assert r.json["ws"]["received_frames"] >= 1
    assert [s["ok"] for s in r.json["steps"]] == [True, False]


def test_ws_expect_mismatch(probe, peers):
    h = peers.hostile("mismatch")
    j = expect(probe(h.url("/"), "--send", "hello", "--expect-text", "hello", "--timeout", "2s"),
               "WS_EXPECT_MISMATCH")
    assert j["ws"]["received_frames"] >= 1
    assert [s["ok"] for s in j["steps"]] == [True, False]
    assert "not what you expected" in j["message"] + (j["steps"][1].get("detail") or "")


def test_ws_expect_mismatch_reports_at_most_200_bytes(probe, peers):
    h = peers.hostile("mismatch", text="A" * 1000)
    r = probe(h.url("/"), "--send", "hello", "--expect-text", "hello", "--timeout", "2s")
    expect(r, "WS_EXPECT_MISMATCH")
    assert "A" * 50 in r.stdout and "A" * 201 not in r.stdout


@pytest.mark.parametrize("opts", [["--expect-text", "goodbye"], ["--expect-regex", "^nope$"]])
def test_ws_expect_mismatch_against_a_real_echo(probe, peers, opts):
    expect(probe(peers.echo().url("/"), "--send", "hello", *opts, "--timeout", "2s"),
           "WS_EXPECT_MISMATCH")


# =============================================================================================
# Bad input from the peer: classified, never a crash or a hang

@pytest.mark.parametrize("mode", ["endless-headers", "huge-header"])
def test_oversized_response_headers_are_malformed(probe, peers, mode):
    j = expect(probe(peers.hostile(mode).url("/"), "--timeout", "3s", timeout=15),
               "HS_MALFORMED")
    not_upgraded(j)


@pytest.mark.parametrize("response", [
    r"HTTP/1.1 abc Weird\r\n\r\n",                                   # status not a number
    r"HTTP/1.1 1011 Too Long\r\n\r\n",                               # four-digit status
    r"ICY 200 OK\r\n\r\n",                                           # not HTTP
    r"HTTP/1.1 101 Switching Protocols\r\nUpgrade websocket\r\n\r\n",  # header without colon
    r"HTTP/1.1 101 Switching Protocols\r\nUpgrade: web\x00socket\r\n\r\n",  # NUL in a header
    r"HTTP/1.1 101 Switching Protocols\r\n: websocket\r\n\r\n",      # empty header name
])
def test_malformed_status_and_headers(probe, peers, response):
    j = expect(probe(peers.hostile("raw", text=response).url("/"), "--timeout", "2s",
                     timeout=10), "HS_MALFORMED")
    not_upgraded(j)


def test_every_report_names_a_known_class(probe, peers):
    # A sweep over every hostile mode: whatever happens, the report is well formed and its
    # class is one of docs/exit-codes.md, and INTERNAL never appears.
    modes = ["close", "reset", "ssh", "binary", "bad-accept", "no-upgrade", "bad-subprotocol",
             "huge-header", "masked", "close-1011", "drop", "mismatch", "len-2^63",
             "close-1byte", "bad-utf8", "bad-utf8-reason", "bad-opcode", "rsv1", "long-ping",
             "fragmented-ping"]
    for mode in modes:
        r = probe(peers.hostile(mode).url("/"), "--send", "x", "--expect-text", "x",
                  "--timeout", "2s")
        assert r.json["class"] in EXIT and r.json["class"] not in ("INTERNAL", "OK"), (mode, r)
