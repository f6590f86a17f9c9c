'use strict';
// Tagged JSON for the matrix programs (tests/matrix/README.md, "Tagged JSON").
//
// JavaScript has one number type, so JSON.parse cannot keep 2.0 apart from 2. Reading,
// {"$float": x} becomes the number x and {"$int": "digits"} a number when it is a safe
// integer, else a BigInt (the binding sends BigInts within 64 bits as integers). Printing, a
// number that Number.isSafeInteger prints plain and any other number as {"$float": x}; a BigInt
// prints as {"$int": "digits"}. Everything else is itself; object key order is kept.

function isTag(value, name) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === name;
}

/** Tagged JSON text → JavaScript values. */
function parse(text) {
  return JSON.parse(text, (key, value) => {
    if (isTag(value, '$float')) return Number(value.$float);
    if (isTag(value, '$int')) {
      const n = BigInt(value.$int);
      return Number.isSafeInteger(Number(n)) && BigInt(Number(n)) === n ? Number(n) : n;
    }
    return value;
  });
}

/** A JavaScript value → tagged JSON text (one line). */
function stringify(value) {
  const out = [];
  write(value, out);
  return out.join('');
}

function write(value, out) {
  switch (typeof value) {
    case 'undefined':
      out.push('null');
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'number':
      if (Number.isSafeInteger(value)) out.push(String(value));
      // JSON has no NaN or infinities: JSON.stringify writes null, and so does this.
      else out.push(`{"$float":${JSON.stringify(value)}}`);
      return;
    case 'bigint':
      out.push(`{"$int":"${value.toString()}"}`);
      return;
    case 'object':
      if (value === null) {
        out.push('null');
      } else if (Array.isArray(value)) {
        out.push('[');
        value.forEach((item, i) => {
          if (i) out.push(',');
          write(item, out);
        });
        out.push(']');
      } else if (Buffer.isBuffer(value)) {
        // Binary from old peers; no scenario sends any. Shown, not hidden.
        out.push(JSON.stringify({ $binary: value.toString('base64') }));
      } else {
        out.push('{');
        Object.keys(value).forEach((key, i) => {
          if (i) out.push(',');
          out.push(JSON.stringify(key), ':');
          write(value[key], out);
        });
        out.push('}');
      }
      return;
    default:
      throw new TypeError(`cannot write a ${typeof value} as tagged JSON`);
  }
}

/** The headers whose names start with `x-matrix-`, in their order. */
function matrixHeaders(headers) {
  const out = {};
  for (const [key, value] of Object.entries(headers || {})) {
    if (key.startsWith('x-matrix-')) out[key] = value;
  }
  return out;
}

module.exports = { parse, stringify, matrixHeaders };
