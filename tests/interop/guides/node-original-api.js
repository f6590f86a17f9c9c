'use strict';
// The migration guide (bindings/node/README.md, "Migrating from zmq-service-suite-*") as a test:
// code written for the ORIGINAL zmq-service-suite-service / -client API, run unchanged on the
// originals (`orig`) and on ours (`zss`); only the require lines differ, as the guide's table says.
// `node node-original-api.js orig|zss <frontend> <backend>`; prints one line per check, exits 1
// on any failure. The broker (ours or the original) is started by guides/run.sh.
const path = require('node:path');
const assert = require('node:assert/strict');
const [impl, frontend, backend] = process.argv.slice(2);

let ZSSService, ZSSClient;
if (impl === 'orig') {
  ZSSService = require('zmq-service-suite-service');
  ZSSClient = require('zmq-service-suite-client');
} else {
  ({ Service: ZSSService, Client: ZSSClient } = require(path.join(__dirname, '../../../bindings/node')));
}

// ---- unchanged original-API code from here on -------------------------------------------
const service = new ZSSService({ broker: backend, sid: 'guide-' + impl, heartbeat: 1000 });
service.addVerb('ping', function (payload, message, callback) {
  callback(null, 'PONG ' + payload);
});
service.addVerb('create', function (payload, message, callback) {
  message.status = 201;                        // a status set from the handler
  callback(null, { id: 7, name: payload.name });
});
service.addVerb('nothing', function (payload, message, callback) {
  callback(null, null);                        // no payload: 204
});
service.addVerb('check', function (payload, message, callback) {
  callback({ code: 422, userMessage: 'A name is required.', developerMessage: 'name missing',
             validationErrors: ['name'] });
});
service.addVerb('boom', function () {
  throw new Error('handler exception');
});
service.addVerb('trace', function (payload, message, callback) {
  callback(null, message.headers['x-trace']);  // request headers reach the handler
});
service.run();

const client = new ZSSClient({ broker: frontend, sid: 'guide-' + impl, timeout: 2000 });
const checks = [];
function check(name, promise, onReply, onError) {
  checks.push(promise.then(
    (reply) => onReply ? onReply(reply) : assert.fail(`${name}: resolved with status ${reply.status}`),
    (error) => onError ? onError(error) : assert.fail(`${name}: rejected with ${JSON.stringify(error)}`),
  ).then(() => console.log(`guide ${impl}: ok   ${name}`), (e) => {
    console.log(`guide ${impl}: FAIL ${name}: ${e.message}`);
    process.exitCode = 1;
  }));
}

setTimeout(function () {
  check('reply shape {payload, headers, status}', client.call('ping', 'hi'), (r) => {
    assert.equal(r.payload, 'PONG hi'); assert.equal(r.status, 200); assert.equal(typeof r.headers, 'object');
  });
  check('status set by the handler (201)', client.call('create', { name: 'x' }), (r) => {
    assert.equal(r.status, 201); assert.deepEqual(r.payload, { id: 7, name: 'x' });
  });
  check('no payload → 204', client.call('nothing', null), (r) => assert.equal(r.status, 204));
  check('error reply with extra fields', client.call('check', {}), null, (e) => {
    assert.equal(e.code, 422); assert.equal(e.userMessage, 'A name is required.');
    assert.equal(e.developerMessage, 'name missing'); assert.deepEqual(e.validationErrors, ['name']);
  });
  check('handler exception → 500', client.call('boom', null), null, (e) => assert.equal(e.code, 500));
  check('unknown verb → 404', client.call('nope', null), null, (e) => assert.equal(e.code, 404));
  check('headers reach the service', client.call('trace', null, { headers: { 'x-trace': 'abc' } }),
        (r) => assert.equal(r.payload, 'abc'));
  check('timeout → 599', client.call('ping', 'late', { sid: 'guide-nobody-listens', timeout: 300 }), null,
        (e) => assert.ok(e.code === 404 || e.code === 599));
  Promise.all(checks).then(() => {
    if (client.close) client.close();
    const stopped = service.stop();
    Promise.resolve(stopped).then(() => setTimeout(() => process.exit(process.exitCode || 0), 700));
  });
}, 1500);
