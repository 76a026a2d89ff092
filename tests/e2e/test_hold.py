"""`wsprobe hold` (issue 15): connections that must live. Against real intermediaries on
loopback with second-long timeouts: nginx with `proxy_read_timeout 1s`, HAProxy with
`timeout tunnel 1s` and with `timeout client 1s` alone, and a server with a 2 s lifetime cap
(peers/corpus/lifetime_cap.py); python3-websockets' echo behind them. The raw client shows
first what each one does to a silent connection and to one that pings; hold must say the same.

Run: WSPROBE=build/wsprobe /usr/bin/python3 -m pytest tests/e2e/test_hold.py
"""
import time

import pytest

from conftest import run_wsprobe
from corpus_peers import OP_PING, corpus, open_raw  # noqa: F401


def raw_lifetime(port, ping_every=None, limit=5.0):
    """Seconds until the intermediary ends a raw WebSocket (None: alive after `limit`), and
    whether a close frame came first."""
    t0 = time.monotonic()
    with open_raw(port) as c:
        next_ping = t0 + (ping_every or 1e9)
        while time.monotonic() - t0 < limit:
            if time.monotonic() >= next_ping:
                c.send_frame(OP_PING, b"raw")
                next_ping += ping_every
            try:
                f = c.recv(0.05)
            except TimeoutError:
                continue
            if f is None:  # the connection ended
                return time.monotonic() - t0, False
            if f.opcode == 8:
                return time.monotonic() - t0, True
    return None, False


def hold(url, *args, timeout=60):
    r = run_wsprobe("hold", url, "--json", *args, timeout=timeout)
    assert r.json is not None, r
    return r


def strategy(j, name):
    return next(s for s in j["strategies"] if s["name"] == name)


@pytest.mark.parametrize("kind", ["nginx", "haproxy-tunnel", "haproxy-client"])
def test_idle_timeout_is_found(corpus, kind):
    backend = corpus.py_deflate()
    if kind == "nginx":
        px = corpus.nginx("idle", backend)
    else:
        px = corpus.haproxy("idle" if kind == "haproxy-tunnel" else "client-timeout", backend)
    # what the intermediary does, from the raw client: silent dies near 1 s, no close frame;
    # a ping every 300 ms keeps it
    t, frame = raw_lifetime(px.port)
    assert t is not None and 0.8 <= t <= 2.5 and not frame, (t, frame)
    assert raw_lifetime(px.port, ping_every=0.3, limit=3.0)[0] is None
    r = hold(px.url("/"), "--duration", "4s", "--ping-ladder", "300ms,3s", "--per-strategy", "2")
    assert r.rc == 0, r  # no gate given: hold observes
    j = r.json
    silent = strategy(j, "silent")
    assert silent["ended"] == 2 and silent["ends"].get("fin", 0) == 2, silent
    assert 0.8 <= silent["lifetime_s"]["median"] <= 2.5
    fast = strategy(j, "ping-300ms")
    assert fast["held"] == 2, fast
    slow = strategy(j, "ping-3s")  # a ping every 3 s does not beat a 1 s timeout
    assert slow["ended"] == 2, slow
    assert j["lifetime_cap"] is False
    assert j["idle_timeout_s"] == pytest.approx(silent["lifetime_s"]["median"])
    assert any("idle timeout" in f for f in j["findings"]), j["findings"]
    ends = [e for e in j["timeline"] if e["strategy"] == "silent"]
    assert all(e["how"] == "fin" and e["close_code"] is None and e["since_out_s"] is None
               for e in ends), ends
    # the gates: kept-alive ones must live 3 s (the 3 s ladder rung does not), silent 3 s
    r = hold(px.url("/"), "--duration", "3500ms", "--ping-ladder", "300ms",
             "--expect-lifetime", "3s")
    assert r.rc == 0, r
    r = hold(px.url("/"), "--duration", "3500ms", "--ping-ladder", "300ms",
             "--expect-silent-lifetime", "3s")
    assert r.rc == 1, r
    g = {x["name"]: x for x in r.json["gates"]}
    assert not g["silent_lifetime"]["ok"] and g["silent_lifetime"]["failed"] == 2


