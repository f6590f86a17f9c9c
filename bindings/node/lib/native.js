'use strict';
// The compiled addon, built from source by `npm install` (see package.json "install").
const path = require('node:path');

const file = path.join(__dirname, '..', 'native', 'zss.node');
try {
  module.exports = require(file);
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND') {
    err.message =
      `zss: the native addon ${file} is missing. It is built on install with cargo ` +
      '(Rust >= 1.82, pkg-config and libzmq3-dev); rerun `npm install` in the package or ' +
      '`npm run build` and look at its output.';
  }
  throw err;
}
