// load_client.js - a Node `ws` load client for bench/bench_load.sh: the workload of
// `wsprobe load --connections N --rate R --duration S --message M --echo` written the way a
// Node team would write it, so the two can be compared on the same run.
//
//   node load_client.js URL CONNECTIONS RATE SECONDS [MESSAGE [PIPELINE]]
//
// Each connection sends on its own schedule (every CONNECTIONS/RATE seconds; a 1 ms timer sends
// whatever has come due since the last tick), at most PIPELINE
// (default 1) messages in flight (a send that comes due while the window is full goes out when
// a reply arrives), and matches each echo to the oldest message in flight. Prints one JSON line: {"opened", "sent", "matched",
// "errors", "p50_us", "p99_us", "cpu_s"}. The process always exits after SECONDS + 5.
'use strict';
const WebSocket = require('ws');

const [url, connsArg, rateArg, secsArg, msgArg, pipeArg] = process.argv.slice(2);
const pipeline = parseInt(pipeArg || '1', 10);
const conns = parseInt(connsArg, 10);
const rate = parseFloat(rateArg);
const secs = parseFloat(secsArg);
const message = msgArg || 'hello';
const intervalMs = (conns * 1000) / rate;

let opened = 0, sent = 0, matched = 0, errors = 0;
const lat = [];
let stopping = false;
const sockets = [];
const cpu0 = process.cpuUsage();

function startConn(i) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const inflight = [];  // send times, oldest first
  let backlog = 0, timer = null, t0 = 0, taken = 0;
  function sendOne() {
    inflight.push(process.hrtime.bigint());
    sent++;
    ws.send(message);
  }
  // every ms (Node's timer grain), send what the schedule says is due; what the window cannot
  // take now waits in the backlog for a reply
  function tick() {
    if (stopping || ws.readyState !== WebSocket.OPEN) return;
    const due = Math.floor((performance.now() - t0) / intervalMs) + 1 - taken;
    for (let k = 0; k < due; k++) {
      taken++;
      if (inflight.length < pipeline) sendOne(); else backlog++;
    }
  }
  ws.on('open', () => {
    opened++;
    t0 = performance.now() + (i * 0.6180339887 % 1) * intervalMs;
    timer = setInterval(tick, Math.max(1, Math.min(intervalMs, 1000)));
  });
  ws.on('message', (data) => {
    if (!inflight.length) return;
    const sentAt = inflight.shift();
    if (data.toString() === message) {
      matched++;
      lat.push(Number(process.hrtime.bigint() - sentAt) / 1000);
    } else {
      errors++;
    }
    while (!stopping && backlog > 0 && inflight.length < pipeline) { backlog--; sendOne(); }
  });
  ws.on('error', () => { errors++; });
  ws.on('close', () => { if (timer) clearInterval(timer); });
  sockets.push(ws);
}

for (let i = 0; i < conns; i++) startConn(i);

setTimeout(() => {
  stopping = true;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  const pct = (p) => (lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.ceil(p / 100 * lat.length) - 1)]) : 0);
  console.log(JSON.stringify({
    opened, sent, matched, errors, p50_us: pct(50), p99_us: pct(99),
    cpu_s: (cpu.user + cpu.system) / 1e6,
  }));
  for (const ws of sockets) ws.terminate();
  setTimeout(() => process.exit(0), 200);
}, secs * 1000);
setTimeout(() => process.exit(1), (secs + 5) * 1000).unref();
