"""docs/cli.md's conventions, held by every command.

For each command: -h and --help exit 0 and print its options; every option its help lists
parses with a value of its kind (`wsprobe CMD --OPT VALUE --help` exits 0: the options are taken
in order, so a refused option or value exits 2 before --help is reached); --version; an unknown
or abbreviated option and a secret-looking option exit 2; a bad value of each type exits 2 with
a message naming the option. The JSON conventions (--json on stdout instead of the human view,
--json=FILE to a file and the human view too) are run against real peers for probe here, and
for the other commands in their own test files.
"""
import json
import re

import pytest

from conftest import run_wsprobe

COMMANDS = ["probe", "wait", "token", "run", "security", "parity", "load", "load-merge",
            "audit", "serve", "hold", "exporter"]

# a help line: "  -H, --header META   text" or "      --name[=META]   text"
OPTION_LINE = re.compile(r"^ {2}(?:-(\w), |    )--([a-z0-9][a-z0-9.-]*)(\[=(\S+)\]| (\S+))?")


def listed_options(help_text):
    """[(short, name, metavar or None, optional)] of every option a help text lists."""
    out = []
    for line in help_text.splitlines():
        m = OPTION_LINE.match(line)
        if m:
            out.append((m.group(1), m.group(2), m.group(4) or m.group(5), bool(m.group(4))))
    return out


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """A value of each kind, by the metavar the help shows."""
    d = tmp_path_factory.mktemp("cli")
    f = d / "file.txt"
    f.write_text("x\n")
    y = d / "settings.yaml"
    y.write_text("{}\n")
    return d, f, y


def sample_value(cmd, name, meta, files):
    d, f, y = files
    special = {
        "header": "X-Test: 1", "resolve": "h:1:127.0.0.1", "dns-server": "127.0.0.1:53",
        "tls-min": "1.2", "compress": "client_no_context_takeover", "send-binary": "hex:00",
        "expect-binary": "hex:00", "expect-json": "/a=1", "expect-close": "1000", "auth-in": "header",
        "auth-message": '{"t":"{{token}}"}', "jwt-alg": "HS256", "jwt-claim": "sub=x",
        "jwt-ttl": "5m", "jwt-nbf": "0s", "jwt-jti": "hex", "health": "http://127.0.0.1:9/",
        "plaintext-url": "ws://127.0.0.1:9/", "checks": "auth", "listen": "127.0.0.1:0",
        "tls-listen": "127.0.0.1:0", "path": "/ws", "allow-origin": "https://a.test",
        "threshold": "errors<1%", "source-ip": "127.0.0.1", "marker-expect": "/type=ack",
        "marker-send": '{"type":"chat_message","content":"wsprobe marker {{uuid}}"}',
        "hdr-out": str(d / "hdr.out"), "port-file": str(d / "port"), "save-baseline":
        str(d / "base.json"), "junit": str(d / "j.xml"), "json": str(d / "r.json"),
        "self-signed": str(d / "ss"), "floor": "*=1ms", "require-property": "verdict",
        "disable": "floor", "show": "10", "collapse-ratio": "0.5", "env": "staging", "message": "hi",
        "swallowed-pattern": "ignored", "network-tests": "*net*", "exclude": "*skip*",
        "floor-from-probe": "ws://127.0.0.1:9/", "config": str(y), "timer-slack": "1ms", "baseline": str(f),
        "protocol": "socketio", "engineio": "3", "connect-payload": '{"a":1}', "namespace": "/chat",
        "socketio-path": "/socket.io/", "emit": 'hi {"a":1}', "emit-ack": "add [1,2]",
        "subscribe": "{ hello }",
    }
    if name == "variables":
        return '{"n":1}'  # (given after the --subscribe it belongs to: see the test)
    if cmd == "hold" and name == "threshold":
        return "gap<5s"  # hold's metrics are its own (docs/hold.md)
    if name == "ping-ladder":
        return "15s,30s"
    if name == "listen" and cmd == "exporter":
        return "127.0.0.1:0"
    if name in special:
        return special[name]
    m = (meta or "").upper()
    if m in ("DUR", "DURATION") or name.endswith(("timeout", "interval", "deadline",
                                                   "leeway", "duration", "warmup", "slack")):
        return "2s"
    if m == "SIZE" or name.startswith("max-message") or name.endswith("max-message"):
        return "64K"
    if m in ("N", "COUNT") or name.endswith(("days", "threshold", "connections", "threads",
                                              "pipeline", "parallel", "history", "min",
                                              "findings")):
        return "1"
    if m in ("VAR",):
        return "HOME"
    if m in ("PEM", "F", "FILE", "PATH"):
        return str(f)
    if m in ("R", "RATE", "FACTOR", "FRACTION", "RATIO") or name.endswith(("rate", "ratio",
                                                                            "tolerance",
                                                                            "backoff",
                                                                            "jitter")):
        return "0.5" if name in ("jitter",) or name.endswith("tolerance") else "2"
    return "x"


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_short_and_long(cmd):
    for flag in ("-h", "--help"):
        r = run_wsprobe(cmd, flag)
        assert r.rc == 0, r
        assert listed_options(r.stdout), r
        assert r.stderr == "", r
    same = run_wsprobe(cmd, "-h").stdout == run_wsprobe(cmd, "--help").stdout
    assert same


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_listed_option_parses(cmd, samples):
    help_text = run_wsprobe(cmd, "--help").stdout
    bad = []
    for short, name, meta, optional in listed_options(help_text):
        if name in ("help", "version", "list", "list-rules"):
            continue
        args = ["--" + name]
        if meta and not optional:
            args.append(sample_value(cmd, name, meta, samples))
        elif meta and optional and name != "json":
            args[0] += "=" + sample_value(cmd, name, meta, samples)
        if name == "variables":
            args = ["--subscribe", "{ a }"] + args  # the variables of the --subscribe before it
        r = run_wsprobe(cmd, *args, "--help")
        if r.rc != 0 or "--help" not in r.stdout and not listed_options(r.stdout):
            bad.append((args, r.rc, r.stderr.strip()[:200]))
    assert not bad, "options listed in `wsprobe %s --help` that do not parse: %s" % (cmd, bad)


