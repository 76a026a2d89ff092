"""The JSON Schemas of docs/schema against real reports.

Every command with a JSON report is run here at least once where it succeeds and once where it
fails, against real peers on loopback (`wsprobe serve`, the python3-websockets echo peer, a
refused port), and what it wrote, on stdout or in its --json FILE, must carry the envelope
(command, schema_version 1) and match docs/schema/COMMAND.schema.json. The other e2e tests
validate every report they parse from stdout as well (conftest.run_wsprobe); here also the
--json FILE reports of run, parity and audit, and the shapes that are rare elsewhere (a probe
that could not start, under each command that can write one; a wait without any attempt).

And the schemas themselves: each one a valid draft 2020-12 schema, the class enum the table of
docs/exit-codes.md, and a report that breaks its schema (no command, another version, an
unknown key, a wrong type) is refused: the schemas can fail.
"""
import copy
import json
import subprocess
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from conftest import PYTHON, REPO, SCHEMA_DIR, check_schema, exit_codes, run_wsprobe, schema_errors
from serve_helpers import SECRET, SECRET_ENV, start_serve

COMMANDS = ("probe", "wait", "run", "parity", "security", "load", "load-merge", "audit")
SECRET_ENVS = {SECRET_ENV: SECRET}


def schema(name):
    return json.loads((SCHEMA_DIR / name).read_text())


def valid(report, command, context=""):
    """The report carries the envelope of `command` and matches its schema."""
    assert isinstance(report, dict), "not a JSON object: %r\n%s" % (report, context)
    assert report.get("command") == command, context
    assert report.get("schema_version") == 1, context
    check_schema(report, context)
    return report


def stdout_report(r, command):
    assert r.json is not None, "no JSON on stdout\n%s" % r
    return valid(r.json, command, str(r))


def file_report(path, command, r):
    assert Path(path).exists(), "no --json file written\n%s" % r
    return valid(json.loads(Path(path).read_text()), command, "%s\n%s" % (path, r))


# ---------------------------------------------------------------------------------------------
# Peers

@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    """A hardened `wsprobe serve` (token required, the test secret), ws:// and wss://."""
    srv = start_serve(tmp_path_factory.mktemp("serve"), "-q", tls=True, auth=True)
    yield srv
    srv.stop()


@pytest.fixture
def echo(peers):
    return peers.echo()


def plan(tmp_path, envs, checks="  - connect\n", name="plan.yaml"):
    """A plan with the environments {name: url}."""
    text = "name: schema\nenvironments:\n"
    for env, url in envs.items():
        text += "  %s:\n    url: %s\n    timeout: 2s\n    deadline: 5s\n" % (env, url)
    text += "checks:\n" + checks
    p = tmp_path / name
    p.write_text(text)
    return p


ECHO_CHECKS = ("  - connect\n"
               "  - conversation:\n"
               "      name: ping-pong\n"
               "      send: '{\"type\":\"ping\",\"id\":\"{{uuid}}\"}'\n"
               "      expect: {json: {\"/id\": \"{{sent./id}}\"}, within: 2s}\n")


# ---------------------------------------------------------------------------------------------
# The schemas themselves

def schema_files():
    return sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json"))


def test_there_is_a_schema_for_every_command():
    names = set(schema_files())
    for cmd in COMMANDS:
        assert "%s.schema.json" % cmd in names
    assert "security-list.schema.json" in names
    assert "common.schema.json" in names
    assert (SCHEMA_DIR / "README.md").exists()


@pytest.mark.parametrize("name", schema_files())
def test_each_schema_is_a_valid_draft_2020_12_schema(name):
    s = schema(name)
    assert s.get("$schema") == "https://json-schema.org/draft/2020-12/schema", name
    Draft202012Validator.check_schema(s)
    # every relative $ref names a file that exists, and a definition in it
    refs = []

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "$ref":
                    refs.append(x)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(s)
    for ref in refs:
        target, _, pointer = ref.partition("#")
        doc = schema(target) if target else s
        node = doc
        for part in [p for p in pointer.split("/") if p]:
            assert part in node, "%s: $ref %s does not resolve" % (name, ref)
            node = node[part]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_each_report_schema_requires_its_envelope(cmd):
    s = schema("%s.schema.json" % cmd)
    assert s["type"] == "object"
    assert {"command", "schema_version"} <= set(s["required"])
    assert s["properties"]["command"] == {"const": cmd}
    assert s["properties"]["schema_version"] == {"const": 1}
    # closed at the top: every key the writer emits is named in the schema
    assert s.get("additionalProperties") is False or s.get("unevaluatedProperties") is False


