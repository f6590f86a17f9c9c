'use strict';
const { NativeBroker } = require('./native');
const { fromNative } = require('./errors');
const { secretKey, keySpec } = require('./security');

const defaults = {
  frontend: 'tcp://127.0.0.1:5560',
  backend: 'tcp://127.0.0.1:5559',
  smi: { heartbeat: 1000, maxTTL: 1500, updateInterval: 100 },
};

/**
 * An in-process broker, shaped like `zmq-service-suite-broker`'s library: `new Broker({frontend,
 * backend, smi: {heartbeat, maxTTL, updateInterval}})`, `run()`, `stop()` (a Promise here).
 * The sockets are served by a native thread. Endpoints may use a wildcard port
 * (`tcp://127.0.0.1:*`); `frontendEndpoint`/`backendEndpoint` give the bound ones after `run()`.
 * `curveSecret` (a secret key, or a key pair) serves CURVE on both sockets; `allow` (the path of
 * an allow list) then accepts only the keys it lists.
 */
class Broker {
  #config;
  #native = null;
  #stopping = null;
  #keepAlive = null;

  constructor(config = {}) {
    this.#config = { ...defaults, ...config, smi: { ...defaults.smi, ...(config.smi || {}) } };
  }

  /** Binds both sockets (throws for a bad or busy address) and serves. */
  run() {
    if (this.#native) return this;
    const c = this.#config;
    try {
      this.#native = new NativeBroker(
        c.frontend,
        c.backend,
        c.smi.heartbeat,
        c.smi.maxTTL,
        c.smi.updateInterval,
        c.curveSecret == null ? null : secretKey(c.curveSecret, 'curveSecret'),
        c.allow == null ? null : keySpec(c.allow, 'allow', 'an allow list file'),
      );
    } catch (err) {
      throw fromNative(err);
    }
    // The broker serves on a native thread, which libuv does not see: like the original's
    // sockets, a running broker keeps the process alive until stop(). The timer never fires.
    this.#keepAlive = setInterval(() => {}, 0x7fffffff);
    return this;
  }

  get frontendEndpoint() {
    return this.#native ? this.#native.frontend : this.#config.frontend;
  }

  get backendEndpoint() {
    return this.#native ? this.#native.backend : this.#config.backend;
  }

  /** Counters (requests, replies, notFound, workers, inFlight, ...). */
  stats() {
    return this.#native ? this.#native.stats() : {};
  }

  /** Stops serving and closes the sockets. Idempotent. */
  stop() {
    if (!this.#native) return Promise.resolve();
    if (!this.#stopping) {
      this.#stopping = this.#native.stop().finally(() => clearInterval(this.#keepAlive));
    }
    return this.#stopping;
  }
}

module.exports = { Broker };
