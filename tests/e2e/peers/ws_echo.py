#!/usr/bin/python3
"""A real WebSocket server for the end-to-end tests: Debian's python3-websockets (asyncio API).

It is the "known good" third-party peer: wsprobe must reach OK against it over ws and wss.

Usage:
    /usr/bin/python3 ws_echo.py [--host 127.0.0.1] [--also-ipv6] [--port 0]
                                [--cert PEM --key PEM] [--tls-max 1.2]
                                [--subprotocol NAME]...

On start it prints one line `READY <port>` on stdout (the bound port; --port 0 picks a free one)
and serves until it is terminated. With --also-ipv6 it listens on ::1 on the same port as well.

Paths (the part after the host in the URL):
    any path        echo: every text or binary message is sent back unchanged.
    /headers        first sends a JSON object of the upgrade request's headers (names in lower
                    case, repeated headers joined with ", "), plus "_path" and "_subprotocol";
                    then echoes.
    /greet          sends the text "welcome" as soon as the connection opens, then echoes.
    /close/CODE     after the first message from the client, closes with CODE and the reason
                    "closing with CODE" (no echo).
    /closeopen/CODE closes with CODE and the reason "closing with CODE" as soon as the
                    connection opens, before the client says anything.
    /reply-close/CODE  echoes the first message, then closes with CODE at once.

Plain HTTP (no Upgrade) on these paths is answered before the handshake:
    /health         200 "ok\\n"
    /status/NNN     status NNN with a short text body (e.g. /status/403 is a real server's 403).
Any other plain GET gets the library's own answer: 426 Upgrade Required.
"""
import argparse
import asyncio
import http
import json
import socket
import ssl
import sys

import websockets


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--also-ipv6", action="store_true", help="listen on ::1 too, same port")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--tls-max", choices=["1.2", "1.3"])
    p.add_argument("--subprotocol", action="append", default=[])
    return p.parse_args()


async def process_request(path, request_headers):
    """Answer plain HTTP on /health and /status/NNN; let everything else go to the handshake."""
    if path == "/health":
        return http.HTTPStatus.OK, [("Content-Type", "text/plain")], b"ok\n"
    if path.startswith("/status/"):
        try:
            code = int(path[len("/status/"):])
            status = http.HTTPStatus(code)
        except ValueError:
            return http.HTTPStatus.BAD_REQUEST, [], b"bad status\n"
        headers = [("Content-Type", "text/plain")]
        if 300 <= code < 400:
            headers.append(("Location", "/moved"))
        return status, headers, ("status %d from ws_echo\n" % code).encode()
    return None


async def handler(ws):
    path = ws.path
    if path == "/headers":
        seen = {}
        for name, value in ws.request_headers.raw_items():
            key = name.lower()
            seen[key] = seen[key] + ", " + value if key in seen else value
        seen["_path"] = path
        seen["_subprotocol"] = ws.subprotocol
        await ws.send(json.dumps(seen, sort_keys=True))
    elif path == "/greet":
        await ws.send("welcome")
    elif path.startswith("/closeopen/"):
        code = int(path[len("/closeopen/"):])
        await ws.close(code=code, reason="closing with %d" % code)
        return
    elif path.startswith("/reply-close/"):
        code = int(path[len("/reply-close/"):])
        try:
            await ws.send(await ws.recv())
        except websockets.ConnectionClosed:
            return
        await ws.close(code=code, reason="closing with %d" % code)
        return
    elif path.startswith("/close/"):
        code = int(path[len("/close/"):])
        try:
            await ws.recv()
        except websockets.ConnectionClosed:
            return
        await ws.close(code=code, reason="closing with %d" % code)
        return
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


def make_ssl(args):
    if not args.cert:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if args.tls_max == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def bind(family, host, port):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, port))
    s.listen(128)
    s.setblocking(False)
    return s


def bind_all(args):
    """Bind the main host, and ::1 on the same port when asked (a few tries: bounded)."""
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    for _ in range(20):
        first = bind(family, args.host, args.port)
        port = first.getsockname()[1]
        if not args.also_ipv6:
            return port, [first]
        try:
            return port, [first, bind(socket.AF_INET6, "::1", port)]
        except OSError:
            first.close()
            if args.port:
                raise
    raise SystemExit("could not bind the same port on 127.0.0.1 and ::1")


async def main():
    args = parse_args()
    port, socks = bind_all(args)
    ctx = make_ssl(args)
    servers = []
    for s in socks:
        servers.append(await websockets.serve(
            handler, sock=s, ssl=ctx, process_request=process_request,
            subprotocols=args.subprotocol or None, ping_interval=None))
    print("READY %d" % port, flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
