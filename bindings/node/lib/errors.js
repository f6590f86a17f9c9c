'use strict';
const native = require('./native');

// Fields of the error contract; everything else on an error payload is an "extra" field.
const RESERVED = new Set(['code', 'errorCode', 'userMessage', 'developerMessage']);
// Own properties of an Error object that are JavaScript's, not the payload's.
const JS_ONLY = new Set(['name', 'message', 'stack', 'cause']);

/**
 * A ZSS error reply: any non-2xx status a call ends with (599 for a client-side timeout), and
 * what a service handler throws (or passes to its callback) to answer with a chosen status.
 * Carries `code` (also as `errorCode`, the broker's spelling), `userMessage`,
 * `developerMessage`, and the error payload's extra fields (e.g. `validationErrors`).
 */
class ZssError extends Error {
  constructor(code, fields = {}) {
    code = Number(code);
    if (!Number.isInteger(code)) code = 500;
    const [user, developer] = native.statusMessages(code);
    const userMessage = typeof fields.userMessage === 'string' ? fields.userMessage : user;
    const developerMessage =
      typeof fields.developerMessage === 'string' ? fields.developerMessage : developer;
    super(`${code} ${userMessage}: ${developerMessage}`);
    for (const [k, v] of Object.entries(fields)) {
      if (!RESERVED.has(k) && !JS_ONLY.has(k)) this[k] = v;
    }
    this.code = code;
    this.errorCode = code;
    this.userMessage = userMessage;
    this.developerMessage = developerMessage;
  }

  /** The error payload as sent on the wire (standard fields, then extras). */
  toJSON() {
    const out = {
      code: this.code,
      userMessage: this.userMessage,
      developerMessage: this.developerMessage,
      errorCode: this.code,
    };
    return Object.assign(out, extraFields(this));
  }
}

/** Own enumerable fields that are neither the contract's nor JavaScript's. */
function extraFields(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    if (!RESERVED.has(k) && !JS_ONLY.has(k)) out[k] = v;
  }
  return out;
}

/**
 * The status a handler's error asks for, or null for "a generic failure" (→ 500). Duck-typed
 * like the original service: any object with an integer `code` (or `errorCode`) in 400–599.
 */
function requestedCode(err) {
  if (err === null || typeof err !== 'object') return null;
  const code = Number(err.code !== undefined ? err.code : err.errorCode);
  return Number.isInteger(code) && code >= 400 && code < 600 ? code : null;
}

/** Errors thrown by the addon: argument errors become TypeErrors. */
function fromNative(err) {
  if (err && err.code === 'InvalidArg') {
    return new TypeError(err.message);
  }
  if (err && err.code === 'GenericFailure') {
    return new ZssError(500, { developerMessage: err.message });
  }
  return err;
}

// On the prototype: not an own field, so `{...err}` is exactly the payload's fields.
ZssError.prototype.name = 'ZssError';

module.exports = { ZssError, requestedCode, extraFields, fromNative };
