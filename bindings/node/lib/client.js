'use strict';
const { NativeClient, smiSid } = require('./native');
const { ZssError, fromNative } = require('./errors');
const { curveKeys } = require('./security');

const defaults = {
  broker: 'tcp://127.0.0.1:7777',
  identity: 'client',
  timeout: 1000,
  headers: {},
};

/**
 * A ZSS client, shaped like `zmq-service-suite-client`: `new Client({broker, sid, identity,
 * timeout, headers})`, `client.call(verb, payload, {timeout, headers, sid})`.
 *
 * Unlike the original (one DEALER socket per call), a client owns ONE socket and one native
 * I/O thread; any number of calls can be in flight on it, matched by request id. Call
 * `close()` when done with it.
 *
 * `curve: { brokerKey, keypair }` encrypts with CURVE (see lib/security.js); a broker that
 * refuses the handshake makes calls reject with a ZssError 401 (`authenticationFailed`)
 * within about a second.
 */
class Client {
  #native;

  constructor(config = {}) {
    const c = { ...defaults, ...config };
    try {
      this.#native = new NativeClient(
        c.broker,
        c.sid == null ? null : String(c.sid),
        c.identity,
        c.timeout,
        c.headers,
        curveKeys(c.curve),
      );
    } catch (err) {
      throw fromNative(err);
    }
    this.config = c;
  }

  /** The socket identity, `<identity>#<uuid>`. */
  get identity() {
    return this.#native.identity;
  }

  /**
   * Resolves `{payload, headers, status}` for any 2xx reply; rejects with a `ZssError` for
   * any other status (599 when `timeout` ms pass without a reply), with a `TypeError` for a
   * payload or header that cannot be sent.
   */
  call(verb, payload, options = {}) {
    let pending;
    try {
      pending = this.#native.call(
        verb,
        payload,
        options.sid == null ? null : String(options.sid),
        options.headers == null ? null : options.headers,
        options.timeout == null ? null : options.timeout,
      );
    } catch (err) {
      return Promise.reject(fromNative(err));
    }
    return pending.then(settle);
  }

  /**
   * Calls the broker's management interface and resolves the reply's payload: `verb` is
   * `PING`, `INFO`, `SERVICES` (each service with its live workers) or `STATS` (broker totals
   * and per-service requests, replies by status class, errors, in flight, latency p50/p99 ms).
   * Rejects with a `ZssError` 404 for an unknown verb or a broker without the interface.
   */
  async management(verb, options = {}) {
    const reply = await this.call(verb, null, { ...options, sid: smiSid() });
    return reply.payload;
  }

  /** Closes the socket; calls still in flight reject (code 500, "closed"). Idempotent. */
  close() {
    this.#native.close();
  }
}

function settle(outcome) {
  if (outcome.ok) {
    return { payload: outcome.payload, headers: outcome.headers, status: outcome.status };
  }
  throw errorOf(outcome);
}

/** The error of a failed outcome record (a call's, or a worker's `error`). */
function errorOf(outcome) {
  if (outcome.kind === 'service') {
    // The payload's extra fields (e.g. validationErrors) ride on the error.
    const payload = outcome.payload && typeof outcome.payload === 'object' ? outcome.payload : {};
    return new ZssError(outcome.code, {
      ...payload,
      userMessage: outcome.userMessage,
      developerMessage: outcome.developerMessage,
    });
  }
  if (outcome.kind === 'invalid') return new TypeError(outcome.message);
  // The broker refused our CURVE key (or registration): code 401, authenticationFailed set.
  if (outcome.kind === 'auth') {
    return new ZssError(outcome.code, { developerMessage: outcome.message, authenticationFailed: true });
  }
  // The call's broker was lost with it in flight: code 503, brokerLost set.
  if (outcome.kind === 'brokerLost') {
    return new ZssError(outcome.code, { developerMessage: outcome.message, brokerLost: true });
  }
  return new ZssError(outcome.code, { developerMessage: outcome.message });
}

module.exports = { Client, errorOf };
