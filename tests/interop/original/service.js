'use strict';
// The matrix service contract (tests/matrix/README.md) written against the ORIGINAL
// zmq-service-suite-service@1.0.1 API: `node service.js <backend-endpoint> <SID>`.
// Handlers are `(payload, message, callback(err, payload))`; a status is set on
// `message.status`; reply headers are `message.headers`.
const path = require('node:path');
const ZSSService = require('zmq-service-suite-service');
const tagged = require(path.join(__dirname, '../../matrix/node/tagged'));

const [backend, sid] = process.argv.slice(2);
if (!backend || !sid) {
  console.error('usage: node service.js <backend-endpoint> <SID>');
  process.exit(2);
}

// The original service's errors.json has no 409/410/422: the standard texts the zss peers use.
const STANDARD = {
  400: ['An error occured', 'The request cannot be fulfilled due to bad syntax.'],
  401: ['This resource is only available after logging in.', 'User authentication token has expired or is missing'],
  403: ['You do not have access to this resource.', 'User does not have enough privileges to access this resource.'],
  404: ['The content you requested was not found.', 'The resource could not be found.'],
  409: ['The request conflicts with the current state of the resource.', 'The request could not be completed due to a conflict with the current state of the resource.'],
  422: ['Check the form.', 'The request was well-formed but could not be processed due to semantic errors.'],
  500: ['There was an error while processing this request.', 'There was an error while processing this request. There is probably something wrong with the API server.'],
};

const service = new ZSSService({ broker: backend, sid });

function isObject(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }

service.addVerb('echo', (payload, message, callback) => callback(null, payload));
service.addVerb('inspect', (payload, message, callback) => callback(null, tagged.stringify(payload)));
service.addVerb('status', (payload, message, callback) => {
  message.status = payload.status;
  callback(null, payload.payload);
});
service.addVerb('fail', (payload, message, callback) => {
  const std = STANDARD[payload.code] || STANDARD[500];
  // The original passes the error object through as the payload: every extra field is kept.
  const error = Object.assign({ code: payload.code, userMessage: std[0], developerMessage: std[1] }, payload);
  callback(error);
});
service.addVerb('crash', (payload) => {
  throw new Error(`matrix crash requested: ${tagged.stringify(payload)}`);
});
service.addVerb('sleep', (payload, message, callback) => {
  setTimeout(() => callback(null, 'awake'), payload);
});
service.addVerb('headers', (payload, message, callback) => {
  const seen = tagged.matrixHeaders(message.headers);
  message.headers['x-matrix-reply'] = payload;
  callback(null, seen);
});
// For the interop suite: which process answered (several instances of one sid).
service.addVerb('whoami', (payload, message, callback) => callback(null, `orig:${process.pid}`));

service.run();
function stop() {
  // The original stop() sends DOWN, polls every 500 ms for its reply, then closes the socket;
  // the process then ends by itself (exit 0). Bounded: it would wait forever without a broker.
  service.stop();
  setTimeout(() => process.exit(3), 5000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
