#!/usr/bin/python3
"""A raw server whose answer to a WebSocket upgrade is `HTTP/1.0 101 Switching Protocols`
with an otherwise correct head (Upgrade, Connection, the right Sec-WebSocket-Accept), for the
conformance corpus. RFC 6455 4.1 requires an HTTP/1.1 (or later) status line, and HTTP/1.0
has no 101 (RFC 9110 15.2: "a server MUST NOT send a 1xx response to an HTTP/1.0 client";
RFC 7230 6.7: upgrade is HTTP/1.1): a client must treat this as a malformed handshake.

    /usr/bin/python3 http10_101.py

Binds 127.0.0.1 port 0 and prints `READY <port>`. Each connection: read the request head
(5 s at most), answer, then echo text frames unmasked until the client closes (10 s at most).
"""
import base64
import hashlib
import socket
import struct
import sys
import threading
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def serve(c):
    c.settimeout(5)
    buf = b""
    try:
        while b"\r\n\r\n" not in buf and len(buf) < 16384:
            chunk = c.recv(4096)
            if not chunk:
                return
            buf += chunk
        key = ""
        for line in buf.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "sec-websocket-key":
                key = v.strip()
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        c.sendall(("HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
        end = time.monotonic() + 10
        data = b""
        while time.monotonic() < end:
            chunk = c.recv(65536)
            if not chunk:
                return
            data += chunk
            while len(data) >= 6:
                op, n = data[0] & 0x0F, data[1] & 0x7F
                if n >= 126 or len(data) < 6 + n:
                    break
                mask, payload = data[2:6], data[6:6 + n]
                data = data[6 + n:]
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                c.sendall(bytes([0x80 | op, len(payload)]) + payload)
                if op == 8:
                    return
    except OSError:
        pass
    finally:
        c.close()


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    sys.stdout.write("READY %d\n" % s.getsockname()[1])
    sys.stdout.flush()
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
