#!/usr/bin/env bash
# bench_load.sh - figures for `wsprobe load` (issue 7). Prints numbers; never fails on time.
#
#  1. Efficiency: the same workload (CONNS connections, RATE messages per second in total, an
#     echo matched per message, DURATION seconds long) from `wsprobe load` and from a Node `ws` load
#     client written for this benchmark (bench/node/load_client.js), one after the other against
#     the same `wsprobe serve --echo`, REPEAT times. Reported: matched round trips per client
#     CPU-second (user + system of the whole client process, from /usr/bin/time) and the ratio.
#     wsprobe runs as shipped (precise send times, one thread per core), with one thread, and
#     with --timer-slack 1ms (Node's timers have a 1 ms grain too).
#  2. Scale: IDLE idle connections from one process (source addresses 127.0.0.2, .3, ...), ws
#     and wss, one serve per scheme; memory per idle connection, client and serve, = (resident
#     memory at IDLE - at 1,000) / (IDLE - 1,000), each read from /proc in the middle of the
#     measured window; and the ratio of wss to OpenSSL's own floor (bench/tls_floor.c, built and
#     run here: a bare SSL per connection after a TLS 1.3 handshake, buffers released). IDLE is
#     cut to what the file limits allow (both the client and serve need one descriptor per
#     connection), and the cut is printed.
#  3. Throughput: the highest matched rate held for TPUT_SECONDS with p99 under 10 ms, on a
#     ladder of rates (TPUT_RATES) over TPUT_CONNS connections.
#  4. Processes: SCALE idle ws connections (default 50,000) from `load`, which takes as many
#     agent processes as the file limit needs (--processes chosen by itself), against `serve
#     --workers` (as many workers as the file limit needs), one source address per 12,500
#     connections (127.0.0.2, ...: the kernel's search for a free port toward one destination
#     grows with the ports in use). Printed: how many opened, how fast, client and serve
#     memory per connection read mid-window, and the ratio to the one-process figures of 2.
#  5. Probe start-up: whole-process wall time of `wsprobe probe` (ws and wss, one connection,
#     upgrade, close) against `curl -s` of /health on the same serve (plain and https),
#     median of PROBE_RUNS each, and the ratios.
#
# Usage: bench/bench_load.sh [WSPROBE]   (default build/wsprobe; env: CONNS RATE DURATION REPEAT
# IDLE SCALE PROBE_RUNS TPUT_CONNS TPUT_SECONDS TPUT_RATES
# SKIP=efficiency,scale,throughput,processes,probe). Loopback only; everything it starts is
# stopped on exit.
set -uo pipefail
cd "$(dirname "$0")/.."
WSPROBE=${1:-${WSPROBE:-build/wsprobe}}
CONNS=${CONNS:-1000}
RATE=${RATE:-20000}
DURATION=${DURATION:-10}
REPEAT=${REPEAT:-2}
IDLE=${IDLE:-10000}
SCALE=${SCALE:-50000}
PROBE_RUNS=${PROBE_RUNS:-40}
PIPE_CONNS=${PIPE_CONNS:-20}
PIPE_RATE=${PIPE_RATE:-40000}
MSG='hello 0123456789abcdef0123456789abcdef0123'  # 42 bytes, the same for both clients
TPUT_CONNS=${TPUT_CONNS:-200}
TPUT_SECONDS=${TPUT_SECONDS:-10}
TPUT_RATES=${TPUT_RATES:-"20000 40000 60000 80000 100000 120000 150000"}
SKIP=${SKIP:-}
PY=/usr/bin/python3
work=$(mktemp -d /tmp/bench-load.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

[ -x "$WSPROBE" ] || { echo "bench_load: no wsprobe at $WSPROBE (build it first)" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null
FDMAX=$(ulimit -n)
echo "bench_load: $(nproc) CPUs, $(uname -r), file limit $FDMAX (hard $(ulimit -Hn)), load average $(cut -d' ' -f1-3 /proc/loadavg)"

wait_port_file() {  # FILE PID KEY -> prints the port
    for _ in $(seq 200); do
        if [ -s "$1" ]; then "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$3"; return 0; fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

start_serve() {  # NAME ARGS... -> sets SPID, WSPORT, WSSPORT
    local name=$1; shift
    "$WSPROBE" serve --listen 127.0.0.1:0 --port-file "$work/$name.json" --echo --unsafe-no-auth \
        --unsafe-no-limits -q "$@" 2>"$work/$name.log" &
    SPID=$!; pids+=("$SPID")
    WSPORT=$(wait_port_file "$work/$name.json" "$SPID" ws) || { cat "$work/$name.log"; exit 1; }
    WSSPORT=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("wss", 0))' "$work/$name.json")
}

skip() { case ",$SKIP," in *",$1,"*) return 0;; esac; return 1; }

# ---- 1. efficiency -------------------------------------------------------------------------
if ! skip efficiency; then
    start_serve eff
    url="ws://127.0.0.1:$WSPORT/ws"
    have_node=0
    if command -v node >/dev/null && { [ -d bench/node/node_modules/ws ] || npm ci --prefix bench/node --no-audit --no-fund >/dev/null 2>&1 || npm install --prefix bench/node --no-audit --no-fund >/dev/null 2>&1; }; then
        have_node=1
    else
        echo "efficiency node-ws: skipped (no node, or npm install --prefix bench/node failed)"
    fi
    : >"$work/eff.jsonl"
    run_wsprobe() {  # LABEL ARGS...
        local label=$1; shift
        /usr/bin/time -f "%U %S" -o "$work/time" "$WSPROBE" load "$url" --connections "$CONNS" \
            --rate "$RATE" --duration "${DURATION}s" --message "$MSG" --echo --json "$@" \
            >"$work/out.json" 2>/dev/null
        "$PY" - "$label" "$work/out.json" "$work/time" >>"$work/eff.jsonl" <<'PYEOF'
import json, sys
label, out, tm = sys.argv[1], json.load(open(sys.argv[2])), open(sys.argv[3]).read().split()
cpu = float(tm[-2]) + float(tm[-1])
m = out["messages"]
print(json.dumps({"client": label, "matched": m["matched"], "sent": m["sent"], "cpu_s": cpu,
                  "errors": out["errors"]["total"], "p50_ms": out["latency_ms"]["uncorrected"].get("p50"),
                  "p99_ms": out["latency_ms"]["uncorrected"].get("p99"),
                  "p99_corrected_ms": out["latency_ms"]["corrected"].get("p99"),
                  "late_p99_ms": (out.get("send_lateness_ms") or {}).get("p99")}))
PYEOF
    }
    run_node() {
        /usr/bin/time -f "%U %S" -o "$work/time" node bench/node/load_client.js "$url" "$CONNS" \
            "$RATE" "$DURATION" "$MSG" "$PIPE" >"$work/node.json" 2>/dev/null
        "$PY" - "$work/node.json" "$work/time" >>"$work/eff.jsonl" <<'PYEOF'
import json, sys
out, tm = json.load(open(sys.argv[1])), open(sys.argv[2]).read().split()
cpu = float(tm[-2]) + float(tm[-1])
print(json.dumps({"client": "node-ws", "matched": out["matched"], "sent": out["sent"], "cpu_s": cpu,
                  "errors": out["errors"], "p50_ms": out["p50_us"] / 1000, "p99_ms": out["p99_us"] / 1000}))
PYEOF
    }
    summarize() {  # TITLE
        "$PY" - "$work/eff.jsonl" "$1" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("efficiency: %s" % sys.argv[2])
med = {}
names = []
for r in rows:
    if r["client"] not in names:
        names.append(r["client"])
for name in names:
    rs = [r for r in rows if r["client"] == name]
    per = [r["matched"] / r["cpu_s"] for r in rs if r["cpu_s"] > 0]
    med[name] = statistics.median(per)
    late = [r["late_p99_ms"] for r in rs if r.get("late_p99_ms") is not None]
    print("  %-30s matched=%-7d cpu_s=%-5.2f rt/cpu_s=%-7.0f p50=%.3fms p99=%.3fms%s errors=%d (median of %d)"
          % (name, statistics.median(r["matched"] for r in rs), statistics.median(r["cpu_s"] for r in rs),
             med[name], statistics.median(r["p50_ms"] or 0 for r in rs),
             statistics.median(r["p99_ms"] or 0 for r in rs),
             " send-lateness-p99=%.3fms" % statistics.median(late) if late else "",
             max(r["errors"] for r in rs), len(rs)))
if "wsprobe" in med and "wsprobe-slack-1ms" in med:
    print("  ratio default/--timer-slack 1ms: %.2fx the CPU per matched message (target <= 1.3x)"
          % (med["wsprobe-slack-1ms"] / med["wsprobe"]))
    lat = {n: statistics.median(r["late_p99_ms"] for r in rows if r["client"] == n)
           for n in ("wsprobe", "wsprobe-slack-1ms")}
    print("  send lateness p99: default %.3f ms (target < 1 ms), --timer-slack 1ms %.3f ms: %.2fx"
          % (lat["wsprobe"], lat["wsprobe-slack-1ms"], lat["wsprobe"] / lat["wsprobe-slack-1ms"]))
if "node-ws" in med:
    for name in names:
        if name != "node-ws":
            print("  ratio %-28s %.2fx the matched round trips per CPU-second of the Node ws client"
                  % (name, med[name] / med["node-ws"]))
print("JSON " + json.dumps({"bench": "efficiency", "workload": sys.argv[2], "rt_per_cpu_s": med}))
PYEOF
    }
    # A: the issue's load, one message in flight per connection (no two sends ever share a write)
    PIPE=1
    : >"$work/eff.jsonl"
    for r in $(seq "$REPEAT"); do
        run_wsprobe "wsprobe"
        run_wsprobe "wsprobe-slack-1ms" --timer-slack 1ms
        run_wsprobe "wsprobe-1-thread-slack-1ms" --threads 1 --timer-slack 1ms
        [ "$have_node" = 1 ] && run_node
    done
    summarize "A: $CONNS connections, $RATE msg/s, ${DURATION}s, pipeline 1, echo matched per message"
    # B: few connections, many messages each, 32 in flight (a feed, a trading or an agent session)
    : >"$work/eff.jsonl"
    saved_conns=$CONNS saved_rate=$RATE
    CONNS=$PIPE_CONNS RATE=$PIPE_RATE PIPE=32
    for r in $(seq "$REPEAT"); do
        run_wsprobe "wsprobe" --pipeline 32
        run_wsprobe "wsprobe-1-thread-slack-1ms" --pipeline 32 --threads 1 --timer-slack 1ms
        [ "$have_node" = 1 ] && run_node
    done
    summarize "B: $CONNS connections, $RATE msg/s, ${DURATION}s, pipeline 32, echo matched per message"
    CONNS=$saved_conns RATE=$saved_rate
    kill "$SPID"; wait "$SPID" 2>/dev/null
fi

# ---- 2. scale ------------------------------------------------------------------------------
if ! skip scale; then
    n=$IDLE
    limit=$((FDMAX - 200))
    if [ "$n" -gt "$limit" ]; then
        echo "scale: $IDLE connections need $IDLE descriptors in the client and in serve; the hard limit here is $(ulimit -Hn): measuring $limit (raise ulimit -Hn to run $IDLE)"
        n=$limit
    fi
    nsrc=$(( (n + 19999) / 20000 ))
    srcs=()
    for i in $(seq "$nsrc"); do srcs+=(--source-ip "127.0.0.$((i + 1))"); done
    # OpenSSL's own floor for an idle TLS 1.3 connection, each side, measured now (tls_floor.c)
    floor_json=""
    if cc -O2 -o "$work/tls_floor" bench/tls_floor.c $(pkg-config --cflags --libs openssl) 2>"$work/floor.err"; then
        "$WSPROBE" serve --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 --port-file "$work/pki.json" --self-signed "$work/pki" \
            --unsafe-no-auth -q 2>/dev/null & ppid=$!
        wait_port_file "$work/pki.json" "$ppid" ws >/dev/null; kill "$ppid"; wait "$ppid" 2>/dev/null
        fn=$(( n < 10000 ? n : 10000 ))
        floor_json=$("$work/tls_floor" "$fn" "$work/pki/cert.pem" "$work/pki/key.pem" "$work/pki/ca.pem")
        echo "tls floor: $floor_json"
    else
        echo "tls floor: skipped (cannot build bench/tls_floor.c: $(head -c 200 "$work/floor.err"))"
    fi
    : >"$work/scale.jsonl"
    for scheme in ws wss; do
        # one serve per scheme, so each one's memory is its own; both processes' resident memory
        # is read in the middle of the measured window (idle, all open), not at a peak
        start_serve "scale-$scheme" --tls-listen 127.0.0.1:0 --self-signed "$work/pki"
        port=$WSPORT; extra=()
        [ "$scheme" = wss ] && { port=$WSSPORT; extra=(--cacert "$work/pki/ca.pem"); }
        url="$scheme://127.0.0.1:$port/ws"
        ramp=15
        [ "$scheme" = wss ] && ramp=45  # TLS handshakes: CPU on both ends of a 2-core machine
        for count in 1000 "$n"; do
            "$WSPROBE" load "$url" "${extra[@]}" --connections "$count" --duration 10s --warmup "${ramp}s" \
                "${srcs[@]}" --json >"$work/scale-$scheme-$count.json" 2>"$work/scale.err" & lp=$!
            sleep $(( ramp + 5 ))
            srss=$(awk '/^VmRSS/{print $2}' "/proc/$SPID/status" 2>/dev/null)
            crss=$(awk '/^VmRSS/{print $2}' "/proc/$lp/status" 2>/dev/null)
            wait "$lp"
            echo "{\"scheme\": \"$scheme\", \"count\": $count, \"serve_kib\": ${srss:-0}, \"client_kib\": ${crss:-0}}" >>"$work/scale.jsonl"
        done
        kill "$SPID"; wait "$SPID" 2>/dev/null
    done
    "$PY" - "$work" "$n" "$floor_json" <<'PYEOF'
import json, sys
work, n, floor = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]) if sys.argv[3] else {}
snap = {(r["scheme"], r["count"]): r for r in map(json.loads, open(work + "/scale.jsonl"))}
per = {}
for scheme in ("ws", "wss"):
    a = json.load(open("%s/scale-%s-1000.json" % (work, scheme)))
    b = json.load(open("%s/scale-%s-%d.json" % (work, scheme, n)))
    oa, ob = a["connections"]["peak_open"], b["connections"]["peak_open"]
    sa, sb = snap[(scheme, 1000)], snap[(scheme, n)]
    d = ob - oa if ob > oa else float("nan")
    client, serve = (sb["client_kib"] - sa["client_kib"]) * 1024 / d, (sb["serve_kib"] - sa["serve_kib"]) * 1024 / d
    per[scheme] = (client, serve)
    hs = b["phases_ms"]["handshake"]
    print("scale %-3s open=%d of %d failed=%d per idle connection: client %.0f bytes (%.1f KiB), serve %.0f bytes (%.1f KiB); "
          "client_cpu_s=%.2f handshake p50=%.2fms p99=%.2fms errors=%s"
          % (scheme, ob, n, b["connections"]["failed"], client, client / 1024, serve, serve / 1024,
             b["client"]["cpu_s"], hs.get("p50", 0), hs.get("p99", 0), b["errors"]["by_class"]))
    print("JSON " + json.dumps({"bench": "scale", "scheme": scheme, "open": ob, "asked": n,
                                "client_bytes_per_conn": round(client), "serve_bytes_per_conn": round(serve)}))
