"""A report that cannot be written is OUTPUT_FAILED, exit 71 (docs/exit-codes.md): the evidence
is lost, so it wins over the verdict's own code, and the human view still names the verdict.

/dev/full accepts the open and fails every write with ENOSPC, as a full disk does; the verdicts
here are established by the same command without the failing output (nothing listens on the
port: TCP_REFUSED, exit 20)."""
import os

import pytest

from conftest import exit_codes, run_wsprobe

OUTPUT_FAILED = 71
FULL = "/dev/full"

pytestmark = pytest.mark.skipif(not os.path.exists(FULL), reason="no /dev/full here")


def test_the_class_is_in_the_table():
    assert exit_codes()["OUTPUT_FAILED"] == OUTPUT_FAILED


def test_probe_json_file_on_a_full_disk(refused_port):
    url = "ws://127.0.0.1:%d/" % refused_port
    ok = run_wsprobe("probe", url)
    assert ok.rc == exit_codes()["TCP_REFUSED"], ok
    r = run_wsprobe("probe", url, "--json=" + FULL)
    assert r.rc == OUTPUT_FAILED, r
    assert "TCP_REFUSED" in r.stdout, r  # the verdict is still told
    assert "OUTPUT_FAILED" in r.stderr and FULL in r.stderr, r
    r = run_wsprobe("probe", url, "--connections", "2", "--json=" + FULL)
    assert r.rc == OUTPUT_FAILED, r


def test_wait_json_file_on_a_full_disk(refused_port):
    url = "ws://127.0.0.1:%d/" % refused_port
    r = run_wsprobe("wait", url, "--deadline", "3s", "--json=" + FULL)
    assert r.rc == OUTPUT_FAILED, r
    assert "TCP_REFUSED" in r.stderr, r


def test_a_bad_url_with_its_json_lost():
    r = run_wsprobe("probe", "http://x/", "--json=" + FULL)
    assert r.rc == OUTPUT_FAILED, r
    assert "URL" in r.stderr or "ws://" in r.stderr, r


@pytest.fixture
def plan(tmp_path, refused_port):
    p = tmp_path / "plan.yaml"
    p.write_text("environments:\n  prod:\n    url: ws://127.0.0.1:%d/\nchecks: [connect]\n"
                 % refused_port)
    return p


@pytest.mark.parametrize("output", [["--junit", FULL], ["--json=" + FULL]])
def test_run_outputs_on_a_full_disk(plan, output):
    failing = run_wsprobe("run", plan, "--env", "prod")
    assert failing.rc == 1, failing  # the connect check fails: the run's own verdict
    r = run_wsprobe("run", plan, "--env", "prod", *output)
    assert r.rc == OUTPUT_FAILED, r
    assert "connect" in r.stdout, r  # the human table still names the check
    assert "OUTPUT_FAILED" in r.stderr, r


def test_security_junit_on_a_full_disk(refused_port):
    r = run_wsprobe("security", "ws://127.0.0.1:%d/" % refused_port, "--checks", "auth",
                    "--deadline", "10s", "--junit", FULL, timeout=60)
    assert r.rc == OUTPUT_FAILED, r
    assert "OUTPUT_FAILED" in r.stderr, r


def test_load_hdr_out_on_a_full_disk(refused_port):
    url = "ws://127.0.0.1:%d/" % refused_port
    r = run_wsprobe("load", url, "--connections", "1", "--duration", "1s", "--hdr-out", FULL)
    assert r.rc == OUTPUT_FAILED, r
    assert "OUTPUT_FAILED" in r.stderr and FULL in r.stderr, r


@pytest.mark.parametrize("output", [["--junit", FULL], ["--json=" + FULL]])
def test_audit_outputs_on_a_full_disk(tmp_path, output):
    report = tmp_path / "r.xml"
    report.write_text('<testsuite name="s" tests="1"><testcase name="a" time="0.5"/>'
                      '</testsuite>\n')
    assert run_wsprobe("audit", report).rc in (0, 1)
    r = run_wsprobe("audit", report, *output)
    assert r.rc == OUTPUT_FAILED, r
    assert "OUTPUT_FAILED" in r.stderr, r


def test_serve_json_log_on_a_full_disk(tmp_path):
    """serve --json=FILE: the JSON log lines that could not be written are lost evidence; serve
    says so when it happens and exits OUTPUT_FAILED when it stops (SIGTERM)."""
    from serve_helpers import start_serve
    srv = start_serve(tmp_path / "srv", "--json=" + FULL, tls=False)
    rc = srv.stop()
    assert rc == OUTPUT_FAILED, srv.log()[-2000:]
    assert "cannot write the JSON log" in srv.log() and "OUTPUT_FAILED" in srv.log()
    r = run_wsprobe("serve", "--unsafe-no-auth", "--json=/nonexistent/dir/log.jsonl")
    assert r.rc == OUTPUT_FAILED and "cannot open" in r.stderr, r
