// bun_server.js - Bun.serve echo with a websocket handler, run by the `bun` npm package's
// binary (bun bun_server.js), for the conformance corpus. Binds 127.0.0.1 port 0, prints
// "READY <port>" on stdout, stops on SIGTERM/SIGINT. Plain HTTP gets 200 "bun http\n".
// With --deflate, permessage-deflate is enabled (perMessageDeflate: true; uWebSockets' shared
// compressor), answered when a client offers it.
const deflate = process.argv.includes('--deflate');
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch(req, srv) {
    if (srv.upgrade(req)) return undefined;
    return new Response('bun http\n');
  },
  websocket: {
    perMessageDeflate: deflate,
    // Bun compresses a message only when send() is asked to (its second argument)
    message(ws, message) { ws.send(message, deflate); },
  },
});
process.stdout.write('READY ' + server.port + '\n');
const stop = () => { server.stop(true); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
