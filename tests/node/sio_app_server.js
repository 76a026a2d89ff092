// sio_app_server.js - a socket.io (npm) application server for the protocol e2e tests
// (tests/e2e/test_protocols.py): namespaces, an auth middleware that refuses, acks, a server
// that emits first, binary attachments, a short heartbeat and compression.
//   /        "echo" emits "echo" back; "add" (a, b, ack) acks {sum}; "bin" acks a Buffer;
//            every connection gets "hello" {text: "hi"} first and a "news" broadcast
//   /chat    needs auth {token: "s3cret"} (socket.handshake.auth); "join" (room, ack) acks
//            {joined: room}; "bye" makes the server disconnect the socket
// Options in argv: --eio3 (allowEIO3: Socket.IO v2 clients too), --ping-interval MS.
// Binds 127.0.0.1 port 0, prints "READY <port>" on stdout, stops on SIGTERM/SIGINT.
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const pingInterval = Number(opt('--ping-interval', '25000'));
const server = http.createServer();
const io = new Server(server, {
  transports: ['websocket'],
  allowEIO3: argv.includes('--eio3'),
  pingInterval,
  pingTimeout: Number(opt('--ping-timeout', '20000')),
  perMessageDeflate: { threshold: 0 },
});

io.on('connection', (socket) => {
  socket.emit('hello', { text: 'hi', sid: socket.id });
  socket.emit('news', 'unrelated broadcast');
  socket.on('echo', (...args) => socket.emit('echo', ...args));
  socket.on('add', (a, b, ack) => {
    if (typeof ack === 'function') ack({ sum: a + b });
  });
  socket.on('bin', (ack) => {
    if (typeof ack === 'function') ack({ name: 'blob' }, Buffer.from([1, 2, 3, 4, 5]));
  });
  socket.on('bye', () => socket.disconnect(true));
});

const chat = io.of('/chat');
chat.use((socket, next) => {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  const qtoken = socket.handshake.query && socket.handshake.query.token;
  if (token === 's3cret' || qtoken === 's3cret') return next();
  const err = new Error('not authorized');
  err.data = { reason: 'bad token' };
  next(err);
});
chat.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    socket.join(room);
    if (typeof ack === 'function') ack({ joined: room });
  });
  socket.on('bye', () => socket.disconnect(true));
});

server.listen(0, '127.0.0.1', () => process.stdout.write('READY ' + server.address().port + '\n'));
const stop = () => { io.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
