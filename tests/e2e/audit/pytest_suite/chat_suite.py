"""A small end-to-end suite as a team would write it, run by tests/e2e/test_audit.py with
pytest --junitxml to produce a real report for `wsprobe audit`. Not collected by the project's
own test run (the file name does not start with test_).

- test_send_message_real talks to a loopback chat server it starts, which answers after 100 ms
  of think time, as a remote endpoint would;
- test_send_message_swallowed is the bug the audit exists for: the connection is refused, a
  broad except swallows ConnectionRefusedError, and the test passes in no time;
- a skip and an xfail, which are not findings.
"""
import socket
import threading
import time

import pytest

THINK = 0.100  # seconds the server takes to answer


@pytest.fixture(scope="module")
def chat_server():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                data = conn.recv(1024)
                time.sleep(THINK)
                conn.sendall(b"ack:" + data)

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()


def refused_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def send(port, message):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(message)
        return c.recv(1024)


def test_send_message_real(chat_server, record_property):
    reply = send(chat_server, b"hello")
    record_property("ws.bytes_rx", len(reply))
    assert reply == b"ack:hello"


def test_send_message_swallowed(record_property):
    received = b""
    try:
        received = send(refused_port(), b"hello")
    except Exception as e:  # the bug: a broad except that keeps the test green
        print("send failed, ignoring:", repr(e))
    record_property("ws.bytes_rx", len(received))


@pytest.mark.skip(reason="runs against staging only")
def test_staging_only():
    pass


@pytest.mark.xfail(reason="known bug: reconnect loses the room", strict=True)
def test_reconnect_keeps_room():
    assert False
