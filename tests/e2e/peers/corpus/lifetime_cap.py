#!/usr/bin/python3
"""python3-websockets echo server that ends every connection LIFETIME seconds after it opened,
however busy it is, with a bare TCP close (FIN, no close frame): the way a load balancer with a
lifetime cap (GCP's external HTTP(S) load balancer and its backend timeout) ends WebSockets.
Pings are answered (the library does it) until then.

    /usr/bin/python3 lifetime_cap.py LIFETIME

Binds 127.0.0.1 port 0, prints `READY <port>` on stdout, stops on SIGTERM/SIGINT.
"""
import asyncio
import signal
import sys

import websockets

LIFETIME = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0


async def echo_for_a_while(ws, path):
    async def echo():
        async for msg in ws:
            await ws.send(msg)
    try:
        await asyncio.wait_for(echo(), LIFETIME)
    except (asyncio.TimeoutError, websockets.exceptions.ConnectionClosed):
        pass
    ws.transport.close()  # FIN, no close frame


async def main():
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with websockets.serve(echo_for_a_while, "127.0.0.1", 0) as server:
        sys.stdout.write("READY %d\n" % server.sockets[0].getsockname()[1])
        sys.stdout.flush()
        await stop


if __name__ == "__main__":
    asyncio.run(main())