def test_the_class_enum_is_the_table_of_exit_codes():
    classes = schema("common.schema.json")["$defs"]["class"]["enum"]
    assert classes == list(exit_codes())


def test_each_class_has_its_exit_code():
    rules = schema("common.schema.json")["$defs"]["class_exit_code"]["allOf"]
    table = {r["if"]["properties"]["class"]["const"]: r["then"]["properties"]["exit_code"]["const"]
             for r in rules}
    assert table == exit_codes()


def test_the_check_groups_are_the_catalogs():
    r = run_wsprobe("security", "--list", "--json")
    assert r.rc == 0, str(r)
    groups = set(schema("common.schema.json")["$defs"]["check"]["properties"]["group"]["enum"])
    listed = {c["group"] for c in r.json}
    assert listed | {"basic"} == groups
    assert set(schema("security-list.schema.json")["items"]["properties"]["group"]["enum"]) == \
        listed


def test_security_list_is_a_bare_array_that_matches_its_schema():
    r = run_wsprobe("security", "--list", "--json")
    assert r.rc == 0, str(r)
    assert isinstance(r.json, list) and r.json, str(r)
    check_schema(r.json, str(r), name="security-list.schema.json")
    # the schema can fail
    bad = copy.deepcopy(r.json)
    bad[0]["prod_safe"] = "yes"
    assert schema_errors(bad, "security-list.schema.json")


def test_a_report_that_breaks_its_schema_is_refused(echo):
    r = run_wsprobe("probe", echo.url("/"), "--json")
    good = stdout_report(r, "probe")
    assert schema_errors(good) == []

    no_command = dict(good)
    del no_command["command"]
    assert schema_errors(no_command, "probe.schema.json"), "a report without command passed"
    assert schema_errors(no_command), "a report without command chose a schema"
    no_version = dict(good)
    del no_version["schema_version"]
    assert schema_errors(no_version)
    assert schema_errors(dict(good, schema_version=2))
    assert schema_errors(dict(good, command="nonesuch"))
    assert schema_errors(dict(good, command="wait"))  # another command's schema
    assert schema_errors(dict(good, surprise=1))  # closed at the top
    assert schema_errors(dict(good, **{"class": "NOT_A_CLASS"}))
    assert schema_errors(dict(good, ok=False))  # ok exactly when class is OK
    assert schema_errors(dict(good, exit_code="0"))
    assert schema_errors(dict(good, exit_code=1))  # not OK's code
    missing = dict(good)
    del missing["evidence"]
    assert schema_errors(missing)
    ws = copy.deepcopy(good)
    ws["ws"]["closed_by"] = "nobody"
    assert schema_errors(ws)
    ws["ws"]["closed_by"] = None
    ws["ws"]["close_code"] = "1000"
    assert schema_errors(ws)
    phases = copy.deepcopy(good)
    phases["phases"]["total_ms"] = -1
    assert schema_errors(phases)
    phases["phases"] = {"lunch_ms": 1.0}
    assert schema_errors(phases)


def test_a_broken_check_is_refused(tmp_path, echo):
    out = tmp_path / "run.json"
    r = run_wsprobe("run", plan(tmp_path, {"local": echo.url("/")}), "--env", "local",
                    "--json", out, "-q")
    good = file_report(out, "run", r)
    assert schema_errors(good) == []
    bad = copy.deepcopy(good)
    bad["checks"][0]["verdict"] = "maybe"
    assert schema_errors(bad)
    bad = copy.deepcopy(good)
    del bad["checks"][0]["evidence"]
    assert schema_errors(bad)
    bad = copy.deepcopy(good)
    bad["checks"][0]["evidence"] = "none"
    assert schema_errors(bad)
    # evidence is open: a check may record what it saw
    more = copy.deepcopy(good)
    more["checks"][0]["evidence"]["anything"] = {"nested": [1, 2]}
    assert schema_errors(more) == []


