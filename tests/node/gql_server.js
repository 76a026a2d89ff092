// gql_server.js - a graphql-ws (npm, graphql-transport-ws) server over ws for the protocol
// e2e tests (tests/e2e/test_protocols.py). Schema:
//   type Query { hello: String, boom: String }          boom fails with a GraphQL error
//   type Subscription { count(to: Int = 3): Int, fail: Int }  count yields 1..to; fail errors
// connection_init's payload must hold {token: "s3cret"} (onConnect refuses otherwise: 4403),
// unless --open. --legacy: answer with the legacy subprotocol name graphql-ws instead.
// Binds 127.0.0.1 port 0 at /graphql, prints "READY <port>" on stdout, stops on SIGTERM.
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');
const { useServer } = require('graphql-ws/use/ws');
const { buildSchema, GraphQLError } = require('graphql');

const argv = process.argv.slice(2);
const schema = buildSchema(`
  type Query { hello: String, boom: String }
  type Subscription { count(to: Int = 3): Int, fail: Int }
`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const roots = {
  query: {
    hello: () => 'world',
    boom: () => { throw new GraphQLError('boom failed'); },
  },
  subscription: {
    count: async function* count({ to }) {
      for (let i = 1; i <= to; i++) {
        await sleep(20);
        yield { count: i };
      }
    },
    fail: async function* fail() {
      await sleep(10);
      throw new Error('the stream broke');
    },
  },
};

const server = http.createServer();
const wss = new WebSocketServer({ server, path: '/graphql' });
useServer(
  {
    schema,
    roots,
    onConnect: (ctx) => {
      if (argv.includes('--open')) return true;
      return !!(ctx.connectionParams && ctx.connectionParams.token === 's3cret');
    },
  },
  wss,
);
// useServer installs its own subprotocol choice; a legacy server's choice replaces it
if (argv.includes('--legacy')) wss.options.handleProtocols = () => 'graphql-ws';
server.listen(0, '127.0.0.1', () => process.stdout.write('READY ' + server.address().port + '\n'));
const stop = () => { wss.close(); server.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