def test_lifetime_cap_is_told_from_an_idle_timeout(corpus):
    cap = corpus.lifetime_cap(2)
    t_silent, _ = raw_lifetime(cap.port)
    t_ping, _ = raw_lifetime(cap.port, ping_every=0.3)
    assert 1.8 <= t_silent <= 2.6 and 1.8 <= t_ping <= 2.6, (t_silent, t_ping)
    r = hold(cap.url("/"), "--duration", "4s", "--ping-ladder", "300ms",
             "--message-every", "500ms", "--send", "busy", "--expect-lifetime", "3s")
    assert r.rc == 1, r  # kept-alive connections died before 3 s
    j = r.json
    assert j["lifetime_cap"] is True, j["findings"]
    for s in j["strategies"]:
        assert s["ended"] == 2 and 1.8 <= s["lifetime_s"]["median"] <= 2.6, s
    assert any("lifetime cap" in f for f in j["findings"])


def test_server_close_frames_are_reported(peers):
    h = peers.hostile("close-1001")  # the 101, then close 1001 with a reason
    r = hold(h.url("/"), "--duration", "2s", "--ping-ladder", "500ms")
    j = r.json
    for e in j["timeline"]:
        assert e["how"] == "close_frame" and e["close_code"] == 1001, e
        assert e["close_reason"].startswith("hostile close")


def test_never_opened_is_the_class_exit_code(refused_port):
    r = hold("ws://127.0.0.1:%d/" % refused_port, "--duration", "1s", "--ping-ladder", "200ms")
    assert r.rc == 20 and r.json["class"] == "TCP_REFUSED", r


@pytest.mark.parametrize("args, words", [
    (["--ping-ladder", "30s,15s"], "ladder climbs"),
    (["--ping-ladder", "x"], "not a duration"),
    (["--ping-ladder", "10s", "--duration", "5s"], "shorter than --duration"),
    (["--message-every", "1s"], "--send"),
    (["--per-strategy", "100000", "--ping-ladder", "1s,2s,3s"], "ulimit -n"),
])
def test_bad_input_is_a_usage_error_before_any_connection(wsprobe, refused_port, args, words):
    r = wsprobe("hold", "ws://127.0.0.1:%d/" % refused_port, *args)
    assert r.rc == 2 and words in r.stderr, r


# ---- --reconnect: a rolling deploy behind HAProxy ------------------------------------------

import signal  # noqa: E402
import subprocess  # noqa: E402
import types  # noqa: E402

from conftest import wsprobe_path  # noqa: E402
from serve_helpers import start_serve  # noqa: E402


def two_backends(tmp_path, corpus):
    a = start_serve(tmp_path / "a", "--echo", "--unsafe-no-auth", tls=False, auth=False)
    b = start_serve(tmp_path / "b", "--echo", "--unsafe-no-auth", tls=False, auth=False)
    px = corpus.haproxy_two(types.SimpleNamespace(port=a.port()),
                            types.SimpleNamespace(port=b.port()))
    return a, b, px