(cw, sw), (cs, ss) = per["ws"], per["wss"]
print("ratio wss/ws per idle connection: client %.2fx, serve %.2fx" % (cs / cw, ss / sw))
json.dump({"client_ws": cw, "serve_ws": sw}, open(work + "/scale-ws.json", "w"))
if floor:
    fc, fs = floor["client_bytes_per_conn"], floor["server_bytes_per_conn"]
    print("ratio wss/OpenSSL floor per idle connection (target <= 1.2x): client %.2fx (%d vs %d bytes), serve %.2fx (%d vs %d bytes)"
          % (cs / fc, cs, fc, ss / fs, ss, fs))
PYEOF
fi

# ---- 3. throughput -------------------------------------------------------------------------
if ! skip throughput; then
    start_serve tput
    url="ws://127.0.0.1:$WSPORT/ws"
    best=0
    for rate in $TPUT_RATES; do
        "$WSPROBE" load "$url" --connections "$TPUT_CONNS" --rate "$rate" --duration "${TPUT_SECONDS}s" \
            --warmup 2s --message 'hello {{uuid}}' --echo --pipeline 8 --json \
            --threshold 'p99<10ms' --threshold 'errors<0.1%' \
            --threshold "rate>=$(( rate * 98 / 100 ))" >"$work/tput.json" 2>/dev/null
        rc=$?
        "$PY" - "$rate" "$rc" "$work/tput.json" <<'PYEOF'