@pytest.mark.parametrize("cmd", COMMANDS)
def test_version(cmd):
    r = run_wsprobe(cmd, "--version")
    assert r.rc == 0, r
    assert re.match(r"^wsprobe \d+\.\d+\.\d+", r.stdout), r
    top = run_wsprobe("--version")
    assert top.rc == 0 and top.stdout.split()[1] == r.stdout.split()[1]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_unknown_abbreviated_and_secret_options_exit_2(cmd):
    for args in (["--no-such-option"], ["--hel"], ["--token=abc"], ["--jwt-secret", "abc"]):
        r = run_wsprobe(cmd, *args)
        assert r.rc == 2, r
        assert "abc" not in r.stderr, r  # a secret given by mistake is not repeated


@pytest.mark.parametrize("cmd,args,needle", [
    ("probe", ["ws://127.0.0.1:9/", "--timeout", "soon"], "--timeout 'soon'"),
    ("probe", ["ws://127.0.0.1:9/", "--max-message", "lots"], "--max-message 'lots'"),
    ("probe", ["ws://127.0.0.1:9/", "--connections", "0"], "--connections '0'"),
    ("probe", ["ws://127.0.0.1:9/", "--tls-min", "1.4"], "--tls-min '1.4'"),
    ("wait", ["ws://127.0.0.1:9/", "--timeout", "-1s"], "--timeout '-1s'"),
    ("security", ["ws://127.0.0.1:9/", "--timeout", "1x"], "--timeout '1x'"),
    ("load", ["ws://127.0.0.1:9/", "--timeout", "x"], "--timeout 'x'"),
])
def test_bad_values_name_the_option(cmd, args, needle):
    r = run_wsprobe(cmd, *args)
    assert r.rc == 2, r
    assert needle in r.stderr, r


def test_a_variable_name_that_looks_like_a_secret_is_not_repeated():
    r = run_wsprobe("probe", "ws://127.0.0.1:9/", "--token-env", "eyJhbGciOi.secret value")
    assert r.rc == 2, r
    assert "secret value" not in r.stderr and "eyJ" not in r.stderr, r


def test_probe_json_conventions(tmp_path, refused_port):
    url = "ws://127.0.0.1:%d/" % refused_port
    # --json: the report on stdout, nothing else there
    r = run_wsprobe("probe", url, "--json")
    assert r.rc == 20, r
    assert r.json and r.json["command"] == "probe" and r.json["class"] == "TCP_REFUSED"
    # --json=FILE: the report in the file, the human view on stdout
    out = tmp_path / "probe.json"
    r = run_wsprobe("probe", url, "--json=%s" % out)
    assert r.rc == 20, r
    assert r.json is None and "TCP_REFUSED" in r.stdout, r
    j = json.loads(out.read_text())
    assert j["command"] == "probe" and j["class"] == "TCP_REFUSED" and j["exit_code"] == 20
    # --json=- is --json
    r = run_wsprobe("probe", url, "--json=-")
    assert r.json and r.json["class"] == "TCP_REFUSED", r


def test_probe_json_file_unwritable_is_said(tmp_path, refused_port):
    url = "ws://127.0.0.1:%d/" % refused_port
    r = run_wsprobe("probe", url, "--json=%s" % (tmp_path / "no" / "such" / "dir.json"))
    assert "cannot write the JSON report" in r.stderr, r


def test_wait_json_conventions(tmp_path, refused_port):
    """wait: --json is the report alone on stdout; --json=FILE writes it and keeps the human
    line (TCP_REFUSED is not retried without --retry-refused: the wait ends at once)."""
    url = "ws://127.0.0.1:%d/" % refused_port
    r = run_wsprobe("wait", url, "--json", "--deadline", "5s")
    assert r.rc == 20, r
    assert r.json["command"] == "wait" and r.json["class"] == "TCP_REFUSED", r
    assert r.stderr == "", r
    out = tmp_path / "wait.json"
    r = run_wsprobe("wait", url, "--json=%s" % out, "--deadline", "5s")
    assert r.rc == 20 and r.json is None, r
    assert "TCP_REFUSED" in r.stderr, r  # the human line of a failed wait is on stderr
    j = json.loads(out.read_text())
    assert j["command"] == "wait" and j["class"] == "TCP_REFUSED" and j["attempts"] == 1


def test_token_has_no_json_and_says_so():
    r = run_wsprobe("token", "--json")
    assert r.rc == 2, r
    assert "--json" in r.stderr, r
    assert "no --json" in run_wsprobe("token", "--help").stdout
