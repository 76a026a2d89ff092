// echo_server.js - Node's `ws` echo server on 127.0.0.1, for the side-by-side echo benchmark of
// bench/bench_serve.sh. Prints "READY <port>" on stdout; stops on SIGTERM/SIGINT.
//   node echo_server.js [PORT]     (default 0: the kernel picks)
'use strict';
const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.argv[2] || 0),
  perMessageDeflate: false, maxPayload: 64 * 1024 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => process.stdout.write('READY ' + wss.address().port + '\n'));
const stop = () => { wss.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
