'use strict';
// CURVE: key pairs and the `curve` option of Client and Service (checked here, parsed by the
// Rust core: a key is the 40-character Z85 text, a key file or "env:VAR").
const native = require('./native');

/** A fresh CURVE key pair as Z85 text: `{ publicKey, secretKey }`. Keep `secretKey` private. */
function generateKeypair() {
  const { publicKey, secretKey } = native.generateKeypair();
  return { publicKey, secretKey };
}

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function keySpec(value, what, kind = 'a Z85 key, a key file or "env:VAR"') {
  if (typeof value === 'string') return value;
  throw new TypeError(`${what} must be a string (${kind}), not ${describe(value)}`);
}

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * The `curve` option, `{ brokerKey, keypair }` (keypair: `{ publicKey, secretKey }` as from
 * generateKeypair(), or a secret key alone), → what the addon takes; null for plaintext.
 */
function curveKeys(curve) {
  if (curve == null) return null;
  if (!isObject(curve)) throw new TypeError(`curve must be an object { brokerKey, keypair }, not ${describe(curve)}`);
  const brokerKey = keySpec(curve.brokerKey, 'curve.brokerKey');
  const { keypair } = curve;
  if (!isObject(keypair)) return { brokerKey, secretKey: keySpec(keypair, 'curve.keypair') };
  const keys = { brokerKey, secretKey: keySpec(keypair.secretKey, 'curve.keypair.secretKey') };
  // Absent, not null: the addon's optional field takes undefined only.
  if (keypair.publicKey != null) keys.publicKey = keySpec(keypair.publicKey, 'curve.keypair.publicKey');
  return keys;
}

/** A broker's `curveSecret`: a secret key, or a key pair's. */
function secretKey(value, what) {
  return keySpec(isObject(value) ? value.secretKey : value, what);
}

module.exports = { generateKeypair, curveKeys, secretKey, keySpec };
