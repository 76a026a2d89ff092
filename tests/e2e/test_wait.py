"""`wsprobe wait URL`: the deploy gate against real peers on loopback: a server that starts
late, fail-fast on classes retrying cannot fix, retry of the ones it can, the deadline (124),
consecutive successes with a conversation, and no progress noise when stderr is not a TTY."""
import os
import signal
import subprocess

import pytest

from conftest import PEERS_DIR, PYTHON, free_port, run_wsprobe, stop_process


def wait(*args, timeout=30, env=None):
    return run_wsprobe("wait", *args, "--json", timeout=timeout, env=env)


def check_shape(r):
    j = r.json
    assert isinstance(j, dict), r
    for k in ("ok", "class", "exit_code", "attempts", "successes", "last_class", "reason"):
        assert k in j, (k, r)
    assert j["exit_code"] == r.rc, r
    return j


@pytest.fixture
def late_echo(tmp_path):
    """The python3-websockets echo server on a chosen port, started 1.5 s from now."""
    port = free_port()
    script = ("import time, subprocess, sys; time.sleep(1.5); "
              "sys.exit(subprocess.call([%r, %r, '--port', '%d']))"
              % (PYTHON, str(PEERS_DIR / "ws_echo.py"), port))
    log = open(tmp_path / "late.log", "wb")
    proc = subprocess.Popen([PYTHON, "-c", script], stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    yield port
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    stop_process(proc)


def test_server_that_starts_late_passes(late_echo):
    url = "ws://127.0.0.1:%d/ws" % late_echo
    r = wait(url, "--retry-refused", "--deadline", "20s", "--interval", "200ms",
             "--max-interval", "500ms", "--success-threshold", "2", "--send", "hi",
             "--expect-text", "hi", timeout=40)
    j = check_shape(r)
    assert r.rc == 0, r
    assert j["ok"] is True and j["class"] == "OK" and j["reason"] == "ok"
    assert j["attempts"] > 2          # refused while it was not up, then two successes
    assert j["consecutive_successes"] == 2 and j["successes"] == 2
    assert j["last"]["class"] == "OK"


def test_refused_fails_fast_without_opt_in(refused_port):
    r = wait("ws://127.0.0.1:%d/ws" % refused_port, "--deadline", "60s")
    j = check_shape(r)
    assert r.rc == 20, r
    assert j["class"] == "TCP_REFUSED" and j["reason"] == "fail_fast"
    assert j["attempts"] == 1


def test_deadline_exits_124_with_last_class_and_attempts(refused_port):
    r = wait("ws://127.0.0.1:%d/ws" % refused_port, "--retry-refused", "--deadline", "1s",
             "--interval", "100ms", "--max-interval", "200ms")
    j = check_shape(r)
    assert r.rc == 124, r
    assert j["class"] == "WAIT_DEADLINE" and j["reason"] == "deadline"
    assert j["last_class"] == "TCP_REFUSED"
    assert j["attempts"] >= 2


def test_deadline_human_report_names_last_class(refused_port):
    r = run_wsprobe("wait", "ws://127.0.0.1:%d/ws" % refused_port, "--retry-refused",
                    "--deadline", "500ms", "--interval", "100ms")
    assert r.rc == 124, r
    assert "WAIT_DEADLINE" in r.stderr and "TCP_REFUSED" in r.stderr
    assert "\r" not in r.stderr  # no progress line: stderr is not a terminal


def test_auth_refusal_is_not_retried(peers):
    srv = peers.hostile("status", status=403, reason="Forbidden")
    r = wait(srv.url("/ws"), "--deadline", "30s")
    j = check_shape(r)
    assert r.rc == 44 and j["class"] == "UPGRADE_AUTH" and j["attempts"] == 1, r


@pytest.mark.parametrize("status", [503, 429])
def test_retryable_statuses_are_retried_until_deadline(peers, status):
    srv = peers.hostile("status", status=status, reason="Busy", headers=("Retry-After: 0",))
    r = wait(srv.url("/ws"), "--deadline", "1s", "--interval", "100ms",
             "--max-interval", "200ms")
    j = check_shape(r)
    assert r.rc == 124, r
    assert j["last_class"] in ("UPGRADE_SERVER_ERROR", "UPGRADE_REJECTED")
    assert j["attempts"] >= 2


def test_retry_after_is_honoured(peers):
    # Retry-After: 5 with a 1.5 s deadline: one attempt, then the wait reaches the deadline
    srv = peers.hostile("status", status=503, reason="Busy", headers=("Retry-After: 5",))
    r = wait(srv.url("/ws"), "--deadline", "1500ms", "--interval", "100ms")
    j = check_shape(r)
    assert r.rc == 124, r
    assert j["attempts"] == 1


def test_conversation_mismatch_is_not_retried(peers):
    echo = peers.echo()
    r = wait(echo.url("/ws"), "--send", "ping", "--expect-text", "pong", "--deadline", "30s")
    j = check_shape(r)
    assert r.rc == 84 and j["class"] == "WS_EXPECT_MISMATCH" and j["attempts"] == 1, r


def test_success_human_output_on_stdout_only(peers):
    echo = peers.echo()
    r = run_wsprobe("wait", echo.url("/ws"), "--deadline", "10s")
    assert r.rc == 0, r
    assert r.stderr == ""
    assert echo.url("/ws") in r.stdout


def test_usage_errors(refused_port):
    url = "ws://127.0.0.1:%d/ws" % refused_port
    assert run_wsprobe("wait", url, "--deadline", "soon").rc == 2
    assert run_wsprobe("wait", url, "--success-threshold", "0").rc == 2
    assert run_wsprobe("wait").rc == 2
    assert run_wsprobe("wait", url, "--jitter", "2").rc == 2
    r = run_wsprobe("wait", "http//bad", "--deadline", "1s")
    assert r.rc == 10


def test_progress_line_only_on_a_terminal(refused_port):
    """With stderr on a pseudo-terminal, one line is redrawn there (carriage return, clear)."""
    import pty
    from conftest import wsprobe_path
    master, slave = pty.openpty()
    try:
        p = subprocess.run([str(wsprobe_path()), "wait", "ws://127.0.0.1:%d/ws" % refused_port,
                            "--retry-refused", "--deadline", "600ms", "--interval", "100ms"],
                           stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                           timeout=20, env=dict(os.environ, NO_COLOR="1"))
        os.close(slave)
        slave = -1
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert p.returncode == 124
    text = out.decode(errors="replace")
    assert "\r\x1b[K" in text and "attempt 1" in text, text
    assert p.stdout == b""
