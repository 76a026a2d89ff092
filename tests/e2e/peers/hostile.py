#!/usr/bin/python3
"""A deliberately broken WebSocket/HTTP server for the end-to-end tests (plain sockets, threads).

Each run has one behaviour, chosen by --mode; it answers every connection the same way, so one
process serves any number of probes. It logs what the client sent (request line, headers and
every frame, with the mask key) as JSON lines to --log, so tests can check the bytes on the wire.

Usage:
    /usr/bin/python3 hostile.py --mode MODE [--host 127.0.0.1] [--port 0] [--log FILE]
                                [--status N] [--reason TEXT] [--header 'Name: value']...
                                [--body TEXT] [--text TEXT]

Prints `READY <port>` on stdout once listening; serves until terminated. Every wait is bounded
(no connection is held longer than --hold seconds, 30 by default).

Handshake modes (the reply to the upgrade request):
    status          `HTTP/1.1 N REASON` with --header lines and --body, then close
                    (403, 404, 500, 302 with Location, 200 without upgrade, 429 ...).
    raw             send --text verbatim (Python escapes such as \\r\\n and \\x00 are decoded),
                    then hold the connection open: for malformed responses.
    raw-close       the same, then close: an answer cut in the middle.
    silent          read the request, never answer, keep the connection open.    -> HS_TIMEOUT
    close           read the request, close without a byte.                      -> HS_NO_RESPONSE
    reset           read the request, close with a TCP RST.                      -> HS_NO_RESPONSE
    ssh             an SSH banner, then "Invalid SSH identification", close.     -> HS_MALFORMED
    binary          64 bytes of binary junk, then hold the connection open.      -> HS_MALFORMED
    bad-accept      101 with a wrong Sec-WebSocket-Accept.                       -> HS_BAD_ACCEPT
    no-accept       101 without Sec-WebSocket-Accept.                            -> HS_BAD_ACCEPT
    double-accept   101 with Sec-WebSocket-Accept twice (both correct).          -> HS_BAD_ACCEPT
    no-upgrade      101 with the right Accept but no Upgrade header.             -> HS_BAD_HEADERS
    no-connection   101 with the right Accept but no Connection header.          -> HS_BAD_HEADERS
    upgrade-h2c     101 with `Upgrade: h2c`.                                     -> HS_BAD_HEADERS
    http10-101      a correct 101 (right Accept) but with the status line `HTTP/1.0 101`
                    (RFC 6455 4.1 wants HTTP/1.1 or later).                     -> HS_MALFORMED
    reset-on-open   a correct 101, then read nothing, wait 0.3 s and close with a TCP RST
                    while the client is still writing (a peer that goes away mid-write: the
                    client must report, never die of SIGPIPE).                 -> WS_DROPPED
    deaf            a correct 101, then read and discard everything (our close too) and never
                    send a byte: a close that is never answered.                -> WS_DROPPED
    http-after-101  a correct 101 followed at once by `HTTP/1.1 400 Bad Request` (a proxy or
                    server answering the request twice).                        -> WS_PROTOCOL
    pings-then-reset  a correct 101 and 200 pings in one write, then a TCP RST at once: the
                    client's pongs are written to a socket that is already gone (EPIPE,
                    the SIGPIPE a client must not die of).                     -> WS_DROPPED
    bad-subprotocol 101 choosing a subprotocol the client did not offer.         -> HS_NEGOTIATION
    bad-extension   101 with an extension the client did not offer.              -> HS_NEGOTIATION
    endless-headers 101 status line, then header lines without end (up to 256 MiB, stops when
                    the client goes away).                                       -> HS_MALFORMED
    huge-header     101 status line, then one header line of 1 MiB.              -> HS_MALFORMED
    trickle         a 101 response one byte every 100 ms, never finished.        -> HS_TIMEOUT
    plain-http      answer the first bytes, whatever they are (a TLS ClientHello), with
                    `HTTP/1.1 400 Bad Request`, as a plain HTTP server does.     -> TLS_TO_PLAINTEXT

Frame modes: a correct 101, then wait for the client's first frame and:
    echo            echo data frames, answer pings, reply to close (a correct peer).  -> OK
    ping-echo       send a ping "hostile-ping" first, then echo; echoes are held back until the
                    client's pong with the same payload arrives (no pong: no echo).
    fragments       echo each text message as three fragments (FIN=0, continuation, FIN=1).
    unrelated       send --text (default '{"type":"noise"}') before each echo.
    masked          a masked text frame (servers must not mask).                  -> WS_PROTOCOL
    deflate-bomb    (with --header 'Sec-WebSocket-Extensions: permessage-deflate') a compressed
                    text message that inflates to 16 MiB.                  -> WS_PROTOCOL 1009
    deflate-garbage a text frame with RSV1 whose payload is not deflate data. -> WS_PROTOCOL 1007
    deflate-control a ping with RSV1 (RFC 7692 6.1: never on control frames). -> WS_PROTOCOL
    deflate-echo    inflate each message (logged as "inflated"), echo it compressed (RSV1).
    close-CODE      close frame with CODE (e.g. close-1011) and reason (--text, or
                    "hostile close CODE").                                       -> WS_CLOSED
    close-nostatus  a close frame without a status code (read as 1005).
    drop            TCP close without a close frame.                              -> WS_DROPPED
    silence         never send anything, keep reading.                            -> WS_MSG_TIMEOUT
    mismatch        reply with --text (default "not what you expected").
                                                                  -> WS_EXPECT_MISMATCH
    len-2^63        a binary frame header declaring 2^63 bytes (MSB set: forbidden). -> WS_PROTOCOL
    len-huge        a binary frame header declaring 2^63-1 bytes, then a trickle of payload.
    close-1byte     a close frame with a one-byte payload.                        -> WS_PROTOCOL
    bad-utf8        a text frame with invalid UTF-8.                              -> WS_PROTOCOL
    bad-utf8-reason a close frame 1000 whose reason is invalid UTF-8.             -> WS_PROTOCOL
    bad-opcode      a frame with reserved opcode 0x3.                             -> WS_PROTOCOL
    rsv1            a text frame with RSV1 set and no extension negotiated.       -> WS_PROTOCOL
    long-ping       a ping with a 126-byte payload (control frames max 125).      -> WS_PROTOCOL
    fragmented-ping a ping with FIN=0 (control frames must not be fragmented).    -> WS_PROTOCOL
"""
import argparse
import base64
import hashlib
import json
import os
import socket
import struct
import zlib
import sys
import threading
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
REQUEST_CAP = 64 * 1024
FRAME_CAP = 1 << 20


