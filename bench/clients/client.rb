# Ruby client overhead: synchronous calls for SECONDS, per-call latency as JSON.
# Usage: ruby client.rb FRONTEND SID SECONDS  (scripts/bench.sh runs it, with the test GEM_HOME).
require "json"
require "zss"

frontend, sid, seconds = ARGV[0], ARGV[1], Float(ARGV[2])
client = ZSS::Client.new(sid, frontend: frontend, timeout: 10_000)
200.times { client.call(:echo, "x") } # warm-up
samples = []
clock = -> { Process.clock_gettime(Process::CLOCK_MONOTONIC, :nanosecond) }
start = clock.call
while clock.call - start < seconds * 1e9
  t = clock.call
  client.call(:echo, "x")
  samples << (clock.call - t) / 1000.0
end
total = (clock.call - start) / 1e9
client.close
samples.sort!
pick = ->(p) { samples[((samples.size - 1) * p).round] }
puts JSON.generate(client: "ruby", latency: {
  rps: samples.size / total, p50_us: pick.(0.5), p99_us: pick.(0.99), p999_us: pick.(0.999) })
