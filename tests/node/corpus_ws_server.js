// corpus_ws_server.js - Node's `ws` (npm) server for the conformance corpus
// (tests/e2e/test_corpus_*.py). Binds 127.0.0.1 port 0, prints "READY <port>" on stdout, stops
// on SIGTERM/SIGINT.
//   node corpus_ws_server.js MODE [--max-payload N]
// MODE:
//   echo                every message back as it came
//   greet               {"type":"welcome"} on open, then echo
//   subprotocol         handleProtocols picks "chat" when offered; a connection that ends up
//                       with no subprotocol is closed with 1002 "subprotocol required" on open
//   close-CODE          ws.close(CODE, REASON) on open (REASON below)
//   close-empty         ws.close() on open: ws sends a close frame without a status code
//   reply-close-CODE    echo the first message, then ws.close(CODE, REASON) in the same tick
//                       (ws.send then ws.close: the echo and the close leave back to back)
//   deflate             echo with permessage-deflate enabled (threshold 0: every message is
//                       compressed when the client negotiated it)
//   max-payload         echo with maxPayload N (default 16): a bigger message is closed 1009
// REASON by code: 1000 "done", 1001 "going away", 1008 "token required", 1011 "internal
// error" after a reply and none on open, 4001 "unauthorized".
'use strict';
const { WebSocketServer } = require('ws');

const mode = process.argv[2] || 'echo';
const mpIdx = process.argv.indexOf('--max-payload');
const maxPayload = mpIdx > 0 ? Number(process.argv[mpIdx + 1])
  : (mode === 'max-payload' ? 16 : 1 << 20);
const REASONS = { 1000: 'done', 1001: 'going away', 1008: 'token required', 4001: 'unauthorized' };

const opts = { host: '127.0.0.1', port: 0, maxPayload, perMessageDeflate: false };
if (mode === 'deflate') opts.perMessageDeflate = { threshold: 0 };
if (mode === 'subprotocol') {
  opts.handleProtocols = (protocols) => (protocols.has('chat') ? 'chat' : false);
}

let m;
const wss = new WebSocketServer(opts);
wss.on('connection', (ws) => {
  ws.on('error', () => {});
  const echo = (data, isBinary) => ws.send(data, { binary: isBinary });
  if (mode === 'greet') {
    ws.send(JSON.stringify({ type: 'welcome' }));
    ws.on('message', echo);
  } else if (mode === 'subprotocol') {
    if (!ws.protocol) { ws.close(1002, 'subprotocol required'); return; }
    ws.on('message', echo);
  } else if (mode === 'close-empty') {
    ws.close();
  } else if ((m = /^close-(\d+)$/.exec(mode))) {
    const code = Number(m[1]);
    if (REASONS[code]) ws.close(code, REASONS[code]); else ws.close(code);
  } else if ((m = /^reply-close-(\d+)$/.exec(mode))) {
    const code = Number(m[1]);
    ws.once('message', (data, isBinary) => {
      ws.send(data, { binary: isBinary });
      ws.close(code, code === 1011 ? 'internal error' : REASONS[code] || '');
    });
  } else {
    ws.on('message', echo);
  }
});
wss.on('listening', () => process.stdout.write('READY ' + wss.address().port + '\n'));
const stop = () => { wss.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