class Peer:
    """One accepted connection: bounded reads, a log, and the parsed upgrade request."""

    def __init__(self, sock, conn_id, args, log):
        self.sock = sock
        self.id = conn_id
        self.args = args
        self.log_lock, self.log_file = log
        self.buf = b""
        self.deadline = time.monotonic() + args.hold
        sock.settimeout(0.2)

    def log(self, event, **fields):
        if not self.log_file:
            return
        fields.update(conn=self.id, event=event, t=time.time())
        with self.log_lock:
            with open(self.log_file, "a") as f:
                f.write(json.dumps(fields) + "\n")

    def expired(self):
        return time.monotonic() >= self.deadline

    def recv_some(self):
        """Return new bytes, b"" at EOF, None when the hold time ran out."""
        while not self.expired():
            try:
                return self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return b""
        return None

    def read_exact(self, n):
        while len(self.buf) < n:
            data = self.recv_some()
            if not data:
                return None
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def hold(self):
        """Keep the connection open, reading and discarding, until EOF or the hold time."""
        while True:
            data = self.recv_some()
            if not data:
                return

    def read_request(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > REQUEST_CAP:
                return None
            data = self.recv_some()
            if not data:
                return None
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append([name.strip(), value.strip()])
        self.request_line = lines[0]
        self.headers = headers
        self.log("request", request_line=lines[0], headers=headers)
        return headers

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def accept(self):
        key = (self.header("Sec-WebSocket-Key") or "").encode()
        return base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()

    def switching(self, upgrade="websocket", connection="Upgrade", accept=True, extra=()):
        lines = ["HTTP/1.1 101 Switching Protocols"]
        if upgrade is not None:
            lines.append("Upgrade: " + upgrade)
        if connection is not None:
            lines.append("Connection: " + connection)
        if accept is True:
            lines.append("Sec-WebSocket-Accept: " + self.accept())
        elif accept:
            lines.append("Sec-WebSocket-Accept: " + accept)
        lines.extend(extra)
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def read_frame(self):
        """Read one client frame (RFC 6455 section 5.2); log it; return (opcode, fin, payload)."""
        hdr = self.read_exact(2)
        if hdr is None:
            return None
        b0, b1 = hdr
        fin, rsv, opcode = b0 >> 7, (b0 >> 4) & 7, b0 & 0xF
        masked, length = b1 >> 7, b1 & 0x7F
        if length == 126:
            ext = self.read_exact(2)
            if ext is None:
                return None
            length = struct.unpack("!H", ext)[0]
        elif length == 127:
            ext = self.read_exact(8)
            if ext is None:
                return None
            length = struct.unpack("!Q", ext)[0]
        if length > FRAME_CAP:
            self.log("frame-too-big", length=length)
            return None
        mask = self.read_exact(4) if masked else b""
        if mask is None:
            return None
        payload = self.read_exact(length) if length else b""
        if payload is None:
            return None
        if masked:
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        self.log("frame", fin=fin, rsv=rsv, opcode=opcode, masked=masked, mask=mask.hex(),
                 length=length, payload=payload.hex())
        self.last_rsv = rsv
        return opcode, fin, payload


def frame(opcode, payload=b"", fin=True, rsv=0, mask=None):
    """Build a frame (RFC 6455 section 5.2); servers send unmasked frames unless mask is given."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        return head + mask + payload
    return head + payload


def close_frame(code, reason=b""):
    return frame(0x8, struct.pack("!H", code) + reason)


def status_response(args):
    body = (args.body or "").encode()
    lines = ["HTTP/1.1 %d %s" % (args.status, args.reason or "Status")]
    lines.extend(args.header)
    lines.append("Content-Length: %d" % len(body))
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def handshake_modes(p, mode, args):
    """Modes that end during the HTTP exchange. Return True when the mode was handled (or the
    request never came), False when the request was read and a frame mode must go on."""
    if mode == "plain-http":
        first = p.recv_some()
        p.log("first-bytes", data=(first or b"")[:64].hex())
        body = b"<html><body>400 Bad Request: plain HTTP port</body></html>\n"
        p.send(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
               b"Connection: close\r\n\r\n" % len(body) + body)
        return True
    if mode == "ssh":
        p.send(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        p.recv_some()
        p.send(b"Invalid SSH identification string.\r\n")
        return True
    if mode == "binary":
        p.send(bytes(range(0x80, 0xC0)))
        p.hold()
        return True
    if p.read_request() is None:
        return True
    if mode == "status":
        p.send(status_response(args))
    elif mode in ("raw", "raw-close"):
        p.send((args.text or "").encode("latin-1").decode("unicode_escape").encode("latin-1"))
        if mode == "raw":
            p.hold()
    elif mode == "silent":
        p.hold()
    elif mode == "close":
        pass
    elif mode == "reset":
        p.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    elif mode == "bad-accept":
        p.send(p.switching(accept=base64.b64encode(b"\x00" * 20).decode()))
        p.hold()
    elif mode == "no-accept":
        p.send(p.switching(accept=None))
        p.hold()
    elif mode == "double-accept":
        p.send(p.switching(extra=["Sec-WebSocket-Accept: " + p.accept()]))
        p.hold()
    elif mode == "no-upgrade":
        p.send(p.switching(upgrade=None))
        p.hold()
    elif mode == "no-connection":
        p.send(p.switching(connection=None))
        p.hold()
    elif mode == "upgrade-h2c":
        p.send(p.switching(upgrade="h2c"))
        p.hold()
    elif mode == "http10-101":
        p.send(p.switching().replace(b"HTTP/1.1 101", b"HTTP/1.0 101", 1))
        p.hold()
    elif mode == "deaf":
        p.send(p.switching())
        p.hold()
    elif mode == "http-after-101":
        p.send(p.switching() + b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        p.hold()
    elif mode == "pings-then-reset":
        p.send(p.switching() + frame(0x9, b"p") * 200)
        p.log("reset")
        p.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    elif mode == "reset-on-open":
        p.send(p.switching())
        time.sleep(0.3)
        p.log("reset")
        p.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    elif mode == "bad-subprotocol":
        p.send(p.switching(extra=["Sec-WebSocket-Protocol: never-offered.v9"]))
        p.hold()
    elif mode == "bad-extension":
        p.send(p.switching(extra=["Sec-WebSocket-Extensions: x-never-offered"]))
        p.hold()
    elif mode == "endless-headers":
        p.send(b"HTTP/1.1 101 Switching Protocols\r\n")
        chunk = b"".join(b"X-Filler-%06d: %s\r\n" % (i, b"v" * 40) for i in range(1000))
        sent = 0
        while sent < 256 << 20 and not p.expired() and p.send(chunk):
            sent += len(chunk)
        p.log("endless-headers-stopped", sent=sent)
    elif mode == "huge-header":
        p.send(b"HTTP/1.1 101 Switching Protocols\r\nX-Huge: " + b"a" * (1 << 20) + b"\r\n\r\n")
        p.hold()
    elif mode == "trickle":
        for c in p.switching():
            if p.expired() or not p.send(bytes([c])):
                break
            time.sleep(0.1)
        # The final CRLF is never sent: the response never completes.
        p.hold()
    else:
        return False
    return True


def frame_modes(p, mode, args):
    """A correct 101, then the chosen frame behaviour after the client's first frame.
    The upgrade request was read by handshake_modes."""
    sub = p.header("Sec-WebSocket-Protocol")
    extra = ["Sec-WebSocket-Protocol: " + sub.split(",")[0].strip()] if sub else []
    extra += args.header  # e.g. a Sec-WebSocket-Extensions answer for the deflate modes
    if not p.send(p.switching(extra=extra)):
        return
    first = p.read_frame()
    if first is None:
        return
    if mode in ("echo", "ping-echo", "fragments", "unrelated"):
        echo_loop(p, mode, args, first)
        return
    if mode == "masked":
        p.send(frame(0x1, b"masked by the server", mask=b"\x11\x22\x33\x44"))
    elif mode.startswith("close-") and mode[6:].isdigit():
        code = int(mode[6:])
        reason = args.text.encode()[:123] if args.text else b"hostile close %d" % code
        p.send(close_frame(code, reason))
        reply = p.read_frame()
        while reply is not None and reply[0] != 0x8:
            reply = p.read_frame()
        return
    elif mode == "close-nostatus":
        p.send(frame(0x8, b""))
        reply = p.read_frame()
        while reply is not None and reply[0] != 0x8:
            reply = p.read_frame()
        p.log("client-close", payload=(reply[2].hex() if reply else None))
        return
    elif mode == "drop":
        return
    elif mode == "silence":
        pass
    elif mode == "mismatch":
        p.send(frame(0x1, (args.text or "not what you expected").encode()))
    elif mode == "len-2^63":
        p.send(struct.pack("!BBQ", 0x82, 127, 1 << 63) + b"xxxx")
    elif mode == "len-huge":
        p.send(struct.pack("!BBQ", 0x82, 127, (1 << 63) - 1))
        while not p.expired() and p.send(b"z" * 65536):
            time.sleep(0.01)
        return
    elif mode == "close-1byte":
        p.send(frame(0x8, b"\x03"))
    elif mode == "bad-utf8":
        p.send(frame(0x1, b"caf\xc3 \xff\xfe invalid"))
    elif mode == "bad-utf8-reason":
        p.send(close_frame(1000, b"bye \xff\xfe"))
    elif mode == "bad-opcode":
        p.send(frame(0x3, b"reserved"))
    elif mode == "rsv1":
        p.send(frame(0x1, b"rsv1 set", rsv=4))
    elif mode == "deflate-bomb":
        # 16 MiB of zeros as one compressed message (about 16 KiB on the wire)
        z = zlib.compressobj(9, zlib.DEFLATED, -15)
        data = z.compress(b"\0" * (16 << 20)) + z.flush(zlib.Z_SYNC_FLUSH)
        p.send(frame(0x1, data[:-4], rsv=4))
    elif mode == "deflate-garbage":
        p.send(frame(0x1, b"\xff\xff\xff\xff\x00\x13 not deflate", rsv=4))
    elif mode == "deflate-control":
        p.send(frame(0x9, b"compressed ping", rsv=4))
    elif mode == "deflate-echo":
        # inflate what came (RFC 7692: tail appended), log it, answer it compressed
        d = zlib.decompressobj(-15)
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        f = first
        while f is not None and f[0] != 0x8:
            opcode, payload, rsv = f[0], f[2], p.last_rsv
            text = d.decompress(payload + b"\x00\x00\xff\xff") if rsv & 4 else payload
            p.log("inflated", rsv=rsv, wire=len(payload), data=text[:64].hex(), length=len(text))
            out = c.compress(text) + c.flush(zlib.Z_SYNC_FLUSH)
            p.send(frame(opcode, out[:-4], rsv=4))
            f = p.read_frame()
        if f is not None:
            p.send(frame(0x8, f[2][:2]))
        return
    elif mode == "long-ping":
        p.send(frame(0x9, b"p" * 126))
    elif mode == "fragmented-ping":
        p.send(frame(0x9, b"half", fin=False))
    else:
        p.log("unknown-mode", mode=mode)
        return
    answer_close(p)


def answer_close(p):
    """After the misbehaviour: read the client's frames (bounded by --hold) and, when its close
    frame comes, answer it and hang up, so the client's close handshake can finish."""
    while True:
        f = p.read_frame()
        if f is None:
            return
        if f[0] == 0x8:
            p.send(frame(0x8, f[2][:2]))
            return


def echo_loop(p, mode, args, first):
    """A correct peer: echo data messages, answer pings, complete the close handshake."""
    if mode == "ping-echo":
        p.send(frame(0x9, b"hostile-ping"))
    pong_seen = mode != "ping-echo"
    deferred = []  # messages that came before the pong, echoed once it arrives
    pending = [first]
    message, msg_opcode = b"", None
    while True:
        f = pending.pop() if pending else p.read_frame()
        if f is None:
            return
        opcode, fin, payload = f
        if opcode == 0x8:
            code = payload[:2] if len(payload) >= 2 else b""
            p.send(frame(0x8, code))
            return
        if opcode == 0x9:
            p.send(frame(0xA, payload))
            continue
        if opcode == 0xA:
            if payload == b"hostile-ping" and not pong_seen:
                pong_seen = True
                for op, msg in deferred:
                    p.send(frame(op, msg))
            continue
        if opcode in (0x1, 0x2):
            message, msg_opcode = payload, opcode
        elif opcode == 0x0:
            message += payload
        if not fin:
            continue
        if not pong_seen:
            deferred.append((msg_opcode, message))
            continue
        if mode == "unrelated":
            p.send(frame(0x1, (args.text or '{"type":"noise"}').encode()))
        if mode == "fragments" and len(message) >= 3:
            third = len(message) // 3
            p.send(frame(msg_opcode, message[:third], fin=False))
            p.send(frame(0x0, message[third:2 * third], fin=False))
            p.send(frame(0x0, message[2 * third:]))
        else:
            p.send(frame(msg_opcode, message))


def serve_one(sock, conn_id, args, log):
    p = Peer(sock, conn_id, args, log)
    p.log("accepted")
    try:
        if not handshake_modes(p, args.mode, args):
            frame_modes(p, args.mode, args)
    except Exception as e:  # a broken client must not take the server down; keep a trace
        p.log("error", error=repr(e))
    finally:
        p.log("closed")
        try:
            sock.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description="hostile WebSocket/HTTP peer for tests")
    ap.add_argument("--mode", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log")
    ap.add_argument("--status", type=int, default=200)
    ap.add_argument("--reason")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--body")
    ap.add_argument("--text")
    ap.add_argument("--hold", type=float, default=30.0, help="max seconds per connection")
    args = ap.parse_args()

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.host, args.port))
    srv.listen(64)
    print("READY %d" % srv.getsockname()[1], flush=True)
    log = (threading.Lock(), args.log)
    conn_id = 0
    while True:
        sock, _ = srv.accept()
        conn_id += 1
        threading.Thread(target=serve_one, args=(sock, conn_id, args, log), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
