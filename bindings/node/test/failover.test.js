'use strict';
// Several brokers: two `zss broker` processes (ZSS_BIN, default target/debug/zss), a service
// registered with both, a client given both. One broker is SIGKILLed with calls in flight:
// plain calls end with a reply or a brokerLost ZssError at once (not at their timeout), calls
// with retries all succeed, and later calls all succeed on the survivor.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const fs = require('node:fs');
const { Client, Service, ZssError } = require('..');

const ZSS_BIN = process.env.ZSS_BIN || path.join(__dirname, '..', '..', '..', 'target', 'debug', 'zss');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function until(what, predicate, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function succeeds(promise) {
  try {
    await promise;
    return true;
  } catch {
    return false;
  }
}

/** A `zss broker` process on free loopback ports, with fast worker liveness. */
async function startBroker() {
  assert.ok(fs.existsSync(ZSS_BIN), `${ZSS_BIN} missing: cargo build -p zss (or set ZSS_BIN)`);
  const frontend = `tcp://127.0.0.1:${await freePort()}`;
  const backend = `tcp://127.0.0.1:${await freePort()}`;
  const proc = spawn(
    ZSS_BIN,
    ['--log-level', 'warn', 'broker', '--frontend', frontend, '--backend', backend,
      '--heartbeat', '100', '--max-ttl', '600', '--update-interval', '100'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const probe = new Client({ broker: frontend, timeout: 200 });
  try {
    await until(`zss broker on ${frontend}`, () => {
      assert.equal(proc.exitCode, null, `zss broker on ${frontend} exited`);
      return succeeds(probe.management('PING'));
    });
  } finally {
    probe.close();
  }
  return {
    frontend,
    backend,
    async forwarded() {
      const c = new Client({ broker: frontend, timeout: 1000 });
      try {
        return (await c.management('STATS')).broker.forwarded;
      } finally {
        c.close();
      }
    },
    kill(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

test('two brokers, one SIGKILLed under load', async (t) => {
  const a = await startBroker();
  const b = await startBroker();
  const service = new Service({ sid: 'failover', broker: [a.backend, b.backend], heartbeat: 100 });
  service.addVerb('echo', async (payload) => payload);
  service.addVerb('nap', async (ms) => {
    await sleep(ms);
    return ms;
  });
  service.run();
  t.after(async () => {
    await service.stop();
    await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]);
  });
  assert.deepEqual(service.brokers, [a.backend, b.backend]);
  for (const broker of [a, b]) {
    const alone = new Client({ broker: broker.frontend, sid: 'failover', timeout: 500 });
    await until(`registration with ${broker.frontend}`, () => succeeds(alone.call('echo', 1)));
    alone.close();
  }

  await t.test('calls spread over both, a killed broker costs only its calls in flight', async () => {
    const before = [await a.forwarded(), await b.forwarded()];
    const client = new Client({ broker: [a.frontend, b.frontend], sid: 'failover', timeout: 5000, heartbeat: 100, lostAfter: 10 });
    try {
      assert.deepEqual(client.brokers, [a.frontend, b.frontend]);
      assert.deepEqual(client.liveness, { heartbeat: 100, lostAfter: 10 });
      for (let i = 0; i < 40; i++) assert.equal((await client.call('echo', i)).payload, i);
      const spread = [(await a.forwarded()) - before[0], (await b.forwarded()) - before[1]];
      assert.equal(spread[0] + spread[1], 40);
      assert.ok(Math.min(...spread) > 0, `calls spread over both brokers: ${spread}`);

      // 12 lanes calling back to back, half of them idempotent; kill b under the load.
      let running = true;
      const outcomes = [];
      const lane = async (idempotent) => {
        while (running) {
          let result;
          try {
            result = await client.call('nap', 100, { idempotent });
          } catch (err) {
            result = err;
          }
          outcomes.push({ idempotent, result, at: Date.now() });
        }
      };
      const loadStart = await b.forwarded();
      // Lanes 0,1 plain, 2,3 idempotent, ...: whichever lanes a broker gets when calls alternate
      // between the two, half of them are plain.
      const lanes = Array.from({ length: 12 }, (_, i) => lane(i % 4 >= 2));
      await sleep(500);
      assert.ok((await b.forwarded()) > loadStart, 'the broker about to be killed takes calls under the load');
      const killed = Date.now();
      await b.kill();
      await sleep(1000);
      const settled = Date.now();
      await sleep(500);
      running = false;
      await Promise.all(lanes);

      let lost = 0;
      for (const { idempotent, result, at } of outcomes) {
        if (!(result instanceof Error)) continue;
        assert.ok(!idempotent, `a call with retries failed: ${result}`);
        assert.ok(result instanceof ZssError && result.brokerLost === true, `unexpected outcome ${result}`);
        assert.equal(result.code, 503);
        assert.ok(at >= killed && at < killed + 1000, `broker lost ${at - killed} ms after the kill (timeout 5 s)`);
        lost++;
      }
      const failed = outcomes.filter((o) => o.result instanceof Error).length;
      assert.ok(lost > 0, `calls were in flight on the killed broker and ended broker-lost (${outcomes.length} calls, ${failed} failed)`);
      assert.ok(outcomes.filter((o) => o.at > settled).every((o) => !(o.result instanceof Error)), 'no failures after the loss');
      for (let i = 0; i < 20; i++) assert.equal((await client.call('echo', i)).payload, i);
    } finally {
      client.close();
    }
  });
});

test('broker lists and retries are checked', async () => {
  assert.throws(() => new Client({ broker: [] }), RangeError);
  assert.throws(() => new Client({ broker: ' , ' }), /names no endpoint/);
  assert.throws(() => new Client({ broker: ['tcp://127.0.0.1:1', 2] }), { name: 'TypeError', message: /broker items must be strings/ });
  assert.throws(() => new Client({ broker: 7777 }), { name: 'TypeError', message: /string or an array of strings/ });
  assert.throws(() => new Client({ broker: 'tcp://127.0.0.1:1', lostAfter: 0 }), RangeError);
  assert.throws(() => new Client({ broker: 'tcp://127.0.0.1:1', lostAfter: '3' }), TypeError);
  assert.throws(() => new Client({ broker: 'tcp://127.0.0.1:1', heartbeat: 0 }), TypeError);
  assert.throws(() => new Service({ sid: 'x', broker: [null] }), TypeError);
  const service = new Service({ sid: 'x', broker: 'tcp://127.0.0.1:1, tcp://127.0.0.1:2' });
  assert.deepEqual(service.brokers, ['tcp://127.0.0.1:1', 'tcp://127.0.0.1:2']);
  service.setBrokers(['tcp://127.0.0.1:3']);
  assert.deepEqual(service.brokers, ['tcp://127.0.0.1:3']);
  const client = new Client({ broker: 'tcp://127.0.0.1:1,tcp://127.0.0.1:2', sid: 'x', timeout: 50 });
  try {
    assert.deepEqual(client.brokers, ['tcp://127.0.0.1:1', 'tcp://127.0.0.1:2']);
    assert.deepEqual(client.liveness, { heartbeat: 1000, lostAfter: 3 });
    await assert.rejects(client.call('echo', 1, { retries: '2' }), { name: 'TypeError', message: /retries must be an integer/ });
    await assert.rejects(client.call('echo', 1, { retries: -1 }), RangeError);
    await assert.rejects(client.call('echo', 1, { retries: 1.5 }), RangeError);
    await assert.rejects(client.call('echo', 1, { idempotent: 'yes' }), { name: 'TypeError', message: /idempotent must be a boolean/ });
    assert.throws(() => client.setBrokers([]), RangeError);
    client.setBrokers(['tcp://127.0.0.1:3']);
    assert.deepEqual(client.brokers, ['tcp://127.0.0.1:3']);
    // Nothing listens: a timeout, not a retry loop.
    await assert.rejects(client.call('echo', 1, { idempotent: true }), { code: 599 });
  } finally {
    client.close();
  }
});