# ---------------------------------------------------------------------------------------------
# probe: one probe, a probe that could not start, --connections N

def test_probe_success(echo):
    j = stdout_report(run_wsprobe("probe", echo.url("/"), "--json", "--send", "hello",
                                  "--expect-text", "hello"), "probe")
    assert j["ok"] is True and j["failed_phase"] is None and j["steps"]


def test_probe_tls_and_health(serve):
    r = run_wsprobe("probe", serve.url(tls=True), "--json", "--cacert", serve.ca,
                    "--jwt-secret-env", SECRET_ENV, "--health",
                    "https://127.0.0.1:%d/health" % serve.wss_port, env=SECRET_ENVS)
    j = stdout_report(r, "probe")
    assert j["ok"] is True, str(r)
    assert j["tls"]["verified"] is True and j["health"]["status"] == 200


def test_probe_failures(serve, refused_port):
    j = stdout_report(run_wsprobe("probe", serve.url(), "--json"), "probe")  # no token
    assert j["class"] == "UPGRADE_AUTH" and j["http"]["status"] == 401
    j = stdout_report(run_wsprobe("probe", "ws://127.0.0.1:%d/" % refused_port, "--json"),
                      "probe")
    assert j["class"] == "TCP_REFUSED" and j["http"] is None


def test_probe_that_could_not_start():
    j = stdout_report(run_wsprobe("probe", "http://example.invalid/", "--json"), "probe")
    assert j["class"] == "URL_INVALID" and j["failed_phase"] == "setup"


def test_probe_connections(echo, refused_port):
    j = stdout_report(run_wsprobe("probe", echo.url("/"), "--json", "--connections", "3"),
                      "probe")
    assert j["ok"] is True and j["connections"] == 3 and len(j["results"]) == 3
    j = stdout_report(run_wsprobe("probe", "ws://127.0.0.1:%d/" % refused_port, "--json",
                                  "--connections", "2"), "probe")
    assert j["ok"] is False and j["by_class"] == {"TCP_REFUSED": 2}


# ---------------------------------------------------------------------------------------------
# wait

def test_wait_success(echo):
    j = stdout_report(run_wsprobe("wait", echo.url("/"), "--json"), "wait")
    assert j["reason"] == "ok" and j["last"]["ok"] is True


def test_wait_failures(serve, refused_port):
    j = stdout_report(run_wsprobe("wait", serve.url(), "--json"), "wait")
    assert j["reason"] == "fail_fast" and j["class"] == "UPGRADE_AUTH"
    j = stdout_report(run_wsprobe("wait", "ws://127.0.0.1:%d/" % refused_port, "--json",
                                  "--retry-refused", "--deadline", "500ms", "--interval",
                                  "100ms"), "wait")
    assert j["reason"] == "deadline" and j["class"] == "WAIT_DEADLINE" and j["attempts"] >= 1
    # a deadline too short for one attempt: no attempt, no last report
    j = stdout_report(run_wsprobe("wait", "ws://127.0.0.1:%d/" % refused_port, "--json",
                                  "--deadline", "1ms"), "wait")
    assert j["attempts"] == 0 and j["last_class"] == "none" and "last" not in j
    j = stdout_report(run_wsprobe("wait", "http://example.invalid/", "--json"), "wait")
    assert j["failed_phase"] == "setup"


# ---------------------------------------------------------------------------------------------
# run and parity: --json FILE and --json -

def test_run_success_and_failure(tmp_path, echo, refused_port):
    p = plan(tmp_path, {"good": echo.url("/"), "bad": "ws://127.0.0.1:%d/" % refused_port},
             ECHO_CHECKS)
    out = tmp_path / "good.json"
    r = run_wsprobe("run", p, "--env", "good", "--json", out, "-q")
    j = file_report(out, "run", r)
    assert r.rc == 0 and j["ok"] is True and j["summary"]["passed"] == 2, str(r)
    out = tmp_path / "bad.json"
    r = run_wsprobe("run", p, "--env", "bad", "--json", out, "-q")
    j = file_report(out, "run", r)
    assert r.rc == 1 and j["ok"] is False and j["checks"][0]["class"] == "TCP_REFUSED", str(r)
    r = run_wsprobe("run", p, "--env", "bad", "--json", "-")
    assert stdout_report(r, "run")["ok"] is False


