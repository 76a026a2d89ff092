#!/usr/bin/python3
"""A raw WebSocket server (plain sockets, threads) that speaks Socket.IO or graphql-transport-ws
wrongly on cue, for the bad-input tests of `--protocol` (tests/e2e/test_protocols.py).

Usage: /usr/bin/python3 proto_hostile.py --mode MODE [--log FILE] [--hold SECONDS]

Each connection gets a correct 101 (choosing graphql-transport-ws when the client offers it,
or graphql-ws in mode gql-legacy), then the mode's script: `send` a text frame, `recv` wait
for the client's next text frame (logged), `sleep`. Afterwards it reads and logs until the
client closes or --hold (default 10 s) passes. Modes:

    sio-malformed      an open packet that is not JSON: 0{"sid":                  -> APP_PROTOCOL
    sio-absurd         an open packet with pingInterval 0                          -> APP_PROTOCOL
    sio-not-open       a CONNECT (40{...}) where the open packet belongs           -> APP_PROTOCOL
    sio-silent         no open packet at all                     -> WS_MSG_TIMEOUT (eio_open)
    sio-v2             open packet, then answers the CONNECT as Socket.IO v2 does
                       (40 without a sid): the wrong Engine.IO version             -> APP_PROTOCOL
    sio-no-heartbeat   a v4 session (pingInterval 300, pingTimeout 200) whose pings never come
                                                                                   -> APP_PROTOCOL
    sio-bad-packet     a connected session, then the packet 2["unterminated        -> APP_PROTOCOL
    gql-never-ack      reads connection_init, never acknowledges      -> WS_MSG_TIMEOUT
    gql-next-first     a `next` before connection_ack                              -> APP_PROTOCOL
    gql-not-json       acknowledges, then sends "not json"                         -> APP_PROTOCOL
    gql-legacy         chooses the subprotocol graphql-ws                          -> APP_PROTOCOL
    gql-legacy-types   acknowledges, then a legacy keep-alive {"type":"ka"}        -> APP_PROTOCOL

Prints `READY <port>` once listening on 127.0.0.1; exits on SIGTERM, or after 120 s.
"""
import argparse
import base64
import hashlib
import json
import socket
import struct
import sys
import threading
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CAP = 1 << 20

OPEN = '0{"sid":"hostile-sid","upgrades":[],"pingInterval":25000,"pingTimeout":20000,' \
       '"maxPayload":1000000}'
SCRIPTS = {
    "sio-malformed": [("send", '0{"sid":')],
    "sio-absurd": [("send", '0{"sid":"x","upgrades":[],"pingInterval":0,"pingTimeout":20000}')],
    "sio-not-open": [("send", '40{"sid":"x"}')],
    "sio-silent": [],
    "sio-v2": [("send", OPEN), ("recv",), ("send", "40")],
    "sio-no-heartbeat": [("send", '0{"sid":"hb","upgrades":[],"pingInterval":300,'
                                  '"pingTimeout":200,"maxPayload":1000000}'),
                         ("recv",), ("send", '40{"sid":"nsp-sid"}')],
    "sio-bad-packet": [("send", OPEN), ("recv",), ("send", '40{"sid":"nsp-sid"}'),
                       ("sleep", 0.05), ("send", '42["unterminated')],
    "gql-never-ack": [("recv",)],
    "gql-next-first": [("recv",), ("send", '{"id":"1","type":"next","payload":{"data":{}}}')],
    "gql-not-json": [("recv",), ("send", '{"type":"connection_ack"}'), ("sleep", 0.05),
                     ("send", "not json")],
    "gql-legacy": [("recv",)],
    "gql-legacy-types": [("recv",), ("send", '{"type":"connection_ack"}'), ("sleep", 0.05),
                         ("send", '{"type":"ka"}')],
}


def frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


class Conn:
    def __init__(self, sock, args, log):
        self.sock, self.args, self.log_lock, self.log_file = sock, args, log[0], log[1]
        self.buf = b""
        self.deadline = time.monotonic() + args.hold
        sock.settimeout(0.2)

    def log(self, event, **fields):
        if not self.log_file:
            return
        fields.update(event=event, t=time.time())
        with self.log_lock, open(self.log_file, "a") as f:
            f.write(json.dumps(fields) + "\n")

    def fill(self, n):
        while len(self.buf) < n:
            if time.monotonic() >= self.deadline or len(self.buf) > CAP:
                return False
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return False
            if not chunk:
                return False
            self.buf += chunk
        return True

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            if not self.fill(len(self.buf) + 1):
                return None
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return lines[0], headers

    def read_frame(self):
        if not self.fill(2):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            if not self.fill(4):
                return None
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            if not self.fill(10):
                return None
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        if n > CAP:
            return None
        mask_len = 4 if b1 & 0x80 else 0
        if not self.fill(off + mask_len + n):
            return None
        mask = self.buf[off:off + mask_len]
        data = bytearray(self.buf[off + mask_len:off + mask_len + n])
        self.buf = self.buf[off + mask_len + n:]
        if mask:
            for i in range(n):
                data[i] ^= mask[i % 4]
        return b0 & 0x0F, bytes(data)

    def recv_text(self):
        """The client's next text frame (pings answered, close ends it); None at the end."""
        while True:
            f = self.read_frame()
            if f is None:
                return None
            op, data = f
            self.log("frame", opcode=op, text=data.decode("utf-8", "replace"))
            if op == 9:
                self.sock.sendall(frame(10, data))
            elif op == 8:
                self.sock.sendall(frame(8, data[:2]))
                return None
            elif op == 1:
                return data.decode("utf-8", "replace")

    def serve(self, mode):
        h = self.head()
        if h is None:
            return
        line, headers = h
        self.log("request", line=line, headers=headers)
        accept = base64.b64encode(hashlib.sha1(
            headers.get("sec-websocket-key", "").encode() + GUID).digest()).decode()
        offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",")]
        proto = ""
        if mode == "gql-legacy":
            proto = "graphql-ws"
        elif "graphql-transport-ws" in offered:
            proto = "graphql-transport-ws"
        resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n" % accept)
        if proto:
            resp += "Sec-WebSocket-Protocol: %s\r\n" % proto
        self.sock.sendall((resp + "\r\n").encode())
        for step in SCRIPTS[mode]:
            if step[0] == "send":
                self.sock.sendall(frame(1, step[1].encode()))
            elif step[0] == "recv":
                if self.recv_text() is None:
                    return
            else:
                time.sleep(step[1])
        while self.recv_text() is not None:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True, choices=sorted(SCRIPTS))
    ap.add_argument("--log", default=None)
    ap.add_argument("--hold", type=float, default=10.0)
    args = ap.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    srv.settimeout(0.5)
    log = (threading.Lock(), args.log)
    sys.stdout.write("READY %d\n" % srv.getsockname()[1])
    sys.stdout.flush()
    end = time.monotonic() + 120
    while time.monotonic() < end:
        try:
            s, _ = srv.accept()
        except socket.timeout:
            continue

        def run(s=s):
            try:
                Conn(s, args, log).serve(args.mode)
            except OSError:
                pass
            finally:
                s.close()
        threading.Thread(target=run, daemon=True).start()


if __name__ == "__main__":
    main()
