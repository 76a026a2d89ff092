#!/usr/bin/env bash
# make demo: start a WebSocket server on a free loopback port, probe it through every phase,
# show a failure diagnosis too, and clean up.
set -euo pipefail
cd "$(dirname "$0")/.."
W=build/wsprobe
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "demo: the server did not start on port $1" >&2; return 1
}

port=$(free_port)
cat > "$tmp/echo.py" <<'PY'
import asyncio, sys, websockets
async def echo(ws):
    async for m in ws:
        await ws.send(m)
async def main():
    async with websockets.serve(echo, "127.0.0.1", int(sys.argv[1])):
        await asyncio.Future()
asyncio.run(main())
PY
/usr/bin/python3 "$tmp/echo.py" "$port" & pids+=($!)
wait_port "$port"

echo "== a healthy endpoint: every phase, timed"
$W probe "ws://127.0.0.1:$port/ws" --send '{"type":"ping","id":"demo-1"}' --expect-json '/id=demo-1'
echo
echo "== the same probe as JSON (what a pipeline reads)"
$W probe "ws://127.0.0.1:$port/ws" --send hello --expect-text hello --json | head -n 12
echo "   ..."
echo
echo "== a port where nothing listens: the class, the exit code and the hint"
dead=$(free_port)
set +e
$W probe "ws://127.0.0.1:$dead/ws"
echo "exit code: $?"
set -e
