"""End-to-end tests of `wsprobe audit` on reports written by real runners and on committed samples.

Real runners, each run here into a temporary folder:
  pytest   tests/e2e/audit/pytest_suite/chat_suite.py (Debian's python3-pytest): a test that
           swallows ConnectionRefusedError and passes in no time, a real one that talks to a
           loopback server it starts, a skip and an xfail;
  ctest    tests/e2e/audit/ctest_project (--output-junit);
  jest     tests/e2e/audit/jest_project with jest + jest-junit from npm, installed into a
           temporary folder when npm can do it within 60 s (skipped with the reason otherwise).
Committed samples in the shapes of Maven Surefire, go-junit-report and PHPUnit, and bad input
(malformed, wrong root, missing attributes, billion laughs, XXE, empty, a large report).

Each test asserts the exact findings (rule and test), and that the real tests are not flagged.
Timing-dependent expectations are derived from the times the runner itself wrote: a swallowed
test that took "0.000" is a zero-time finding, one that took 1 ms a floor finding.
"""
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import REPO, free_port, run_wsprobe

HERE = Path(__file__).resolve().parent / "audit"
SAMPLES = HERE / "samples"
BAD = HERE / "bad"
PYTHON = "/usr/bin/python3"
GEN = REPO / "bench" / "gen_junit.py"

RULE_ORDER = ["swallowed-error", "floor", "zero-time", "synthetic-case", "collapse",
              "suite-collapse", "missing-evidence", "passed-on-retry", "not-run",
              "no-assertions", "vanished", "no-tests", "count-mismatch"]


# ---------------------------------------------------------------------------------------------
# helpers

def audit(*args, timeout=60, env=None, stdin=None):
    """`wsprobe audit ARGS --json`: the Result, with the JSON report in .json."""
    return run_wsprobe("audit", *args, "--json", timeout=timeout, env=env, stdin=stdin)


def findings(r):
    assert isinstance(r.json, dict), "no JSON report\n%s" % r
    return [(f["rule"], f["test"]) for f in r.json["findings"]]


def assert_findings(r, expected, rc=None):
    """Exactly these (rule, test) pairs, grouped by rule worst first, and the exit code."""
    got = findings(r)
    assert sorted(got) == sorted(expected), "findings differ\n got: %s\nwant: %s\n%s" % (
        sorted(got), sorted(expected), r)
    ranks = [RULE_ORDER.index(rule) for rule, _ in got]
    assert ranks == sorted(ranks), "not grouped worst rule first: %s" % got
    want_rc = rc if rc is not None else (1 if expected else 0)
    assert r.rc == want_rc, "exit %d, want %d\n%s" % (r.rc, want_rc, r)
    assert r.json["exit_code"] == r.rc
    assert r.json["summary"]["findings"] == len(expected)
    for f in r.json["findings"]:
        assert f["message"].strip() and f["rule"] in RULE_ORDER, f
        assert f["rule"] == "vanished" or f["file"], f  # a vanished test is in no file


def cases(path):
    """{id: (time or None, outcome)} of a JUnit file, ids as wsprobe makes them."""
    out = {}
    for tc in ET.parse(path).getroot().iter("testcase"):
        cls, name = tc.get("classname") or "", tc.get("name") or ""
        tid = name if (not cls or cls == name) else "%s.%s" % (cls, name)
        t = tc.get("time")
        out[tid] = (float(t) if t not in (None, "") else None,
                    "skipped" if tc.find("skipped") is not None else
                    "failed" if tc.find("failure") is not None or tc.find("error") is not None
                    else "passed")
    return out


def fast_rule(seconds):
    """A network pass faster than its floor: exactly 0 s is zero-time, else a floor finding."""
    return "zero-time" if seconds == 0 else "floor"


def max_rss_kb(argv, env=None, timeout=300):
    """Run argv; its exit code and peak RSS in KiB (getrusage of a fresh child process)."""
    code = ("import resource, subprocess, sys\n"
            "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
            "sys.stderr.write(r.stderr.decode('utf-8', 'replace')[-4000:])\n"
            "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    p = subprocess.run([PYTHON, "-c", code] + [str(a) for a in argv], capture_output=True,
                       timeout=timeout, env=env)
    rc, rss = p.stdout.split()
    return int(rc), int(rss), p.stderr.decode("utf-8", "replace")


