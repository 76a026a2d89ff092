"""Regressions found by review of the engine, each against a small raw-socket peer on loopback:
a peer that stops reading, a response head split across reads with a large frame behind it, a
health check that must not stop a step's clock, terminal control sequences in a close reason,
running out of file descriptors, and query tokens that need percent-encoding."""
import base64
import hashlib
import resource
import socket
import subprocess
import threading
import time
from urllib.parse import parse_qs, urlparse

import pytest

from conftest import run_wsprobe, wsprobe_path

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def read_head(conn, limit=65536):
    data = b""
    while b"\r\n\r\n" not in data and len(data) < limit:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def request_key(head):
    for line in head.decode("latin-1").split("\r\n"):
        if line.lower().startswith("sec-websocket-key:"):
            return line.split(":", 1)[1].strip()
    return ""


def response_101(key):
    return ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: %s\r\n\r\n" % accept_for(key)).encode()


def frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 127]) + n.to_bytes(8, "big")
    return head + payload


class Peer:
    """A one-shot raw server: `behave(conn, head)` runs per connection, in a thread."""

    def __init__(self, behave, conns=1):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.behave = behave
        self.seen = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, args=(conns,), daemon=True)
        self.thread.start()

    def loop(self, conns):
        self.sock.settimeout(10)
        for _ in range(conns):
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve_one, args=(conn,), daemon=True).start()

    def serve_one(self, conn):
        conn.settimeout(10)
        try:
            head = read_head(conn)
            self.seen.append(head)
            self.behave(conn, head, self.stop)
        except OSError:
            pass

    def close(self):
        self.stop.set()
        self.sock.close()
        self.thread.join(15)


def test_a_peer_that_stops_reading_cannot_outlive_the_deadline(tmp_path):
    def never_read(conn, head, stop):
        conn.sendall(response_101(request_key(head)))
        stop.wait(30)  # never reads again: our writes pile up in its window
        conn.close()

    p = Peer(never_read)
    big = tmp_path / "big.txt"
    big.write_text("x" * (4 << 20))
    big = "@%s" % big
    try:
        t0 = time.monotonic()
        r = run_wsprobe("probe", "ws://127.0.0.1:%d/" % p.port, "--send", big, "--send", big,
                        "--send", big, "--expect-text", "hi", "--timeout", "1s", "--deadline",
                        "4s", "--max-message", "16M", "--json", timeout=25)
        elapsed = time.monotonic() - t0
        assert r.rc != 0 and r.json["ok"] is False
        assert elapsed < 10, elapsed
    finally:
        p.close()


def test_a_split_head_with_a_large_frame_behind_it_loses_no_byte():
    text = b"a" * 70000

    def split(conn, head, stop):
        resp = response_101(request_key(head))
        conn.sendall(resp[:20])
        time.sleep(0.1)
        conn.sendall(resp[20:] + frame(1, text))
        conn.settimeout(5)
        try:
            conn.recv(64)  # the client's close frame (masked): answer it, as RFC 6455 7.1.2 asks
            conn.sendall(b"\x88\x02\x03\xe8")
        except OSError:
            pass
        stop.wait(1)
        conn.close()

    p = Peer(split)
    try:
        r = run_wsprobe("probe", "ws://127.0.0.1:%d/" % p.port, "--expect-regex", "^a+$",
                        "--timeout", "3s", "--json")
        assert r.rc == 0, r.stdout
        assert r.json["ws"]["received_bytes"] >= len(text) + 10
    finally:
        p.close()


def test_the_health_check_ending_does_not_stop_a_steps_clock():
    def silent(conn, head, stop):
        if head.startswith(b"GET /health"):
            time.sleep(0.5)  # answers while the WebSocket's step is waiting
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            conn.close()
            return
        conn.sendall(response_101(request_key(head)))
        stop.wait(20)
        conn.close()

    p = Peer(silent, conns=2)
    try:
        t0 = time.monotonic()
        r = run_wsprobe("probe", "ws://127.0.0.1:%d/" % p.port, "--health",
                        "http://127.0.0.1:%d/health" % p.port, "--expect-text", "hi",
                        "--timeout", "1s", "--deadline", "8s", "--json", timeout=20)
        elapsed = time.monotonic() - t0
        assert r.rc == 83 and r.json["class"] == "WS_MSG_TIMEOUT", r.stdout
        assert elapsed < 5, elapsed  # the step's 1 s, not the 8 s deadline
        assert r.json["health"]["ok"] is True
    finally:
        p.close()


def test_a_close_reason_cannot_drive_the_terminal():
    reason = "\x1b]0;owned\x07\x1b[2J\x1b[31mfake OK\xc2\x9b"

    def close_with_escapes(conn, head, stop):
        conn.sendall(response_101(request_key(head)))
        conn.sendall(frame(8, (4000).to_bytes(2, "big") + reason.encode("utf-8")))
        stop.wait(3)
        conn.close()

    p = Peer(close_with_escapes, conns=2)
    try:
        for extra in ([], ["-q"]):
            r = run_wsprobe("probe", "ws://127.0.0.1:%d/" % p.port, "--expect-text", "hi",
                            "--timeout", "2s", *extra)
            assert r.rc == 80, (r.rc, r.stdout, r.stderr)
            for stream in (r.stdout, r.stderr):
                assert "\x1b" not in stream and "\x07" not in stream and "\x9b" not in stream
            assert "fake OK" in (r.stdout + r.stderr)
    finally:
        p.close()


def test_running_out_of_descriptors_is_not_a_network_fault():
    p = Peer(lambda conn, head, stop: (conn.sendall(response_101(request_key(head))),
                                       stop.wait(2), conn.close()), conns=0)

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24))

    try:
        exe = str(wsprobe_path())
        r = subprocess.run([exe, "probe", "ws://127.0.0.1:%d/" % p.port, "--connections", "40",
                            "--timeout", "2s", "--json"], capture_output=True, text=True,
                           timeout=30, preexec_fn=low_limit)
        import json
        j = json.loads(r.stdout)
        assert "NET_UNREACHABLE" not in j["by_class"], j["by_class"]
        assert j["by_class"].get("INTERNAL", 0) >= 1, j["by_class"]
    finally:
        p.close()


def test_query_tokens_are_percent_encoded():
    token = "ab+cd/ef==&x#y"
    got = {}

    def check_query(conn, head, stop):
        target = head.split(b" ")[1].decode()
        got["q"] = parse_qs(urlparse(target).query).get("token", [None])[0]
        conn.sendall(response_101(request_key(head)))
        stop.wait(2)
        conn.close()

    p = Peer(check_query)
    try:
        r = run_wsprobe("probe", "ws://127.0.0.1:%d/" % p.port, "--token-env", "T",
                        "--auth-in", "query:token", "--timeout", "2s", env={"T": token})
        assert got.get("q") == token, got
        assert token not in r.stdout and token not in r.stderr
    finally:
        p.close()