import json, sys
rate, rc, out = int(sys.argv[1]), int(sys.argv[2]), json.load(open(sys.argv[3]))
lc, lu = out["latency_ms"]["corrected"], out["latency_ms"]["uncorrected"]
print("throughput rate=%-6d held=%-3s matched/s=%-8.0f p50=%.3fms p99=%.3fms (uncorrected p99=%.3fms) errors=%d client_cpu_s=%.2f"
      % (rate, "yes" if rc == 0 else "no", out["throughput"]["matched_per_s"], lc.get("p50", 0),
         lc.get("p99", 0), lu.get("p99", 0), out["errors"]["total"], out["client"]["cpu_s"]))
PYEOF
        if [ "$rc" = 0 ]; then best=$rate; else break; fi
    done
    echo "throughput: highest matched rate held ${TPUT_SECONDS}s with p99 < 10 ms: $best msg/s ($TPUT_CONNS connections, pipeline 8)"
    echo "JSON {\"bench\": \"throughput\", \"rate\": $best}"
    kill "$SPID"; wait "$SPID" 2>/dev/null
fi
# ---- 4. processes: SCALE connections past one process's file limit ------------------------
if ! skip processes; then
    per=$((FDMAX - 200))
    workers=$(( (SCALE + per - 1) / per ))
    nsrc=$(( (SCALE + 12499) / 12500 ))
    srcs=()
    for i in $(seq "$nsrc"); do srcs+=(--source-ip "127.0.0.$((i + 1))"); done
    start_serve procs --workers "$workers"
    url="ws://127.0.0.1:$WSPORT/ws"
    sleep 0.5
    srss0=0
    for c in $(cat "/proc/$SPID/task/$SPID/children" 2>/dev/null); do
        srss0=$(( srss0 + $(awk '/^VmRSS/{print $2}' "/proc/$c/status" 2>/dev/null || echo 0) ))
    done
    /usr/bin/time -f "%e %U %S" -o "$work/procs.time" "$WSPROBE" load "$url" --connections "$SCALE" \
        --warmup 20s --duration 10s "${srcs[@]}" --json >"$work/procs.json" 2>"$work/procs.err" & lp=$!
    sleep 25
    srss=0
    for c in $(cat "/proc/$SPID/task/$SPID/children" 2>/dev/null); do
        srss=$(( srss + $(awk '/^VmRSS/{print $2}' "/proc/$c/status" 2>/dev/null || echo 0) ))
    done
    wait "$lp"
    kill "$SPID"; wait "$SPID" 2>/dev/null
    "$PY" - "$work" "$SCALE" "$workers" "$nsrc" "$srss0" "$srss" <<'PYEOF'
