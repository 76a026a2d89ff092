"""`wsprobe parity PLAN --env A --env B`: the same checks on several environments, the matrix
with drift marked, normalised evidence, a baseline, JUnit per environment, and the mutation
proof between a hardened `wsprobe serve` and one with --unsafe-any-origin --unsafe-no-sanitize
(which must show exactly the origin and sanitization checks as drift)."""
import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import run_wsprobe, wsprobe_path

HERE = Path(__file__).resolve().parent
PLANS = HERE / "plans"


def write_plan(tmp_path, text, name="plan.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def parity(plan, *args, env=None, timeout=60):
    return run_wsprobe("parity", plan, *args, "--json", env=env, timeout=timeout)


def rows(j):
    return {row["id"]: row for row in j["matrix"]}


def two_env_plan(tmp_path, port_a, port_b, extra=""):
    return write_plan(tmp_path, """
environments:
  staging: {url: "ws://127.0.0.1:%d/ws", timeout: 2s}
  production: {url: "ws://127.0.0.1:%d/ws", timeout: 2s}
checks:
  - connect
  - conversation: {send: hello, expect: {text: hello}}
%s""" % (port_a, port_b, extra))


def test_alike_environments_have_no_drift(peers, tmp_path):
    echo = peers.echo()
    plan = two_env_plan(tmp_path, echo.port, echo.port)
    r = parity(plan, "--env", "staging", "--env", "production")
    assert r.rc == 0, r
    j = r.json
    assert j["ok"] is True and j["drift"] == 0
    assert j["environments"] == ["staging", "production"]
    for row in j["matrix"]:
        assert row["status"] == "same"
        assert row["verdicts"] == {"staging": "pass", "production": "pass"}
        # volatile fields (times, byte counts, messages) are not compared
        assert row["evidence_differs"] is False, row
    ev = j["results"]["staging"]["connect"]["evidence"]
    assert "handshake_ms" not in ev and "bytes_tx" not in ev and ev["status"] == 101


def test_transport_evidence_is_compared(peers, pki, tmp_path):
    """wss with the test CA against plain ws: the same verdicts, but the normalised evidence of
    connect differs in its TLS facts (version, cipher, issuer, expiry bucket)."""
    plain = peers.echo()
    tls = peers.echo(tls="trusted")
    plan = write_plan(tmp_path, """
environments:
  plain: {url: "ws://127.0.0.1:%d/ws", timeout: 2s}
  tls:
    url: wss://127.0.0.1:%d/ws
    timeout: 2s
    tls: {cacert: %s, min_version: '1.2'}
checks: [connect]
""" % (plain.port, tls.port, pki.ca))
    r = parity(plan, "--env", "plain", "--env", "tls")
    assert r.rc == 0, r
    row = rows(r.json)["connect"]
    assert row["status"] == "same" and row["evidence_differs"] is True
    assert "tls" in row["differences"], row
    ev = r.json["results"]["tls"]["connect"]["evidence"]
    assert ev["tls"]["verified"] is True and ev["tls"]["expiry"] in ("under 30 days", "under 90 days")
    assert "wsprobe test CA" in ev["tls"]["issuer"]
    assert "websockets" in ev["server"]
    assert "days_left" not in json.dumps(ev)


def test_drift_is_marked_and_exits_1(peers, tmp_path, refused_port):
    echo = peers.echo()
    plan = two_env_plan(tmp_path, echo.port, refused_port)
    junit = tmp_path / "parity.xml"
    r = parity(plan, "--env", "staging", "--env", "production", "--junit", junit)
    assert r.rc == 1, r
    m = rows(r.json)
    assert m["connect"]["status"] == "drift"
    assert m["connect"]["verdicts"] == {"staging": "pass", "production": "fail"}
    assert r.json["results"]["production"]["connect"]["class"] == "TCP_REFUSED"
    assert r.json["drift"] == 2
    root = ET.parse(junit).getroot()
    suites = root.findall("testsuite")
    assert len(suites) == 2
    assert [s.find("properties/property[@name='environment']").get("value")
            for s in suites] == ["staging", "production"]
    assert suites[1].get("failures") == "2"


def test_human_matrix(peers, tmp_path, refused_port):
    echo = peers.echo()
    plan = two_env_plan(tmp_path, echo.port, refused_port)
    r = run_wsprobe("parity", plan, "--env", "staging", "--env", "production")
    assert r.rc == 1
    line = [l for l in r.stdout.splitlines() if l.strip().startswith("connect")][0]
    assert "pass" in line and "fail" in line and "drift" in line


def test_baseline_flags_a_weaker_environment(peers, tmp_path, refused_port):
    echo = peers.echo()
    plan = two_env_plan(tmp_path, echo.port, refused_port)
    # an accepted earlier run in which production held everything
    baseline = tmp_path / "accepted.json"
    baseline.write_text(json.dumps({"results": {
        "staging": {"connect": {"verdict": "pass"}, "conversation": {"verdict": "pass"}},
        "production": {"connect": {"verdict": "pass"}, "conversation": {"verdict": "pass"}}}}))
    r = parity(plan, "--env", "production", "--baseline", baseline)
    assert r.rc == 1, r
    regs = r.json["baseline"]["regressions"]
    assert {(g["environment"], g["id"], g["now"]) for g in regs} == {
        ("production", "connect", "fail"), ("production", "conversation", "fail")}
    # the healthy environment against the same baseline: nothing weaker, exit 0
    r = parity(plan, "--env", "staging", "--baseline", baseline)
    assert r.rc == 0, r
    assert r.json["baseline"]["regressions"] == []


def test_baseline_from_own_output_round_trips(peers, tmp_path):
    echo = peers.echo()
    plan = two_env_plan(tmp_path, echo.port, echo.port)
    first = tmp_path / "first.json"
    r = run_wsprobe("parity", plan, "--env", "staging", "--env", "production", "--json=%s" % first)
    assert r.rc == 0, r
    r = parity(plan, "--env", "staging", "--env", "production", "--baseline", first)
    assert r.rc == 0, r
    assert r.json["baseline"]["regressions"] == []


def test_usage_and_plan_errors(tmp_path, peers):
    echo = peers.echo()
    plan = two_env_plan(tmp_path, echo.port, echo.port)
    assert run_wsprobe("parity", plan, "--env", "staging").rc == 2
    r = run_wsprobe("parity", plan, "--env", "staging", "--env", "nowhere")
    assert r.rc == 2 and ("%s:2:1:" % plan) in r.stderr, r
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert run_wsprobe("parity", plan, "--env", "staging", "--baseline", bad).rc == 2


# ---------------------------------------------------------------------------------------------
# The mutation proof: hardened serve against --unsafe-any-origin --unsafe-no-sanitize

def _serve_and_security_available():
    exe = str(wsprobe_path())
    try:
        s = subprocess.run([exe, "serve", "--help"], capture_output=True, timeout=10)
        sec = subprocess.run([exe, "security", "--list"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "cannot run wsprobe: %s" % e
    if s.returncode != 0:
        return "wsprobe serve is not in this build yet"
    if sec.returncode != 0:
        return "the security suite (wsprobe security) is not in this build yet"
    return None


@pytest.fixture
def serve_pair(tmp_path):
    why = _serve_and_security_available()
    if why:
        pytest.skip(why)
    from serve_helpers import SECRET, SECRET_ENV, start_serve
    common = ("--allow-origin", "https://app.example")
    hardened = start_serve(tmp_path / "hardened", *common, tls=False)
    unsafe = start_serve(tmp_path / "unsafe", *common, "--unsafe-any-origin",
                         "--unsafe-no-sanitize", tls=False)
    yield hardened, unsafe, SECRET, SECRET_ENV
    for srv in (hardened, unsafe):
        srv.stop()


def test_parity_hardened_vs_unsafe_serve_shows_exactly_origin_and_sanitization(serve_pair,
                                                                               tmp_path):
    hardened, unsafe, secret, secret_env = serve_pair
    text = (PLANS / "serve-parity.yaml").read_text()
    text = (text.replace("@HARDENED@", str(hardened.port())).replace("@UNSAFE@", str(unsafe.port()))
            .replace("@SECRET_ENV@", secret_env))
    plan = write_plan(tmp_path, text)
    junit = tmp_path / "parity.xml"
    r = parity(plan, "--env", "hardened", "--env", "unsafe", "--junit", junit,
               env={secret_env: secret}, timeout=90)
    assert r.rc == 1, r
    m = rows(r.json)
    drifted = {i for i, row in m.items() if row["status"] != "same"}
    assert drifted == {"origin.foreign", "origin.bypass", "input.xss"}, {
        i: m[i]["verdicts"] for i in drifted}
    for i in drifted:
        assert m[i]["status"] == "drift"
        assert m[i]["verdicts"] == {"hardened": "pass", "unsafe": "fail"}
    # the four that users first asked for are all covered
    for must in ("expect_auth_required", "auth.missing", "origin.foreign", "input.xss",
                 "limits.message_size", "limits.rate"):
        assert must in m, must
    assert m["expect_auth_required"]["verdicts"] == {"hardened": "pass", "unsafe": "pass"}
    everything = r.stdout + r.stderr + junit.read_text()
    assert secret not in everything and "eyJ" not in everything
