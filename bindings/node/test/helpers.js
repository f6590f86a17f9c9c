'use strict';
// A real broker and service on wildcard ports, in this process.
const { Broker, Service, Client } = require('..');

async function startStack(verbs, { sid = 'test', serviceOptions = {} } = {}) {
  const broker = new Broker({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' }).run();
  const errors = [];
  const service = new Service({
    broker: broker.backendEndpoint,
    sid,
    heartbeat: 200,
    onError: (err) => errors.push(err),
    ...serviceOptions,
  });
  for (const [verb, handler] of Object.entries(verbs)) service.addVerb(verb, handler);
  service.run();
  const client = new Client({ broker: broker.frontendEndpoint, sid, timeout: 3000 });
  // Wait until the broker knows the worker (SMI UP processed): a call answered 404 otherwise.
  for (let i = 0; i < 100; i++) {
    if (broker.stats().workers >= 1) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    broker,
    service,
    client,
    errors,
    async stop() {
      client.close();
      await service.stop();
      await broker.stop();
    },
  };
}

module.exports = { startStack };
