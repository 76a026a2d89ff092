"""One redactor for every command (issue 11): the same secret and the same token go through
every output of every command that handles them (human, JSON, JUnit, -v), against a peer that
echoes them back (python3-websockets' /headers sends the upgrade request's headers, the
Authorization header with the credential included, as its first message), and neither may
appear anywhere. test_secrets.py covers probe's modes against wsprobe serve; this file covers
wait, run, parity, security and load the same way."""
import re

import pytest

from conftest import run_wsprobe

SECRET = "everywhere-hmac-secret-5d1f0c9e7b3a"
READY = "ready-token-Q2xv-everywhere-8c4e1a"
ENV = {"EVERYWHERE_SECRET": SECRET, "EVERYWHERE_TOKEN": READY}
CREDS = {"minted": ["--jwt-secret-env", "EVERYWHERE_SECRET", "--jwt-claim", "sub=everywhere"],
         "ready": ["--token-env", "EVERYWHERE_TOKEN"]}


def assert_clean(text, where):
    assert SECRET not in text, "%s leaked the secret" % where
    assert READY not in text, "%s leaked the ready token" % where
    # a minted token: the redactor's JWT rule ("eyJ" and 10 or more characters) must have hit
    # every one; fewer than that is the public header prefix ({"alg), cut by an excerpt
    m = re.search(r"eyJ[A-Za-z0-9_.-]{10,}", text)
    assert not m, "%s leaked a minted token: %s" % (where, m.group(0))


def outputs(r):
    return r.stdout + r.stderr


@pytest.fixture
def echo_url(peers):
    """The peer echoes the credential: proven once here, so the tests below can fail."""
    url = peers.echo().url("/headers")
    r = run_wsprobe("probe", url, "--token-env", "EVERYWHERE_TOKEN", "--expect-text", "x",
                    "--strict-order", "--json", env=ENV)
    assert r.json["class"] == "WS_EXPECT_MISMATCH" and "authorization" in r.json["message"]
    return url


@pytest.mark.parametrize("cred", sorted(CREDS))
@pytest.mark.parametrize("mode", [[], ["--json"], ["-v"]])
def test_wait(echo_url, cred, mode):
    r = run_wsprobe("wait", echo_url, *CREDS[cred], "--expect-text", "x", "--strict-order",
                    "--deadline", "1s", *mode, env=ENV, timeout=20)
    assert r.rc != 0
    assert_clean(outputs(r), "wait %s %s" % (cred, mode))


@pytest.mark.parametrize("cred", sorted(CREDS))
@pytest.mark.parametrize("mode", [[], ["--json"], ["--junit", "JUNIT"]])
def test_security(echo_url, cred, mode, tmp_path):
    junit = tmp_path / "s.xml"
    args = [str(junit) if a == "JUNIT" else a for a in mode]
    r = run_wsprobe("security", echo_url, *CREDS[cred], "--checks", "auth.missing,input",
                    "--timeout", "1s", *args, env=ENV, timeout=60)
    text = outputs(r) + (junit.read_text() if junit.exists() else "")
    assert_clean(text, "security %s %s" % (cred, mode))


@pytest.mark.parametrize("cred", sorted(CREDS))
@pytest.mark.parametrize("mode", [[], ["--json"]])
def test_load(echo_url, cred, mode):
    r = run_wsprobe("load", echo_url, *CREDS[cred], "--connections", "2", "--rate", "20",
                    "--duration", "1s", "--message", "m", "--expect-text", "never",
                    "--strict-order", *mode, env=ENV, timeout=30)
    assert_clean(outputs(r), "load %s %s" % (cred, mode))


def plan_text(url):
    return ("environments:\n"
            "  a:\n    url: %(u)s\n    timeout: 1s\n    auth: {token_env: EVERYWHERE_TOKEN}\n"
            "  b:\n    url: %(u)s\n    timeout: 1s\n"
            "    auth:\n      jwt: {secret_env: EVERYWHERE_SECRET, claims: {sub: e}}\n"
            "checks:\n  - conversation:\n      expect: {text: never}\n" % {"u": url})


@pytest.mark.parametrize("cmd,envs", [("run", ["--env", "a"]), ("run", ["--env", "b"]),
                                      ("parity", ["--env", "a", "--env", "b"])])
def test_plans(echo_url, tmp_path, cmd, envs):
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_text(echo_url))
    report, junit = tmp_path / "r.json", tmp_path / "r.xml"
    r = run_wsprobe(cmd, plan, *envs, "--json", report, "--junit", junit, env=ENV, timeout=60)
    assert r.rc == (0 if cmd == "parity" else 1), r  # parity: the same failure twice is no drift
    text = outputs(r) + report.read_text() + junit.read_text()
    assert "authorization" in text.lower()  # the echo is quoted, redacted
    assert_clean(text, "%s %s" % (cmd, envs))
