"""stall_server.py - a WebSocket echo server (Debian's python3-websockets) that misbehaves on
cue, for the coordinated-omission and baseline tests of `wsprobe load`.

    stall_server.py --stall-after SECONDS --stall-for SECONDS   echo; once, SECONDS after the
        first message, the whole server stops for --stall-for (a blocking sleep: no connection
        is read or answered meanwhile), then goes on echoing
    stall_server.py --delay SECONDS                              echo every message this late

Binds 127.0.0.1 on a free port and prints "READY <port>" on stdout once listening. Exits on
SIGTERM or SIGINT, and by itself after --max-lifetime seconds (default 120) whatever happens.
"""
import argparse
import asyncio
import signal
import sys
import time

import websockets


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stall-after", type=float, default=None)
    ap.add_argument("--stall-for", type=float, default=0.5)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--max-lifetime", type=float, default=120.0)
    args = ap.parse_args()
    state = {"first": None, "stalled": False}

    async def handler(ws, path=None):
        try:
            async for msg in ws:
                now = time.monotonic()
                if state["first"] is None:
                    state["first"] = now
                if (args.stall_after is not None and not state["stalled"]
                        and now - state["first"] >= args.stall_after):
                    state["stalled"] = True
                    time.sleep(args.stall_for)  # blocks the loop: every connection stalls
                if args.delay:
                    await asyncio.sleep(args.delay)
                await ws.send(msg)
        except websockets.ConnectionClosed:
            pass

    async def run():
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
        async with websockets.serve(handler, "127.0.0.1", 0, max_size=1 << 20,
                                    ping_interval=None, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            print("READY %d" % port, flush=True)
            try:
                await asyncio.wait_for(stop, timeout=args.max_lifetime)
            except asyncio.TimeoutError:
                pass

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
