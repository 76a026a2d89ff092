"""YAML is bounded before it is built (issue 13, codec/yaml.h): a plan or an audit --config of
1 MiB (the size cap) nested in flow, block or mapping form is refused at the depth cap, located,
with exit 2 (USAGE), instead of minutes inside libyaml; a second YAML document is refused at its
start instead of being ignored. `run` writes no JSON report for a plan it cannot read (the
error is the one stderr line, and the JUnit report's `plan` case when --junit is given), so the
structured fields asserted are the JUnit error's type and message.

Each run has a 20 s timeout, as a hang check: before the fix these ran past 120 s."""
import xml.etree.ElementTree as ET

import pytest

from conftest import run_wsprobe

MIB = 1 << 20
PLAN_HEAD = "environments: {s: {url: 'ws://127.0.0.1:9/ws'}}\nchecks: "
# (unit repeated to fill 1 MiB, what goes between the head and the units, line, column of the
# level past the cap: the root mapping is level 1, so the 32nd collection opens level 33)
NESTING = {
    "flow-lists": ("[", "", 2, 40),
    "flow-mappings": ("{a: ", "", 2, 133),
    "block-lists": ("- ", "\n", 3, 63),
}


def nested(head, unit, sep):
    body = head + sep
    return body + unit * ((MIB - len(body)) // len(unit))


def run_plan(plan, *args):
    return run_wsprobe("run", plan, "--env", "s", *args, timeout=20)


def junit_plan_error(path):
    root = ET.parse(path).getroot()
    case = next(tc for tc in root.iter("testcase") if tc.get("name") == "plan")
    return case.find("error")


@pytest.mark.parametrize("form", sorted(NESTING))
def test_nested_plan_of_1mib_refused_at_the_cap(tmp_path, form):
    unit, sep, line, col = NESTING[form]
    plan = tmp_path / "deep.yaml"
    plan.write_text(nested(PLAN_HEAD, unit, sep))
    assert plan.stat().st_size > MIB - 4 and plan.stat().st_size <= MIB
    junit = tmp_path / "r.xml"
    r = run_plan(plan, "--junit", junit, "--json")
    assert r.rc == 2, r
    assert r.stdout == "", r
    where = "%s:%d:%d: nested deeper than 32 levels" % (plan, line, col)
    assert where in r.stderr, r
    err = junit_plan_error(junit)
    assert err is not None
    assert err.get("type") == "USAGE"
    assert where in err.get("message")


def test_two_document_plan_refused_at_the_second(tmp_path, refused_port):
    plan = tmp_path / "two.yaml"
    plan.write_text(PLAN_HEAD + "[connect]\n---\n" + PLAN_HEAD + "[health]\n")
    junit = tmp_path / "r.xml"
    r = run_plan(plan, "--junit", junit, "--json")
    assert r.rc == 2, r
    assert r.stdout == "", r
    msg = "%s:3:1: a plan holds one YAML document; a second starts at 3:1" % plan
    assert msg in r.stderr, r
    err = junit_plan_error(junit)
    assert err.get("type") == "USAGE" and msg in err.get("message")
    # one document between markers is a plan that loads (and fails at the connection)
    one = tmp_path / "one.yaml"
    one.write_text("---\nenvironments: {s: {url: 'ws://127.0.0.1:%d/ws', timeout: 2s}}\n"
                   "checks: [connect]\n...\n" % refused_port)
    r = run_plan(one, "--json")
    assert r.rc == 1, r
    assert r.json["checks"][0]["id"] == "connect", r
    assert r.json["checks"][0]["class"] == "TCP_REFUSED", r


def audit_config(tmp_path, cfg):
    junit = tmp_path / "empty.xml"
    junit.write_text('<testsuite name="s" tests="1"><testcase name="t" time="1"/></testsuite>\n')
    return run_wsprobe("audit", junit, "--config", cfg, "--json", timeout=20)


@pytest.mark.parametrize("form", sorted(NESTING))
def test_nested_audit_config_refused_at_the_cap(tmp_path, form):
    unit, sep, _, _ = NESTING[form]
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(nested("floor: ", unit, sep))
    r = audit_config(tmp_path, cfg)
    assert r.rc == 2, r
    assert r.stdout == "", r
    assert "%s:" % cfg in r.stderr and "nested deeper than 64 levels" in r.stderr, r


def test_two_document_audit_config_refused(tmp_path):
    cfg = tmp_path / "audit.yaml"
    cfg.write_text("quiet: true\n---\nmin_history: 3\n")
    r = audit_config(tmp_path, cfg)
    assert r.rc == 2, r
    assert ("%s:2: an audit configuration holds one YAML document; a second starts at 2:1"
            % cfg) in r.stderr, r
    # one document is a configuration
    cfg.write_text("quiet: true\nmin_history: 3\n")
    r = audit_config(tmp_path, cfg)
    assert r.rc == 0, r
    assert r.json["command"] == "audit"
