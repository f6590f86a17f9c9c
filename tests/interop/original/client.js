'use strict';
// The matrix client contract (tests/matrix/README.md) written against the ORIGINAL
// zmq-service-suite-client@1.0.3 API: `node client.js <frontend-endpoint> <scenarios.json> <SID>...`.
// `client.call(verb, payload, options)` returns a Q promise that resolves to
// `{payload, headers, status}` for any 2xx and rejects with the error payload otherwise.
const fs = require('node:fs');
const path = require('node:path');
const ZSSClient = require('zmq-service-suite-client');
const tagged = require(path.join(__dirname, '../../matrix/node/tagged'));

const [frontend, file, ...sids] = process.argv.slice(2);
if (!frontend || !file || sids.length === 0) {
  console.error('usage: node client.js <frontend-endpoint> <scenarios.json> <SID>...');
  process.exit(2);
}
const scenarios = tagged.parse(fs.readFileSync(file, 'utf8'));

function run(service, s) {
  const client = new ZSSClient({ broker: frontend, sid: s.sid == null ? service : s.sid, identity: 'matrix-orig' });
  const options = {};
  if (s.timeout_ms != null) options.timeout = s.timeout_ms;
  if (s.headers != null) options.headers = s.headers;
  if (s.concurrent) return burst(client, s, options);
  return client.call(s.verb, s.payload, options).then(
    (reply) => ({ status: reply.status, payload: reply.payload, headers: tagged.matrixHeaders(reply.headers) }),
    (error) => ({ status: error && error.code, error }),
  );
}

// `concurrent: n`: n calls in flight at once; the line reports how many came back 2xx with the
// payload sent (`payload` = that count), and the first difference.
function burst(client, s, options) {
  const calls = [];
  for (let i = 0; i < s.concurrent; i++) {
    const payload = { i, body: s.payload };
    calls.push(client.call(s.verb, payload, options).then(
      (reply) => (reply.status === 200 && reply.payload && reply.payload.i === i ? null : `call ${i}: status ${reply.status}`),
      (error) => `call ${i}: error ${error && error.code}`,
    ));
  }
  return Promise.all(calls).then((problems) => {
    const bad = problems.filter((p) => p);
    return { status: 200, payload: s.concurrent - bad.length, headers: {}, ...(bad.length ? { first_problem: bad[0] } : {}) };
  });
}

(async () => {
  for (const service of sids) {
    for (const s of scenarios) {
      const line = { service, id: s.id, ...(await run(service, s)) };
      process.stdout.write(tagged.stringify(line) + '\n');
    }
  }
  // The original client leaves nothing open once its promises settle.
})().catch((err) => {
  console.error('orig client:', err);
  process.exitCode = 1;
});
