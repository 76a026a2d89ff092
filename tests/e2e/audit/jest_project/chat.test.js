// A small jest suite, copied by tests/e2e/test_audit.py into a temporary folder where jest and
// jest-junit are installed from npm, to produce a real jest-junit report.
//   "echoes over a real socket"       talks to a loopback server that answers after 200 ms
//   "swallows a refused connection"   the bug: the error is caught and logged, the test passes
//   it.todo                           jest-junit writes it as a pass with time 0
//   it.skip                           a real skip
const net = require('net');

function refusedPort() {
  return new Promise(resolve => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

function send(port, message) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', reject);
    c.on('connect', () => c.write(message));
    c.on('data', d => { c.end(); resolve(d.toString()); });
  });
}

let server;
let port;
beforeAll(done => {
  server = net.createServer(s => s.on('data', d => setTimeout(() => s.write('ack:' + d), 200)));
  server.listen(0, '127.0.0.1', () => { port = server.address().port; done(); });
});
afterAll(() => new Promise(resolve => server.close(resolve)));

describe('chat', () => {
  it('echoes over a real socket', async () => {
    expect(await send(port, 'hello')).toBe('ack:hello');
  });
  it('swallows a refused connection', async () => {
    try {
      await send(await refusedPort(), 'hello');
    } catch (e) {
      console.log('send failed, ignoring: ' + e.message);
    }
  });
  it.todo('reconnects after a drop');
  it.skip('runs on staging only', () => {});
});
