'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Broker, Service, Client } = require('..');

test('broker resolves wildcard ports and refuses a busy address', async () => {
  const broker = new Broker({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' }).run();
  try {
    assert.match(broker.frontendEndpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.match(broker.backendEndpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(broker.frontendEndpoint, broker.backendEndpoint);
    const busy = new Broker({ frontend: broker.frontendEndpoint, backend: 'tcp://127.0.0.1:*' });
    assert.throws(() => busy.run(), /in use/i);
    assert.equal(typeof broker.stats().requests, 'number');
  } finally {
    await broker.stop();
    await broker.stop(); // idempotent
  }
});

test('service needs a sid; verbs are fixed once running', async () => {
  assert.throws(() => new Service({}), /sid/);
  const broker = new Broker({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' }).run();
  const service = new Service({ broker: broker.backendEndpoint, sid: 'fixed' });
  service.addVerbs([['a', async () => 1]]);
  service.run();
  assert.match(service.identity, /^FIXED#/);
  assert.throws(() => service.addVerb('b', async () => 2), /before run/);
  await service.stop();
  await broker.stop();
});

test('stop() lets a slow handler in flight finish (graceful drain)', async () => {
  const broker = new Broker({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' }).run();
  const service = new Service({ broker: broker.backendEndpoint, sid: 'drain', heartbeat: 200 });
  service.addVerb('slow', (payload, message, cb) => setTimeout(() => cb(null, 'finished'), 300));
  service.run();
  const client = new Client({ broker: broker.frontendEndpoint, sid: 'drain', timeout: 3000 });
  while (broker.stats().workers < 1) await new Promise((r) => setTimeout(r, 20));
  const call = client.call('slow', null);
  await new Promise((r) => setTimeout(r, 50));
  await service.stop();
  assert.equal((await call).payload, 'finished');
  client.close();
  await broker.stop();
});
