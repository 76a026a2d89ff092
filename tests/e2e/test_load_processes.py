"""`wsprobe load --processes` (issue 19): the run split over forked agents, merged as load-merge
merges reports, against real servers on loopback (`wsprobe serve --workers`, whose JSON log says
what it accepted, and Debian's python3-websockets).

What is right comes from the peer and the operating system: the server's own log counts the
WebSockets it opened; /proc says which processes exist; the file limit is set with setrlimit on
the child before it runs.
"""
import json
import os
import resource
import signal
import subprocess
import time

import pytest

from conftest import pid_alive, run_wsprobe, wait_child_pids, wsprobe_path
from serve_helpers import start_serve

# CPU-heavy: never beside another group member (scripts/check.sh runs --dist loadgroup)
pytestmark = pytest.mark.xdist_group("cpu-heavy")


@pytest.fixture
def servers(tmp_path):
    started = []

    def make(*args, **kw):
        srv = start_serve(tmp_path / ("serve%d" % len(started)), *args, tls=kw.pop("tls", False),
                          auth=False, **kw)
        started.append(srv)
        return srv

    yield make
    for s in started:
        s.stop()


def echo_server(servers, *extra):
    return servers("--unsafe-no-auth", "--echo", "--max-conns-per-ip", "100000",
                   "--rate-limit", "1000", *extra)


