"""serve, token and wait on the one command line (src/cli/args.c, docs/cli.md): -h lists every
option of each command's table, --version, serve's old `--rate` (now `--rate-limit`) still
enforced with a warning, wait's --json and --json=FILE, token without --json."""
import json
import re

import pytest

from conftest import check_schema, run_wsprobe
from serve_helpers import close_code_after_flood, start_serve

WAIT_OPTIONS = ("--deadline", "--interval", "--max-interval", "--backoff", "--jitter",
                "--success-threshold", "--retry-refused", "--retry-nxdomain")
# a few of the probe's shared options, which wait takes too
PROBE_SHARED = ("--timeout", "--header", "--cacert", "--send", "--expect-text", "--token-env",
                "--verbose", "--quiet")
TOKEN_OPTIONS = ("--jwt-alg", "--jwt-secret-env", "--jwt-secret-file", "--jwt-key-file",
                 "--jwt-claim", "--jwt-ttl", "--no-exp", "--jwt-nbf", "--jwt-iat", "--no-iat",
                 "--jwt-jti", "--jwt-kid")
SERVE_OPTIONS = ("--listen", "--tls-listen", "--cert", "--key", "--self-signed", "--path",
                 "--port-file", "--jwt-secret-env", "--jwt-secret-file", "--jwt-key-file",
                 "--jwt-alg", "--jwt-aud", "--jwt-iss", "--jwt-leeway", "--allow-origin",
                 "--echo", "--max-message", "--rate-limit", "--max-conns-per-ip",
                 "--handshake-timeout", "--idle-timeout", "--write-queue-max", "--json",
                 "--unsafe-no-auth", "--unsafe-accept-alg-none", "--unsafe-skip-claims",
                 "--unsafe-any-origin", "--unsafe-no-sanitize", "--unsafe-no-limits", "--quiet")
SECRET = "cli-test-secret-0123456789abcdef-0123456789"


def listed(help_text):
    """The long options --help lists, in order (an option's line: "  -q, --quiet" or
    "      --echo"; continuation lines are indented further)."""
    return re.findall(r"^  (?:-\w, |    )(--[a-z0-9-]+)", help_text, re.M)


@pytest.mark.parametrize("cmd, options", [
    pytest.param("wait", WAIT_OPTIONS + PROBE_SHARED, id="wait"),
    pytest.param("token", TOKEN_OPTIONS, id="token"),
    pytest.param("serve", SERVE_OPTIONS, id="serve"),
])
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_lists_every_option(cmd, options, flag):
    r = run_wsprobe(cmd, flag)
    assert r.rc == 0 and r.stderr == "", r
    assert r.stdout.startswith("usage: wsprobe %s" % cmd), r
    names = listed(r.stdout)
    for o in options + ("--help", "--version"):
        assert o in names, (cmd, o, r.stdout)
    assert len(names) == len(set(names)), (cmd, r.stdout)  # each once (wait: one --deadline)


def test_help_says_what_each_command_takes_and_refuses():
    wait_help = listed(run_wsprobe("wait", "-h").stdout)
    assert "--json" in wait_help and "--connections" not in wait_help
    assert "--json" in listed(run_wsprobe("serve", "-h").stdout)  # the log as JSON lines
    assert "--log-json" not in listed(run_wsprobe("serve", "-h").stdout)  # its old name
    assert "--json" not in listed(run_wsprobe("token", "-h").stdout)
    serve_help = run_wsprobe("serve", "-h").stdout
    assert "--rate " not in serve_help  # the old spelling is not advertised


@pytest.mark.parametrize("cmd", ["wait", "token", "serve"])
def test_version(cmd):
    r = run_wsprobe(cmd, "--version")
    assert r.rc == 0 and r.stderr == "", r
    # the version and the revision, then the libraries it runs with (issue 20)
    assert re.fullmatch(r"wsprobe \d+\.\d+\.\d+\S* \(git \S+\)\n"
                        r"libraries: OpenSSL/\S+ libuv/\S+ c-ares/\S+ zlib/\S+ jansson/\S+ "
                        r"libyaml/\S+ PCRE2/\S+ libxml2/\S+\n", r.stdout), r


# ---- serve ----

def test_serve_old_rate_spelling_warns_and_is_enforced(tmp_path):
    srv = start_serve(tmp_path / "srv", "--rate", "5", tls=False)
    try:
        log = srv.log()
        assert "--rate is now --rate-limit" in log and "0.3.0" in log, log
        assert close_code_after_flood(srv) == 1008
    finally:
        assert srv.stop() == 0, srv.log()[-2000:]


def test_serve_new_spelling_without_warning(tmp_path):
    srv = start_serve(tmp_path / "srv", "--rate-limit", "5", tls=False)
    try:
        assert "warning" not in srv.log(), srv.log()
    finally:
        assert srv.stop() == 0, srv.log()[-2000:]