def wsprobe_bin():
    p = Path(os.environ.get("WSPROBE", "build/wsprobe"))
    return p if p.is_absolute() else REPO / p


def asan_env(quarantine_mb=8):
    """The environment with a small ASan quarantine, so that a sanitized binary's RSS shows the
    program's memory rather than freed blocks held back for use-after-free detection."""
    env = dict(os.environ, NO_COLOR="1")
    opts = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=%d" % quarantine_mb
    return env


# ---------------------------------------------------------------------------------------------
# reports from real runners (session fixtures: each runner runs once)

@pytest.fixture(scope="session")
def pytest_report(tmp_path_factory):
    d = tmp_path_factory.mktemp("pytest-run")
    shutil.copy(HERE / "pytest_suite" / "chat_suite.py", d / "chat_suite.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    p = subprocess.run([PYTHON, "-m", "pytest", "chat_suite.py", "-q", "-p", "no:cacheprovider",
                        "--junitxml=report.xml", "-o", "junit_family=xunit2",
                        "-o", "junit_logging=all"],
                       cwd=d, capture_output=True, timeout=120, env=env)
    report = d / "report.xml"
    assert report.exists(), p.stdout.decode() + p.stderr.decode()
    # the suite itself is green: 2 passed, 1 skipped, 1 xfailed
    assert p.returncode == 0, p.stdout.decode()
    return report


@pytest.fixture(scope="session")
def ctest_report(tmp_path_factory):
    if not shutil.which("cmake") or not shutil.which("ctest"):
        pytest.skip("cmake/ctest not installed")
    d = tmp_path_factory.mktemp("ctest-run")
    build = d / "build"
    p = subprocess.run(["cmake", "-S", str(HERE / "ctest_project"), "-B", str(build),
                        "-DREFUSED_PORT=%d" % free_port()], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    report = d / "ctest.xml"
    # ctest exits non-zero (a missing executable counts as not run): the report is what matters
    subprocess.run(["ctest", "--test-dir", str(build), "--output-junit", str(report)],
                   capture_output=True, timeout=120)
    assert report.exists()
    return report


@pytest.fixture(scope="session")
def jest_report(tmp_path_factory):
    if not shutil.which("npm") or not shutil.which("node"):
        pytest.skip("npm/node not installed: cannot produce a jest-junit report")
    d = tmp_path_factory.mktemp("jest-run")
    (d / "package.json").write_text('{"name": "chat-e2e", "private": true}\n')
    shutil.copy(HERE / "jest_project" / "chat.test.js", d / "chat.test.js")
    try:
        p = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent",
                            "jest@30", "jest-junit@17"],
                           cwd=d, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.skip("npm install jest jest-junit did not finish within 60 s (offline?)")
    jest = d / "node_modules" / ".bin" / "jest"
    if p.returncode != 0 or not jest.exists():
        pytest.skip("npm install jest jest-junit failed (offline?): %s"
                    % p.stderr.decode("utf-8", "replace")[-300:])
    report = d / "jest.xml"
    subprocess.run([str(jest), "--ci", "--reporters=default", "--reporters=jest-junit"], cwd=d,
                   capture_output=True, timeout=180,
                   env=dict(os.environ, JEST_JUNIT_OUTPUT_FILE=str(report)))
    assert report.exists()
    return report


# ---------------------------------------------------------------------------------------------
# pytest

PYTEST_FLAGS = ["--network-tests", "*send_message*", "--floor", "*send_message*=50ms",
                "--require-property", "ws.bytes_rx>0"]


def pytest_expected(report):
    c = cases(report)
    real, swallowed = "chat_suite.test_send_message_real", "chat_suite.test_send_message_swallowed"
    assert c[real] == (c[real][0], "passed") and c[real][0] >= 0.1, c  # it did wait for the server
    assert c[swallowed][1] == "passed" and c[swallowed][0] < 0.05, c  # green, in no time
    assert c["chat_suite.test_staging_only"][1] == "skipped"
    assert c["chat_suite.test_reconnect_keeps_room"][1] == "skipped"  # xfail
    return [("swallowed-error", swallowed), (fast_rule(c[swallowed][0]), swallowed),
            ("missing-evidence", swallowed)]


