'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { ZssError, Client } = require('..');
const { startStack } = require('./helpers');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('calls against a real broker and service', async (t) => {
  const seen = [];
  const stack = await startStack({
    // The original callback style.
    echo: (payload, message, callback) => {
      seen.push(message);
      callback(null, payload);
    },
    // async function returning the payload.
    aecho: async (payload) => {
      await sleep(1);
      return payload;
    },
    nothing: async () => undefined,
    created: (payload, message, callback) => {
      message.status = 201;
      callback(null, { id: 7 });
    },
    badstatus: async (payload, message) => {
      message.status = 302;
      return 'x';
    },
    validate: async () => {
      throw new ZssError(422, { userMessage: 'Name is missing.', validationErrors: ['name'] });
    },
    plainerror: (payload, message, callback) => {
      callback({ code: 404, userMessage: 'No such user.', developerMessage: 'user 9 not found', id: 9 });
    },
    throws: () => {
      throw new Error('secret detail');
    },
    throwscb: (payload, message, callback) => {
      throw new Error('thrown before the callback');
    },
    rejects: async () => {
      throw new Error('async secret');
    },
    cberror: (payload, message, callback) => callback(new Error('generic')),
    slow: async (payload) => {
      await sleep(payload);
      return 'done';
    },
    headers: async (payload, message) => {
      message.headers['x-reply'] = 'yes';
      return { headers: message.headers, rid: message.rid, identity: message.identity, client: message.client, address: message.address };
    },
    unsendable: async () => Buffer.from('bytes'),
  });
  t.after(() => stack.stop());
  const { client } = stack;

  await t.test('round trip keeps every JSON-like type', async () => {
    const payload = {
      s: 'héllo ✓',
      i: 42,
      neg: -7,
      big: 2 ** 40,
      f: 1.5,
      t: true,
      n: null,
      list: [1, 'two', [3], { four: 4 }],
      empty: {},
    };
    for (const verb of ['echo', 'aecho']) {
      const reply = await client.call(verb, payload);
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.payload, payload);
      assert.equal(typeof reply.headers['response-time'], 'number');
    }
    assert.equal((await client.call('echo', 'just a string')).payload, 'just a string');
    assert.equal((await client.call('echo', 3.25)).payload, 3.25);
    assert.equal((await client.call('echo', 10n)).payload, 10);
    assert.deepEqual((await client.call('echo', [])).payload, []);
  });

  await t.test('a null or undefined result is a 204', async () => {
    const reply = await client.call('nothing', { a: 1 });
    assert.equal(reply.status, 204);
    assert.equal(reply.payload, null);
    assert.equal((await client.call('echo', null)).status, 204);
  });

  await t.test('a handler sets a custom 2xx status', async () => {
    const reply = await client.call('created', null);
    assert.equal(reply.status, 201);
    assert.deepEqual(reply.payload, { id: 7 });
  });

  await t.test('a non-2xx success status becomes 500', async () => {
    await assert.rejects(client.call('badstatus', null), (e) => e.code === 500);
  });

  await t.test('error contract: code, messages and extra fields', async () => {
    const err = await client.call('validate', {}).then(
      () => assert.fail('should reject'),
      (e) => e,
    );
    assert.ok(err instanceof Error);
    assert.ok(err instanceof ZssError);
    assert.equal(err.code, 422);
    assert.equal(err.errorCode, 422);
    assert.equal(err.userMessage, 'Name is missing.');
    assert.equal(err.developerMessage, 'The request was well-formed but could not be processed due to semantic errors.');
    assert.deepEqual(err.validationErrors, ['name']);

    const plain = await client.call('plainerror', {}).catch((e) => e);
    assert.equal(plain.code, 404);
    assert.equal(plain.userMessage, 'No such user.');
    assert.equal(plain.developerMessage, 'user 9 not found');
    assert.equal(plain.id, 9);
  });

  await t.test('a handler that throws or rejects answers 500 without leaking the detail', async () => {
    for (const verb of ['throws', 'throwscb', 'rejects', 'cberror']) {
      const err = await client.call(verb, null).catch((e) => e);
      assert.equal(err.code, 500, verb);
      assert.equal(err.userMessage, 'There was an error while processing this request.');
      assert.ok(!JSON.stringify(err).includes('secret'), verb);
    }
    // ...and the detail went to the service's onError.
    assert.ok(stack.errors.some((e) => e.message === 'secret detail'));
    assert.ok(stack.errors.some((e) => e.message === 'async secret'));
  });

  await t.test('a reply payload that cannot be sent answers 500', async () => {
    await assert.rejects(client.call('unsendable', null), (e) => e.code === 500);
    assert.ok(stack.errors.some((e) => e instanceof TypeError && /binary/.test(e.message)));
  });

  await t.test('timeout rejects with 599', async () => {
    const started = Date.now();
    const err = await client.call('slow', 1000, { timeout: 150 }).catch((e) => e);
    assert.equal(err.code, 599);
    assert.equal(err.userMessage, 'Connection timeout while processing this request.');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 140 && elapsed < 900, `timed out after ${elapsed} ms`);
  });

  await t.test('an unknown verb is 404, an unknown service is the broker 404', async () => {
    await assert.rejects(client.call('nope', null), (e) => e.code === 404);
    await assert.rejects(client.call('echo', null, { sid: 'nobody' }), (e) => e.code === 404);
  });

  await t.test('headers, rid and client identity reach the handler; reply headers come back', async () => {
    const c = new Client({ broker: stack.broker.frontendEndpoint, sid: 'test', identity: 'tester', headers: { tenant: 'a' } });
    try {
      const reply = await c.call('headers', null, { headers: { token: 't1' } });
      const p = reply.payload;
      assert.equal(p.headers.tenant, 'a');
      assert.equal(p.headers.token, 't1');
      assert.match(p.rid, /^[0-9a-f-]{36}$/);
      assert.equal(p.identity, c.identity);
      assert.match(c.identity, /^tester#/);
      assert.equal(p.client, 'tester');
      assert.equal(p.address.sid, 'TEST');
      assert.equal(p.address.verb, 'HEADERS');
      assert.equal(reply.headers['x-reply'], 'yes');
      assert.equal(reply.headers.token, 't1');
    } finally {
      c.close();
    }
  });

  await t.test('unsendable arguments reject with a TypeError', async () => {
    await assert.rejects(client.call('echo', Buffer.from('x')), (e) => e instanceof TypeError && /payload: binary/.test(e.message));
    await assert.rejects(client.call('echo', { a: [1, new Uint8Array(2)] }), (e) => e instanceof TypeError && /payload\.a\[1\]/.test(e.message));
    await assert.rejects(client.call('echo', { f() {} }), TypeError);
    await assert.rejects(client.call('echo', new Date()), TypeError);
    await assert.rejects(client.call('echo', 2n ** 70n), TypeError);
    const cyclic = {};
    cyclic.self = cyclic;
    await assert.rejects(client.call('echo', cyclic), /nested deeper/);
    await assert.rejects(client.call('echo', 1, { timeout: -1 }), TypeError);
    await assert.rejects(client.call('', 1), TypeError);
  });

  await t.test('1,000 concurrent calls on one client', async () => {
    const n = 1000;
    const replies = await Promise.all(Array.from({ length: n }, (_, i) => client.call('aecho', { i })));
    assert.equal(replies.length, n);
    replies.forEach((r, i) => assert.equal(r.payload.i, i));
  });

  await t.test('slow async handlers overlap (the service does not serialize them)', async () => {
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 50 }, () => client.call('slow', 300)));
    const elapsed = Date.now() - started;
    assert.ok(replies.every((r) => r.payload === 'done'));
    assert.ok(elapsed < 1500, `50 x 300 ms handlers took ${elapsed} ms`);
  });

  await t.test('the event loop keeps ticking during a slow call', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    try {
      const reply = await client.call('slow', 400);
      assert.equal(reply.payload, 'done');
    } finally {
      clearInterval(timer);
    }
    assert.ok(ticks >= 20, `only ${ticks} ticks of 10 ms during a 400 ms call`);
  });

  await t.test('handlers were called with the message object', async () => {
    assert.ok(seen.length > 0);
    assert.equal(seen[0].type, 'REQ');
    assert.equal(seen[0].protocol, 'ZSS:0.0');
  });
});