def test_run_with_security_checks(tmp_path, serve):
    p = tmp_path / "sec.yaml"
    p.write_text("name: schema\nenvironments:\n  serve:\n    url: %s\n    timeout: 2s\n"
                 "    auth:\n      jwt: {secret_env: %s, alg: HS256, ttl: 5m}\n"
                 "checks:\n  - connect\n  - expect_auth_required\n"
                 "  - security: {checks: [auth, handshake]}\n" % (serve.url(), SECRET_ENV))
    out = tmp_path / "sec.json"
    r = run_wsprobe("run", p, "--env", "serve", "--json", out, "-q", env=SECRET_ENVS)
    j = file_report(out, "run", r)
    assert {c["group"] for c in j["checks"]} >= {"basic", "auth", "handshake"}, str(r)


def test_parity_same_and_drift(tmp_path, echo, refused_port):
    p = plan(tmp_path, {"a": echo.url("/"), "b": echo.url("/"),
                        "down": "ws://127.0.0.1:%d/" % refused_port}, ECHO_CHECKS)
    out = tmp_path / "same.json"
    r = run_wsprobe("parity", p, "--env", "a", "--env", "b", "--json", out, "-q")
    j = file_report(out, "parity", r)
    assert r.rc == 0 and j["ok"] is True and j["drift"] == 0, str(r)
    out = tmp_path / "drift.json"
    r = run_wsprobe("parity", p, "--env", "a", "--env", "down", "--json", out, "-q")
    j = file_report(out, "parity", r)
    assert r.rc == 1 and j["drift"] >= 1, str(r)
    # against the first report as a baseline: "down" never held, "b" still holds
    r = run_wsprobe("parity", p, "--env", "a", "--env", "b", "--baseline", tmp_path / "same.json",
                    "--json", "-", "-q")
    j = stdout_report(r, "parity")
    assert j["baseline"]["regressions"] == [], str(r)


# ---------------------------------------------------------------------------------------------
# security

def test_security_success_and_failure(serve, refused_port):
    r = run_wsprobe("security", serve.url(), "--json", "--checks", "auth,handshake",
                    "--jwt-secret-env", SECRET_ENV, env=SECRET_ENVS)
    j = stdout_report(r, "security")
    assert r.rc == 0 and j["ok"] is True, str(r)
    r = run_wsprobe("security", "ws://127.0.0.1:%d/" % refused_port, "--json", "--checks",
                    "handshake")
    j = stdout_report(r, "security")
    assert r.rc == 1 and j["summary"]["inconclusive"] == len(j["checks"]), str(r)
    r = run_wsprobe("security", "http://example.invalid/", "--json")
    assert stdout_report(r, "security")["failed_phase"] == "setup"


# ---------------------------------------------------------------------------------------------
# load and load-merge

LOAD = ("--connections", "2", "--duration", "1s", "--rate", "20", "--message", "m{{uuid}}",
        "--echo", "--json")


def test_load_success_and_failure(tmp_path, echo, refused_port):
    r = run_wsprobe("load", echo.url("/"), *LOAD, "--threshold", "errors<1%", timeout=30)
    j = stdout_report(r, "load")
    assert r.rc == 0 and j["ok"] is True and j["messages"]["matched"] > 0, str(r)
    base = tmp_path / "base.json"
    base.write_text(r.stdout)
    # a threshold that cannot hold, against the baseline
    r = run_wsprobe("load", echo.url("/"), *LOAD, "--threshold", "p99<1ns", "--baseline", base,
                    timeout=30)
    j = stdout_report(r, "load")
    assert r.rc == 1 and j["thresholds"][0]["ok"] is False and "baseline" in j, str(r)
    # no connection opens: the class
    r = run_wsprobe("load", "ws://127.0.0.1:%d/" % refused_port, "--connections", "2",
                    "--duration", "1s", "--json", timeout=30)
    j = stdout_report(r, "load")
    assert r.rc == exit_codes()["TCP_REFUSED"] and j["class"] == "TCP_REFUSED", str(r)
    r = run_wsprobe("load", "http://example.invalid/", "--json")
    assert stdout_report(r, "load")["failed_phase"] == "setup"


