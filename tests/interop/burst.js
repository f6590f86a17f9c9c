'use strict';
// `node burst.js orig|zss <frontend> <SID> <n> <bytes>`: n calls of `echo` in flight at once
// from ONE client (the original zmq-service-suite-client, or our Node binding's Client), each
// with a distinct payload of about `bytes`; prints {"ok": k, "n": n, "ms": t, "first_problem"}.
const path = require('node:path');
const [impl, frontend, sid, n, bytes] = process.argv.slice(2);
const count = Number(n);
const body = 'x'.repeat(Number(bytes || 0));
let call;
if (impl === 'orig') {
  const ZSSClient = require('zmq-service-suite-client');
  const client = new ZSSClient({ broker: frontend, sid, timeout: 30000, identity: 'burst' });
  call = (p) => client.call('echo', p).then((r) => ({ status: r.status, payload: r.payload }));
} else {
  const { Client } = require(path.join(__dirname, '../../bindings/node'));
  const client = new Client({ broker: frontend, identity: 'burst' });
  call = (p) => client.call('echo', p, { sid, timeout: 30000 }).then((r) => ({ status: r.status, payload: r.payload }));
  call.close = () => client.close();
}
const started = Date.now();
const calls = [];
for (let i = 0; i < count; i++) {
  calls.push(call({ i, body }).then(
    (r) => (r.status === 200 && r.payload && r.payload.i === i && r.payload.body === body ? null : `call ${i}: status ${r.status}`),
    (e) => `call ${i}: error ${e && (e.code || e.message)}`,
  ));
}
Promise.all(calls).then((problems) => {
  const bad = problems.filter(Boolean);
  console.log(JSON.stringify({ ok: count - bad.length, n: count, ms: Date.now() - started, first_problem: bad[0] || null }));
  if (call.close) call.close();
  process.exit(0);
});