import json, os, sys
work, n, workers, nsrc, s0, s1 = sys.argv[1], *map(int, sys.argv[2:])
try:
    j = json.load(open(work + "/procs.json"))
except ValueError:
    print("processes: no report; stderr: " + open(work + "/procs.err").read()[-400:])
    sys.exit(0)
said = [l for l in open(work + "/procs.err") if "processes" in l]
wall, user, sys_ = map(float, open(work + "/procs.time").read().split()[-3:])
c = j["connections"]
first_full = next((e["t"] for e in j["series"] if e["open"] >= n), None)
client = j["client"]["bytes_per_connection"]
serve = (s1 - s0) * 1024 / c["peak_open"] if c["peak_open"] else float("nan")
print("processes: %d idle ws connections from %d load agents (chosen by the file limit: %s), %d "
      "source addresses, against serve --workers %d" % (n, j["agents"], said[0].strip() if said else "not said",
                                                         nsrc, workers))
print("processes: opened=%d failed=%d not_opened=%d peak_open=%d, all open %s; handshake p50=%.1fms p99=%.1fms; "
      "client CPU %.2fs user+sys over %.0fs" % (c["opened"], c["failed"], c["not_opened"], c["peak_open"],
                                                "within %d s" % first_full if first_full else "never",
                                                j["phases_ms"]["handshake"].get("p50", 0),
                                                j["phases_ms"]["handshake"].get("p99", 0), user + sys_, wall))
