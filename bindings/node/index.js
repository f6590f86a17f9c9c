'use strict';
// zss: ZSS (ZeroMQ Service Suite) client, service and broker on a Rust core.
const native = require('./lib/native');
const { Client } = require('./lib/client');
const { Service, Message } = require('./lib/service');
const { Broker } = require('./lib/broker');
const { ZssError } = require('./lib/errors');
const { generateKeypair } = require('./lib/security');

/** `{userMessage, developerMessage}` of a standard status code. */
function statusMessages(code) {
  const [userMessage, developerMessage] = native.statusMessages(code);
  return { userMessage, developerMessage };
}

module.exports = {
  Client,
  Service,
  Broker,
  Message,
  ZssError,
  statusMessages,
  hasCurve: native.hasCurve,
  generateKeypair,
  version: require('./package.json').version,
  coreVersion: native.coreVersion(),
};
