"""Send lateness (issue 19): every load run reports how late its sends left (actual less
intended send time), in JSON, the human view and HTML, and says when the client, not the
server, adds the latency. A deliberate grid of sends (--timer-slack 20ms) makes the client late
by up to 20 ms: the report must show it, beside a run whose sends leave on time.

Run: WSPROBE=build/wsprobe /usr/bin/python3 -m pytest tests/e2e/test_load_lateness.py
"""
import subprocess
from pathlib import Path

import pytest

from conftest import run_wsprobe
from corpus_peers import corpus  # noqa: F401  (fixture)


def load(url, *extra):
    r = run_wsprobe("load", url, "--connections", "4", "--rate", "200", "--duration", "2s",
                    "--message", "hi", "--echo", "--json", *extra, timeout=60)
    assert r.json is not None, r
    return r


def test_send_lateness_reported_and_blamed(corpus):
    srv = corpus.serve("--echo", "--unsafe-no-auth")
    url = "ws://127.0.0.1:%d/ws" % srv.port
    late = load(url, "--timer-slack", "20ms")
    sl = late["send_lateness_ms"]
    assert sl["count"] == late["messages"]["sent"] > 0
    # sends held to a 20 ms grid leave up to 20 ms late: half of them more than a few ms
    assert 2.0 < sl["p50"] < 25.0, sl
    assert sl["max"] <= 40.0, sl
    assert late["client_adds_latency"] is True
    # the corrected latency holds that lateness; the uncorrected does not
    assert late["latency_ms"]["corrected"]["p50"] > late["latency_ms"]["uncorrected"]["p50"]
    assert late["histograms"]["send_lateness"]["total"] == sl["count"]
    # the human view says it too
    r = run_wsprobe("load", url, "--connections", "2", "--rate", "100", "--duration", "1s",
                    "--message", "hi", "--echo", "--timer-slack", "20ms", timeout=60)
    assert "lateness" in r.stdout and "the client, not the server" in r.stdout, r


def test_lateness_survives_load_merge(corpus, tmp_path):
    srv = corpus.serve("--echo", "--unsafe-no-auth")
    url = "ws://127.0.0.1:%d/ws" % srv.port
    parts = []
    for i in range(2):
        p = tmp_path / ("a%d.json" % i)
        r = run_wsprobe("load", url, "--connections", "2", "--rate", "50", "--duration", "1s",
                        "--message", "hi", "--echo", "--json=%s" % p, timeout=60)
        assert r.rc == 0, r
        parts.append(p)
    import json
    counts = [json.loads(p.read_text())["send_lateness_ms"]["count"] for p in parts]
    m = run_wsprobe("load-merge", *parts, "--json", timeout=60)
    assert m["send_lateness_ms"]["count"] == sum(counts), m


def test_default_send_window(corpus):
    """The default window is chosen from the rate per thread (docs/load.md) and reported;
    --timer-slack fixes it."""
    srv = corpus.serve("--echo", "--unsafe-no-auth")
    url = "ws://127.0.0.1:%d/ws" % srv.port

    def cfg(*extra):
        r = run_wsprobe("load", url, "--connections", "4", "--duration", "1s", "--message", "hi",
                        "--echo", "--json", *extra, timeout=60)
        assert r.json is not None, r
        return r["config"]

    fast = cfg("--rate", "6000", "--threads", "2")        # 3,000 per thread and second
    assert (fast["timer_slack"], fast["timer_slack_ms"]) == ("auto", 0.5), fast
    slow = cfg("--rate", "200", "--threads", "2")
    assert (slow["timer_slack"], slow["timer_slack_ms"]) == ("auto", 0.0), slow
    fixed = cfg("--rate", "200", "--timer-slack", "2ms")
    assert (fixed["timer_slack"], fixed["timer_slack_ms"]) == ("fixed", 2.0), fixed
    none = cfg("--rate", "6000", "--threads", "2", "--timer-slack", "0")
    assert (none["timer_slack"], none["timer_slack_ms"]) == ("fixed", 0.0), none


@pytest.mark.xdist_group("cpu-heavy")
def test_default_window_widens_for_a_slow_server(tmp_path):
    """A server that answers 40 ms late (python3-websockets, --delay) hides a window of a
    twentieth of that: the default widens to about 2 ms (re-chosen each second from the median
    latency measured from the send), sends leave within it, and the window alone does not make
    the run blame the client."""
    here = Path(__file__).resolve().parent
    p = subprocess.Popen(["/usr/bin/python3", str(here / "stall_server.py"), "--delay", "0.04",
                          "--max-lifetime", "60"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        line = p.stdout.readline()
        assert line.startswith(b"READY"), line
        url = "ws://127.0.0.1:%d/" % int(line.split()[1])
        r = run_wsprobe("load", url, "--connections", "200", "--rate", "2500", "--threads", "1",
                        "--duration", "4s", "--message", "hi", "--echo", "--json", timeout=60)
        assert r.json is not None, r
        assert r["messages"]["matched"] > 2500 and r["connections"]["failed"] == 0, r
        u50 = r["latency_ms"]["uncorrected"]["p50"]
        assert u50 >= 40.0, r["latency_ms"]
        slack = r["config"]["timer_slack_ms"]
        assert r["config"]["timer_slack"] == "auto"
        assert 1.8 <= slack <= 3.5, (slack, u50)  # a twentieth of the latency
        assert r["send_lateness_ms"]["p50"] <= slack, r["send_lateness_ms"]
    finally:
        p.terminate()
        p.wait(timeout=10)
