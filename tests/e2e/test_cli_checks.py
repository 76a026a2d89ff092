"""run, parity, audit and security on the one command line (docs/cli.md): generated help, --json
on stdout instead of the human view, --json=FILE beside it, the old spaced --json FILE with a
warning; security's endpoint limits under the names serve and plans use, the old names still
working with a warning; plan limits keys renamed the same way; summary counts that do not
flatter (performed only counts checks that ran and judged something).

Run: /usr/bin/python3 -m pytest tests/e2e/test_cli_checks.py   (binary: $WSPROBE or build/wsprobe)
"""
import json
from pathlib import Path

import pytest

from conftest import check_schema, run_wsprobe
from serve_helpers import SECRET, SECRET_ENV, start_serve

AUDIT_SAMPLES = Path(__file__).parent / "audit" / "samples"

HELP = {
    "run": ["--env", "--junit", "--parallel", "--deadline", "--strict", "--quiet", "--json"],
    "parity": ["--env", "--baseline", "--junit", "--parallel", "--deadline", "--quiet", "--json"],
    "audit": ["--floor", "--network-tests", "--baseline", "--config", "--junit", "--show",
              "--quiet", "--list-rules", "--json"],
    "security": ["--checks", "--deadline", "--parallel", "--junit", "--endpoint-max-message",
                 "--rate-limit", "--max-conns-per-ip", "--handshake-timeout", "--idle-timeout",
                 "--jwt-leeway", "--origin", "--timeout", "--jwt-secret-env", "--json"],
}

# security's renamed options: (old, new, value, check, evidence key, expected evidence value,
# serve's matching option)
RENAMED = [
    ("--idle-limit", "--idle-timeout", "2s", "limits.idle", "limit_ms", 2000,
     ["--idle-timeout", "2s"]),
    ("--handshake-limit", "--handshake-timeout", "1s", "limits.slow_handshake", "limit_ms", 1000,
     ["--handshake-timeout", "1s"]),
    ("--max-conns", "--max-conns-per-ip", "3", "limits.connections", "limit", 3,
     ["--max-conns-per-ip", "3"]),
    ("--rate", "--rate-limit", "5", "limits.rate", "rate_per_s", 5, ["--rate", "5"]),
    ("--expiry-leeway", "--jwt-leeway", "0s", "auth.expiry_on_open", "leeway_ms", 0,
     ["--jwt-leeway", "0s"]),
    ("--max-message", "--endpoint-max-message", "16K", "limits.message_size", "limit_bytes",
     16384, ["--max-message", "16K"]),
]


def sec(*args, timeout=40):
    return run_wsprobe("security", *args, env={SECRET_ENV: SECRET}, timeout=timeout)


def write_plan(tmp_path, url, limits="{}"):
    p = tmp_path / "plan.yaml"
    p.write_text("""environments:
  local:
    url: %s
    auth: {jwt: {secret_env: %s, alg: HS256}}
    limits: %s
checks:
  - connect
  - security: {checks: [tls, limits.rate], include_staging_only: true}
""" % (url, SECRET_ENV, limits))
    return p


def run_plan(*args, timeout=40):
    return run_wsprobe("run", *args, env={SECRET_ENV: SECRET}, timeout=timeout)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = start_serve(tmp_path_factory.mktemp("cli-checks"), "--rate-limit", "5", "--idle-timeout", "2s",
                    "--handshake-timeout", "1s", "--max-conns-per-ip", "3", "--jwt-leeway", "0s",
                    "--max-message", "16K", tls=False)
    yield s
    s.stop()


# ---------------------------------------------------------------------------------------------
# Help

@pytest.mark.parametrize("cmd", sorted(HELP))
def test_help_lists_the_options(cmd):
    for flag in ("-h", "--help"):
        r = run_wsprobe(cmd, flag)
        assert r.rc == 0, str(r)
        assert r.stdout.startswith("usage: wsprobe %s" % cmd)
        for opt in HELP[cmd]:
            assert opt in r.stdout, (cmd, opt)
    if cmd == "security":  # the old names are not advertised, the probe's conversation is not
        for opt in ("--idle-limit", "--handshake-limit", "--expiry-leeway", "--send ",
                    "--connections"):
            assert opt not in r.stdout, opt
        assert r.stdout.count("--deadline") == 1


