#!/usr/bin/python3
"""python3-websockets (Debian, 10.x) echo server with permessage-deflate switched on
(compression="deflate", the library's own extension), for the conformance corpus.

    /usr/bin/python3 py_deflate.py

Binds 127.0.0.1 port 0, prints `READY <port>` on stdout and echoes every message until it is
terminated. A client that offers permessage-deflate gets it (and compressed frames, RSV1 set);
one that does not gets plain frames.
"""
import asyncio
import signal
import sys

import websockets


async def echo(ws, path):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.exceptions.ConnectionClosed:
        pass


async def main():
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with websockets.serve(echo, "127.0.0.1", 0, compression="deflate") as server:
        port = server.sockets[0].getsockname()[1]
        sys.stdout.write("READY %d\n" % port)
        sys.stdout.flush()
        await stop


if __name__ == "__main__":
    asyncio.run(main())