def two_agents(srv, duration):
    """A load over two agents in its own session; returns (Popen, the agents' pids)."""
    p = subprocess.Popen([str(wsprobe_path()), "load", srv.url(), "--processes", "2",
                          "--connections", "20", "--rate", "100", "--message", "x", "--echo",
                          "--duration", duration, "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    return p, wait_child_pids(p.pid, 2)


def opens(srv):
    return [e for e in srv.events() if e.get("event") == "open"]


def test_processes_measure_the_whole_run(servers):
    """Three agents: every connection the server saw open is counted once, the messages add up
    to the schedule, and the report says it is three agents merged."""
    srv = echo_server(servers, "--workers", "2")
    r = run_wsprobe("load", srv.url(), "--processes", "3", "--connections", "60", "--rate", "600",
                    "--message", "hello {{uuid}}", "--echo", "--duration", "2", "--json",
                    timeout=60)
    j = r.json
    assert r.rc == 0, r
    assert j["agents"] == 3 and j["series_percentiles"] == "max over agents"
    c = j["connections"]
    assert (c["target"], c["attempted"], c["opened"], c["failed"], c["not_opened"]) == \
        (60, 60, 60, 0, 0)
    assert j["config"]["connections"] == 60 and j["config"]["rate"] == 600
    assert j["config"]["threads"] >= 3  # at least one loop per agent
    m = j["messages"]
    assert m["matched"] == m["sent"] and m["mismatched"] == 0 and m["lost"] == 0
    # the open model: 600/s for 2 s, less at most one slot per connection at the edges
    assert 1200 - 2 * 60 <= m["sent"] <= 1200 + 60, m
    assert j["latency_ms"]["corrected"]["count"] == m["matched"]
    # the server's log: 60 WebSockets opened, spread over both of its workers
    time.sleep(0.3)
    seen = opens(srv)
    assert len(seen) == 60, len(seen)
    assert {e.get("worker") for e in seen} == {1, 2}
    # memory per connection is read in the measured window
    assert j["client"]["rss_measured_open"] == 60
    assert j["client"]["bytes_per_connection"] > 0


def test_processes_follow_the_file_limit(servers, tmp_path):
    """Without --processes, a run that needs more files than one process may open is split
    into as many agents as it takes, and says so. Hard limit 200, 2 threads: an agent holds
    its connections + 64 + 8 per thread, so 300 connections take 3 agents (2 would need 222)."""
    srv = echo_server(servers)

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    p = subprocess.run([str(wsprobe_path()), "load", srv.url(), "--connections", "300",
                        "--threads", "2", "--duration", "1", "--json"],
                       capture_output=True, timeout=60, preexec_fn=limit,
                       env=dict(os.environ, NO_COLOR="1"))
    err = p.stderr.decode()
    assert p.returncode == 0, err
    j = json.loads(p.stdout)
    assert j["agents"] == 3, j["agents"]
    assert j["connections"]["opened"] == 300 and j["connections"]["failed"] == 0
    assert "--processes 3" in err and "hard limit 200" in err, err
    # one process alone would have been refused before any connection
    p1 = subprocess.run([str(wsprobe_path()), "load", srv.url(), "--connections", "300",
                         "--threads", "2", "--processes", "1", "--duration", "1", "--json"],
                        capture_output=True, timeout=60, preexec_fn=limit)
    assert p1.returncode == 2 and not p1.stdout.strip()


def test_ctrl_c_ends_every_agent_with_a_partial_report(servers):
    """^C from a terminal signals the whole foreground process group; the agents lead their own
    group, so each gets the one SIGINT the parent forwards, ends early and reports. Nothing is
    left running."""
    p, agents = two_agents(echo_server(servers), "60")
    time.sleep(2.5)
    os.killpg(p.pid, signal.SIGINT)  # as a terminal's ^C: the parent's group
    out, err = p.communicate(timeout=30)
    j = json.loads(out)
    assert j["interrupted"] is True and j["agents"] == 2
    assert 1.0 < j["measured_s"] < 20
    assert j["messages"]["sent"] > 0 and j["messages"]["matched"] > 0
    assert j["connections"]["opened"] == 20
    assert not [a for a in agents if pid_alive(a)]


def test_an_agent_that_dies_fails_the_run(servers):
    """An agent killed mid-run leaves a share of the connections unmeasured: the run is an
    internal error (exit 70) with no report, never a smaller green run; the other agent is not
    left behind."""
    p, agents = two_agents(echo_server(servers), "30")
    time.sleep(1.5)
    os.kill(agents[1], signal.SIGKILL)
    t0 = time.monotonic()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 70, (p.returncode, err)
    assert time.monotonic() - t0 < 10  # it does not wait for the rest of the run
    assert b"agent 2 of 2 ended without a report" in err, err
    assert b'"ok": true' not in out and b'"ok":true' not in out
    assert not [a for a in agents if pid_alive(a)]


def test_processes_against_python_websockets(tmp_path):
    """A server this project did not write: Debian's python3-websockets echo server."""
    script = tmp_path / "echo.py"
    script.write_text(
        "import asyncio, sys, websockets\n"
        "async def echo(ws):\n"
        "    async for m in ws:\n"
        "        await ws.send(m)\n"
        "async def main():\n"
        "    async with websockets.serve(echo, '127.0.0.1', 0) as s:\n"
        "        print(s.sockets[0].getsockname()[1], flush=True)\n"
        "        await asyncio.sleep(120)\n"
        "asyncio.run(main())\n")
    peer = subprocess.Popen(["/usr/bin/python3", str(script)], stdout=subprocess.PIPE,
                            start_new_session=True)
    try:
        port = int(peer.stdout.readline())
        r = run_wsprobe("load", "ws://127.0.0.1:%d/" % port, "--processes", "2",
                        "--connections", "10", "--rate", "100", "--message", "m {{uuid}}",
                        "--echo", "--duration", "2", "--json", timeout=60)
        assert r.rc == 0, r
        assert r.json["agents"] == 2 and r.json["connections"]["opened"] == 10
        assert r.json["messages"]["matched"] == r.json["messages"]["sent"] > 100
    finally:
        os.killpg(peer.pid, signal.SIGKILL)
        peer.wait()


def test_unopened_connections_fail_the_gate(servers):
    """A ramp that cannot reach the target within the run (5 connections a second for 1 s of
    50) is not a pass: the connections gate counts those never opened."""
    srv = echo_server(servers)
    r = run_wsprobe("load", srv.url(), "--connections", "50", "--connect-rate", "5",
                    "--duration", "1", "--json", timeout=60)
    c = r.json["connections"]
    # 5 a second for a second, and one at once per thread: never the whole target at the start
    assert c["failed"] == 0 and 1 <= c["opened"] <= 5 + os.cpu_count(), c
    assert c["not_opened"] == 50 - c["opened"]
    assert r.rc == 1, r
    gate = [g for g in r.json["gates"] if g["name"] == "connections"][0]
    assert gate["held"] is False and gate["value"] == 50 - c["opened"] and gate["of"] == 50


@pytest.mark.parametrize("threshold", ["errors<1%", "connection_errors<1%", "errors<5",
                                       "connection_errors<5"])
def test_an_error_threshold_counts_unopened_connections(servers, threshold):
    """A threshold that replaces the connections gate judges the same connections: those that
    never opened count as errors, in rates (over the connections asked for) and counts."""
    srv = echo_server(servers)
    r = run_wsprobe("load", srv.url(), "--connections", "50", "--connect-rate", "5",
                    "--duration", "1", "--threshold", threshold, "--json", timeout=60)
    c = r.json["connections"]
    assert c["failed"] == 0 and c["not_opened"] >= 30, c
    assert r.rc == 1, r
    assert r.json["errors"]["connection_rate"] == pytest.approx(c["not_opened"] / 50)
