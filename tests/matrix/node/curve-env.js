'use strict';
// The matrix's --curve run (tests/matrix/README.md): CURVE keys from the environment, as the
// `zss` program reads them: ZSS_BROKER_KEY (the broker's public key) and ZSS_KEY (this
// program's secret key), each a key file. Null when unset: plaintext.
module.exports = function curve() {
  const brokerKey = process.env.ZSS_BROKER_KEY;
  return brokerKey == null ? null : { brokerKey, keypair: process.env.ZSS_KEY };
};