def test_pytest_report(pytest_report):
    r = audit(pytest_report, *PYTEST_FLAGS)
    assert_findings(r, pytest_expected(pytest_report))
    s = r.json["summary"]
    assert (s["tests"], s["passed"], s["skipped"], s["failed"]) == (4, 2, 2, 0)
    assert s["network_passes"] == 2
    sw = [f for f in r.json["findings"] if f["rule"] == "swallowed-error"][0]
    assert sw["pattern"] == "ConnectionRefusedError"
    assert "send failed, ignoring: ConnectionRefusedError" in sw["excerpt"]
    ev = [f for f in r.json["findings"] if f["rule"] == "missing-evidence"][0]
    assert "ws.bytes_rx=0" in ev["message"]


def test_pytest_report_without_flags_still_sees_the_swallowed_error(pytest_report):
    r = audit(pytest_report)
    assert_findings(r, [("swallowed-error", "chat_suite.test_send_message_swallowed")])


def test_pytest_config_file(pytest_report, tmp_path):
    cfg = tmp_path / "audit.yaml"
    cfg.write_text("# the same settings as PYTEST_FLAGS\n"
                   "network_tests: ['*send_message*']\n"
                   "floor:\n  '*send_message*': 50ms\n"
                   "require-property: ws.bytes_rx>0\n"
                   "junit: %s\n" % (tmp_path / "audit-junit.xml"))
    r = audit(pytest_report, "--config", cfg)
    assert_findings(r, pytest_expected(pytest_report))
    assert (tmp_path / "audit-junit.xml").exists()
    # flags add to the file's lists: now the real test is under a 10 s floor too
    r = audit(pytest_report, "--config", cfg, "--floor", "*_real=10s")
    real = ("floor", "chat_suite.test_send_message_real")
    assert_findings(r, pytest_expected(pytest_report) + [real])
    # an unknown key is bad input, with file and line
    cfg.write_text("network_tests: x\nflor: 1s\n")
    r = audit(pytest_report, "--config", cfg)
    assert r.rc == 2 and "audit.yaml:2: unknown setting 'flor'" in r.stderr, r


def test_pytest_baseline_collapse_and_vanished(pytest_report, tmp_path):
    """Five earlier runs where the swallowed test still did its work (500 ms) and a test that
    has since been deleted: now it collapses, and the deleted one has vanished."""
    base = tmp_path / "history"
    base.mkdir()
    tree = ET.parse(pytest_report)
    suite = tree.getroot().find("testsuite")
    for tc in suite.iter("testcase"):
        if tc.get("name") == "test_send_message_swallowed":
            tc.set("time", "0.500")
    gone = ET.SubElement(suite, "testcase", classname="chat_suite", name="test_room_history",
                         time="0.300")
    gone.tail = "\n"
    suite.set("tests", str(int(suite.get("tests")) + 1))
    for i in range(5):
        tree.write(base / ("run-%d.xml" % i), encoding="utf-8", xml_declaration=True)
    r = audit(pytest_report, "--baseline", base)
    swallowed = "chat_suite.test_send_message_swallowed"
    assert_findings(r, [("swallowed-error", swallowed), ("collapse", swallowed),
                        ("vanished", "chat_suite.test_room_history")])
    col = [f for f in r.json["findings"] if f["rule"] == "collapse"][0]
    assert col["median_ms"] == 500.0 and col["runs"] == 5 and col["limit_ms"] == 50.0
    assert r.json["summary"]["baseline_reports"] == 5
    # a stored baseline gives the same verdict
    store = tmp_path / "baseline.json"
    r = audit(base / "run-0.xml", "--baseline", base, "--save-baseline", store)
    assert_findings(r, [("swallowed-error", swallowed)])  # its output still shows the error
    assert json.loads(store.read_text())["format"] == "wsprobe-audit-baseline"
    r = audit(pytest_report, "--baseline", store)
    assert_findings(r, [("swallowed-error", swallowed), ("collapse", swallowed),
                        ("vanished", "chat_suite.test_room_history")])
    # vanished can be turned off, and a test excluded
    r = audit(pytest_report, "--baseline", store, "--disable", "vanished",
              "--exclude", "*swallowed")
    assert_findings(r, [])


# ---------------------------------------------------------------------------------------------
# ctest

