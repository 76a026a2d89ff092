"""--each-address (issue 15): one broken backend behind two good ones. dnsmasq answers
three.test with three A records (127.0.0.1-3); `wsprobe serve --echo` listens on the first two (the second
closes connections idle for 1.5 s) and the hostile peer answers the upgrade with 502 on the
third, all on one port. The raw client shows each backend's answer first; probe, wait, hold and
plans must judge every one.

Run: WSPROBE=build/wsprobe /usr/bin/python3 -m pytest tests/e2e/test_each_address.py
"""
import socket
import subprocess
import time

import pytest

from conftest import PEERS_DIR, STOP_TIMEOUT, _die_with_parent, run_wsprobe, wsprobe_path
from corpus_peers import RawWS

ADDRS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
IDLE = "1500ms"  # the second backend's idle timeout


def port_free_on_all():
    for _ in range(50):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        ok = True
        for a in ADDRS[1:]:
            t = socket.socket()
            try:
                t.bind((a, port))
            except OSError:
                ok = False
            t.close()
        if ok:
            return port
    pytest.skip("no port free on 127.0.0.1-3")


@pytest.fixture(scope="module")
def backends(peers, tmp_path_factory):
    port = port_free_on_all()
    d = tmp_path_factory.mktemp("each")
    procs = []
    for a, idle in zip(ADDRS[:2], ("60s", IDLE)):
        pf = d / ("%s.json" % a)
        procs.append(subprocess.Popen(
            [str(wsprobe_path()), "serve", "--listen", "%s:%d" % (a, port), "--echo",
             "--unsafe-no-auth", "--idle-timeout", idle, "--port-file", str(pf), "-q"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent))
        for _ in range(100):
            if pf.exists():
                break
            time.sleep(0.05)
    # the hostile peer on the third address, same port
    h = subprocess.Popen(["/usr/bin/python3", str(PEERS_DIR / "hostile.py"), "--mode", "status",
                          "--status", "502", "--reason", "Bad Gateway", "--host", ADDRS[2],
                          "--port", str(port)], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    procs.append(h)
    h.stdout.readline()  # READY
    yield port
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()


def test_every_backend_is_judged(peers, backends):
    port = backends
    # the truth, backend by backend, from the raw client
    answers = {}
    for a in ADDRS:
        c = RawWS(port, "/ws", host=a)
        answers[a] = c.handshake().status
        c.close()
    assert answers == {"127.0.0.1": 101, "127.0.0.2": 101, "127.0.0.3": 502}
    dns = peers.dnsmasq()
    r = run_wsprobe("probe", "ws://three.test:%d/ws" % port, "--dns-server",
                    "127.0.0.1:%d" % dns.port, "--each-address", "--json")
    j = r.json
    assert r.rc == 47 and j["class"] == "UPGRADE_SERVER_ERROR", r
    got = {a["address"]: a["class"] for a in j["addresses"]}
    assert got == {"127.0.0.1": "OK", "127.0.0.2": "OK", "127.0.0.3": "UPGRADE_SERVER_ERROR"}
    assert j["succeeded"] == 2 and j["failed"] == 1
    assert j["message"].startswith("2 of 3 addresses OK; 127.0.0.3:")
    for a in j["addresses"]:
        assert a["report"]["address"] == a["address"]  # it really went there
        assert a["family"] == "ipv4"
    # the same with --resolve naming the three addresses, in that order
    r = run_wsprobe("probe", "ws://svc.test:%d/ws" % port, "--resolve",
                    "svc.test:%d:%s" % (port, ",".join(ADDRS)), "--each-address", "--json")
    assert r.rc == 47 and [a["address"] for a in r.json["addresses"]] == list(ADDRS), r
    # two good backends: OK
    r = run_wsprobe("probe", "ws://svc.test:%d/ws" % port, "--resolve",
                    "svc.test:%d:%s" % (port, ",".join(ADDRS[:2])), "--each-address",
                    "--send", "x", "--expect-text", "x", "--json")
    assert r.rc == 0 and r.json["ok"] and r.json["succeeded"] == 2, r


def test_wait_needs_every_backend(peers, backends):
    port = backends
    url = "ws://svc.test:%d/ws" % port
    pins = "svc.test:%d:%s" % (port, ",".join(ADDRS))
    r = run_wsprobe("wait", url, "--resolve", pins, "--each-address", "--deadline", "2s",
                    "--json")
    assert r.rc == 124, r  # 502 is retried until the deadline: one backend never comes up
    assert r.json["attempts"] >= 2
    assert "127.0.0.3" in r.json["last_message"]
    r = run_wsprobe("wait", url, "--resolve", "svc.test:%d:%s" % (port, ",".join(ADDRS[:2])),
                    "--each-address", "--deadline", "5s", "--json")
    assert r.rc == 0, r


@pytest.mark.parametrize("cmd", [["probe", "ws://127.0.0.1:9/"], ["wait", "ws://127.0.0.1:9/"],
                                 ["hold", "ws://127.0.0.1:9/"],
                                 ["load", "ws://h.test:9/"], ["security", "ws://h.test:9/"]])
def test_each_address_refused_where_it_has_no_meaning(wsprobe, cmd):
    r = wsprobe(*cmd, "--each-address")
    assert r.rc == 2 and "each-address" in r.stderr, r
    if cmd[0] in ("load", "security"):  # said why, not "unknown"
        assert "no use for" in r.stderr, r


def test_plan_each_address(backends, tmp_path):
    port = backends
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "environments:\n  x:\n    url: ws://svc.test:%d/ws\n    resolve: ['svc.test:%d:%s']\n"
        "    each_address: true\nchecks:\n  - connect\n  - conversation:\n      name: c\n"
        "      send: hi\n      expect: {text: hi}\n" % (port, port, ",".join(ADDRS)))
    r = run_wsprobe("run", plan, "--env", "x", "--json")
    assert r.rc == 1, r
    for c in r.json["checks"]:
        assert c["verdict"] == "fail" and c["class"] == "UPGRADE_SERVER_ERROR", c
        assert c["evidence"]["addresses"] == 3
        assert set(k for k in c["evidence"] if k.startswith("probe@")) == {
            "probe@" + a for a in ADDRS}
        assert c["evidence"]["status"] == 502  # the failing address's, as the main evidence
    plan.write_text(plan.read_text().replace(",".join(ADDRS), ",".join(ADDRS[:2])))
    r = run_wsprobe("run", plan, "--env", "x", "--json")
    assert r.rc == 0 and all(c["verdict"] == "pass" for c in r.json["checks"]), r


def test_hold_holds_every_backend(peers, backends, tmp_path):
    port = backends
    # the truth from the raw client: the second backend closes a silent connection (1001), the
    # first keeps it, the third refuses the upgrade
    with RawWS(port, "/ws", host=ADDRS[1]) as c:
        assert c.handshake().status == 101
        t0 = time.monotonic()
        _, close, _ = c.messages_until_close(timeout=5)
        waited = time.monotonic() - t0
    assert close is not None and close.close_code == 1001 and 1.2 < waited < 3.0, (close, waited)
    with RawWS(port, "/ws", host=ADDRS[0]) as c:
        assert c.handshake().status == 101
        with pytest.raises(TimeoutError):
            c.recv(timeout=2.0)
    dns = peers.dnsmasq()
    junit = tmp_path / "hold.xml"
    r = run_wsprobe("hold", "ws://three.test:%d/ws" % port, "--dns-server",
                    "127.0.0.1:%d" % dns.port, "--each-address", "--duration", "3s",
                    "--ping-ladder", "500ms", "--per-strategy", "1", "--junit", str(junit),
                    "--json", timeout=30)
    j = r.json
    # the third backend never opened a connection: its class is the exit code
    assert r.rc == 47 and not j["ok"] and j["config"]["each_address"], r
    assert j["summary"].startswith("2 of 3 addresses held; 127.0.0.3:"), j["summary"]
    by = {a["address"]: a for a in j["addresses"]}
    assert set(by) == set(ADDRS) and all(a["family"] == "ipv4" for a in by.values())
    assert by["127.0.0.1"]["ok"] and by["127.0.0.2"]["ok"], j["addresses"]
    assert not by["127.0.0.3"]["ok"] and by["127.0.0.3"]["class"] == "UPGRADE_SERVER_ERROR"
    assert by["127.0.0.3"]["exit_code"] == 47
    st = {a: {s["name"]: s for s in by[a]["strategies"]} for a in by}
    assert st["127.0.0.1"]["silent"]["held"] == 1 and st["127.0.0.1"]["ping-500ms"]["held"] == 1
    # at the second backend the silent connection got the server's 1001 after about 1.5 s,
    # the pinged one lived: an idle timeout found there and only there
    assert st["127.0.0.2"]["silent"]["ends"] == {"close_frame": 1}, st["127.0.0.2"]
    assert st["127.0.0.2"]["silent"]["close_code"] == 1001
    assert 1.2 < st["127.0.0.2"]["silent"]["lifetime_s"]["median"] < 2.5
    assert st["127.0.0.2"]["ping-500ms"]["held"] == 1
    assert st["127.0.0.3"]["silent"]["ends"] == {"never_opened": 1}
    # every connection went where it was pinned
    tl = j["timeline"]
    assert sorted((e["address"], e["strategy"]) for e in tl) == sorted(
        (a, s) for a in ADDRS for s in ("silent", "ping-500ms"))
    for e in tl:
        want = {"127.0.0.1": "held", "127.0.0.3": "never_opened"}.get(e["address"])
        if want:
            assert e["how"] == want, e
    assert any(f.startswith("127.0.0.2: ") for f in j["findings"]), j["findings"]
    # JUnit: a testcase per strategy and per address, and the connections gate of each
    import xml.etree.ElementTree as ET
    suite = ET.parse(junit).getroot()
    if suite.tag == "testsuites":
        suite = suite[0]
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    want = {"%s@%s" % (s, a) for a in ADDRS for s in ("silent", "ping-500ms", "connections")}
    assert set(cases) == want, sorted(cases)
    failed = {n for n, c in cases.items() if c.find("failure") is not None}
    assert failed == {"silent@127.0.0.3", "ping-500ms@127.0.0.3", "connections@127.0.0.3"}
    assert int(suite.get("tests")) == 9 and int(suite.get("failures")) == 3


def test_hold_gate_names_the_backend(backends):
    port = backends
    # the two good backends, in this order; the second's silent connections die at 1.5 s
    r = run_wsprobe("hold", "ws://svc.test:%d/ws" % port, "--resolve",
                    "svc.test:%d:%s" % (port, ",".join(ADDRS[:2])), "--each-address",
                    "--duration", "3s", "--ping-ladder", "500ms", "--per-strategy", "2",
                    "--expect-silent-lifetime", "2500ms", "--json", timeout=30)
    j = r.json
    assert r.rc == 1 and [a["address"] for a in j["addresses"]] == list(ADDRS[:2]), r
    assert [a["ok"] for a in j["addresses"]] == [True, False]
    gate = {g["name"]: g for g in j["addresses"][1]["gates"]}["silent_lifetime"]
    assert gate["applies"] and gate["failed"] == 2 and gate["of"] == 2, gate
    assert j["summary"].startswith("1 of 2 addresses held; 127.0.0.2:"), j["summary"]
    # without the gate both held
    r = run_wsprobe("hold", "ws://svc.test:%d/ws" % port, "--resolve",
                    "svc.test:%d:%s" % (port, ",".join(ADDRS[:2])), "--each-address",
                    "--duration", "2s", "--ping-ladder", "500ms", "--per-strategy", "1",
                    "--json", timeout=30)
    assert r.rc == 0 and r.json["ok"] and r.json["summary"] == "2 of 2 addresses held", r
