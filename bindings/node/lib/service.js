'use strict';
const { NativeWorker } = require('./native');
const { ZssError, requestedCode, extraFields, fromNative } = require('./errors');
const { curveKeys } = require('./security');
const { errorOf, brokerList } = require('./client');

const defaults = {
  broker: 'tcp://127.0.0.1:5560',
  heartbeat: 1000,
  sid: null,
  // Requests handed to JavaScript and not yet answered, at most; more wait in the worker's
  // queue (and beyond its bound are answered 503). The original had no bound at all.
  concurrency: 1000,
  onError: null,
  // `{ brokerKey, keypair }`: encrypt with CURVE (lib/security.js). Null: plaintext.
  curve: null,
};

// Running services are held here until stopped: a service nobody references must still serve
// (the original's socket kept it alive), and must never be collected mid-run.
const running = new Set();

/**
 * What a handler receives as its second argument, shaped like the original's message: the
 * request's `headers`, `rid`, `identity` (the calling client's socket identity), `address`,
 * `payload`. Set `status` to a 2xx code to answer with it; changes to `headers` are sent back
 * in the reply.
 */
class Message {
  constructor(req) {
    this.protocol = 'ZSS:0.0';
    this.type = 'REQ';
    this.identity = req.client;
    this.rid = req.rid;
    this.address = { sid: req.sid, sversion: '*', verb: req.verb };
    this.headers = req.headers;
    this.payload = req.payload;
    this.status = undefined;
  }

  /** The calling client's identity prefix (the part before `#`). */
  get client() {
    return this.identity.split('#')[0];
  }
}

/**
 * A ZSS service (worker), shaped like `zmq-service-suite-service`: `new Service({broker, sid,
 * heartbeat})`, `addVerb(verb, handler)`, `run()`, `stop()` (a Promise here). `broker` may be
 * an array of backends (or a comma-separated string): the service registers with each one,
 * heartbeats each, and re-registers with each on its own when it comes back.
 *
 * A handler is either the original callback style, `(payload, message, callback)` with
 * `callback(err, payload)`, or a function of `(payload, message)` returning the payload or a
 * Promise of it (an `async` function). A function declaring 3 or more parameters is taken as
 * callback style. Errors (thrown, rejected, or passed to the callback) answer with their
 * `code` when it is an integer 400–599 (a `ZssError`, or any object shaped like the error
 * contract), otherwise 500 with the standard message (the detail goes to `onError`, never to
 * the caller).
 */
class Service {
  #config;
  #routing = new Map();
  #native = null;
  #stopping = null;
  #brokers;

  constructor(config = {}) {
    const c = { ...defaults, ...config };
    if (!c.sid) throw new Error('A sid must be passed!');
    c.sid = String(c.sid).toUpperCase();
    // One backend, an array of them, or a comma-separated string: checked now (TypeError).
    this.#brokers = brokerList(c.broker, 'broker');
    // Checked now (a TypeError for the wrong shape); the keys themselves are read by run().
    c.curveKeys = curveKeys(c.curve);
    this.#config = c;
    this.onError =
      typeof c.onError === 'function'
        ? c.onError
        : (err, message) =>
            console.error(
              `zss service ${c.sid}: handler for ${message ? message.address.verb : '?'} failed:`,
              err,
            );
  }

  get sid() {
    return this.#config.sid;
  }

  /** The brokers' backends (an array). */
  get brokers() {
    return [...this.#brokers];
  }

  /**
   * Replaces the brokers (an array or a comma-separated string). A running service registers
   * with the new ones and disconnects from the ones no longer listed.
   */
  setBrokers(broker) {
    this.#brokers = brokerList(broker, 'broker');
    if (this.#native) this.#native.setBrokers(this.#brokers);
  }

  /**
   * Why the service stopped by itself: the broker refused its CURVE handshake or its
   * registration (a ZssError 401 with `authenticationFailed`). Null otherwise.
   */
  get error() {
    const outcome = this.#native && this.#native.error;
    return outcome ? errorOf(outcome) : null;
  }

  /** The worker's socket identity once running, `<SID>#<uuid>`. */
  get identity() {
    return this.#native ? this.#native.identity : null;
  }

  addVerb(verb, handler) {
    if (typeof handler !== 'function') throw new TypeError('a verb handler must be a function');
    // The core fixes the verb table when the worker starts.
    if (this.#native) throw new Error('verbs must be added before run()');
    this.#routing.set(String(verb).toUpperCase(), handler);
    return this;
  }

  addVerbs(verbs) {
    for (const [verb, handler] of verbs) this.addVerb(verb, handler);
    return this;
  }

  /** Connects, registers with the broker (SMI UP) and serves until `stop()`. */
  run() {
    if (this.#native) return this;
    const c = this.#config;
    try {
      this.#native = new NativeWorker(
        c.sid,
        this.#brokers,
        c.heartbeat,
        c.concurrency,
        [...this.#routing.keys()],
        (req, responder) => this.#dispatch(req, responder),
        c.curveKeys,
      );
    } catch (err) {
      throw fromNative(err);
    }
    running.add(this);
    return this;
  }

  /**
   * Finishes the requests in flight (bounded), unregisters (SMI DOWN) and closes the socket.
   * Resolves when the worker has stopped; the process can then exit by itself. Idempotent.
   */
  stop() {
    if (!this.#native) return Promise.resolve();
    if (!this.#stopping) {
      this.#stopping = this.#native.stop().finally(() => running.delete(this));
    }
    return this.#stopping;
  }

  // Runs on the JS thread for every request (queued by the native worker).
  #dispatch(req, responder) {
    const message = new Message(req);
    const handler = this.#routing.get(String(req.verb).toUpperCase());
    let answered = false;
    const done = (err, payload) => {
      if (answered) {
        this.onError(new Error(`handler answered rid ${message.rid} more than once`), message);
        return;
      }
      answered = true;
      if (err) this.#fail(responder, err, message);
      else this.#reply(responder, payload, message);
    };
    try {
      if (handler.length >= 3) {
        const r = handler(message.payload, message, done);
        // A callback-style handler that is also async: its rejection is its error.
        if (r && typeof r.then === 'function') r.then(undefined, (e) => done(e || new Error(String(e))));
      } else {
        Promise.resolve(handler(message.payload, message)).then(
          (payload) => done(null, payload),
          (e) => done(e || new Error(String(e))),
        );
      }
    } catch (err) {
      done(err || new Error(String(err)));
    }
  }

  #reply(responder, payload, message) {
    try {
      responder.reply(payload === undefined ? null : payload, message.status ?? null, message.headers);
    } catch (err) {
      // Not answered yet: the payload (or headers) cannot be sent. A 500, and the why to the log.
      this.onError(fromNative(err), message);
      responder.fail(500);
    }
  }

  #fail(responder, err, message) {
    const code = requestedCode(err);
    if (code === null) {
      this.onError(err, message);
      responder.fail(500);
      return;
    }
    const user = typeof err.userMessage === 'string' ? err.userMessage : null;
    const developer = typeof err.developerMessage === 'string' ? err.developerMessage : null;
    const extra = err instanceof ZssError || typeof err === 'object' ? extraFields(err) : {};
    try {
      responder.fail(code, user, developer, extra);
    } catch (e) {
      this.onError(fromNative(e), message);
      responder.fail(code, user, developer);
    }
  }
}

module.exports = { Service, Message };
