#!/usr/bin/env bash
# bench_serve.sh - figures for `wsprobe serve` (issue 3). Prints numbers; never fails on time.
#
#  1. Echo: 100 connections, each sending a 32-byte message as soon as the previous echo came
#     back, for ECHO_SECONDS (10), against `wsprobe serve --echo` and against Node's `ws` echo
#     server (tests/node/echo_server.js) under the same client (bench_serve_client.c, libuv).
#     Reported: round trips per second, per CPU-second of the server process, p50/p99 latency.
#  2. Memory: RSS growth of the server per idle plaintext WebSocket at IDLE_CONNS (10,000)
#     connections, hardened configuration (auth by query token, every limit on but the
#     per-address cap raised), source addresses spread over 127.0.0.1-16.
#
# Usage: bench/bench_serve.sh [WSPROBE]   (default build/wsprobe; env: ECHO_SECONDS, ECHO_CONNS,
# IDLE_CONNS, REPEAT: echo runs per server, interleaved, medians reported). Everything runs on loopback and stops by itself.
set -uo pipefail
cd "$(dirname "$0")/.."
WSPROBE=${1:-${WSPROBE:-build/wsprobe}}
ECHO_SECONDS=${ECHO_SECONDS:-10}
ECHO_CONNS=${ECHO_CONNS:-100}
IDLE_CONNS=${IDLE_CONNS:-10000}
REPEAT=${REPEAT:-3}
PY=/usr/bin/python3
work=$(mktemp -d /tmp/bench-serve.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

[ -x "$WSPROBE" ] || { echo "bench_serve: no wsprobe at $WSPROBE (build it first)" >&2; exit 2; }
cc -O2 -o "$work/client" bench/bench_serve_client.c $(pkg-config --cflags --libs libuv) || exit 2
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "bench_serve: file limit $(ulimit -n), $(nproc) CPUs, $(uname -r)"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
user_ticks() { awk '{print $14}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

wait_port_file() {  # FILE PID -> prints the ws port
    for _ in $(seq 200); do
        if [ -s "$1" ]; then "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ws"])' "$1"; return 0; fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# run_echo NAME PID PORT PATH
run_echo() {
    local name=$1 pid=$2 port=$3 path=$4
    "$work/client" echo 127.0.0.1 "$port" "$path" 10 1 >/dev/null  # warm-up
    local c0 u0 c1 u1 out
    c0=$(cpu_ticks "$pid"); u0=$(user_ticks "$pid")
    out=$("$work/client" echo 127.0.0.1 "$port" "$path" "$ECHO_CONNS" "$ECHO_SECONDS")
    c1=$(cpu_ticks "$pid"); u1=$(user_ticks "$pid")
    "$PY" - "$name" "$out" "$c0" "$c1" "$hz" "$u0" "$u1" <<'PYEOF'
import json, sys
name, out, c0, c1, hz = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
user = (int(sys.argv[7]) - int(sys.argv[6])) / hz
cpu = (c1 - c0) / hz
rt = out["round_trips"]
per_cpu = rt / cpu if cpu > 0 else float("nan")
user_us = user * 1e6 / rt if rt else float("nan")
sys_us = (cpu - user) * 1e6 / rt if rt else float("nan")
print("echo %-14s conns=%d rt/s=%.0f server_cpu_s=%.2f rt/cpu_s=%.0f (user %.2fus + kernel %.2fus per rt) p50=%dus p99=%dus errors=%d"
      % (name, out["open"], out["per_second"], cpu, per_cpu, user_us, sys_us, out["p50_us"], out["p99_us"], out["errors"]))
print("JSON " + json.dumps({"bench": "echo", "server": name, "rt_per_s": round(out["per_second"]),
      "server_cpu_s": cpu, "rt_per_cpu_s": round(per_cpu), "user_us_per_rt": user_us,
      "kernel_us_per_rt": sys_us, "p50_us": out["p50_us"], "p99_us": out["p99_us"],
      "errors": out["errors"]}))
PYEOF
}

# ---- 1. echo: wsprobe serve and Node ws, interleaved REPEAT times (the machine is shared) ----
"$WSPROBE" serve --listen 127.0.0.1:0 --port-file "$work/echo.json" --echo --unsafe-no-auth \
    --unsafe-no-limits -q 2>"$work/serve-echo.log" &
spid=$!; pids+=("$spid")
sport=$(wait_port_file "$work/echo.json" "$spid") || { cat "$work/serve-echo.log"; exit 1; }
npid=""; nport=""
if [ -d tests/node/node_modules/ws ] && command -v node >/dev/null; then
    node tests/node/echo_server.js >"$work/node.out" 2>&1 &
    npid=$!; pids+=("$npid")
    for _ in $(seq 100); do grep -q READY "$work/node.out" && break; sleep 0.05; done
    nport=$(awk '/READY/ {print $2}' "$work/node.out")
else
    echo "echo node-ws: skipped (npm ci --prefix tests/node)"
fi
: >"$work/echo.jsonl"
for r in $(seq "$REPEAT"); do
    run_echo "wsprobe-serve" "$spid" "$sport" /ws | tee -a "$work/echo.jsonl" | grep -v '^JSON'
    [ -n "$nport" ] && run_echo "node-ws" "$npid" "$nport" / | tee -a "$work/echo.jsonl" | grep -v '^JSON'
done
"$PY" - "$work/echo.jsonl" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l[5:]) for l in open(sys.argv[1]) if l.startswith("JSON ")]
med = {}
for name in ("wsprobe-serve", "node-ws"):
    xs = [r["rt_per_cpu_s"] for r in rows if r["server"] == name]
    if xs:
        med[name] = statistics.median(xs)
        p50 = statistics.median(r["p50_us"] for r in rows if r["server"] == name)
        p99 = statistics.median(r["p99_us"] for r in rows if r["server"] == name)
        rps = statistics.median(r["rt_per_s"] for r in rows if r["server"] == name)
        print("echo %-14s median of %d: rt/s=%.0f rt/cpu_s=%.0f p50=%dus p99=%dus"
              % (name, len(xs), rps, med[name], p50, p99))