def test_ctest_report(ctest_report):
    c = cases(ctest_report)
    assert c["net_echo"][1] == "passed" and c["net_echo"][0] >= 0.06, c
    assert c["net_swallowed"][1] == "passed", c
    r = audit(ctest_report, "--floor", "net_*=30ms")
    expected = [("swallowed-error", "net_swallowed"), ("not-run", "legacy_disabled"),
                ("synthetic-case", "tool_missing")]
    if c["net_swallowed"][0] < 0.030:
        expected.append(("floor", "net_swallowed"))
    assert_findings(r, expected)
    sw = [f for f in r.json["findings"] if f["rule"] == "swallowed-error"][0]
    assert sw["pattern"] == "Connection refused", sw
    syn = [f for f in r.json["findings"] if f["rule"] == "synthetic-case"][0]
    assert syn["pattern"] == "Unable to find executable"


# ---------------------------------------------------------------------------------------------
# jest + jest-junit

def test_jest_report(jest_report):
    c = cases(jest_report)
    echo, swallowed = "chat echoes over a real socket", "chat swallows a refused connection"
    todo = "chat reconnects after a drop"
    assert c[echo][1] == "passed" and c[echo][0] >= 0.2, c
    assert c[swallowed][1] == "passed", c
    assert c[todo] == (0.0, "passed"), c  # jest-junit writes it.todo as a pass in 0 s
    r = audit(jest_report, "--network-tests", "chat *", "--floor", "chat *=100ms")
    expected = [("zero-time", todo)]
    if c[swallowed][0] < 0.1:
        expected.append((fast_rule(c[swallowed][0]), swallowed))
    # jest-junit's tests= leaves it.todo out: the audit says so wherever the counts disagree
    root = ET.parse(jest_report).getroot()
    for s in [root] + list(root.iter("testsuite")):
        n = len(list(s.iter("testcase")))
        if s.get("tests") is not None and int(s.get("tests")) != n:
            name = s.get("name") if s.tag == "testsuite" else (s.get("name") or "(testsuites)")
            expected.append(("count-mismatch", name))
    assert_findings(r, expected)


# ---------------------------------------------------------------------------------------------
# committed samples

SAMPLE_CASES = {
    "surefire": (
        [SAMPLES / "surefire"],
        ["--network-tests", "com.example.chat.*", "--floor", "com.example.chat.*=50ms"],
        [("swallowed-error", "com.example.chat.ChatIT.broadcastsToRoom"),
         ("floor", "com.example.chat.ChatIT.broadcastsToRoom"),
         ("synthetic-case", "com.example.chat.AuthIT.initializationError"),
         ("passed-on-retry", "com.example.chat.ChatIT.reconnectsAfterDrop")],
    ),
    "go-junit-report": (
        [SAMPLES / "go-junit-report.xml"],
        ["--network-tests", "*Staging*", "--network-tests", "*EchoRoundTrip*",
         "--floor", "TestEchoRoundTrip=100ms"],
        [("zero-time", "example.com/chat/client.TestDialStaging"),
         ("synthetic-case", "example.com/chat/server.[build failed]"),
         ("no-tests", "example.com/chat/proto")],
    ),
    "phpunit": (
        [SAMPLES / "phpunit.xml"],
        [],
        [("no-assertions", "Tests.ChatClientTest.testReconnects"),
         ("count-mismatch", "Chat Test Suite"),
         ("count-mismatch", "Chat Test Suite / Tests\\ChatClientTest")],
    ),
}


@pytest.mark.parametrize("shape", sorted(SAMPLE_CASES))
def test_committed_samples(shape):
    paths, flags, expected = SAMPLE_CASES[shape]
    r = audit(*paths, *flags)
    assert_findings(r, expected)


def test_surefire_details():
    r = audit(SAMPLES / "surefire", "--network-tests", "com.example.chat.*",
              "--floor", "com.example.chat.*=50ms")
    s = r.json["summary"]
    assert (s["reports"], s["tests"], s["passed"], s["errors"], s["skipped"],
            s["passed_on_retry"]) == (2, 6, 3, 1, 1, 1)
    fl = [f for f in r.json["findings"] if f["rule"] == "floor"][0]
    assert fl["time_ms"] == 4.0 and fl["floor_ms"] == 50.0 and fl["glob"] == "com.example.chat.*"
    assert fl["file"].endswith("TEST-com.example.chat.ChatIT.xml") and fl["line"] == 16
    # rejectsExpiredToken took "1,246.515" s: read with its grouping comma, not flagged
    assert "com.example.chat.ChatIT.rejectsExpiredToken" not in {t for _, t in findings(r)}