test('a closed client rejects calls in flight and new calls', async (t) => {
  const stack = await startStack({ slow: async () => { await sleep(500); return 1; } }, { sid: 'closing' });
  t.after(() => stack.stop());
  const c = new Client({ broker: stack.broker.frontendEndpoint, sid: 'closing' });
  const inFlight = c.call('slow', null);
  await sleep(50);
  c.close();
  await assert.rejects(inFlight, (e) => e.code === 500 && /closed/.test(e.developerMessage));
  await assert.rejects(c.call('slow', null), (e) => e.code === 500);
  c.close(); // idempotent
});

test('a call with no broker listening times out (599)', async () => {
  const c = new Client({ broker: 'tcp://127.0.0.1:1', sid: 'x', timeout: 100 });
  try {
    await assert.rejects(c.call('ping', null), (e) => e.code === 599);
  } finally {
    c.close();
  }
});

test('the broker management interface', async (t) => {
  const stack = await startStack({ echo: async (p) => p }, { sid: 'managed' });
  t.after(() => stack.stop());
  assert.equal(await stack.client.management('PING'), 'PONG');
  await stack.client.call('echo', 1);
  const services = await stack.client.management('SERVICES');
  assert.equal(services.MANAGED.length, 1);
  const stats = await stack.client.management('STATS');
  assert.ok(stats.services.MANAGED.replies['2xx'] >= 1);
  assert.equal(stats.broker.workers, 1);
  await assert.rejects(stack.client.management('REBOOT'), (e) => e instanceof ZssError && e.code === 404);
});
