#!/usr/bin/python3
"""A raw WebSocket server (plain sockets, threads) that speaks Socket.IO or graphql-transport-ws
wrongly on cue, for the bad-input tests of `--protocol` (tests/e2e/test_protocols.py).

Usage: /usr/bin/python3 proto_hostile.py --mode MODE [--log FILE] [--hold SECONDS]

Each connection gets a correct 101 (choosing graphql-transport-ws when the client offers it,
or graphql-ws in mode gql-legacy), then the mode's script: `send` a text frame, `recv` wait
for the client's next text frame (logged), `sleep`. Afterwards it reads and logs until the
client closes or --hold (default 10 s) passes. The connection is hostile.py's (bounded reads,
the same log of every client frame). Modes:

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
    gql-close-4400     acknowledges, reads the subscribe, closes with 4400 Bad request -> WS_CLOSED
    gql-legacy-types   acknowledges, then a legacy keep-alive {"type":"ka"}        -> APP_PROTOCOL

Prints `READY <port>` once listening on 127.0.0.1; exits on SIGTERM, or after 120 s.
"""
import argparse
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile  # noqa: E402  (its bounded connection and frames)

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
    "gql-close-4400": [("recv",), ("send", '{"type":"connection_ack"}'), ("recv",),
                       ("close", 4400, "Bad request")],
    "gql-legacy-types": [("recv",), ("send", '{"type":"connection_ack"}'), ("sleep", 0.05),
                         ("send", '{"type":"ka"}')],
}


class Conn(hostile.Peer):
    """hostile.py's bounded connection, speaking a script of text frames."""

    def recv_text(self):
        """The client's next text frame (pings answered, close ends it); None at the end."""
        while True:
            f = self.read_frame()  # logged by hostile.Peer (payload in hex)
            if f is None:
                return None
            op, _, data = f
            if op == 9:
                self.send(hostile.frame(10, data))
            elif op == 8:
                self.send(hostile.frame(8, data[:2]))
                return None
            elif op == 1:
                return data.decode("utf-8", "replace")

    def serve(self, mode):
        if self.read_request() is None:
            return
        offered = [p.strip() for p in (self.header("Sec-WebSocket-Protocol") or "").split(",")]
        extra = []
        if mode == "gql-legacy":
            extra.append("Sec-WebSocket-Protocol: graphql-ws")
        elif "graphql-transport-ws" in offered:
            extra.append("Sec-WebSocket-Protocol: graphql-transport-ws")
        if not self.send(self.switching(extra=extra)):
            return
        for step in SCRIPTS[mode]:
            if step[0] == "send":
                if not self.send(hostile.frame(1, step[1].encode())):
                    return
            elif step[0] == "recv":
                if self.recv_text() is None:
                    return
            elif step[0] == "close":
                self.send(hostile.close_frame(step[1], step[2].encode()))
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
    n = 0
    while time.monotonic() < end:
        try:
            s, _ = srv.accept()
        except socket.timeout:
            continue
        n += 1

        def run(s=s, n=n):
            try:
                Conn(s, n, args, log).serve(args.mode)
            except OSError:
                pass
            finally:
                s.close()
        threading.Thread(target=run, daemon=True).start()


if __name__ == "__main__":
    main()
