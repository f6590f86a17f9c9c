#!/usr/bin/env node
// The PONG service of the original example, both handler styles: `node service.js [backend]`
// (default tcp://127.0.0.1:7776). Ctrl-C stops it gracefully (requests in flight finish,
// then SMI DOWN).
const { Service, ZssError } = require('../../bindings/node');

const service = new Service({
  sid: 'PONG',
  broker: process.argv[2] || 'tcp://127.0.0.1:7776',
  heartbeat: 1000,
});

// The original callback style, unchanged.
service.addVerb('ping', (payload, message, callback) => {
  setTimeout(() => callback(null, 'PONG'));
});

// An async handler: the returned value is the payload.
service.addVerb('echo', async (payload, message) => ({ payload, rid: message.rid, from: message.client }));

// A chosen 2xx status.
service.addVerb('create', async (payload, message) => {
  message.status = 201;
  return { id: 1, ...payload };
});

// Nothing to return: 204.
service.addVerb('nothing', async () => undefined);

// A slow verb, to see timeouts (599) and concurrency.
service.addVerb('later', async (ms) => new Promise((resolve) => setTimeout(() => resolve('later'), ms)));

// The error contract: the client gets code 422, the messages and `validationErrors`.
service.addVerb('validate', async (payload) => {
  if (!payload || !payload.name) {
    throw new ZssError(422, { userMessage: 'A name is required.', validationErrors: ['name'] });
  }
  return 'valid';
});

// An unexpected error: the client gets a plain 500, the detail stays in this process's log.
service.addVerb('crash', () => {
  throw new Error('something internal');
});

service.run();
console.log(`service ${service.sid} (${service.identity}) serving`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await service.stop();
    console.log('service stopped');
  });
}
