// Type-checked by test/types.test.js: the ESM view (index.d.mts), default and named imports.
import zss, { Client, Broker, generateKeypair, type Reply, type Handler, type KeyPair, type Brokers } from 'zss';

const handler: Handler = async (payload) => payload;
const broker = new Broker().run();
const client: Client = new zss.Client({ broker: broker.frontendEndpoint });
const pending: Promise<Reply> = client.call('echo', { a: 1 }, { sid: 'echo' });
const keys: KeyPair = generateKeypair();
const secure: Client = new zss.Client({ curve: { brokerKey: keys.publicKey, keypair: keys.secretKey } });
const frontends: Brokers = ['tcp://a:7777', 'tcp://b:7777'];
const several: Promise<Reply> = new zss.Client({ broker: frontends, lostAfter: 2 }).call('echo', 1, { idempotent: true });
void [handler, pending, secure, several];