def test_all_samples_at_once_and_outputs(tmp_path):
    junit = tmp_path / "findings.xml"
    jpath = tmp_path / "report.json"
    r = run_wsprobe("audit", SAMPLES, "--json=%s" % jpath, "--junit", junit, "--show", "0")
    assert r.rc == 1, r
    j = json.loads(jpath.read_text())
    assert j["summary"]["reports"] == 4
    # JUnit: one failure per finding, passing cases for the quiet rules; CI can read it
    root = ET.parse(junit).getroot()
    fails = [tc for tc in root.iter("testcase") if tc.find("failure") is not None]
    assert len(fails) == len(j["findings"]) > 0
    assert {tc.get("classname") for tc in fails} == {"wsprobe.audit." + f["rule"]
                                                      for f in j["findings"]}
    quiet = {tc.get("name") for tc in root.iter("testcase") if tc.find("failure") is None}
    assert quiet == set(RULE_ORDER) - {f["rule"] for f in j["findings"]}
    # human report: grouped by rule, worst first, no colour when NO_COLOR is set
    out = r.stdout
    assert "\x1b[" not in out
    heads = [line.split(" ")[0] for line in out.splitlines() if " (rule " in line]
    assert heads == sorted(set(heads), key=RULE_ORDER.index) and len(heads) >= 4
    assert "verdict: %d findings" % len(j["findings"]) in out


def test_gzip_stdin_and_folders(tmp_path):
    expected = SAMPLE_CASES["phpunit"][2]
    gz = tmp_path / "phpunit.xml.gz"
    gz.write_bytes(gzip.compress((SAMPLES / "phpunit.xml").read_bytes()))
    assert_findings(audit(gz), expected)
    with open(SAMPLES / "phpunit.xml", "rb") as f:
        assert_findings(audit("-", stdin=f), expected)
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    shutil.copy(gz, tmp_path / "nested" / "deeper" / "r.xml.gz")
    (tmp_path / "nested" / "notes.txt").write_text("not a report")
    assert_findings(audit(tmp_path / "nested"), expected)


# ---------------------------------------------------------------------------------------------
# bad input

def test_malformed_names_file_and_line():
    r = audit(BAD / "malformed.xml")
    assert r.rc == 2, r
    e = r.json["errors"][0]
    assert e["file"].endswith("malformed.xml") and e["line"] == 5 and e["error"] == "malformed"
    assert "malformed.xml:5:" in r.stderr
    r = run_wsprobe("audit", BAD / "malformed.xml")
    assert r.rc == 2 and "malformed.xml:5: malformed" in r.stdout, r


def test_wrong_root():
    r = audit(BAD / "wrong_root.xml")
    assert r.rc == 2 and r.json["errors"][0]["error"] == "root", r
    assert "root element is <html>" in r.json["errors"][0]["message"]
    assert r.json["errors"][0]["line"] == 3


def test_missing_attributes_are_unknown_not_zero():
    r = audit(BAD / "missing_attrs.xml", "--network-tests", "*")
    assert_findings(r, [])
    s = r.json["summary"]
    assert (s["tests"], s["passed"], s["failed"], s["unknown_time"]) == (4, 3, 1, 3)


def test_billion_laughs_bounded():
    t0 = time.monotonic()
    rc, rss, err = max_rss_kb([wsprobe_bin(), "audit", "-q", BAD / "billion_laughs.xml"],
                              env=asan_env(), timeout=60)
    assert rc == 2, err
    assert time.monotonic() - t0 < 20
    assert rss < 200 * 1024, "billion laughs took %d KiB" % rss
    assert "billion_laughs.xml" in err


def test_xxe_never_read():
    r = audit(BAD / "xxe.xml")
    assert r.rc == 2 and r.json["errors"][0]["error"] == "dtd", r
    passwd = Path("/etc/passwd").read_text().splitlines()[0]
    assert passwd not in r.stdout and passwd not in r.stderr


