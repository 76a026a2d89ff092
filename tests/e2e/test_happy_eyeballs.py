"""Happy Eyeballs (RFC 8305) when a name has several addresses (issue 15): the families
interleaved with IPv6 first, the next attempt 250 ms after the last one started (at once when
one fails), the first to connect wins and the others are abandoned; the report says which
address won and what became of each. Peers: a listener whose SYNs go unanswered (its backlog
full, as the unanswered_port fixture makes it) on 127.0.0.1:P, `wsprobe serve` on
127.0.0.2:P, nothing on 127.0.0.3:P; the raw socket shows each first.

Run: WSPROBE=build/wsprobe /usr/bin/python3 -m pytest tests/e2e/test_happy_eyeballs.py
"""
import socket
import subprocess
import time

import pytest

from conftest import (_die_with_parent, ipv6_loopback_available, make_unanswered, run_wsprobe,
                      wsprobe_path)


def connect_outcome(addr, port, timeout=1.0):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
        return "connected"
    except socket.timeout:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    finally:
        s.close()


@pytest.fixture
def race(tmp_path):
    """(port, cleanup): unanswered on .1, serve on .2, nothing on .3, all on one port."""
    for _ in range(30):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        port = srv.getsockname()[1]
        try:
            probe2 = socket.socket()
            probe2.bind(("127.0.0.2", port))
            probe2.close()
            break
        except OSError:
            srv.close()
    fillers = make_unanswered(srv)
    pf = tmp_path / "ports.json"
    p = subprocess.Popen([str(wsprobe_path()), "serve", "--listen", "127.0.0.2:%d" % port,
                          "--echo", "--unsafe-no-auth", "--port-file", str(pf), "-q"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         preexec_fn=_die_with_parent)
    for _ in range(100):
        if pf.exists():
            break
        time.sleep(0.05)
    yield port
    p.terminate()
    p.wait(timeout=5)
    for c in fillers:
        c.close()
    srv.close()


def test_a_silent_first_address_loses_the_race(race):
    port = race
    assert connect_outcome("127.0.0.1", port) == "timeout"
    assert connect_outcome("127.0.0.2", port) == "connected"
    t = time.monotonic()
    r = run_wsprobe("probe", "ws://svc.test:%d/ws" % port, "--resolve",
                    "svc.test:%d:127.0.0.1,127.0.0.2" % port, "--timeout", "8s", "--json")
    took = time.monotonic() - t
    assert r.rc == 0, r
    j = r.json
    assert j["address"] == "127.0.0.2"
    assert [(a["address"], a["outcome"]) for a in j["connect_attempts"]] == [
        ("127.0.0.1", "abandoned"), ("127.0.0.2", "won")]
    # the second attempt started 250 ms after the first, not after its 8 s timeout
    assert 200 <= j["phases"]["connect_ms"] < 3000, j["phases"]
    assert took < 6


def test_a_refused_address_starts_the_next_at_once(race):
    port = race
    assert connect_outcome("127.0.0.3", port) == "refused"
    r = run_wsprobe("probe", "ws://svc.test:%d/ws" % port, "--resolve",
                    "svc.test:%d:127.0.0.3,127.0.0.2" % port, "--json")
    assert r.rc == 0, r
    assert [a["outcome"] for a in r.json["connect_attempts"]] == ["failed", "won"]
    assert r.json["phases"]["connect_ms"] < 200  # no 250 ms wait after a refusal


def test_every_address_failing_names_them_all(race):
    port = race
    r = run_wsprobe("probe", "ws://svc.test:%d/ws" % port, "--resolve",
                    "svc.test:%d:127.0.0.1,127.0.0.3" % port, "--timeout", "1s", "--json")
    assert r.json["class"] in ("TCP_TIMEOUT", "TCP_REFUSED"), r
    assert "addresses tried" in r.json["message"]
    assert sorted(a["outcome"] for a in r.json["connect_attempts"]) == ["failed", "timeout"]


def test_ipv6_goes_first(race):
    if not ipv6_loopback_available():
        pytest.skip("no ::1")
    port = race
    r = run_wsprobe("probe", "ws://svc.test:%d/ws" % port, "--resolve",
                    "svc.test:%d:127.0.0.3,127.0.0.2,::1" % port, "--json")
    assert [a["address"] for a in r.json["connect_attempts"]][0] == "::1", r.json