def test_serve_usage_errors_name_the_option():
    r = run_wsprobe("serve", "--unsafe-no-auth", "--rate", "0")
    assert r.rc == 2 and "--rate-limit '0'" in r.stderr, r
    r = run_wsprobe("serve", "--unsafe-no-auth", "--rate-limit", "many")
    assert r.rc == 2 and "--rate-limit 'many'" in r.stderr, r
    r = run_wsprobe("serve", "--unsafe-no-auth", "--idle-timeout", "soon")
    assert r.rc == 2 and "--idle-timeout 'soon'" in r.stderr, r
    r = run_wsprobe("serve", "--unsafe-no-auth", "--jwt-leeway", "2d")
    assert r.rc == 2 and "--jwt-leeway" in r.stderr, r
    r = run_wsprobe("serve", "--unsafe-no-auth", "--json=/nonexistent/dir/log.jsonl")
    # a log that cannot be opened is OUTPUT_FAILED (docs/exit-codes.md), named with its path
    assert r.rc == 71 and "--json=/nonexistent/dir/log.jsonl" in r.stderr and r.stdout == "", r


@pytest.mark.parametrize("form", [["--jwt-secret", SECRET], ["--jwt-secret=" + SECRET]])
def test_serve_refuses_a_secret_on_the_command_line(form):
    r = run_wsprobe("serve", "--listen", "127.0.0.1:0", *form)
    assert r.rc == 2, r
    assert "--jwt-secret" in r.stderr and "command line" in r.stderr, r
    assert "--jwt-secret-env" in r.stderr and SECRET not in r.stdout + r.stderr, r


# ---- token ----

def test_token_has_no_json_and_prints_only_the_token():
    env = {"S": SECRET}
    r = run_wsprobe("token", "--jwt-secret-env", "S", "--json", env=env)
    assert r.rc == 2 and r.stdout == "" and "--json" in r.stderr, r
    r = run_wsprobe("token", "--jwt-secret-env", "S", "--jwt-claim", "sub=x", env=env)
    assert r.rc == 0 and r.stderr == "", r
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+\n", r.stdout), r


@pytest.mark.parametrize("args, word", [
    (["-x" + SECRET], "unknown option '-x'"),
    (["--no-iat=" + SECRET], "takes no value"),
    (["--jwt-kid"], "needs a value"),
    (["--key", SECRET], "unknown option '--key'"),
    (["--jwt-secret=" + SECRET], "command line"),
])
def test_token_refusals_never_repeat_the_value(args, word):
    r = run_wsprobe("token", "--jwt-secret-env", "S", *args, env={"S": SECRET})
    assert r.rc == 2 and r.stdout == "", r
    assert r.stderr.startswith("wsprobe: token: ") and word in r.stderr, r
    assert SECRET not in r.stderr and SECRET[:12] not in r.stderr, r


# ---- wait ----

def test_wait_json_file_and_the_human_view(peers, tmp_path):
    echo = peers.echo()
    out = tmp_path / "wait.json"
    r = run_wsprobe("wait", echo.url("/ws"), "--deadline", "10s", "--json=%s" % out)
    assert r.rc == 0, r
    assert echo.url("/ws") in r.stdout and "is up" in r.stdout, r  # the human view as usual
    report = json.loads(out.read_text())
    check_schema(report, "wait --json=FILE", name="wait.schema.json")
    assert report["command"] == "wait" and report["ok"] is True and report["class"] == "OK"
    assert report["attempts"] >= 1 and report["deadline_ms"] == 10000


def test_wait_json_file_on_failure_keeps_the_human_view_on_stderr(refused_port, tmp_path):
    out = tmp_path / "wait.json"
    url = "ws://127.0.0.1:%d/ws" % refused_port
    r = run_wsprobe("wait", url, "--deadline", "5s", "--json=%s" % out)
    assert r.rc == 20 and r.stdout == "", r
    assert "TCP_REFUSED" in r.stderr and "retrying cannot fix it" in r.stderr, r
    report = json.loads(out.read_text())
    check_schema(report, "wait --json=FILE", name="wait.schema.json")
    assert report["class"] == "TCP_REFUSED" and report["reason"] == "fail_fast"
    assert report["exit_code"] == 20


@pytest.mark.parametrize("flag", ["--json", "--json=-"])
def test_wait_json_alone_prints_json_only(refused_port, flag):
    url = "ws://127.0.0.1:%d/ws" % refused_port
    r = run_wsprobe("wait", url, "--deadline", "1s", "--retry-refused", "--interval", "100ms",
                    flag)
    assert r.rc == 124, r
    assert r.stderr == "", r  # no human view
    j = json.loads(r.stdout)  # the whole of stdout is the report
    assert j["command"] == "wait" and j["class"] == "WAIT_DEADLINE"
    assert j["reason"] == "deadline" and j["last_class"] == "TCP_REFUSED"
    assert j["deadline_ms"] == 1000  # --deadline is the wait's, not each probe's


def test_wait_refuses_connections_and_bad_values(refused_port):
    url = "ws://127.0.0.1:%d/ws" % refused_port
    r = run_wsprobe("wait", url, "--connections", "2")
    assert r.rc == 2 and "--connections" in r.stderr, r
    r = run_wsprobe("wait", url, "--backoff", "11")
    assert r.rc == 2 and "--backoff '11'" in r.stderr, r
    r = run_wsprobe("wait", url, "--success-threshold", "1001")
    assert r.rc == 2 and "--success-threshold '1001'" in r.stderr, r
    r = run_wsprobe("wait", url, "--interval", "soon")
    assert r.rc == 2 and "--interval 'soon'" in r.stderr, r
    r = run_wsprobe("wait", url, "--jitter", "0", "--deadline", "1s", "--json")
    assert r.rc == 20, r  # 0 is a jitter (none), not a usage error
