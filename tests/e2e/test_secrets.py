"""Secret hygiene (issue 4): with a known secret and a known token, every output mode of every
command that handles credentials is run, and neither string (nor the token's signature alone)
may appear anywhere: stdout, stderr, JSON, -v traces, failure messages, the server's logs."""
import pytest

from conftest import run_wsprobe
from serve_helpers import SECRET, SECRET_ENV, mint, start_serve

TOKEN = mint(sub="hygiene", ttl=600)
OPAQUE = "opaque-credential-Zx81qv0-not-a-jwt"
CHAT = '{"type":"chat_message","content":"x","id":"{{uuid}}"}'


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    srv = start_serve(tmp_path_factory.mktemp("serve-secrets"), tls=True)
    yield srv
    srv.stop()


def forbidden():
    return [SECRET, TOKEN, TOKEN.split(".")[2], OPAQUE]


def assert_clean(text, where):
    for s in forbidden():
        assert s not in text, "%s leaked %r" % (where, s[:12] + "...")


MODES = [
    ("human", []),
    ("verbose", ["-v"]),
    ("json", ["--json"]),
    ("quiet", ["-q"]),
    ("concurrent-json", ["--connections", "3", "--json"]),
    ("concurrent-human", ["--connections", "3"]),
]
CREDS = [
    ("minted-header", ["--jwt-secret-env", SECRET_ENV]),
    ("minted-query", ["--jwt-secret-env", SECRET_ENV, "--auth-in", "query:token"]),
    ("minted-subprotocol", ["--jwt-secret-env", SECRET_ENV, "--auth-in", "subprotocol"]),
    ("minted-cookie", ["--jwt-secret-env", SECRET_ENV, "--auth-in", "cookie:token"]),
    ("ready-header", ["--token-env", "KNOWN_TOKEN"]),
    ("ready-query", ["--token-env", "KNOWN_TOKEN", "--auth-in", "query:token"]),
    ("ready-subprotocol", ["--token-env", "KNOWN_TOKEN", "--auth-in", "subprotocol"]),
    ("opaque-refused", ["--token-env", "OPAQUE_TOKEN"]),
]


@pytest.mark.parametrize("mode,margs", MODES, ids=[m[0] for m in MODES])
@pytest.mark.parametrize("cname,cargs", CREDS, ids=[c[0] for c in CREDS])
def test_probe_outputs_never_show_secrets(serve, mode, margs, cname, cargs):
    env = {SECRET_ENV: SECRET, "KNOWN_TOKEN": TOKEN, "OPAQUE_TOKEN": OPAQUE}
    r = run_wsprobe("probe", serve.url(tls=True), "--cacert", serve.ca, *cargs, "--send", CHAT,
                    "--expect-json", "/type=ack", *margs, env=env)
    expect_rc = 44 if cname == "opaque-refused" else 0
    assert r.rc == expect_rc, (r.rc, r.stdout[-1500:], r.stderr[-1500:])
    assert_clean(r.stdout, "stdout")
    assert_clean(r.stderr, "stderr")


def test_failures_and_usage_errors_never_show_secrets(serve):
    env = {SECRET_ENV: SECRET, "KNOWN_TOKEN": TOKEN}
    runs = [
        # refused by the server (wrong audience claim is fine for serve; use an expired token)
        ["probe", serve.url(), "--jwt-secret-env", SECRET_ENV, "--jwt-ttl", "-1h", "-v"],
        # a mismatch echoes part of a message in the report
        ["probe", serve.url(), "--token-env", "KNOWN_TOKEN", "--send", CHAT,
         "--expect-text", "nope", "--json"],
        # usage errors around the credentials
        ["probe", serve.url(), "--token-env", "KNOWN_TOKEN", "--jwt-secret-env", SECRET_ENV],
        ["probe", serve.url(), "--jwt-secret-env", SECRET_ENV, "--jwt-alg", "none"],
        ["token", "--jwt-secret-env", SECRET_ENV, "--jwt-claim", "bad"],
    ]
    for argv in runs:
        r = run_wsprobe(*argv, env=env)
        assert r.rc != 0, argv
        assert_clean(r.stdout, "stdout of %s" % argv)
        assert_clean(r.stderr, "stderr of %s" % argv)


def test_server_logs_never_show_secrets(serve):
    env = {SECRET_ENV: SECRET, "KNOWN_TOKEN": TOKEN}
    for where in ("header", "query:token", "subprotocol", "cookie:token"):
        run_wsprobe("probe", serve.url(), "--token-env", "KNOWN_TOKEN", "--auth-in", where,
                    env=env)
    assert_clean(serve.log(), "serve's log")


@pytest.mark.parametrize("cmd", ["probe", "wait", "security"])
@pytest.mark.parametrize("opt", ["--jwt-secret", "--jwt-secret=", "--token", "--jwt-sec"])
def test_secret_on_the_command_line_is_refused_without_echo(cmd, opt):
    """getopt would take an abbreviation (--jwt-secret for --jwt-secret-env) and then name the
    'variable' in its error: options must be spelled in full, and a secret-looking one is
    refused with advice, its value never repeated."""
    value = "Zq9-literal-secret-value"
    argv = [cmd, "ws://127.0.0.1:9/"] + ([opt + value] if opt.endswith("=") else [opt, value])
    r = run_wsprobe(*argv)
    assert r.rc == 2, (argv, r.rc, r.stderr)
    assert value not in r.stdout and value not in r.stderr
