// Node client overhead: calls awaited one at a time for SECONDS, per-call latency as JSON.
// Usage: node client.js FRONTEND SID SECONDS  (scripts/bench.sh runs it).
'use strict';
const { Client } = require('../../bindings/node');

async function main() {
  const [frontend, sid, seconds] = [process.argv[2], process.argv[3], Number(process.argv[4])];
  const client = new Client({ broker: frontend, sid, timeout: 10000 });
  for (let i = 0; i < 200; i++) await client.call('echo', 'x'); // warm-up
  const samples = [];
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() - start < budget) {
    const t = process.hrtime.bigint();
    await client.call('echo', 'x');
    samples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  const total = Number(process.hrtime.bigint() - start) / 1e9;
  client.close();
  samples.sort((a, b) => a - b);
  const pick = (p) => samples[Math.round((samples.length - 1) * p)];
  console.log(JSON.stringify({ client: 'node', latency: {
    rps: samples.length / total, p50_us: pick(0.5), p99_us: pick(0.99), p999_us: pick(0.999) } }));
}

main().catch((err) => { console.error(err); process.exit(1); });
