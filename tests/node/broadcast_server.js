// broadcast_server.js - a chat relay on Node's `ws`, for the security e2e tests: a peer this
// project did not write, whose clients all see each other's traffic.
//
// Every message a client sends goes, as it is, to every client connected (the sender too). A
// text message that is a JSON object with an "id" first gets {"type":"ack","id":ID} back to
// the sender only. No authentication, no origin check, no rate limit.
//
//   node broadcast_server.js [--skip-utf8] [--max-payload BYTES]
//     --skip-utf8        ws's skipUTF8Validation: invalid UTF-8 text is relayed as it came
//     --max-payload N    ws's maxPayload (default 16 MiB: no practical size limit)
// Prints "READY <port>" on stdout; stops on SIGTERM/SIGINT.
'use strict';
const { WebSocketServer } = require('ws');

const argv = process.argv.slice(2);
const skipUTF8 = argv.includes('--skip-utf8');
const mp = argv.indexOf('--max-payload');
const maxPayload = mp >= 0 ? Number(argv[mp + 1]) : 16 * 1024 * 1024;

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false,
  maxPayload, skipUTF8Validation: skipUTF8 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      let m = null;
      try { m = JSON.parse(data.toString('utf8')); } catch (e) { m = null; }
      if (m && typeof m === 'object' && !Array.isArray(m) && 'id' in m)
        ws.send(JSON.stringify({ type: 'ack', id: m.id }));
    }
    for (const c of wss.clients)
      if (c.readyState === 1) c.send(data, { binary: isBinary });
  });
  ws.on('error', () => {});
});
wss.on('listening', () => process.stdout.write('READY ' + wss.address().port + '\n'));
const stop = () => { wss.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