def test_load_merge_success_and_failure(tmp_path, echo):
    parts = []
    for i in range(2):
        r = run_wsprobe("load", echo.url("/"), *LOAD, timeout=30)
        stdout_report(r, "load")
        parts.append(tmp_path / ("agent-%d.json" % i))
        parts[-1].write_text(r.stdout)
    r = run_wsprobe("load-merge", *parts, "--json", "--threshold", "errors<1%")
    j = stdout_report(r, "load-merge")
    assert r.rc == 0 and j["agents"] == 2 and j["series_percentiles"] == "max over agents", str(r)
    r = run_wsprobe("load-merge", *parts, "--json", "--threshold", "p99<1ns")
    j = stdout_report(r, "load-merge")
    assert r.rc == 1 and j["ok"] is False, str(r)


# ---------------------------------------------------------------------------------------------
# audit: --json FILE and --json -

CLEAN = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="unit" tests="2" failures="0" errors="0" skipped="0" time="0.9">
<testcase classname="unit.codec" name="test_mask" time="0.400"/>
<testcase classname="unit.codec" name="test_frame" time="0.500"/>
</testsuite></testsuites>
"""

SWALLOWED = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="e2e" tests="1" failures="0" errors="0" skipped="0" time="0.0">
<testcase classname="e2e.chat" name="test_connect" file="tests/test_chat.py" line="12"
 time="0.000"><system-out>ConnectionRefusedError: [Errno 111] Connection refused
caught, passing anyway</system-out></testcase>
</testsuite></testsuites>
"""


def test_audit_success_and_failure(tmp_path):
    clean = tmp_path / "clean.xml"
    clean.write_text(CLEAN)
    out = tmp_path / "clean.json"
    r = run_wsprobe("audit", clean, "--json", out, "-q")
    j = file_report(out, "audit", r)
    assert r.rc == 0 and j["ok"] is True and j["findings"] == [], str(r)

    swallowed = tmp_path / "swallowed.xml"
    swallowed.write_text(SWALLOWED)
    out = tmp_path / "swallowed.json"
    r = run_wsprobe("audit", swallowed, "--json", out, "-q", "--network-tests", "e2e.*")
    j = file_report(out, "audit", r)
    assert r.rc == 1 and j["findings"], str(r)

    malformed = REPO / "tests" / "e2e" / "audit" / "bad" / "malformed.xml"
    out = tmp_path / "malformed.json"
    r = run_wsprobe("audit", malformed, "--json", out, "-q")
    j = file_report(out, "audit", r)
    assert r.rc == 2 and j["errors"][0]["error"] == "malformed", str(r)

    r = run_wsprobe("audit", swallowed, malformed, "--json", "-")
    assert stdout_report(r, "audit")["ok"] is False


# ---------------------------------------------------------------------------------------------
# By hand, as docs/schema/README.md says

def test_the_jsonschema_command_line_of_the_readme(tmp_path, echo):
    r = run_wsprobe("probe", echo.url("/"), "--json")
    good = tmp_path / "report.json"
    good.write_text(r.stdout)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(r.json, ok="yes")))
    cmd = [PYTHON, "-m", "jsonschema", "--base-uri", SCHEMA_DIR.as_uri() + "/", "-i"]
    ok = subprocess.run(cmd + [str(good), str(SCHEMA_DIR / "probe.schema.json")],
                        capture_output=True, timeout=60)
    assert ok.returncode == 0, ok.stderr.decode(errors="replace")[-2000:]
    no = subprocess.run(cmd + [str(bad), str(SCHEMA_DIR / "probe.schema.json")],
                        capture_output=True, timeout=60)
    assert no.returncode == 1, (no.stdout + no.stderr).decode(errors="replace")[-2000:]
