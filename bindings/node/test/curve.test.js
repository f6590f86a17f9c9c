'use strict';
// CURVE from Node: an encrypted broker, service and client on real sockets; keys as Z85
// text, files, "env:VAR" and key pairs; refused keys fail fast; plaintext gets nothing.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zss = require('..');
const { Broker, Service, Client, ZssError, generateKeypair } = zss;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const skip = zss.hasCurve() ? false : 'this zss links a libzmq without CURVE';

async function until(predicate, what, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function elapsed(f) {
  const t = Date.now();
  await f();
  return Date.now() - t;
}

const isAuthError = (err) => err instanceof ZssError && err.code === 401 && err.authenticationFailed === true;

test('CURVE', { skip }, async (t) => {
  const keys = Object.fromEntries(['broker', 'service', 'client', 'stranger'].map((n) => [n, generateKeypair()]));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zss-node-curve-'));
  const allow = path.join(dir, 'allow.txt');
  fs.writeFileSync(
    allow,
    `# who may do what\n${keys.service.publicKey} name=svc serve=SECRET\n${keys.client.publicKey} name=cli call=SECRET\n`,
  );
  const broker = new Broker({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*', curveSecret: keys.broker, allow }).run();
  const service = new Service({
    broker: broker.backendEndpoint,
    sid: 'secret',
    heartbeat: 200,
    curve: { brokerKey: keys.broker.publicKey, keypair: keys.service },
  });
  service.addVerb('echo', async (payload, message) => ({ echo: payload, client: message.identity }));
  service.run();
  t.after(async () => {
    await service.stop();
    await broker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await until(() => broker.stats().workers === 1, "the CURVE service's registration");
  const clients = [];
  const client = (options) => {
    const c = new Client({ broker: broker.frontendEndpoint, sid: 'secret', timeout: 5000, ...options });
    clients.push(c);
    return c;
  };
  t.after(() => clients.forEach((c) => c.close()));

  await t.test('generateKeypair gives distinct Z85 pairs', () => {
    const a = generateKeypair();
    const b = generateKeypair();
    assert.deepEqual(Object.keys(a).sort(), ['publicKey', 'secretKey']);
    assert.equal(a.publicKey.length, 40);
    assert.equal(a.secretKey.length, 40);
    assert.equal(new Set([a.publicKey, a.secretKey, b.publicKey, b.secretKey]).size, 4);
  });

  await t.test('encrypted round trip', async () => {
    const c = client({ curve: { brokerKey: keys.broker.publicKey, keypair: keys.client } });
    const reply = await c.call('echo', { n: [1, 2.5, 'three'] });
    assert.deepEqual(reply.payload, { echo: { n: [1, 2.5, 'three'] }, client: c.identity });
    const many = await Promise.all([1, 2, 3].map((i) => c.call('echo', i)));
    assert.deepEqual(many.map((r) => r.payload.echo), [1, 2, 3]);
  });

  await t.test('keys from files, the environment and a secret key alone', async () => {
    const brokerPub = path.join(dir, 'broker.pub');
    fs.writeFileSync(brokerPub, `${keys.broker.publicKey}\n`);
    process.env.ZSS_TEST_CLIENT_SECRET = keys.client.secretKey;
    for (const curve of [
      { brokerKey: brokerPub, keypair: 'env:ZSS_TEST_CLIENT_SECRET' },
      { brokerKey: keys.broker.publicKey, keypair: keys.client.secretKey },
      { brokerKey: brokerPub, keypair: { secretKey: keys.client.secretKey } },
    ]) {
      assert.equal((await client({ curve }).call('echo', 'x')).payload.echo, 'x');
    }
  });

  await t.test('a wrong broker key fails fast with authenticationFailed', async () => {
    const c = client({ timeout: 10000, curve: { brokerKey: keys.stranger.publicKey, keypair: keys.client } });
    const took = await elapsed(() => assert.rejects(c.call('echo', 1), isAuthError));
    assert.ok(took < 3000, `took ${took} ms, the call timeout is 10 s`);
    assert.ok((await elapsed(() => assert.rejects(c.call('echo', 2), isAuthError))) < 1000);
  });

  await t.test('an unlisted key is refused fast and counted', async () => {
    const before = broker.stats().authFailuresFrontend;
    const c = client({ timeout: 10000, curve: { brokerKey: keys.broker.publicKey, keypair: keys.stranger } });
    assert.ok((await elapsed(() => assert.rejects(c.call('echo', 1), isAuthError))) < 3000);
    assert.ok(broker.stats().authFailuresFrontend > before);
  });

  await t.test('a plaintext client on the CURVE endpoint gets no reply', async () => {
    // The client's connection monitor sees the plaintext/CURVE mismatch and rejects with a 401
    // (authenticationFailed); a call sent before it noticed is lost (599), or finds no peer to
    // queue to (503, "send queue is full").
    const requests = broker.stats().requests;
    const plain = client({ timeout: 500 });
    for (let i = 0; i < 3; i++) {
      await assert.rejects(plain.call('echo', 'in clear'), (e) => e instanceof ZssError && [401, 503, 599].includes(e.code));
    }
    assert.equal(broker.stats().requests, requests);
  });

  await t.test('a service its key may not serve stops with authenticationFailed', async () => {
    const other = new Service({
      broker: broker.backendEndpoint,
      sid: 'other',
      heartbeat: 200,
      curve: { brokerKey: keys.broker.publicKey, keypair: keys.service },
    });
    other.addVerb('echo', async (p) => p);
    assert.equal(other.error, null);
    other.run();
    try {
      await until(() => other.error !== null, "the refused service's error");
      assert.ok(isAuthError(other.error), String(other.error));
      assert.equal(broker.stats().workers, 1);
    } finally {
      await other.stop();
    }
  });

  await t.test('wrong option types and malformed keys throw TypeErrors', () => {
    const pub = keys.broker.publicKey;
    const frontend = 'tcp://127.0.0.1:1';
    const badShapes = ['a string', 42, [pub, keys.client], { keypair: keys.client }, { brokerKey: 1, keypair: keys.client },
      { brokerKey: pub }, { brokerKey: pub, keypair: 7 }, { brokerKey: pub, keypair: { secretKey: 1 } },
      { brokerKey: pub, keypair: { publicKey: 2, secretKey: keys.client.secretKey } }];
    for (const curve of badShapes) {
      assert.throws(() => new Client({ broker: frontend, curve }), TypeError, JSON.stringify(curve));
      assert.throws(() => new Service({ broker: frontend, sid: 'x', curve }), TypeError, JSON.stringify(curve));
    }
    const badKeys = [
      { brokerKey: 'short', keypair: keys.client },
      { brokerKey: pub, keypair: 'not a key' },
      { brokerKey: pub, keypair: 'env:ZSS_TEST_NOT_SET' },
      { brokerKey: path.join(dir, 'missing.pub'), keypair: keys.client },
      { brokerKey: pub, keypair: { publicKey: keys.stranger.publicKey, secretKey: keys.client.secretKey } },
    ];
    for (const curve of badKeys) {
      assert.throws(() => new Client({ broker: frontend, curve }), (e) => e instanceof TypeError && /curve/.test(e.message));
      const s = new Service({ broker: frontend, sid: 'x', curve });
      s.addVerb('echo', async (p) => p);
      assert.throws(() => s.run(), (e) => e instanceof TypeError && /curve/.test(e.message));
      assert.equal(s.identity, null);
    }
    const secret = keys.client.secretKey.slice(0, 39);
    assert.throws(
      () => new Client({ broker: frontend, curve: { brokerKey: pub, keypair: secret } }),
      (e) => e instanceof TypeError && !e.message.includes(secret),
    );
    const wild = { frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' };
    assert.throws(() => new Broker({ ...wild, curveSecret: 'not a key' }).run(), /curveSecret/);
    assert.throws(() => new Broker({ ...wild, curveSecret: 42 }).run(), TypeError);
    assert.throws(() => new Broker({ ...wild, curveSecret: keys.broker, allow: path.join(dir, 'missing.txt') }).run(), TypeError);
    assert.throws(() => new Broker({ ...wild, allow }).run(), TypeError); // an allow list needs CURVE
  });
});
