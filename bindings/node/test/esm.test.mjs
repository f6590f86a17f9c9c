import test from 'node:test';
import assert from 'node:assert/strict';
import zss, { Client, Service, Broker, ZssError, statusMessages } from 'zss';

test('ESM import exposes the same classes as require', async () => {
  assert.equal(zss.Client, Client);
  assert.equal(typeof Service, 'function');
  assert.equal(statusMessages(404).userMessage, 'The content you requested was not found.');
  const broker = new Broker({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' }).run();
  const service = new Service({ broker: broker.backendEndpoint, sid: 'esm' });
  service.addVerb('hi', async (name) => `hi ${name}`);
  service.run();
  const client = new Client({ broker: broker.frontendEndpoint, sid: 'esm' });
  while (broker.stats().workers < 1) await new Promise((r) => setTimeout(r, 20));
  assert.equal((await client.call('hi', 'esm')).payload, 'hi esm');
  await assert.rejects(client.call('nope', null), ZssError);
  client.close();
  await service.stop();
  await broker.stop();
});
