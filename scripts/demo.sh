#!/usr/bin/env bash
# make demo: start the reference server (wsprobe serve) on free loopback ports, wait for it the
# way a deploy pipeline would, probe it through every phase, run the demo verification plan
# (examples/demo.yaml: connect, health, conversation, concurrency, auth required, the
# production-safe security suite), show a diagnosed failure, and clean up.
set -euo pipefail
cd "$(dirname "$0")/.."
W=$PWD/build/wsprobe
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# A throwaway secret for this demo: in the environment only, never on a command line.
WSPROBE_DEMO_SECRET=$(openssl rand -hex 32)
export WSPROBE_DEMO_SECRET

"$W" serve --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 --self-signed "$tmp/pki" \
    --port-file "$tmp/ports.json" --jwt-secret-env WSPROBE_DEMO_SECRET \
    --allow-origin https://chat.example --handshake-timeout 2s --idle-timeout 2s -q &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$tmp/ports.json" ] && break; sleep 0.05; done
read -r ws wss < <(/usr/bin/python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(p["ws"], p["wss"])' "$tmp/ports.json")
url="ws://127.0.0.1:$ws/ws"
auth=(--jwt-secret-env WSPROBE_DEMO_SECRET --jwt-claim sub=demo-bot --origin https://chat.example)

echo "== 1. the deploy gate: wait until the endpoint holds a real conversation"
"$W" wait "$url" --retry-refused --deadline 10s "${auth[@]}" \
    --send '{"type":"ping"}' --expect-json /type=pong
echo
echo "== 2. one probe over wss, every phase timed (authenticated chat with a correlated ack)"
"$W" probe "wss://localhost:$wss/ws" --cacert "$tmp/pki/ca.pem" "${auth[@]}" \
    --send '{"type":"chat_message","content":"hello","id":"{{uuid}}"}' \
    --expect-json '/id={{sent./id}}'
echo
echo "== 3. the verification plan examples/demo.yaml (JUnit in $tmp/demo-junit.xml)"
sed "s/127.0.0.1:8765/127.0.0.1:$ws/g" examples/demo.yaml > "$tmp/demo.yaml"
set +e
"$W" run "$tmp/demo.yaml" --env local --junit "$tmp/demo-junit.xml"
plan_rc=$?
set -e
echo "plan exit code: $plan_rc"
echo
echo "== 4. a failure, diagnosed: the same endpoint with a token signed by another key"
WRONG_SECRET=not-the-server-secret
export WRONG_SECRET
set +e
"$W" probe "$url" --jwt-secret-env WRONG_SECRET --origin https://chat.example \
    --send '{"type":"chat_message","content":"hello","id":"1"}' --expect-json /type=ack
echo "exit code: $? (UPGRADE_AUTH: nothing was sent)"
set -e
exit "$plan_rc"