# ---------------------------------------------------------------------------------------------
# --json, --json=FILE, the old --json FILE

def test_run_json_goes_to_stdout_alone(srv, tmp_path):
    r = run_plan(write_plan(tmp_path, srv.url()), "--env", "local", "--json")
    assert r.json is not None and r["command"] == "run", str(r)
    assert "checks:" not in r.stdout  # no table mixed in
    assert "warning" not in r.stderr


def test_run_json_file_and_the_table(srv, tmp_path):
    out = tmp_path / "run.json"
    r = run_plan(write_plan(tmp_path, srv.url()), "--env", "local", "--json=%s" % out)
    assert r.json is None and "checks:" in r.stdout and "performed" in r.stdout, str(r)
    report = json.loads(out.read_text())
    check_schema(report)
    assert report["command"] == "run"
    assert "warning" not in r.stderr


@pytest.mark.parametrize("cmd", ["run", "parity"])
def test_spaced_json_file_still_works_with_a_warning(srv, tmp_path, cmd):
    out = tmp_path / "old.json"
    envs = ["--env", "local"] if cmd == "run" else ["--env", "local", "--env", "again"]
    plan = write_plan(tmp_path, srv.url())
    if cmd == "parity":
        text = plan.read_text().replace("  local:\n", "  again:\n    url: %s\n  local:\n" % srv.url())
        plan.write_text(text)
    r = run_wsprobe(cmd, plan, *envs, "--json", out, env={SECRET_ENV: SECRET}, timeout=60)
    assert r.rc in (0, 1), str(r)
    assert "--json=%s" % out in r.stderr and "warning" in r.stderr, r.stderr
    report = json.loads(out.read_text())
    check_schema(report)
    assert report["command"] == cmd


def test_audit_json_forms(tmp_path):
    xml = sorted(AUDIT_SAMPLES.glob("*.xml"))[0]
    r = run_wsprobe("audit", xml, "--json")
    assert r.json is not None and r["command"] == "audit", str(r)
    out = tmp_path / "audit.json"
    r = run_wsprobe("audit", xml, "--json=%s" % out)
    assert r.json is None and r.stdout.strip(), str(r)  # the human report
    check_schema(json.loads(out.read_text()))
    old = tmp_path / "old.json"
    r = run_wsprobe("audit", "--json", old, xml)
    assert "--json=%s" % old in r.stderr, r.stderr
    assert json.loads(old.read_text())["command"] == "audit"
    r = run_wsprobe("audit", "--json", "-", xml)  # the old '-': stdout
    assert r.json is not None and "--json=-" in r.stderr


def test_security_json_forms(srv, tmp_path):
    r = sec(srv.url(), "--checks", "handshake.version", "--jwt-secret-env", SECRET_ENV, "--json")
    assert r.json is not None and r["command"] == "security", str(r)
    out = tmp_path / "sec.json"
    r = sec(srv.url(), "--checks", "handshake.version", "--jwt-secret-env", SECRET_ENV,
            "--json=%s" % out)
    assert r.json is None and "checks:" in r.stdout, str(r)
    check_schema(json.loads(out.read_text()))


# ---------------------------------------------------------------------------------------------
# Renamed security options

@pytest.mark.parametrize("old,new,value,check,key,expected,serve_opt", RENAMED,
                         ids=[r[0] for r in RENAMED])
def test_renamed_security_option_works_under_its_old_name(srv, old, new, value, check, key,
                                                         expected, serve_opt):
    base = [srv.url(), "--checks", check, "--include-staging-only", "--jwt-secret-env",
            SECRET_ENV, "--json", "--timeout", "3s"]
    results = {}
    for name in (old, new):
        r = sec(*base, name, value, timeout=60)
        assert r.json is not None, str(r)
        c = r["checks"][0]
        results[name] = (c["verdict"], c["evidence"].get(key))
        warned = "warning: %s is now %s" % (old, new)
        assert (warned in r.stderr) == (name == old), r.stderr
    assert results[old] == results[new], results
    assert results[new][1] == expected, results
    assert results[new][0] == "pass", results


