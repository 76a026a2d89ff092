// client.js - Node's `ws` client driven by a JSON scenario, for tests/e2e/test_serve_node.py.
//
//   node client.js '{"conns":[{"url":"ws://...","token":"...","origin":"...","ca":"ca.pem",
//                              "protocols":["bearer.X"]}],
//                    "steps":[{"conn":0,"send":"text"}, {"conn":0,"expect":true}, ...]}'
//
// Steps (conn defaults to 0): send (text), send_binary (base64), send_fragments (list of text
// pieces sent as one fragmented message), expect (next message -> messages[]), ping (payload;
// the pong's payload -> pongs[]), close (code: our close; the server's answering code ->
// close_codes[]), wait_close (until the server closes -> close_codes[]).
// Prints one JSON line: {"status":[per conn: 101 or the HTTP status], "protocol":[...],
// "messages":[...], "pongs":[...], "close_codes":[...], "error":null|"..."}.
// Every wait is bounded by STEP_MS; the process always exits.
'use strict';
const fs = require('fs');
const WebSocket = require('ws');

const STEP_MS = 5000;
const sc = JSON.parse(process.argv[2]);
const out = { status: [], protocol: [], messages: [], pongs: [], close_codes: [], error: null };

function withTimeout(p, what) {
  let t;
  return Promise.race([
    p,
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error('timeout: ' + what)), STEP_MS); }),
  ]).finally(() => clearTimeout(t));
}

function open(spec) {
  return new Promise((resolve) => {
    const opts = { handshakeTimeout: STEP_MS, headers: {} };
    if (spec.token) opts.headers.Authorization = 'Bearer ' + spec.token;
    if (spec.origin) opts.origin = spec.origin;
    if (spec.ca) opts.ca = fs.readFileSync(spec.ca);
    if (spec.maxPayload) opts.maxPayload = spec.maxPayload;
    const ws = new WebSocket(spec.url, spec.protocols || [], opts);
    const c = { ws, queue: [], waiters: [], closeCode: null, closed: false, closeWaiters: [] };
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data, isBinary) => {
      const m = isBinary ? { binary: Buffer.from(data).toString('base64') } : data.toString('utf8');
      if (c.waiters.length) c.waiters.shift()(m); else c.queue.push(m);
    });
    ws.on('close', (code) => {
      c.closed = true;
      c.closeCode = code;
      c.closeWaiters.forEach((f) => f(code));
    });
    ws.on('unexpected-response', (req, res) => {
      resolve({ status: res.statusCode, c: null });
      req.destroy();
    });
    ws.on('open', () => resolve({ status: 101, c, protocol: ws.protocol }));
    ws.on('error', (e) => resolve({ status: 0, c: null, error: String(e.message || e) }));
  });
}

function nextMessage(c) {
  if (c.queue.length) return Promise.resolve(c.queue.shift());
  return new Promise((res) => c.waiters.push(res));
}

function waitClose(c) {
  if (c.closed) return Promise.resolve(c.closeCode);
  return new Promise((res) => c.closeWaiters.push(res));
}

async function main() {
  const conns = [];
  for (const spec of sc.conns) {
    const r = await withTimeout(open(spec), 'open');
    out.status.push(r.status);
    out.protocol.push(r.protocol || null);
    if (r.error && !out.error) out.error = r.error;
    conns.push(r.c);
  }
  for (const st of sc.steps || []) {
    const c = conns[st.conn || 0];
    if (!c) throw new Error('step on a connection that did not open');
    if ('send' in st) c.ws.send(st.send);
    if ('send_binary' in st) c.ws.send(Buffer.from(st.send_binary, 'base64'));
    if ('send_fragments' in st) {
      const parts = st.send_fragments;
      parts.forEach((p, i) => c.ws.send(p, { fin: i === parts.length - 1, binary: false }));
    }
    if (st.expect) out.messages.push(await withTimeout(nextMessage(c), 'message'));
    if ('ping' in st) {
      const got = new Promise((res) => c.ws.once('pong', (d) => res(d.toString('utf8'))));
      c.ws.ping(st.ping);
      out.pongs.push(await withTimeout(got, 'pong'));
    }
    if ('close' in st) {
      c.ws.close(st.close, 'bye');
      out.close_codes.push(await withTimeout(waitClose(c), 'close'));
    }
    if (st.wait_close) out.close_codes.push(await withTimeout(waitClose(c), 'server close'));
  }
  for (const c of conns) if (c && !c.closed) c.ws.terminate();
}

main()
  .catch((e) => { out.error = String(e.message || e); })
  .finally(() => {
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exit(0);
  });
