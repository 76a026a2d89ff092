#!/usr/bin/python3
"""A broken DNS server on a loopback UDP port, for the resolver failure classes.

Usage:
    /usr/bin/python3 dns_stub.py --mode silent|rcode [--rcode 2] [--host 127.0.0.1] [--port 0]

    silent   receives queries and never answers (a resolver that times out).   -> DNS_TEMPFAIL
    rcode    answers every query with the header flags of a reply and the given RCODE
             (RFC 1035 section 4.1.1: 2 = SERVFAIL, 5 = REFUSED), no answers.  -> DNS_TEMPFAIL

Prints `READY <port>` on stdout and serves until terminated. (NXDOMAIN comes from dnsmasq, a
real resolver: see conftest.py.)
"""
import argparse
import socket
import struct
import sys


def question_end(data):
    """Offset just past the first question (name labels, QTYPE, QCLASS), or None."""
    i = 12
    while i < len(data) and data[i] != 0:
        if data[i] & 0xC0:
            return None
        i += 1 + data[i]
    i += 5
    return i if i <= len(data) else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["silent", "rcode"], required=True)
    ap.add_argument("--rcode", type=int, default=2)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((args.host, args.port))
    print("READY %d" % s.getsockname()[1], flush=True)
    while True:
        data, addr = s.recvfrom(4096)
        if args.mode == "silent" or len(data) < 12:
            continue
        qid, flags = struct.unpack("!HH", data[:4])
        # QR=1, opcode and RD copied, RA=1, RCODE as asked; the question is echoed back.
        rflags = 0x8000 | (flags & 0x7900) | 0x0080 | (args.rcode & 0xF)
        end = question_end(data)
        if end is None:
            continue
        s.sendto(struct.pack("!HHHHHH", qid, rflags, 1, 0, 0, 0) + data[12:end], addr)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