# ---------------------------------------------------------------------------------------------
# Plan keys and honest counts

def test_plan_old_limits_key_warns_and_still_takes_effect(srv, tmp_path):
    for key in ("rate", "rate_limit"):
        plan = write_plan(tmp_path, srv.url(), "{%s: 5}" % key)
        r = run_plan(plan, "--env", "local", "--json")
        assert r.json is not None, str(r)
        rate = [c for c in r["checks"] if c["id"] == "limits.rate"][0]
        assert rate["evidence"]["rate_per_s"] == 5, rate
        if key == "rate":
            assert "plan.yaml:5:" in r.stderr and "warning" in r.stderr, r.stderr
            assert "limits.rate_limit" in r.stderr
        else:
            assert "warning" not in r.stderr, r.stderr


def test_plan_both_limits_spellings_is_a_plan_error(tmp_path):
    plan = write_plan(tmp_path, "ws://127.0.0.1:1/ws", "{connections: 3, max_conns_per_ip: 3}")
    r = run_plan(plan, "--env", "local")
    assert r.rc == 2 and "max_conns_per_ip" in r.stderr, str(r)


def assert_honest(summary, checks):
    verdicts = [c["verdict"] for c in checks]
    assert summary["checks"] == len(checks)
    assert summary["performed"] == sum(c["ran"] and c["verdict"] in
                                       ("pass", "fail", "warn", "inconclusive") for c in checks)
    assert summary["not_applicable"] == verdicts.count("not_applicable")
    assert summary["skipped"] == verdicts.count("skip")
    assert summary["not_started"] == sum(not c["ran"] for c in checks)
    assert (summary["performed"] + summary["skipped"] + summary["not_applicable"]
            + summary["not_started"]) == summary["checks"]


def test_run_counts_not_applicable_apart(srv, tmp_path):
    r = run_plan(write_plan(tmp_path, srv.url(), "{rate_limit: 5}"), "--env", "local", "--json")
    s = r["summary"]
    assert s["not_applicable"] >= 1, s  # the TLS checks on ws://
    assert s["performed"] < s["checks"], s
    assert_honest(s, r["checks"])
    table = run_plan(write_plan(tmp_path, srv.url(), "{rate_limit: 5}"), "--env", "local")
    assert "%d checks: %d performed" % (s["checks"], s["performed"]) in table.stdout, table.stdout
    assert "%d not applicable" % s["not_applicable"] in table.stdout


def test_security_counts_not_applicable_apart(srv):
    r = sec(srv.url(), "--checks", "tls,handshake.version", "--jwt-secret-env", SECRET_ENV,
            "--json")
    s = r["summary"]
    assert s["not_applicable"] >= 1 and s["performed"] >= 1, s
    assert_honest(s, r["checks"])


def test_parity_summaries_are_honest(srv, tmp_path):
    plan = write_plan(tmp_path, srv.url(), "{rate_limit: 5}")
    plan.write_text(plan.read_text().replace("  local:\n", "  again:\n    url: %s\n  local:\n"
                                             % srv.url()))
    r = run_wsprobe("parity", plan, "--env", "local", "--env", "again", "--json",
                    env={SECRET_ENV: SECRET}, timeout=60)
    assert r.json is not None, str(r)
    for env in ("local", "again"):
        s = r["summaries"][env]
        verdicts = [r["results"][env][row["id"]]["verdict"] for row in r["matrix"]]
        judged = sum(v in ("pass", "fail", "warn", "inconclusive") for v in verdicts)
        assert s["performed"] == judged - s["not_started"], (env, s)
        assert s["not_applicable"] == verdicts.count("not_applicable") >= 1, (env, s)
        assert (s["performed"] + s["skipped"] + s["not_applicable"] + s["not_started"]
                == s["checks"] == len(verdicts)), (env, s)
    table = run_wsprobe("parity", plan, "--env", "local", "--env", "again",
                        env={SECRET_ENV: SECRET}, timeout=60)
    assert "local: %d checks: %d performed" % (r["summaries"]["local"]["checks"],
                                               r["summaries"]["local"]["performed"]) in table.stdout
