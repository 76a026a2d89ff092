"""Input validated before the network (issue 13): header names and subprotocols are RFC 9110
tokens, header values and origins hold no CR, LF or other control byte, lists are not empty.

Each case runs against a listening socket of the test's own and asserts, from the socket, that
the command never connected: the error comes at parse time (exit 2, USAGE) and names the option.
Before, probe, wait and load noticed only after opening TCP, and security exited 1 with every
check inconclusive; `security --checks ''` ran every check.
"""
import select
import socket

import pytest

from conftest import run_wsprobe


@pytest.fixture
def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield s
    s.close()


def connected(sock):
    """Whether anyone connected to the listening socket (a pending connection)."""
    return bool(select.select([sock], [], [], 0.2)[0])


def run(*args, env=None, timeout=20):
    return run_wsprobe(*args, env=env, timeout=timeout)


BAD = [
    # (id, options, what the message must name)
    ("origin-ctl", ["--origin", "https://a.example\x01"], "--origin"),
    ("origin-tab-ok-but-del", ["--origin", "https://a.example\x7f"], "--origin"),
    ("origin-empty", ["--origin", ""], "--origin"),
    ("subprotocol-space", ["--subprotocol", "chat v1"], "--subprotocol"),
    ("subprotocol-empty-element", ["--subprotocol", "a,,b"], "--subprotocol"),
    ("subprotocol-empty", ["--subprotocol", ""], "--subprotocol"),
    ("subprotocol-separator", ["--subprotocol", "a/b"], "--subprotocol"),
    ("header-empty-name", ["-H", ": v"], "--header"),
    ("header-bad-name", ["-H", "X A: v"], "--header"),
    ("header-value-ctl", ["-H", "X-A: b\x1b[31m"], "--header"),
    ("header-value-nl", ["-H", "X-A: b\nInjected: 1"], "--header"),
]


def url_of(sock):
    return "ws://127.0.0.1:%d/ws" % sock.getsockname()[1]


@pytest.mark.parametrize("cmd", ["probe", "wait", "load", "security"])
@pytest.mark.parametrize("case", BAD, ids=[b[0] for b in BAD])
def test_bad_request_values_are_usage_errors_before_any_connection(listener, cmd, case):
    _, opts, name = case
    extra = {"wait": ["--deadline", "3s"], "load": ["--duration", "1s"],
             "security": ["--deadline", "5s"]}.get(cmd, [])
    r = run(cmd, url_of(listener), *opts, *extra)
    assert r.rc == 2, (r.rc, r.stderr[-500:])
    assert name in r.stderr
    assert "\x1b" not in r.stderr and "Injected: 1" not in r.stderr.replace("\\n", "")
    assert not connected(listener), "the command connected before refusing its input"


@pytest.mark.parametrize("checks", ["", ",", "auth,,origin", "auth,"])
def test_security_empty_check_lists_are_errors(listener, checks):
    r = run("security", url_of(listener), "--checks", checks, "--json")
    assert r.rc == 2, r.stderr
    assert "--checks" in r.stderr
    assert not connected(listener)


def test_a_minted_token_and_an_authorization_header_are_a_usage_error(listener):
    r = run("probe", url_of(listener), "-H", "Authorization: Bearer x", "--jwt-secret-env",
            "WSP_IV_SECRET", env={"WSP_IV_SECRET": "0123456789abcdef0123456789abcdef"})
    assert r.rc == 2, r.stderr
    assert "Authorization" in r.stderr
    assert not connected(listener)


@pytest.mark.parametrize("key,value", [
    ("origin", '"https://a.example\\x01"'),
    ("subprotocol", '"chat v1"'),
    ("headers", '{"X A": "v"}'),
    ("headers", '{"X-A": "b\\x1b"}'),
])
def test_plan_values_are_checked_the_same_way(listener, tmp_path, key, value):
    plan = tmp_path / "plan.yaml"
    plan.write_text("environments:\n  x:\n    url: %s\n    %s: %s\n"
                    "checks:\n  - connect\n" % (url_of(listener), key, value))
    r = run("run", plan, "--env", "x", "--json")
    assert r.rc == 2, (r.rc, r.stderr[-500:], r.stdout[-500:])
    assert key in r.stderr and "unknown key" not in r.stderr, r.stderr  # refused for its value
    assert not connected(listener)


@pytest.mark.parametrize("path", ["/ws\r\nX-Injected: 1", "/w s", "/ws#frag", "/\x01", "ws",
                                  "/caf\u00e9"])
def test_serve_path_must_be_visible_ascii(path):
    r = run("serve", "--listen", "127.0.0.1:0", "--unsafe-no-auth", "--path", path, timeout=10)
    assert r.rc == 2, r.stderr
    assert "--path" in r.stderr
    assert "\r" not in r.stderr and "\x01" not in r.stderr


@pytest.mark.parametrize("origin", ["https://a.example\x01", "https://a.example x", ""])
def test_serve_allow_origin_must_be_visible_ascii(origin):
    r = run("serve", "--listen", "127.0.0.1:0", "--unsafe-no-auth", "--allow-origin", origin,
            timeout=10)
    assert r.rc == 2, r.stderr
    assert "--allow-origin" in r.stderr
