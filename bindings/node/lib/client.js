'use strict';
const { NativeClient, smiSid, parseEndpoints, idempotentRetries } = require('./native');
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
 *
 * Several brokers: `broker` is then an array of frontends (or one comma-separated string).
 * Calls go to the broker with the fewest calls in flight among those that are up; one that
 * drops its connection, or leaves its pings (every `heartbeat` ms, default 1000) unanswered
 * for `lostAfter` intervals (default 3), gets no calls until it answers again, and its calls
 * in flight reject at once with a ZssError 503 whose `brokerLost` is true, or, when made with
 * `{ retries }` / `{ idempotent: true }`, are re-sent to another broker.
 */
class Client {
  #native;

  constructor(config = {}) {
    const c = { ...defaults, ...config };
    const brokers = brokerList(c.broker, 'broker');
    const lostAfter = c.lostAfter == null ? null : count('lostAfter', c.lostAfter, 1);
    try {
      this.#native = new NativeClient(
        brokers,
        c.sid == null ? null : String(c.sid),
        c.identity,
        c.timeout,
        c.headers,
        curveKeys(c.curve),
        c.heartbeat == null ? null : c.heartbeat,
        lostAfter,
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

  /** The brokers' frontends (an array, also when given as one comma-separated string). */
  get brokers() {
    return this.#native.brokers;
  }

  /** `{ heartbeat, lostAfter }`: the brokers' ping interval (ms) and silent intervals to loss. */
  get liveness() {
    const [heartbeat, lostAfter] = this.#native.liveness;
    return { heartbeat, lostAfter };
  }

  /**
   * Replaces the brokers (an array or a comma-separated string): new ones are connected; one
   * no longer listed takes no new calls and is closed once its calls in flight are answered.
   */
  setBrokers(broker) {
    const brokers = brokerList(broker, 'broker');
    try {
      this.#native.setBrokers(brokers);
    } catch (err) {
      throw fromNative(err);
    }
  }

  /**
   * Resolves `{payload, headers, status}` for any 2xx reply; rejects with a `ZssError` for
   * any other status (599 when `timeout` ms pass without a reply; 503 with `brokerLost` when
   * its broker was lost with it in flight), with a `TypeError` for a payload or header that
   * cannot be sent.
   *
   * `retries`: how many times the call may be re-sent to another broker when its broker is
   * lost with it in flight (default 0); `idempotent: true` is `retries: 2` (an explicit
   * `retries` wins). Only for calls that are safe to run twice.
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
        retriesOf(options),
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

/**
 * Broker endpoints from a string (one endpoint, or several separated by commas) or an array of
 * strings: a TypeError for anything else, a RangeError when no endpoint is named.
 */
function brokerList(value, name) {
  const items = typeof value === 'string' ? [value] : Array.isArray(value) ? value : null;
  if (items === null) {
    throw new TypeError(`${name} must be a string or an array of strings, got ${typeName(value)}`);
  }
  const bad = items.find((e) => typeof e !== 'string');
  if (bad !== undefined) throw new TypeError(`${name} items must be strings, got ${typeName(bad)}`);
  const list = parseEndpoints(items.join(','));
  if (list.length === 0) throw new RangeError(`${name} names no endpoint`);
  return list;
}

/** The re-sends a call gets from its `retries` / `idempotent` options. */
function retriesOf(options) {
  if (options.idempotent != null && typeof options.idempotent !== 'boolean') {
    throw new TypeError(`idempotent must be a boolean, got ${typeName(options.idempotent)}`);
  }
  if (options.retries == null) return options.idempotent ? idempotentRetries() : 0;
  return count('retries', options.retries, 0);
}

/** An integer option from `min` to 2**32 - 1: a TypeError for a non-number, else a RangeError. */
function count(name, value, min) {
  if (typeof value !== 'number') throw new TypeError(`${name} must be an integer, got ${typeName(value)}`);
  if (!Number.isInteger(value) || value < min || value > 0xffffffff) {
    throw new RangeError(`${name} must be an integer from ${min} to ${0xffffffff}, got ${value}`);
  }
  return value;
}

function typeName(value) {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
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

module.exports = { Client, errorOf, brokerList };
