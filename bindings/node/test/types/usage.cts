// Type-checked by test/types.test.js (tsc --noEmit): the CommonJS view of index.d.ts.
import zss = require('zss');
import { Client, Service, Broker, ZssError, Reply, Message } from 'zss';

async function main(): Promise<void> {
  const broker: Broker = new Broker({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*', smi: { maxTTL: 3000 } }).run();
  const service = new Service({ broker: broker.backendEndpoint, sid: 'pong', heartbeat: 500 });
  service.addVerb('ping', (payload, message: Message, callback) => {
    message.status = 201;
    callback(null, { pong: payload, rid: message.rid, from: message.identity });
  });
  service.addVerb('aping', async (payload: string) => `pong ${payload}`);
  service.addVerb('fail', async () => {
    throw new ZssError(422, { userMessage: 'no', validationErrors: ['name'] });
  });
  service.run();
  const client = new zss.Client({ broker: broker.frontendEndpoint, sid: 'pong', timeout: 500, headers: { a: 1 } });
  const reply: Reply<{ pong: string }> = await client.call<{ pong: string }>('ping', 'x', { timeout: 100, headers: { b: [1, 'c'] } });
  const status: number = reply.status;
  const pong: string = reply.payload.pong;
  try {
    await client.call('fail', { nested: { list: [1, null, true, 2n] } });
  } catch (e) {
    if (e instanceof ZssError) {
      const code: number = e.code;
      const msg: string = e.userMessage + e.developerMessage;
      void [code, msg, e.validationErrors];
    }
  }
  // @ts-expect-error: a verb is a string
  client.call(42, null);
  // @ts-expect-error: functions are not payloads
  client.call('ping', () => 1);
  // @ts-expect-error: sid is required
  new Service({ broker: 'tcp://127.0.0.1:5560' });
  const keys: zss.KeyPair = zss.generateKeypair();
  const curve: zss.CurveOptions = { brokerKey: 'broker.pub', keypair: keys };
  const secure = new Broker({ frontend: 'tcp://127.0.0.1:*', curveSecret: 'env:BROKER_SECRET', allow: 'allow.txt' }).run();
  const refused: number = secure.stats().authFailuresFrontend ?? 0;
  const encrypted = new Client({ broker: secure.frontendEndpoint, curve: { brokerKey: keys.publicKey, keypair: 'client.key' } });
  const secureService = new Service({ sid: 'secure', curve });
  const why: ZssError | null = secureService.error;
  if (why && why.authenticationFailed) void why.developerMessage;
  // @ts-expect-error: the broker's key is required
  new Client({ curve: { keypair: keys } });
  // @ts-expect-error: keys are strings
  new Service({ sid: 'x', curve: { brokerKey: 1, keypair: keys } });
  // @ts-expect-error: a key pair's secret key is required
  new Client({ curve: { brokerKey: 'k', keypair: { publicKey: 'p' } } });
  encrypted.close();
  void [refused];
  const several = new Client({ broker: ['tcp://a:7777', 'tcp://b:7777'], sid: 'pong', heartbeat: 100, lostAfter: 3 });
  const frontends: string[] = several.brokers;
  const beat: number = several.liveness.heartbeat + several.liveness.lostAfter;
  several.setBrokers('tcp://a:7777,tcp://b:7777');
  try {
    await several.call('ping', 1, { retries: 3 });
    await several.call('ping', 1, { idempotent: true, timeout: 100 });
  } catch (e) {
    if (e instanceof ZssError && e.brokerLost) void e.code;
  }
  const both = new Service({ sid: 'pong', broker: ['tcp://a:7776', 'tcp://b:7776'] });
  both.setBrokers(['tcp://b:7776']);
  const backends: string[] = both.brokers;
  void [frontends, beat, backends];
  // @ts-expect-error: retries is a number
  several.call('ping', 1, { retries: '2' });
  // @ts-expect-error: idempotent is a boolean
  several.call('ping', 1, { idempotent: 'yes' });
  // @ts-expect-error: endpoints are strings
  new Client({ broker: [7777] });
  several.close();
  client.close();
  await service.stop();
  await broker.stop();
  void [status, pong, zss.statusMessages(404).userMessage, zss.hasCurve(), zss.version];
}
void main;
export {};
void Client;
