"""End-to-end tests of `wsprobe load`'s exit gates (issue 12, "exits that do not flatter") and of
its command line on cli/args: without any --threshold, a run exits 1 when a connection failed,
a message was lost or unanswered, or the offered --rate was missed by more than 5 %; a
--threshold of a kind replaces the gate of that kind; when no connection opened at all the exit
is the class's code.

The truth is the peer's: serve's --log-json says how many upgrades it refused; the half-echo
peer below says how many messages it received and how many it answered.
"""
import json
import re
import socket
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import check_schema, run_wsprobe
from serve_helpers import start_serve

# CPU-heavy: never beside another group member (scripts/check.sh runs --dist loadgroup)
pytestmark = pytest.mark.xdist_group("cpu-heavy")

HERE = Path(__file__).resolve().parent
PYTHON = "/usr/bin/python3"

# A websockets server that echoes the odd-numbered messages of each connection and drops the
# others; it prints READY <port> once listening and, on SIGTERM, one JSON line with what it
# received and answered.
HALF_ECHO = r'''
import asyncio, json, signal, sys
import websockets

counts = {"received": 0, "answered": 0}

async def handler(ws, path=None):
    n = 0
    async for msg in ws:
        n += 1
        counts["received"] += 1
        if n % 2 == 1:
            await ws.send(msg)
            counts["answered"] += 1

async def main():
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with websockets.serve(handler, "127.0.0.1", 0) as srv:
        port = next(iter(srv.sockets)).getsockname()[1]
        print("READY %d" % port, flush=True)
        await asyncio.wait_for(stop, 120)
    print(json.dumps(counts), flush=True)

asyncio.run(main())
'''