def hold_during(url, stop, after, *args):
    """Run hold in the background, call stop() `after` seconds in, return its Result."""
    cmd = [str(wsprobe_path()), "hold", url, "--json", *args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(after)
    stop()
    out, err = p.communicate(timeout=60)
    import json
    return p.returncode, json.loads(out), err.decode(errors="replace")


@pytest.mark.parametrize("sig, graceful", [(signal.SIGTERM, True), (signal.SIGKILL, False)])
def test_reconnect_through_a_rolling_deploy(tmp_path, corpus, sig, graceful):
    # what serve does on SIGTERM, from the raw client: close 1001 to every WebSocket
    if graceful:
        c0 = start_serve(tmp_path / "c", "--echo", "--unsafe-no-auth", tls=False, auth=False)
        with open_raw(c0.port(), path="/ws") as raw:
            c0.stop(signal.SIGTERM)
            f = raw.recv(5)
            assert f is not None and f.opcode == 8 and f.payload[:2] == b"\x03\xe9"  # 1001
    a, b, px = two_backends(tmp_path, corpus)
    try:
        rc, j, err = hold_during(px.url("/ws"), lambda: a.stop(sig), 1.5, "--reconnect",
                                 "--duration", "5s", "--ping-ladder", "500ms", "--send", "again",
                                 "--threshold", "ungraceful<1", "--threshold",
                                 "reconnect_max<3s")
    finally:
        a.stop()
        b.stop()
    rec = j["reconnect"]
    # round robin put some of the six connections on the stopped backend
    assert rec["drops"] >= 1, j
    assert rec["reconnected"] == rec["drops"], rec
    assert rec["reconnect_s"]["max"] < 3, rec
    assert rec["conversations"]["ok"] == rec["drops"], rec  # the echo answered each one
    for d in rec["drops_list"]:
        assert 1.0 <= d["at_s"] <= 3.0, d
        if graceful:
            assert d["how"] == "close_frame" and d["close_code"] == 1001 and d["graceful"], d
        else:
            assert d["how"] in ("fin", "rst") and d["close_code"] is None, d
    if graceful:
        assert rec["graceful"] == rec["drops"] and rc == 0, (rc, j["thresholds"], err)
    else:
        assert rec["ungraceful"] == rec["drops"] and rc == 1, (rc, j["thresholds"])
        assert [t["ok"] for t in j["thresholds"]] == [False, True]
    # every slot lived to the end: the reconnected ones on the other backend
    assert all(s["held"] == s["connections"] for s in j["strategies"]), j["strategies"]


def test_reconnect_threshold_grammar(wsprobe, refused_port):
    for bad, words in (("reconnect_p99<2", "unit"), ("ungraceful<1s", "no unit"),
                       ("latency<1s", "unknown metric")):
        r = wsprobe("hold", "ws://127.0.0.1:%d/" % refused_port, "--threshold", bad)
        assert r.rc == 2 and words in r.stderr, (bad, r)


def test_hold_with_credentials(tmp_path):
    """serve refuses anonymous clients (401): each held connection mints its own token."""
    from serve_helpers import SECRET, SECRET_ENV
    srv = start_serve(tmp_path / "auth", "--echo", tls=False)
    try:
        r = hold(srv.url(), "--duration", "1500ms", "--ping-ladder", "500ms")
        assert r.rc == 44 and r.json["class"] == "UPGRADE_AUTH", r  # no credentials: refused
        r = run_wsprobe("hold", srv.url(), "--json", "--duration", "1500ms", "--ping-ladder",
                        "500ms", "--jwt-secret-env", SECRET_ENV, "--jwt-claim", "sub=hold",
                        env={SECRET_ENV: SECRET})
        assert r.rc == 0, r
        assert all(s["held"] == s["connections"] == 2 for s in r.json["strategies"]), r.json
        assert SECRET not in r.stdout + r.stderr
    finally:
        srv.stop()


def test_hold_junit(corpus, tmp_path):
    from test_run import validate_junit
    backend = corpus.py_deflate()
    px = corpus.nginx("idle", backend)
    out = tmp_path / "hold.xml"
    r = run_wsprobe("hold", px.url("/"), "--duration", "2500ms", "--ping-ladder", "300ms",
                    "--expect-silent-lifetime", "2s", "--junit", out, "-q")
    assert r.rc == 1, r
    root = validate_junit(out)
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"silent", "ping-300ms", "connections", "silent_lifetime"}, cases
    assert cases["connections"].find("failure") is None          # every one opened
    assert cases["silent"].find("failure") is not None          # died at ~1 s
    assert cases["ping-300ms"].find("failure") is None           # lived
    assert cases["silent_lifetime"].find("failure") is not None
    assert cases["silent"].get("classname") == "wsprobe.hold.strategy"


# ---- the plan check `hold` ----

def hold_plan(tmp_path, url, checks):
    plan = tmp_path / "hold-plan.yaml"
    plan.write_text("environments:\n  x:\n    url: %s\n    timeout: 3s\nchecks:\n%s" % (url, checks))
    return plan


