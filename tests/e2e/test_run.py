"""`wsprobe run PLAN --env NAME`: plans against real peers on loopback, the JSON and JUnit
reports (validated against tests/e2e/junit.xsd with xmllint and parsed with python's XML
parser), located errors for malformed plans, secrets kept out of every report, and bounded runs
against hostile endpoints."""
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import run_wsprobe

HERE = Path(__file__).resolve().parent
PLANS = HERE / "plans"
XSD = HERE / "junit.xsd"
EVIDENCE = ("handshake_ms", "bytes_tx", "bytes_rx", "status", "close_code", "class")


def plan_from(template, tmp_path, **subs):
    text = (PLANS / template).read_text()
    for k, v in subs.items():
        text = text.replace("@%s@" % k, str(v))
    p = tmp_path / template
    p.write_text(text)
    return p


def write_plan(tmp_path, text, name="plan.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def validate_junit(path):
    """Well-formed for python's parser and valid against the committed XSD (xmllint)."""
    root = ET.parse(path).getroot()
    xmllint = shutil.which("xmllint")
    if xmllint is None:
        pytest.fail("xmllint is missing: scripts/deps.sh installs libxml2-utils")
    r = subprocess.run([xmllint, "--noout", "--schema", str(XSD), str(path)],
                       capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return root


def cases_of(root):
    return {tc.get("name"): tc for tc in root.iter("testcase")}


def props(tc):
    return {p.get("name"): p.get("value") for p in tc.find("properties").iter("property")}


def run_plan(plan, *args, env=None, timeout=30):
    return run_wsprobe("run", plan, *args, env=env, timeout=timeout)


# ---------------------------------------------------------------------------------------------
# A plan that holds

def test_plan_against_echo_passes_with_junit_evidence(peers, tmp_path):
    echo = peers.echo()
    plan = plan_from("echo.yaml", tmp_path, PORT=echo.port)
    junit, report = tmp_path / "r.xml", tmp_path / "r.json"
    r = run_plan(plan, "--env", "local", "--junit", junit, "--json=%s" % report)
    assert r.rc == 0, r
    j = json.loads(report.read_text())
    assert j["ok"] is True and j["exit_code"] == 0 and j["environment"] == "local"
    ids = [c["id"] for c in j["checks"]]
    assert ids == ["connect", "health", "ping-pong", "concurrent"]
    assert all(c["verdict"] == "pass" for c in j["checks"]), j["checks"]
    s = j["summary"]
    assert (s["performed"], s["passed"], s["failed"], s["inconclusive"]) == (4, 4, 0, 0)
    assert j["checks"][3]["evidence"]["connections"] == 4
    assert j["checks"][3]["evidence"]["succeeded"] == 4

    root = validate_junit(junit)
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"),
            suite.get("skipped")) == ("4", "0", "0", "0")
    cases = cases_of(root)
    assert set(cases) == {"connect", "health", "ping-pong", "concurrent"}
    for name, tc in cases.items():
        p = props(tc)
        for key in EVIDENCE:
            assert key in p, (name, p)
        assert p["class"] == "OK" and p["verdict"] == "pass"
        assert int(p["bytes_tx"]) > 0 and int(p["bytes_rx"]) > 0, (name, p)
        assert tc.find("failure") is None and tc.find("error") is None
        assert tc.find("system-out") is not None
    c = props(cases["connect"])
    assert c["status"] == "101" and float(c["handshake_ms"]) > 0
    assert props(cases["health"])["status"] == "200"
    assert "HTTP/1.1 101" in cases["connect"].find("system-out").text


def test_failures_carry_class_and_hint_in_junit(peers, tmp_path, refused_port):
    echo = peers.echo()
    plan = write_plan(tmp_path, """
environments:
  local:
    url: ws://127.0.0.1:%d/ws
    timeout: 3s
  down:
    url: ws://127.0.0.1:%d/ws
checks:
  - connect
  - expect_auth_required
""" % (echo.port, refused_port))
    junit, report = tmp_path / "r.xml", tmp_path / "r.json"
    r = run_plan(plan, "--env", "local", "--junit", junit, "--json=%s" % report)
    assert r.rc == 1, r
    j = json.loads(report.read_text())
    by_id = {c["id"]: c for c in j["checks"]}
    assert by_id["connect"]["verdict"] == "pass"
    assert by_id["expect_auth_required"]["verdict"] == "fail"
    assert by_id["expect_auth_required"]["class"] == "AUTH_NOT_ENFORCED"
    root = validate_junit(junit)
    f = cases_of(root)["expect_auth_required"].find("failure")
    assert f is not None and f.get("type") == "AUTH_NOT_ENFORCED"
    assert f.get("message").startswith("AUTH_NOT_ENFORCED")
    assert "hint:" in f.text

    r = run_plan(plan, "--env", "down", "--junit", junit, "--json=%s" % report)
    assert r.rc == 1, r
    j = json.loads(report.read_text())
    assert j["checks"][0]["class"] == "TCP_REFUSED" and j["checks"][0]["verdict"] == "fail"
    # no credential and a refused port: the auth check cannot decide -> inconclusive, not pass
    assert j["checks"][1]["verdict"] == "inconclusive"
    root = validate_junit(junit)
    cases = cases_of(root)
    assert cases["connect"].find("failure").get("type") == "TCP_REFUSED"
    assert cases["expect_auth_required"].find("error") is not None
    assert root.find("testsuite").get("errors") == "1"


def test_json_to_stdout_and_strict_warn(peers, tmp_path):
    echo = peers.echo()
    # every pointer of an expectation is checked on the same message
    both = """
environments:
  local: {url: "ws://127.0.0.1:%d/ws", timeout: 3s}
checks:
  - conversation:
      send: '{"type":"ping","id":"{{uuid}}"}'
      expect: {json: {"/type": "%s", "/id": "{{sent./id}}"}, within: 1s}
"""
    r = run_plan(write_plan(tmp_path, both % (echo.port, "ping")), "--env", "local", "--json")
    assert r.rc == 0, r
    assert r.json["checks"][0]["verdict"] == "pass"
    r = run_plan(write_plan(tmp_path, both % (echo.port, "pong")), "--env", "local", "--json")
    assert r.rc == 1, r
    assert r.json["checks"][0]["verdict"] == "fail"
    assert r.json["checks"][0]["class"] == "WS_EXPECT_MISMATCH"
    # past the eight pairs one message is checked against, the rest are named and warned about
    keys = "abcdefghi"
    sent = ",".join('"%s":%d' % (k, i) for i, k in enumerate(keys))
    pairs = ", ".join('"/%s": %d' % (k, i) for i, k in enumerate(keys))
    many = write_plan(tmp_path, """
environments:
  local: {url: "ws://127.0.0.1:%d/ws", timeout: 3s}
checks:
  - conversation:
      send: '{%s}'
      expect: {json: {%s}}
""" % (echo.port, sent, pairs))
    r = run_plan(many, "--env", "local", "--json")
    assert r.rc == 0, r
    assert r.json["checks"][0]["verdict"] == "warn"
    assert r.json["summary"]["warned"] == 1
    r = run_plan(many, "--env", "local", "--json", "--strict")
    assert r.rc == 1, r


# ---------------------------------------------------------------------------------------------
# Malformed plans: a location and exit 2, before any connection

MALFORMED = [
    ("bad-type-url.yaml", 4, 10),
    ("bad-type-connections.yaml", 7, 20),
    ("unknown-check.yaml", 6, 5),
    ("unknown-key.yaml", 5, 7),
    ("literal-secret.yaml", 7, 9),
    ("missing-secret-env.yaml", 5, 25),
    ("missing-token-env.yaml", 5, 18),
    ("yaml-syntax.yaml", 6, 1),
    ("unknown-security.yaml", 5, 22),
    ("bad-url.yaml", 3, 10),
]


@pytest.mark.parametrize("name,line,col", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_plan_located_error(name, line, col):
    path = PLANS / name
    r = run_plan(path, "--env", "staging", env={"WSPROBE_TEST_SURELY_UNSET_SECRET": "",
                                               "WSPROBE_TEST_SURELY_UNSET_TOKEN": ""})
    assert r.rc == 2, r
    assert "%s:%d:%d:" % (path, line, col) in r.stderr, r
    assert r.stdout == ""


def test_plan_error_still_leaves_a_junit_report(tmp_path):
    junit = tmp_path / "r.xml"
    path = PLANS / "unknown-check.yaml"
    r = run_plan(path, "--env", "staging", "--junit", junit)
    assert r.rc == 2, r
    root = validate_junit(junit)
    err = cases_of(root)["plan"].find("error")
    assert err.get("type") == "USAGE"
    assert ("%s:6:5:" % path) in err.get("message")


def test_literal_secret_value_not_echoed():
    r = run_plan(PLANS / "literal-secret.yaml", "--env", "staging")
    assert r.rc == 2
    assert "hunter2-literal-secret" not in r.stderr + r.stdout


def test_unknown_env_points_at_environments(tmp_path):
    plan = write_plan(tmp_path, "checks: [connect]\nenvironments:\n  staging: {url: ws://127.0.0.1:1/ws}\n")
    r = run_plan(plan, "--env", "production")
    assert r.rc == 2, r
    assert "%s:2:1:" % plan in r.stderr, r
    assert "staging" in r.stderr


def test_missing_env_option_and_missing_plan(tmp_path):
    assert run_plan(PLANS / "echo.yaml").rc == 2
    r = run_plan(tmp_path / "nope.yaml", "--env", "x")
    assert r.rc == 2 and "nope.yaml" in r.stderr


def test_missing_secret_file_is_located(tmp_path):
    plan = write_plan(tmp_path, """environments:
  s:
    url: ws://127.0.0.1:1/ws
    auth:
      jwt:
        secret_file: %s
checks: [connect]
""" % (tmp_path / "absent-secret"))
    r = run_plan(plan, "--env", "s")
    assert r.rc == 2 and "%s:6:22:" % plan in r.stderr, r


# ---------------------------------------------------------------------------------------------
# Secrets

TOKEN = "tok-e2e-Zm9vYmFyYmF6cXV4LXNlY3JldA"
SECRET = "plan-e2e-secret-value-7f3a9c1d2e4b"


def test_secrets_never_in_any_report(peers, tmp_path):
    """The echo peer's /headers path sends the upgrade request's headers back as a message: the
    credential comes back over the wire, lands in a failure excerpt, and must still be
    redacted in the table, the JSON and the JUnit."""
    echo = peers.echo()
    plan = write_plan(tmp_path, """
environments:
  ready:
    url: ws://127.0.0.1:%(p)d/headers
    timeout: 2s
    auth: {token_env: E2E_PLAN_TOKEN}
  minted:
    url: ws://127.0.0.1:%(p)d/headers
    timeout: 2s
    auth:
      jwt: {secret_env: E2E_PLAN_SECRET, alg: HS256, claims: {sub: e2e}}
checks:
  - connect
  - conversation:
      expect: {text: something-else}
""" % {"p": echo.port})
    # nothing is sent: the one message that comes is /headers' JSON, credential included
    env = {"E2E_PLAN_TOKEN": TOKEN, "E2E_PLAN_SECRET": SECRET}
    for name in ("ready", "minted"):
        junit, report = tmp_path / ("%s.xml" % name), tmp_path / ("%s.json" % name)
        r = run_plan(plan, "--env", name, "--junit", junit, "--json=%s" % report, env=env)
        assert r.rc == 1, r
        j = json.loads(report.read_text())
        assert j["checks"][0]["verdict"] == "pass", j
        conv = j["checks"][1]
        assert conv["class"] == "WS_EXPECT_MISMATCH", conv
        # the excerpt of what came back is there, with the credential redacted
        assert "authorization" in conv["message"].lower(), conv
        assert "[redacted]" in conv["message"], conv
        everything = r.stdout + r.stderr + report.read_text() + junit.read_text()
        assert TOKEN not in everything
        assert SECRET not in everything
        # no minted JWT, whole or in part: only the constant "eyJ" (base64 of '{"') of the
        # redactor's marker "eyJ…[redacted]" may stand where one was
        # (a Sec-WebSocket-Accept is random base64 and may hold "eyJ" by chance: not a token)
        scrubbed = re.sub(r"Sec-WebSocket-Accept: [A-Za-z0-9+/=]+", "", everything)
        assert not re.search(r"eyJ[A-Za-z0-9_.-]{4}", scrubbed), everything


def test_secret_value_echoed_back_is_redacted(peers, tmp_path):
    """A conversation that sends the secret itself ({{env.VAR}}) to an echo server: the
    mismatch excerpt carries it back, and the report must not."""
    echo = peers.echo()
    plan = write_plan(tmp_path, """
environments:
  s:
    url: ws://127.0.0.1:%d/ws
    timeout: 2s
    auth:
      jwt: {secret_env: E2E_PLAN_SECRET, alg: HS256}
checks:
  - conversation:
      send: 'leak {{env.E2E_PLAN_SECRET}}'
      expect: {text: nothing-like-it}
""" % echo.port)
    junit = tmp_path / "r.xml"
    r = run_plan(plan, "--env", "s", "--json", "--junit", junit,
                 env={"E2E_PLAN_SECRET": SECRET})
    assert r.rc == 1, r
    assert r.json["checks"][0]["class"] == "WS_EXPECT_MISMATCH"
    assert "leak [redacted]" in r.json["checks"][0]["message"], r.json["checks"][0]
    assert SECRET not in r.stdout + r.stderr + junit.read_text()


# ---------------------------------------------------------------------------------------------
# Hostile endpoints: bounded, never hung

def test_silent_endpoint_is_bounded(peers, tmp_path):
    silent = peers.hostile("silent")
    plan = write_plan(tmp_path, """
environments:
  s: {url: "ws://127.0.0.1:%d/ws", timeout: 500ms, deadline: 1s}
checks:
  - connect
  - conversation: {send: x, expect: {text: x}}
  - concurrent: {connections: 3, each: connect}
""" % silent.port)
    r = run_plan(plan, "--env", "s", "--json", timeout=20)
    assert r.rc == 1, r
    assert [c["class"] for c in r.json["checks"]] == ["HS_TIMEOUT"] * 3
    assert all(c["verdict"] == "fail" for c in r.json["checks"])


def test_run_deadline_leaves_unstarted_checks_inconclusive(peers, tmp_path):
    silent = peers.hostile("silent")
    plan = write_plan(tmp_path, """
environments:
  s: {url: "ws://127.0.0.1:%d/ws", timeout: 5s}
checks:
  - connect
  - conversation: {name: a, send: x, expect: {text: x}}
  - conversation: {name: b, send: x, expect: {text: x}}
  - conversation: {name: c, send: x, expect: {text: x}}
""" % silent.port)
    r = run_plan(plan, "--env", "s", "--json", "--parallel", "1", "--deadline", "700ms",
                 timeout=20)
    assert r.rc == 1, r
    checks = r.json["checks"]
    # every probe is capped at the run's deadline; what had not started by then did not run
    assert checks[0]["ran"] is True and checks[0]["class"] == "HS_TIMEOUT"
    assert [c["ran"] for c in checks[2:]] == [False, False]
    assert all(c["verdict"] == "inconclusive" for c in checks[2:])
    assert r.json["summary"]["performed"] <= 2


def test_abrupt_close_and_garbage_fail_not_crash(peers, tmp_path):
    close = peers.hostile("close")
    junk = peers.hostile("ssh")
    plan = write_plan(tmp_path, """
environments:
  close: {url: "ws://127.0.0.1:%d/ws", timeout: 1s}
  junk: {url: "ws://127.0.0.1:%d/ws", timeout: 1s}
checks: [connect, expect_auth_required]
""" % (close.port, junk.port))
    for env, cls in (("close", "HS_NO_RESPONSE"), ("junk", "HS_MALFORMED")):
        r = run_plan(plan, "--env", env, "--json", timeout=20)
        assert r.rc == 1, r
        assert r.json["checks"][0]["class"] == cls
        assert r.json["checks"][1]["verdict"] == "inconclusive"


# ---------------------------------------------------------------------------------------------
# The demo plan against the reference server (examples/demo.yaml)

def _serve_suite_missing():
    from conftest import wsprobe_path
    exe = str(wsprobe_path())
    for args in (["serve", "--help"], ["security", "--list"]):
        r = subprocess.run([exe] + args, capture_output=True, timeout=10)
        if r.returncode != 0:
            return "wsprobe %s is not in this build yet" % args[0]
    return None


def test_demo_plan_against_serve(tmp_path):
    why = _serve_suite_missing()
    if why:
        pytest.skip(why)
    from serve_helpers import SECRET, SECRET_ENV, start_serve
    srv = start_serve(tmp_path / "srv", "--allow-origin", "https://chat.example",
                      "--handshake-timeout", "2s", "--idle-timeout", "2s", tls=False)
    try:
        root = HERE.parents[1]
        text = (root / "examples" / "demo.yaml").read_text()
        text = text.replace("8765", str(srv.port())).replace("WSPROBE_DEMO_SECRET", SECRET_ENV)
        plan = write_plan(tmp_path, text, "demo.yaml")
        env = {SECRET_ENV: SECRET}
        w = run_wsprobe("wait", srv.url(), "--deadline", "10s", "--jwt-secret-env", SECRET_ENV,
                        "--origin", "https://chat.example", "--json", env=env)
        assert w.rc == 0, w
        junit = tmp_path / "demo.xml"
        r = run_plan(plan, "--env", "local", "--json", "--junit", junit, env=env,
                     timeout=60)
        assert r.rc == 0, r
        s = r.json["summary"]
        assert s["failed"] == 0 and s["inconclusive"] == 0 and s["passed"] >= 15, s
        by_id = {c["id"]: c["verdict"] for c in r.json["checks"]}
        for must in ("connect", "health", "chat-ack", "concurrent", "expect_auth_required",
                     "auth.missing", "origin.foreign", "limits.message_size"):
            assert by_id[must] == "pass", (must, by_id)
        validate_junit(junit)
        assert SECRET not in r.stdout + r.stderr + junit.read_text()
    finally:
        srv.stop()


def test_plan_security_checks_that_sign_get_the_environments_key(tmp_path):
    """auth.claims signs tokens with bad claims on purpose: in a plan it takes the signing
    material from the environment's auth.jwt, and catches a server that skips claims."""
    from serve_helpers import SECRET, SECRET_ENV, start_serve
    verdicts = {}
    for name, extra in (("hardened", ()), ("skip-claims", ("--unsafe-skip-claims",))):
        srv = start_serve(tmp_path / name, *extra, tls=False)
        try:
            plan = write_plan(tmp_path, """
environments:
  local:
    url: "%s"
    auth: {jwt: {secret_env: %s}}
checks:
  - security: {checks: [auth.claims], include_staging_only: true}
""" % (srv.url(), SECRET_ENV), name="claims-%s.yaml" % name)
            r = run_plan(plan, "--env", "local", "--json", env={SECRET_ENV: SECRET})
            verdicts[name] = (r.rc, r.json["checks"][0]["verdict"])
            assert SECRET not in r.stdout and SECRET not in r.stderr
        finally:
            srv.stop()
    assert verdicts == {"hardened": (0, "pass"), "skip-claims": (1, "fail")}, verdicts
