// faye_server.js - faye-websocket (npm) echo on node's http server, for the conformance corpus.
// Binds 127.0.0.1 port 0, prints "READY <port>" on stdout, stops on SIGTERM/SIGINT. Plain HTTP
// requests get 200 "faye http\n".
'use strict';
const http = require('http');
const WebSocket = require('faye-websocket');

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('faye http\n');
});
server.on('upgrade', (req, socket, body) => {
  if (!WebSocket.isWebSocket(req)) { socket.destroy(); return; }
  const ws = new WebSocket(req, socket, body);
  ws.on('message', (event) => ws.send(event.data));
  ws.on('close', () => {});
});
server.listen(0, '127.0.0.1', () => process.stdout.write('READY ' + server.address().port + '\n'));
const stop = () => { server.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
