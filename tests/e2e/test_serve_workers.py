"""`wsprobe serve --workers N` (issue 19): N processes on SO_REUSEPORT listeners, each with its
share of the global limits, supervised by the process that bound them.

The truth is on the wire (raw RFC 6455 sockets: the 101, the echo, the close code at shutdown)
and in /proc (which processes exist); /health answers for the worker that took the request.
"""
import json
import os
import signal
import socket
import time

import pytest

from conftest import pid_alive, wait_child_pids
from serve_helpers import FrameReader, frame, http_get, raw_ws, start_serve


@pytest.fixture
def serve(tmp_path):
    started = []

    def start(*args, **kw):
        kw.setdefault("tls", False)
        kw.setdefault("auth", False)
        srv = start_serve(tmp_path / ("srv%d" % len(started)), "--unsafe-no-auth", *args, **kw)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop(signal.SIGKILL) if srv.alive() else None


def workers_of(srv, n):
    return wait_child_pids(srv.proc.pid, n)


def health(srv):
    status, _, body = http_get(srv, "/health")
    assert status == 200
    return json.loads(body)


def test_workers_share_the_port_and_each_connection_works(serve):
    """Three workers behind one port: 30 raw WebSockets all upgrade and echo, both the port
    file and the log name one listener, /health answers from several workers with each one's
    share of the limits, and SIGTERM to the supervisor closes every WebSocket with 1001 and
    ends every process with status 0."""
    srv = serve("--echo", "--workers", "3", "--max-conns-per-ip", "900", "--max-conns", "300")
    assert srv.info["pid"] == srv.proc.pid
    kids = workers_of(srv, 3)
    socks = []
    for i in range(30):
        s, rest = raw_ws(srv)
        payload = b"m%d" % i
        s.sendall(frame(0x1, payload))
        r = FrameReader(s, rest)
        assert r.next() == (0x1, payload)
        socks.append((s, r))
    seen = set()
    for _ in range(40):
        h = health(srv)
        assert h["workers"] == 3
        assert h["limits"]["max_conns"] == 100 and h["limits"]["max_conns_per_ip"] == 300
        seen.add(h["worker"])
    assert len(seen) >= 2, seen  # the kernel spreads new connections over the group
    assert srv.stop() == 0, srv.log()[-2000:]
    for s, r in socks:
        assert r.close_code() == 1001
        s.close()
    assert not [k for k in kids if pid_alive(k)]
    assert srv.log().count("listening on") == 1


def test_a_global_limit_is_the_sum_of_the_shares(serve):
    """--max-conns 10 over two workers: 5 each. However the kernel spreads 30 WebSockets, no more
    than 10 stay open (the oldest anonymous ones are closed to make room), and at least one
    worker's share."""
    srv = serve("--echo", "--workers", "2", "--max-conns", "10", "--max-conns-per-ip", "1000")
    workers_of(srv, 2)
    socks = [raw_ws(srv) for _ in range(30)]
    time.sleep(0.5)
    open_now = 0
    for s, rest in socks:
        s.sendall(frame(0x1, b"still there?"))
        r = FrameReader(s, rest)
        try:
            op, payload = r.next(timeout=2)
            while op != 0x1 and op != 0x8:
                op, payload = r.next(timeout=2)
            open_now += op == 0x1
        except (ConnectionError, TimeoutError, OSError):
            pass
        s.close()
    assert 5 <= open_now <= 10, open_now


def test_a_worker_that_dies_stops_the_server(serve):
    """A server at a fraction of its capacity is not the one that was asked for: when a worker
    is killed, the supervisor stops the others (their WebSockets get 1001) and exits non-zero,
    naming the worker."""
    srv = serve("--echo", "--workers", "2")
    kids = workers_of(srv, 2)
    socks = [raw_ws(srv) for _ in range(20)]
    os.kill(kids[0], signal.SIGKILL)
    rc = srv.proc.wait(timeout=15)
    assert rc == 70, srv.log()[-2000:]
    assert "worker 1 of 2 (pid %d) killed by signal 9" % kids[0] in srv.log()
    codes = []
    for s, rest in socks:
        try:
            codes.append(FrameReader(s, rest).close_code(timeout=5))
        except (ConnectionError, TimeoutError, OSError):
            codes.append("reset")  # the killed worker's connections
        s.close()
    assert 1001 in codes  # the surviving worker's, closed on the way out
    assert not [k for k in kids if pid_alive(k)]


@pytest.mark.parametrize("reuseport", [False, True])
def test_workers_refuse_a_port_in_use(serve, tmp_path, reuseport):
    """A port held by a socket outside the group cannot be joined, even a SO_REUSEPORT one
    (another server's group would silently take a share of the connections): a usage error
    (exit 2) before any worker starts."""
    holder = socket.socket()
    if reuseport:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        rc, err = start_serve(tmp_path / "busy", "--unsafe-no-auth", "--workers", "2",
                              "--listen", "127.0.0.1:%d" % port, tls=False, auth=False,
                              expect_fail=True)
        assert rc == 2, err
        assert "cannot listen on 127.0.0.1:%d" % port in err
    finally:
        holder.close()


@pytest.mark.parametrize("limit", [["--max-conns", "3"], ["--max-conns-per-ip", "2"],
                                   ["--max-queued-bytes", "1M"]])
def test_a_limit_too_small_to_share_is_refused(tmp_path, limit):
    """Four workers cannot share --max-conns 3 (each would hold at least one: four in all), nor
    a queue budget smaller than four clients' write queues: exit 2, never a looser limit."""
    rc, err = start_serve(tmp_path / "small", "--unsafe-no-auth", "--workers", "4", *limit,
                          tls=False, auth=False, expect_fail=True)
    assert rc == 2, err
    assert limit[0] in err


def test_sigterm_at_once_is_a_clean_stop(tmp_path):
    """A supervisor (CI, systemd) may stop the server the moment its port file appears: the
    signal waits for the workers' handlers, and the stop is clean (0), every time."""
    for i in range(5):
        srv = start_serve(tmp_path / ("quick%d" % i), "--unsafe-no-auth", "--workers", "4",
                          tls=False, auth=False)
        assert srv.stop() == 0, srv.log()[-2000:]