print("processes: memory per connection mid-window: client %s bytes (load's own figure, fixed costs in), serve %.0f bytes (its workers)"
      % (client, serve))
one = work + "/scale-ws.json"
if os.path.exists(one) and client:
    o = json.load(open(one))
    print("ratio %d connections over processes / one process (section 2), per connection: client %.2fx, serve %.2fx"
          % (n, client / o["client_ws"], serve / o["serve_ws"]))
print("JSON " + json.dumps({"bench": "processes", "asked": n, "opened": c["opened"], "agents": j["agents"],
                            "workers": workers, "client_bytes_per_conn": client, "serve_bytes_per_conn": round(serve)}))
PYEOF
fi

# ---- 5. probe start-up against curl -----------------------------------------------------------
if ! skip probe; then
    start_serve probe --tls-listen 127.0.0.1:0 --self-signed "$work/pki-probe"
    "$PY" - "$WSPROBE" "$WSPORT" "$WSSPORT" "$work/pki-probe/ca.pem" "$PROBE_RUNS" <<'PYEOF'
import shutil, statistics, subprocess, sys, time
w, ws, wss, ca, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
if not shutil.which("curl"):
    print("probe: skipped (no curl)")
    sys.exit(0)
cmds = {
    "probe ws": [w, "probe", "ws://127.0.0.1:%d/ws" % ws, "-q"],
    "curl http": ["curl", "-s", "-o", "/dev/null", "http://127.0.0.1:%d/health" % ws],
    "probe wss": [w, "probe", "wss://127.0.0.1:%d/ws" % wss, "--cacert", ca, "-q"],
    "curl https": ["curl", "-s", "-o", "/dev/null", "--cacert", ca, "https://127.0.0.1:%d/health" % wss],
}
med = {}
for name, c in cmds.items():
    if subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        print("probe: %s failed: %s" % (name, " ".join(c)))
        sys.exit(0)
for name, c in cmds.items():
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ts.append(time.perf_counter() - t)
    med[name] = statistics.median(ts) * 1e3
    print("probe: %-10s %.2f ms whole process (median of %d)" % (name, med[name], runs))
print("ratio probe/curl (target <= 0.5x): ws %.2fx, wss %.2fx"
      % (med["probe ws"] / med["curl http"], med["probe wss"] / med["curl https"]))
print("JSON {\"bench\": \"probe-vs-curl\", \"ws\": %.3f, \"wss\": %.3f}"
      % (med["probe ws"] / med["curl http"], med["probe wss"] / med["curl https"]))
PYEOF
    kill "$SPID"; wait "$SPID" 2>/dev/null
fi
exit 0
