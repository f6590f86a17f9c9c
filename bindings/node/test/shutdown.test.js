'use strict';
// The process must exit by itself after stop()/close(): no hanging handles (thread-safe
// functions released, no timers, no ref'd async work). Each scenario runs in a child node
// process that does NOT call process.exit.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');

const pkg = path.resolve(__dirname, '..');

function runChild(source, limitMs = 8000, flags = []) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...flags, '-e', source], { env: { ...process.env, ZSS_PKG: pkg } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const started = Date.now();
    const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, out, err, ms: Date.now() - started });
    });
  });
}

const scenario = `
const { Broker, Service, Client } = require(process.env.ZSS_PKG);
(async () => {
  const broker = new Broker({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' }).run();
  const service = new Service({ broker: broker.backendEndpoint, sid: 'bye' });
  service.addVerb('ping', (p, m, cb) => cb(null, 'pong'));
  service.addVerb('later', async () => new Promise((r) => setTimeout(() => r('late'), 100)));
  service.run();
  const client = new Client({ broker: broker.frontendEndpoint, sid: 'bye' });
  while (broker.stats().workers < 1) await new Promise((r) => setTimeout(r, 20));
  const replies = await Promise.all([client.call('ping', 1), client.call('later', 2)]);
  console.log(replies.map((r) => r.payload).join(','));
  // Calls the core refuses after the promise exists must settle too (no dangling deferred).
  await client.call('', 1).catch((e) => console.log(e.name));
  client.close();
  await service.stop();
  await broker.stop();
  console.log('stopped');
})();
`;

test('a process with broker, service and client exits by itself after stop/close', async () => {
  const r = await runChild(scenario);
  assert.equal(r.signal, null, `killed: still running after the limit; stderr: ${r.err}`);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'pong,late\nTypeError\nstopped\n');
  // stop() waits for SMI DOWN's reply: well under a second, never the stop timeouts.
  assert.ok(r.ms < 5000, `took ${r.ms} ms`);
});

test('an idle client alone does not keep the process alive', async () => {
  const r = await runChild(`
    const { Client } = require(process.env.ZSS_PKG);
    const c = new Client({ broker: 'tcp://127.0.0.1:1', sid: 'x' });
    console.log(c.identity.split('#')[0]);
  `);
  assert.equal(r.signal, null, 'killed: an idle client kept the process alive');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'client\n');
});

test('a call in flight keeps the process alive until it settles', async () => {
  const r = await runChild(`
    const { Client } = require(process.env.ZSS_PKG);
    const c = new Client({ broker: 'tcp://127.0.0.1:1', sid: 'x', timeout: 300 });
    c.call('ping', null).catch((e) => { console.log(e.code); c.close(); });
  `);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '599\n');
  assert.ok(r.ms >= 300);
});

test('a running service keeps the process alive until stopped', async () => {
  const r = await runChild(`
    const { Broker, Service } = require(process.env.ZSS_PKG);
    const broker = new Broker({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' }).run();
    const service = new Service({ broker: broker.backendEndpoint, sid: 'alive' });
    service.addVerb('x', async () => 1);
    service.run();
    const started = Date.now();
    setTimeout(async () => {
      await service.stop();
      await broker.stop();
      console.log(Date.now() - started >= 500 ? 'served' : 'too early');
    }, 500);
  `);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'served\n');
});

test('a running broker keeps the process alive until stopped', async () => {
  const r = await runChild(`
    const { Broker } = require(process.env.ZSS_PKG);
    const broker = new Broker({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' }).run();
    const started = Date.now();
    setTimeout(async () => {
      await broker.stop();
      console.log(Date.now() - started >= 300 ? 'served' : 'too early');
    }, 300);
  `);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'served\n');
});

test('a handler that never answers: its collected responder answers 500', async () => {
  // The callback is dropped unanswered; once the JS objects are collected the core's
  // responder answers 500, so the caller does not wait for its timeout.
  const r = await runChild(`
    const { Broker, Service, Client } = require(process.env.ZSS_PKG);
    (async () => {
      const broker = new Broker({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' }).run();
      const service = new Service({ broker: broker.backendEndpoint, sid: 'forgetful' });
      service.addVerb('forget', (payload, message, callback) => {});
      service.run();
      const client = new Client({ broker: broker.frontendEndpoint, sid: 'forgetful', timeout: 5000 });
      while (broker.stats().workers < 1) await new Promise((r) => setTimeout(r, 20));
      const started = Date.now();
      const call = client.call('forget', null).catch((e) => e.code);
      const gc = setInterval(() => global.gc(), 50);
      console.log(await call, Date.now() - started < 4000 ? 'early' : 'late');
      clearInterval(gc);
      client.close();
      await service.stop();
      await broker.stop();
    })();
  `, 10000, ['--expose-gc']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '500 early\n');
});
