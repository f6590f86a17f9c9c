// Line-oriented oracle around the real msgpack-js@0.3.0, driven by core/tests/msgpack_js.rs.
// Each input line is a JSON request, each output line the JSON answer:
//   {"op":"decode","hex":"a4706f6e67"}   -> {"ok":true,"value":<tagged>} | {"ok":false,"error":"..."}
//   {"op":"encode","value":<tagged>}     -> {"ok":true,"hex":"..."}      | {"ok":false,"error":"..."}
// "Tagged" JSON carries what plain JSON cannot: {"$undefined":true}, {"$buffer":"<hex>"},
// {"$number":"NaN"|"Infinity"|"-Infinity"}; everything else is plain JSON.
"use strict";
const msgpack = require("msgpack-js");
const readline = require("readline");

function fromTagged(v) {
  if (Array.isArray(v)) return v.map(fromTagged);
  if (v !== null && typeof v === "object") {
    if (v.$undefined) return undefined;
    if (typeof v.$buffer === "string") return Buffer.from(v.$buffer, "hex");
    if (typeof v.$number === "string") return Number(v.$number);
    const out = {};
    for (const k of Object.keys(v)) out[k] = fromTagged(v[k]);
    return out;
  }
  return v;
}

function toTagged(v) {
  if (v === undefined) return { $undefined: true };
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { $buffer: Buffer.from(v).toString("hex") };
  if (typeof v === "number" && !Number.isFinite(v)) return { $number: String(v) };
  if (Array.isArray(v)) return v.map(toTagged);
  if (v !== null && typeof v === "object") {
    const out = {};
    for (const k of Object.keys(v)) out[k] = toTagged(v[k]);
    return out;
  }
  return v;
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  let answer;
  try {
    const req = JSON.parse(line);
    if (req.op === "decode") {
      answer = { ok: true, value: toTagged(msgpack.decode(Buffer.from(req.hex, "hex"))) };
    } else if (req.op === "encode") {
      answer = { ok: true, hex: Buffer.from(msgpack.encode(fromTagged(req.value))).toString("hex") };
    } else {
      answer = { ok: false, error: "unknown op " + req.op };
    }
  } catch (e) {
    answer = { ok: false, error: String(e && e.message || e) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