def test_plan_hold_check(corpus, tmp_path):
    from test_run import validate_junit
    backend = corpus.py_deflate()
    px = corpus.nginx("idle", backend)
    # the truth from the raw client: nginx ends a silent connection near 1 s, without a close
    # frame; pings every 300 ms keep one
    t, frame = raw_lifetime(px.port)
    assert t is not None and 0.8 <= t <= 2.5 and not frame, (t, frame)
    assert raw_lifetime(px.port, ping_every=0.3, limit=3.0)[0] is None
    plan = hold_plan(tmp_path, px.url("/"),
                     "  - hold:\n      name: keepalive\n      duration: 3s\n"
                     "      ping_ladder: 300ms\n      per_strategy: 1\n"
                     "      expect_lifetime: 2500ms\n"
                     "  - hold:\n      name: silent-too\n      duration: 3s\n"
                     "      ping_ladder: [300ms]\n      per_strategy: 2\n"
                     "      expect_silent_lifetime: 2s\n  - connect\n")
    junit = tmp_path / "run.xml"
    r = run_wsprobe("run", plan, "--env", "x", "--json", "--junit", junit, timeout=60)
    assert r.rc == 1, r
    checks = {c["id"]: c for c in r.json["checks"]}
    keep, silent = checks["keepalive"], checks["silent-too"]
    assert keep["verdict"] == "pass" and keep["class"] == "OK", keep
    assert silent["verdict"] == "fail" and silent["class"] == "WS_DROPPED", silent
    assert checks["connect"]["verdict"] == "pass"
    # the evidence is the hold's own report
    h = silent["evidence"]["hold"]
    st = {s["name"]: s for s in h["strategies"]}
    assert st["silent"]["ends"] == {"fin": 2} and st["ping-300ms"]["held"] == 2, st
    g = {x["name"]: x for x in h["gates"]}
    assert not g["silent_lifetime"]["ok"] and g["silent_lifetime"]["failed"] == 2
    assert 0.8 <= h["idle_timeout_s"] <= 2.5, h
    assert len(h["timeline"]) == 4
    # the two holds ran side by side, not one after the other
    assert r.json["duration_ms"] < 5500, r.json["duration_ms"]
    # JUnit: each check, then its parts as testcases of their own
    root = validate_junit(junit)
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert {"keepalive", "keepalive/silent", "keepalive/ping-300ms", "keepalive/connections",
            "keepalive/lifetime", "silent-too", "silent-too/silent", "silent-too/ping-300ms",
            "silent-too/connections", "silent-too/silent_lifetime", "connect"} == set(cases)
    failed = {n for n, c in cases.items() if c.find("failure") is not None}
    assert failed == {"silent-too", "silent-too/silent", "silent-too/silent_lifetime"}, failed
    suite = root.find("testsuite")
    assert int(suite.get("tests")) == 11 and int(suite.get("failures")) == 3


@pytest.mark.parametrize("body, words, line", [
    ("  - hold:\n      ping_ladder: 1s\n", "expected duration", 6),
    ("  - hold:\n      duration: 3s\n      ping_ladder: 1x\n", "not a duration", 8),
    ("  - hold:\n      duration: 3s\n      pings: 1s\n", "unknown key", 8),
    ("  - hold:\n      duration: 3s\n      ping_ladder: 5s\n", "not shorter than --duration", 6),
    ("  - hold:\n      duration: 3s\n      per_strategy: 0\n", "per_strategy", 8),
    ("  - hold:\n      duration: 3s\n      message_every: 1s\n      ping_ladder: 1s\n",
     "needs --send", 6),
    ("  - hold:\n      duration: 3s\n", "(the default, 30s)", 6),
    ("  - hold:\n      duration: 3s\n      threshold: [latency<1s]\n", "unknown metric", 8),
    ("  - hold:\n      duration: 3s\n      reconnect: maybe\n", "true or false", 8),
])
def test_plan_hold_bad_input_is_located(wsprobe, refused_port, tmp_path, body, words, line):
    plan = hold_plan(tmp_path, "ws://127.0.0.1:%d/" % refused_port, body)
    r = wsprobe("run", str(plan), "--env", "x")
    assert r.rc == 2 and words in r.stderr, r
    assert ":%d:" % line in r.stderr, r  # the line of the value at fault, or of the check


def test_plan_hold_must_fit_the_deadline(wsprobe, refused_port, tmp_path):
    plan = hold_plan(tmp_path, "ws://127.0.0.1:%d/" % refused_port,
                     "  - hold:\n      duration: 10s\n      ping_ladder: 2s\n")
    r = wsprobe("run", str(plan), "--env", "x", "--deadline", "12s")
    assert r.rc == 2 and "does not fit in the run's deadline" in r.stderr, r
    r = wsprobe("run", str(plan), "--env", "x", "--deadline", "15s", "--json")
    assert r.rc == 1, r  # it fits: nothing listens, so it fails with the class of the refusal
    c = r.json["checks"][0]
    assert c["verdict"] == "fail" and c["class"] == "TCP_REFUSED", c
