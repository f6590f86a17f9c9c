#!/usr/bin/env node
// An in-process ZSS broker: `node broker.js` (clients on tcp://127.0.0.1:7777, services on
// tcp://127.0.0.1:7776; override with MICRO_BROKER_FE_ADDR / MICRO_BROKER_BE_ADDR as the
// deployed broker does). Ctrl-C stops it.
//
// In your project: `npm install <repo>/bindings/node`, then require('zss').
const { Broker } = require('../../bindings/node');

const broker = new Broker({
  frontend: process.env.MICRO_BROKER_FE_ADDR || 'tcp://127.0.0.1:7777',
  backend: process.env.MICRO_BROKER_BE_ADDR || 'tcp://127.0.0.1:7776',
  smi: { heartbeat: 1000, maxTTL: 2000, updateInterval: 500 },
}).run();
console.log(`broker: clients on ${broker.frontendEndpoint}, services on ${broker.backendEndpoint}`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    const stats = broker.stats();
    await broker.stop();
    console.log('broker stopped', stats);
  });
}