@pytest.fixture
def servers(tmp_path):
    started = []

    def make(*args, quiet=True):
        srv = start_serve(tmp_path / ("serve%d" % len(started)), *(["-q"] if quiet else []),
                          *args, tls=False, auth=False)
        started.append(srv)
        return srv

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def python_peer(tmp_path):
    procs = []

    def make(source):
        path = tmp_path / ("peer%d.py" % len(procs))
        path.write_text(source)
        p = subprocess.Popen([PYTHON, str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
        procs.append(p)
        line = p.stdout.readline()
        if not line.startswith("READY"):
            pytest.fail("the peer did not start")
        return p, "ws://127.0.0.1:%d/" % int(line.split()[1])

    yield make
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def load(*args, timeout=60):
    return run_wsprobe("load", *args, timeout=timeout)


def gates(report):
    return {g["name"]: g for g in report["gates"]}


def echo_url(servers):
    return servers("--echo", "--unsafe-no-auth", "--unsafe-no-limits").url()


# (i) -----------------------------------------------------------------------------------------

def test_refused_connections_fail_the_connections_gate(servers):
    srv = servers("--echo", "--unsafe-no-auth", "--max-conns-per-ip", "4", quiet=False)
    r = load(srv.url(), "--connections", "12", "--duration", "1s", "--json")
    assert r.rc == 1, r.stderr
    g = gates(r.json)
    assert g["connections"]["ok"] is False and g["connections"]["held"] is False
    assert g["connections"]["replaced_by_threshold"] is None
    srv.stop()
    refused = [e for e in srv.events() if e.get("event") == "refused"]
    assert len(refused) == 8  # serve's own count
    assert r.json["connections"]["failed"] == len(refused)
    assert g["connections"]["value"] == len(refused)
    assert g["connections"]["of"] == 12
    assert r.json["errors"]["connection_rate"] == pytest.approx(8 / 12)
    # no messages were offered: the messages and rate gates do not apply
    assert set(g) == {"connections"}

    # a --threshold on connection errors replaces the gate: the threshold judges
    srv2 = servers("--echo", "--unsafe-no-auth", "--max-conns-per-ip", "4")
    r = load(srv2.url(), "--connections", "12", "--duration", "1s", "--threshold",
             "connection_errors<80%", "--json")
    assert r.rc == 0, r.stderr
    g = gates(r.json)["connections"]
    assert g["ok"] is True and g["held"] is False
    assert g["replaced_by_threshold"] == "connection_errors<80%"


# (ii) ----------------------------------------------------------------------------------------

def test_a_clean_run_passes_every_gate(servers, tmp_path):
    junit = tmp_path / "gates.xml"
    # --warmup: the measured second starts once every connection is open (docs/load.md), so the
    # gate judges the rate offered, not the ramp-up of a slow (ASan) build
    r = load(echo_url(servers), "--connections", "10", "--rate", "200", "--duration", "1s",
             "--warmup", "300ms", "--message", "c{{uuid}}", "--echo", "--junit", junit, "--json")
    assert r.rc == 0, r.stderr
    g = gates(r.json)
    assert set(g) == {"connections", "messages", "rate"}
    assert all(x["ok"] and x["held"] for x in g.values()), g
    # 95 % of the offered rate, less one slot per open connection over the measured window
    slack = r.json["connections"]["opened"] / r.json["measured_s"]
    assert g["rate"]["of"] == 200 and g["rate"]["limit"] == pytest.approx(190 - slack)
    assert r.json["errors"]["connection_rate"] == 0 and r.json["errors"]["message_rate"] == 0
    cases = [c for c in ET.parse(junit).getroot().findall(".//testcase")
             if c.get("classname") == "wsprobe.load.gate"]
    assert [c.get("name") for c in cases] == ["connections", "messages", "rate"]
    assert all(c.find("failure") is None for c in cases)


# (iii) ---------------------------------------------------------------------------------------

def test_a_missed_rate_fails_the_rate_gate_and_a_rate_threshold_replaces_it(tmp_path):
    # a peer that answers every message 100 ms late holds at most 10 round trips per second
    # per connection with one in flight; 2 connections are offered 100 per second
    p = subprocess.Popen([PYTHON, str(HERE / "stall_server.py"), "--delay", "0.1"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("READY"), line
        url = "ws://127.0.0.1:%d/" % int(line.split()[1])
        common = [url, "--connections", "2", "--rate", "100", "--duration", "1500ms",
                  "--message", "r{{uuid}}", "--echo"]
        junit = tmp_path / "rate.xml"
        r = load(*common, "--junit", junit, "--json")
        assert r.rc == 1, r.stderr
        g = gates(r.json)
        assert g["rate"]["ok"] is False
        assert g["rate"]["value"] < 0.95 * 100
        assert g["rate"]["value"] == pytest.approx(r.json["throughput"]["matched_per_s"])
        # nothing was lost or failed: only the rate fell short
        assert g["connections"]["ok"] is True and g["messages"]["ok"] is True
        assert r.json["messages"]["unsent"] > 0
        failed = [c.get("name") for c in ET.parse(junit).getroot().findall(".//testcase")
                  if c.find("failure") is not None]
        assert failed == ["rate"]

        r = load(*common, "--threshold", "rate>=5", "--json")
        assert r.rc == 0, r.stderr
        g = gates(r.json)["rate"]
        assert g["ok"] is True and g["held"] is False and g["replaced_by_threshold"] == "rate>=5"
        # the human view says which gate failed, on its own line
        r = load(*common)
        assert r.rc == 1
        lines = [ln for ln in r.stdout.splitlines() if ln.strip().startswith("FAIL")]
        assert len(lines) == 1 and lines[0].split()[1] == "rate", r.stdout
    finally:
        p.terminate()
        p.wait(timeout=5)


# (iv) ----------------------------------------------------------------------------------------

def test_unanswered_messages_fail_the_messages_gate(python_peer):
    proc, url = python_peer(HALF_ECHO)
    r = load(url, "--connections", "2", "--rate", "20", "--duration", "1s", "--message",
             "m{{uuid}}", "--echo", "--reply-timeout", "200ms", "--json")
    proc.terminate()
    out, _ = proc.communicate(timeout=10)
    peer = json.loads(out.strip().splitlines()[-1])
    assert r.rc == 1, r.stderr
    g = gates(r.json)
    assert g["messages"]["ok"] is False
    m = r.json["messages"]
    # the peer's truth: what it answered was matched, what it dropped timed out
    assert m["sent"] == peer["received"]
    assert m["matched"] == peer["answered"]
    assert m["timeouts"] == peer["received"] - peer["answered"] > 0
    assert g["messages"]["value"] == m["timeouts"]
    assert r.json["errors"]["message_rate"] == pytest.approx(m["timeouts"] / m["sent"])
    # the connections held: that gate passes, and the two kinds are not mixed
    assert g["connections"]["ok"] is True
    assert r.json["errors"]["connection_rate"] == 0


def test_a_message_threshold_replaces_the_messages_gate_only(python_peer):
    _, url = python_peer(HALF_ECHO)
    r = load(url, "--connections", "2", "--rate", "20", "--duration", "1s", "--message", "m",
             "--echo", "--reply-timeout", "200ms", "--threshold", "message_errors<90%",
             "--threshold", "rate>=1", "--json")
    assert r.rc == 0, r.stderr
    g = gates(r.json)
    assert g["messages"]["replaced_by_threshold"] == "message_errors<90%"
    assert g["connections"]["replaced_by_threshold"] is None


# (v) -----------------------------------------------------------------------------------------

def test_nothing_listening_exits_with_the_class():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = load("ws://127.0.0.1:%d/ws" % port, "--connections", "3", "--duration", "2s", "--json",
             timeout=20)
    assert r.rc == 20, r.stderr  # TCP_REFUSED, not the gates' 1
    assert r.json["class"] == "TCP_REFUSED"
    assert gates(r.json)["connections"]["ok"] is False


# (vi) ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["load", "load-merge"])
def test_short_help_works(cmd):
    for flag in ("-h", "--help"):
        r = run_wsprobe(cmd, flag)
        assert r.rc == 0, r.stderr
        assert r.stdout.startswith("usage: wsprobe %s" % cmd)


OPTION_LINE = re.compile(r"^(?:  -[A-Za-z0-9], |      )(--[a-z0-9-]+)")


def help_sections(text):
    """{heading: [option names]} of a --help text: headings are unindented lines ending in ':',
    options are the lines "  -X, --name ..." or "      --name ..." (continuation lines are
    indented to the help column)."""
    sections, current = {}, None
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line
            sections[current] = []
        elif current is not None and OPTION_LINE.match(line):
            sections[current].append(OPTION_LINE.match(line).group(1))
    return sections


@pytest.mark.parametrize("cmd", ["load", "load-merge"])
def test_help_has_no_empty_section_and_no_duplicate(cmd):
    r = run_wsprobe(cmd, "--help")
    assert r.rc == 0
    sections = help_sections(r.stdout)
    assert sections
    empty = [h for h, opts in sections.items() if not opts]
    assert empty == [], empty
    names = [n for opts in sections.values() for n in opts]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert names.count("--json") == 1
    if cmd == "load":
        # refused probe options are not offered
        for refused in ("--ping", "--deadline", "--health", "--expect-close"):
            assert refused not in names


def test_json_file_writes_the_report_and_prints_the_human_view(servers, tmp_path):
    out = tmp_path / "load.json"
    r = load(echo_url(servers), "--connections", "3", "--rate", "60", "--duration", "1s",
             "--warmup", "300ms", "--message", "f", "--echo", "--json=%s" % out)
    assert r.rc == 0, r.stderr
    assert r.json is None and "connections" in r.stdout  # the human view on stdout
    j = json.loads(out.read_text())
    check_schema(j, "load --json=FILE")
    assert j["command"] == "load" and j["ok"] is True
    assert {g["name"] for g in j["gates"]} == {"connections", "messages", "rate"}

    # load-merge takes the same form, and judges the merged report by the same gates
    merged = tmp_path / "merged.json"
    r = run_wsprobe("load-merge", out, out, "--json=%s" % merged)
    assert r.rc == 0, r.stderr
    assert r.json is None and "agents merged" in r.stdout
    m = json.loads(merged.read_text())
    check_schema(m, "load-merge --json=FILE")
    assert m["agents"] == 2 and all(g["ok"] for g in m["gates"])


def test_old_reports_without_per_kind_rates_still_merge(servers, tmp_path):
    # a report from before 0.2.0 had errors.rate and no gates: the counters are what is read
    r = load(echo_url(servers), "--connections", "2", "--duration", "1s", "--json")
    assert r.rc == 0, r.stderr
    old = dict(r.json)
    old["errors"] = dict(old["errors"])
    del old["errors"]["connection_rate"], old["errors"]["message_rate"], old["gates"]
    old["errors"]["rate"] = 0.0
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    r = run_wsprobe("load-merge", path, path, "--json")
    assert r.rc == 0, r.stderr
    assert r.json["connections"]["attempted"] == 4
    assert r.json["errors"]["connection_rate"] == 0