def test_empty_missing_and_mixed_inputs(tmp_path):
    r = audit(BAD / "empty.xml")
    assert r.rc == 2 and "empty document" in r.json["errors"][0]["message"], r
    r = audit(tmp_path / "nope.xml")
    assert r.rc == 2 and "cannot open" in r.json["errors"][0]["message"], r
    (tmp_path / "empty-dir").mkdir()
    r = audit(tmp_path / "empty-dir")
    assert r.rc == 2 and "no reports" in r.json["errors"][0]["message"], r
    # a bad report among good ones: exit 2, and the good ones are still audited
    r = audit(SAMPLES / "phpunit.xml", BAD / "malformed.xml")
    assert r.rc == 2
    assert sorted(findings(r)) == sorted(SAMPLE_CASES["phpunit"][2])


def test_large_report_memory_is_flat(tmp_path):
    small, large = tmp_path / "small.xml", tmp_path / "large.xml"
    for path, mb in ((small, 5), (large, 50)):
        subprocess.run([PYTHON, str(GEN), str(mb), str(path)], check=True, capture_output=True,
                       timeout=300)
    env = asan_env()
    args = ["audit", "--network-tests", "*net_*", "--max-findings", "100", "-q"]
    rc1, rss_small, e1 = max_rss_kb([wsprobe_bin()] + args + [small], env=env)
    rc2, rss_large, e2 = max_rss_kb([wsprobe_bin()] + args + [large], env=env)
    assert rc1 == 1 and rc2 == 1, e1 + e2
    assert rss_large - rss_small < 24 * 1024, \
        "RSS grew from %d KiB (5 MB) to %d KiB (50 MB)" % (rss_small, rss_large)
    # a size cap turns a huge report into a clear error
    r = audit(large, "--max-report-size", "1M")
    assert r.rc == 2 and "larger than the cap" in r.json["errors"][0]["message"], r


# ---------------------------------------------------------------------------------------------
# the command line

def test_usage():
    r = run_wsprobe("audit", "--help")
    assert r.rc == 0 and "usage: wsprobe audit" in r.stdout
    r = run_wsprobe("audit", "--list-rules")
    assert r.rc == 0 and [l.split()[0] for l in r.stdout.splitlines()] == RULE_ORDER
    for args, msg in ((["--bogus", "x.xml"], "unknown option '--bogus'"),
                      ([], "no reports given"),
                      (["--floor", "x.xml"], "GLOB=DURATION"),
                      (["--floor", "a=soon", "x.xml"], "expected a duration"),
                      (["--disable", "nope", "x.xml"], "unknown rule 'nope'"),
                      (["--require-property", ">1", "x.xml"], "--require-property"),
                      (["--network-tests"], "needs a value"),
                      (["--floor-from-probe", "ws://127.0.0.1:1/ws", "x.xml"],
                       "--network-tests")):
        r = run_wsprobe("audit", *args)
        assert r.rc == 2 and msg in r.stderr, r


def _probe_works(url):
    r = run_wsprobe("probe", url, "--json", "-q", timeout=30)
    return r.rc == 0 and isinstance(r.json, dict) and isinstance(r.json.get("phases"), dict), r


def test_floor_from_probe(peers, tmp_path, refused_port):
    url = peers.echo().url("/ws")
    ok, why = _probe_works(url)
    if not ok:
        pytest.skip("`wsprobe probe` does not work yet in this build: %s" % str(why)[:300])
    report = tmp_path / "r.xml"
    report.write_text('<testsuite name="e2e"><testcase classname="e2e" name="instant" '
                      'time="0.000"/><testcase classname="e2e" name="slow" time="5"/>'
                      '<testcase classname="unit" name="quick" time="0"/></testsuite>')
    r = audit(report, "--floor-from-probe", "e2e.*=" + url)
    assert_findings(r, [("floor", "e2e.instant")])
    f = r.json["findings"][0]
    assert f["floor_ms"] > 0 and f["source"].startswith("probe " + url), f
    # the network-tests form
    r = audit(report, "--network-tests", "e2e.*", "--floor-from-probe", url)
    assert_findings(r, [("zero-time", "e2e.instant")])
    # a probe that fails is bad input, with the reason
    bad = "ws://127.0.0.1:%d/ws" % refused_port
    r = run_wsprobe("audit", report, "--floor-from-probe", "e2e.*=" + bad)
    assert r.rc == 2 and "the probe failed" in r.stderr, r
