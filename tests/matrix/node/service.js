'use strict';
// The matrix's Node service: `node service.js <backend-endpoint> <SID>` (tests/matrix/README.md).
// Serves until SIGTERM or SIGINT, then stops the worker (SMI DOWN) and exits 0.
const { Service, ZssError } = require('../../../bindings/node');
const tagged = require('./tagged');
const curve = require('./curve-env');

const [backend, sid] = process.argv.slice(2);
if (!backend || !sid) {
  console.error('usage: node service.js <backend-endpoint> <SID>');
  process.exit(2);
}

const service = new Service({
  sid,
  broker: backend,
  curve: curve(),
  // A crash is expected (scenario handler-failure): log it, it never reaches the caller.
  onError: (err, message) =>
    console.error(`matrix node service: ${message ? message.address.verb : '?'} failed: ${err && err.message}`),
});

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

service.addVerb('echo', async (payload) => payload);

service.addVerb('inspect', async (payload) => tagged.stringify(payload));

service.addVerb('status', async (payload, message) => {
  if (!isObject(payload) || !Number.isInteger(payload.status)) {
    throw new ZssError(400, { developerMessage: 'status: expected {"status": n, "payload": p}' });
  }
  message.status = payload.status;
  return payload.payload;
});

service.addVerb('fail', async (payload) => {
  if (!isObject(payload) || !Number.isInteger(payload.code)) {
    throw new ZssError(400, { developerMessage: 'fail: expected {"code": n, ...}' });
  }
  // userMessage/developerMessage when given (the standard text otherwise); every other field
  // rides on the error as an extra field.
  throw new ZssError(payload.code, payload);
});

service.addVerb('crash', async (payload) => {
  throw new Error(`matrix crash requested: ${tagged.stringify(payload)}`);
});

service.addVerb('sleep', async (payload) => {
  if (typeof payload !== 'number' || !(payload >= 0)) {
    throw new ZssError(400, { developerMessage: 'sleep: expected a number of milliseconds' });
  }
  await new Promise((resolve) => setTimeout(resolve, payload));
  return 'awake';
});

service.addVerb('headers', async (payload, message) => {
  const seen = tagged.matrixHeaders(message.headers);
  // Changes to message.headers are sent back in the reply, over the request's headers.
  message.headers = { ...(message.headers || {}), 'x-matrix-reply': payload };
  return seen;
});

service.run();

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  service.stop().then(
    () => process.exit(0),
    (err) => {
      console.error(`matrix node service: stop after ${signal} failed:`, err);
      process.exit(1);
    },
  );
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
