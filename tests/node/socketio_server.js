// socketio_server.js - a socket.io (npm) server for the conformance corpus: Engine.IO v4 at
// /socket.io/ (the WebSocket transport: ws://HOST:PORT/socket.io/?EIO=4&transport=websocket,
// where the server's first frame is the open packet `0{"sid":...}`). Emits "echo" back.
// Binds 127.0.0.1 port 0, prints "READY <port>" on stdout, stops on SIGTERM/SIGINT.
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const server = http.createServer();
const io = new Server(server, { transports: ['websocket', 'polling'] });
io.on('connection', (socket) => {
  socket.on('echo', (msg) => socket.emit('echo', msg));
});
server.listen(0, '127.0.0.1', () => process.stdout.write('READY ' + server.address().port + '\n'));
const stop = () => { io.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
