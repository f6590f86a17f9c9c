#!/usr/bin/env node
// Calls the example service: `node client.js [frontend]` (default tcp://127.0.0.1:7777), with
// broker.js and service.js running; or `node client.js --with-broker` to run all three here.
const { Broker, Client, Service } = require('../../bindings/node');

async function main() {
  let frontend = process.argv[2] || 'tcp://127.0.0.1:7777';
  let local = null;
  if (frontend === '--with-broker') {
    local = await startLocal();
    frontend = local.broker.frontendEndpoint;
  }

  // One socket for all calls (the original opened one per call).
  const client = new Client({ broker: frontend, sid: 'PONG', identity: 'PONG_CLIENT', timeout: 1000 });

  const show = (label, promise) =>
    promise.then(
      (r) => console.log(`${label} -> ${r.status}`, JSON.stringify(r.payload)),
      (e) => console.log(`${label} -> ${e.code} ${e.userMessage}`, e.validationErrors || ''),
    );

  await show('ping', client.call('ping', 'ping'));
  await show('echo', client.call('echo', { hello: 'world' }, { headers: { 'x-trace': 'abc' } }));
  await show('create', client.call('create', { name: 'n' }));
  await show('nothing', client.call('nothing'));
  await show('validate', client.call('validate', {}));
  await show('crash', client.call('crash'));
  await show('later (timeout)', client.call('later', 2000, { timeout: 200 }));
  await show('unknown service', client.call('ping', null, { sid: 'NOBODY' }));

  const started = Date.now();
  const replies = await Promise.all(Array.from({ length: 1000 }, (_, i) => client.call('echo', i)));
  console.log(`${replies.length} concurrent calls in ${Date.now() - started} ms`);

  client.close();
  if (local) {
    await local.service.stop();
    await local.broker.stop();
  }
}

// The broker and service of broker.js/service.js, in this process, on free ports.
async function startLocal() {
  const broker = new Broker({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' }).run();
  const { ZssError } = require('../../bindings/node');
  const service = new Service({ sid: 'PONG', broker: broker.backendEndpoint, onError: () => {} });
  service.addVerb('ping', (payload, message, callback) => callback(null, 'PONG'));
  service.addVerb('echo', async (payload) => payload);
  service.addVerb('create', async (payload, message) => ((message.status = 201), { id: 1, ...payload }));
  service.addVerb('nothing', async () => undefined);
  service.addVerb('later', async (ms) => new Promise((r) => setTimeout(() => r('later'), ms)));
  service.addVerb('validate', async () => {
    throw new ZssError(422, { userMessage: 'A name is required.', validationErrors: ['name'] });
  });
  service.addVerb('crash', () => {
    throw new Error('something internal');
  });
  service.run();
  while (broker.stats().workers < 1) await new Promise((r) => setTimeout(r, 20));
  return { broker, service };
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
