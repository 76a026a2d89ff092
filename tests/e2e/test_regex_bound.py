"""Bounded regexes (issue 13): `--expect-regex` and a plan's `expect: {regex: ...}` against
`wsprobe serve --echo`, with the catastrophic pattern of the issue. glibc's regexec ran 52 s on
it past --deadline; PCRE2 with wsprobe's caps (src/util/regex.h, docs/regex.md) decides or gives
up within milliseconds. A cap reached is WS_EXPECT_MISMATCH with the step's detail "regex match
limit reached": never OK. Each run has a 20 s subprocess timeout, so a regression is a hang
failure here, not a slow pass.

Run: WSPROBE=build/wsprobe python3 -m pytest tests/e2e/test_regex_bound.py
"""
import json

import pytest

from conftest import assert_report, exit_codes, run_wsprobe
from serve_helpers import start_serve

EXIT = exit_codes()
CATASTROPHIC = r"^(a*)\1*\1*b"
TIMEOUT = 20.0


@pytest.fixture(scope="module")
def echo(tmp_path_factory):
    srv = start_serve(tmp_path_factory.mktemp("serve-regex"), "--echo", "--unsafe-no-auth",
                      "--max-message", "32M",
                      tls=False, auth=False)
    yield srv
    assert srv.stop() == 0, srv.log()[-2000:]


def probe(url, *options):
    r = run_wsprobe("probe", url, "--json", *options, timeout=TIMEOUT)
    assert_report(r)
    return r


def expect(r, cls):
    assert r.json["class"] == cls, "expected %s\n%s" % (cls, r)
    assert r.rc == EXIT[cls], "expected exit %d for %s\n%s" % (EXIT[cls], cls, r)
    return r.json


def test_issue_13_as_reported_is_decided_at_once(echo):
    """3,000 bytes of 'a': PCRE2 sees the required 'b' is absent and answers no match."""
    j = expect(probe(echo.url(), "--send", "a" * 3000, "--expect-regex", CATASTROPHIC,
                     "--strict-order", "--deadline", "5s"), "WS_EXPECT_MISMATCH")
    step = j["steps"][1]
    assert step["ok"] is False and step["detail"].startswith("got: aaaa"), j["steps"]
    assert "does not match" in j["message"], j


def test_catastrophic_backtracking_reaches_the_limit_and_fails(echo):
    """A 'b' present but no match: PCRE2 backtracks until a cap stops it, and the step fails at
    once (no --strict-order, no waiting for the timeout)."""
    msg = "a" * 2998 + "cb"
    j = expect(probe(echo.url(), "--send", msg, "--expect-regex", CATASTROPHIC,
                     "--timeout", "15s", "--deadline", "18s"), "WS_EXPECT_MISMATCH")
    assert [(s["kind"], s["ok"]) for s in j["steps"]] == [("send", True), ("expect", False)]
    step = j["steps"][1]
    assert step["detail"] == "regex match limit reached", step
    assert step["skipped"] == 0, step
    assert "regex match limit reached on a 3000-byte message" in j["message"], j
    assert "undecided" in j["message"], j
    assert "backtracks" in j["hint"], j
    assert j["ws"]["received_frames"] >= 1, j


def test_a_regex_that_holds_still_passes(echo):
    j = expect(probe(echo.url(), "--send", "a" * 2999 + "b", "--expect-regex", CATASTROPHIC),
               "OK")
    assert j["steps"][1]["ok"] is True and j["steps"][1]["detail"] == "matched"


def test_pcre2_syntax_and_its_errors(echo):
    """Patterns are PCRE2 now: \\d works; a bad one is a USAGE error with PCRE2's message and
    offset, before any connection."""
    expect(probe(echo.url(), "--send", "order 42 ok", "--expect-regex", r"^order \d+ ok$"),
           "OK")
    r = run_wsprobe("probe", echo.url(), "--json", "--expect-regex", "(", timeout=TIMEOUT)
    assert r.rc == EXIT["USAGE"], r
    assert "missing closing parenthesis at offset 1" in r.stdout + r.stderr, r


def test_the_deadline_ends_a_long_match(echo, tmp_path):
    """16 MiB that a quadratic pattern would scan for its whole time budget (about 1.7 s):
    --deadline 1s ends it, as the deadline and not as the pattern's limit."""
    f = tmp_path / "big.txt"
    f.write_bytes(b"a" * ((16 << 20) - 2) + b"X!")
    j = expect(probe(echo.url(), "--send", "@%s" % f, "--expect-regex", "[a-z]*!",
                     "--max-message", "32M", "--deadline", "1s"), "WS_MSG_TIMEOUT")
    assert "deadline" in j["message"], j
    assert j["steps"][1]["ok"] is False, j["steps"]


def test_plan_regex_reaching_the_limit_fails_the_check(echo, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("""
environments:
  local:
    url: %s
    timeout: 5s
checks:
  - conversation: {send: '%s', expect: {regex: '%s'}}
""" % (echo.url(), "a" * 2998 + "cb", CATASTROPHIC))
    report = tmp_path / "r.json"
    r = run_wsprobe("run", plan, "--env", "local", "--json=%s" % report, timeout=TIMEOUT)
    assert r.rc == 1, r
    j = json.loads(report.read_text())
    (c,) = j["checks"]
    assert c["verdict"] == "fail", c
    assert c["class"] == "WS_EXPECT_MISMATCH", c
    assert "regex match limit reached" in json.dumps(c), c


def test_plan_regex_is_checked_as_pcre2(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("""
environments:
  local: {url: ws://127.0.0.1:9/}
checks:
  - conversation: {send: x, expect: {regex: 'a)'}}
""")
    r = run_wsprobe("run", plan, "--env", "local", timeout=TIMEOUT)
    assert r.rc == 2, r
    assert "plan.yaml:5:" in r.stderr and "unmatched closing parenthesis at offset 1" in r.stderr, r
