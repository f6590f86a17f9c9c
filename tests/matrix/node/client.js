'use strict';
// The matrix's Node client: `node client.js <frontend-endpoint> <scenarios.json> <SID>...`
// (tests/matrix/README.md). Runs every scenario against every SID, in order, one call at a
// time, and prints one tagged-JSON line per call.
const fs = require('node:fs');
const { Client, ZssError } = require('../../../bindings/node');
const tagged = require('./tagged');
const curve = require('./curve-env');

async function main() {
  const [frontend, file, ...sids] = process.argv.slice(2);
  if (!frontend || !file || sids.length === 0) {
    console.error('usage: node client.js <frontend-endpoint> <scenarios.json> <SID>...');
    return 2;
  }
  const scenarios = tagged.parse(fs.readFileSync(file, 'utf8'));
  const client = new Client({ broker: frontend, identity: 'matrix-node', curve: curve() });
  try {
    for (const service of sids) {
      for (const s of scenarios) {
        const line = { service, id: s.id, ...(await run(client, service, s)) };
        process.stdout.write(tagged.stringify(line) + '\n');
      }
    }
  } finally {
    client.close();
  }
  return 0;
}

async function run(client, service, s) {
  try {
    const options = { sid: s.sid == null ? service : s.sid };
    if (s.timeout_ms != null) options.timeout = s.timeout_ms;
    if (s.headers != null) options.headers = s.headers;
    const reply = await client.call(s.verb, s.payload, options);
    return { status: reply.status, payload: reply.payload, headers: tagged.matrixHeaders(reply.headers) };
  } catch (err) {
    if (err instanceof ZssError) {
      // The whole error payload as the binding exposes it: code, errorCode, the messages and
      // every extra field.
      return { status: err.code, error: err.toJSON() };
    }
    return { status: null, client_error: `${err && err.name}: ${err && err.message}` };
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error('matrix node client:', err);
    process.exitCode = 1;
  },
);