if len(med) == 2:
    print("echo ratio: wsprobe serve does %.2fx the round trips per CPU-second of Node ws"
          % (med["wsprobe-serve"] / med["node-ws"]))
PYEOF
kill "$spid" ${npid:+"$npid"}; wait "$spid" ${npid:+"$npid"} 2>/dev/null

# ---- 2. RSS per idle connection ----
export BENCH_SECRET=bench-secret-0123456789abcdef0123456789
"$WSPROBE" serve --listen 127.0.0.1:0 --port-file "$work/idle.json" --jwt-secret-env BENCH_SECRET \
    --max-conns-per-ip 100000 --idle-timeout 10m -q 2>"$work/serve-idle.log" &
ipid=$!; pids+=("$ipid")
iport=$(wait_port_file "$work/idle.json" "$ipid") || { cat "$work/serve-idle.log"; exit 1; }
token=$("$PY" -c 'import jwt,time; print(jwt.encode({"sub":"bench","exp":int(time.time())+3600},"bench-secret-0123456789abcdef0123456789",algorithm="HS256"))')
# warm up the allocator with a first batch, then measure the growth of the second batch
"$work/client" idle 127.0.0.1 "$iport" "/ws?token=$token" 200 3 127.0.0.1 >/dev/null
sleep 0.3
r0=$(rss_kib "$ipid")
"$work/client" idle 127.0.0.1 "$iport" "/ws?token=$token" "$IDLE_CONNS" 60 127.0.0.1 >"$work/idle.out" &
cpid=$!; pids+=("$cpid")
for _ in $(seq 600); do grep -q '"open"' "$work/idle.out" 2>/dev/null && break; sleep 0.1; done
sleep 1
r1=$(rss_kib "$ipid")
health=$(curl -s "http://127.0.0.1:$iport/health" 2>/dev/null || true)
kill "$cpid"; wait "$cpid" 2>/dev/null
"$PY" - "$(cat "$work/idle.out")" "$r0" "$r1" "$health" <<'PYEOF'
import json, sys
out = json.loads(sys.argv[1] or '{"open":0,"failed":0}')
r0, r1 = int(sys.argv[2]), int(sys.argv[3])
n = out["open"]
per = (r1 - r0) * 1024 / n if n else float("nan")
ws = json.loads(sys.argv[4])["websockets"] if sys.argv[4] else None
print("idle rss: open=%d failed=%d server_ws=%s rss_before=%dKiB rss_after=%dKiB growth_per_conn=%.0f bytes (%.2f KiB)"
      % (n, out["failed"], ws, r0, r1, per, per / 1024))
print("JSON " + json.dumps({"bench": "idle_rss", "open": n, "rss_before_kib": r0,
      "rss_after_kib": r1, "bytes_per_conn": round(per)}))
PYEOF
kill "$ipid"; wait "$ipid" 2>/dev/null
exit 0
