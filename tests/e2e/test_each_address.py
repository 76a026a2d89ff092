"""--each-address (issue 15): one broken backend behind two good ones. dnsmasq answers
three.test with three A records (127.0.0.1-3); `wsprobe serve --echo` listens on the first two
and the hostile peer answers the upgrade with 502 on the third, all on one port. The raw client
shows each backend's answer first; probe and wait must judge every one.

Run: WSPROBE=build/wsprobe /usr/bin/python3 -m pytest tests/e2e/test_each_address.py
"""
import socket
import subprocess
import time

import pytest

from conftest import PEERS_DIR, STOP_TIMEOUT, _die_with_parent, run_wsprobe, wsprobe_path
from corpus_peers import RawWS

ADDRS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")


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
    for a in ADDRS[:2]:
        pf = d / ("%s.json" % a)
        procs.append(subprocess.Popen(
            [str(wsprobe_path()), "serve", "--listen", "%s:%d" % (a, port), "--echo",
             "--unsafe-no-auth", "--port-file", str(pf), "-q"], stdout=subprocess.DEVNULL,
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
