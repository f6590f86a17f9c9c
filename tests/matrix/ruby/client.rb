# frozen_string_literal: true

# The matrix client in Ruby: `client.rb <frontend-endpoint> <scenarios-file> <SID>...`
# (tests/matrix/README.md). Prints one JSON line per call.

require "zss"
require_relative "tagged"
require_relative "curve_env"

if ARGV.size < 3
  warn "usage: client.rb <frontend-endpoint> <scenarios-file> <SID>..."
  exit 2
end
frontend, path, *sids = ARGV
scenarios = JSON.parse(File.read(path, encoding: "UTF-8"))
$stdout.sync = true

# A ZSS::Client calls one sid; one per sid called, created on first use.
clients = Hash.new { |h, sid| h[sid] = ZSS::Client.new(sid, frontend: frontend, curve: CurveEnv.curve) }

def run(client, scenario)
  headers = scenario["headers"] ? Tagged.decode(scenario["headers"]) : {}
  reply = client.request(scenario["verb"], Tagged.decode(scenario["payload"]),
                         headers: headers, timeout: scenario["timeout_ms"])
  matrix = reply.headers.select { |name, _| name.start_with?("x-matrix-") }
  { "status" => reply.status, "payload" => Tagged.encode(reply.payload), "headers" => Tagged.encode(matrix) }
rescue ZSS::ClosedError, ZSS::SocketError => e # ZSS::Errors raised locally, not replies
  { "status" => nil, "client_error" => "#{e.class}: #{e.message}" }
rescue ZSS::Error => e # any non-2xx reply, 599 (ZSS::TimeoutError) included
  { "status" => e.code, "error" => Tagged.encode(e.payload) }
rescue StandardError => e
  { "status" => nil, "client_error" => "#{e.class}: #{e.message}" }
end

sids.each do |sid|
  scenarios.each do |scenario|
    record = { "service" => sid, "id" => scenario["id"] }
    line =
      begin
        JSON.generate(record.merge(run(clients[scenario["sid"] || sid], scenario)), allow_nan: true, ascii_only: true)
      rescue StandardError => e # a reply with no tagged JSON form
        JSON.generate(record.merge("status" => nil, "client_error" => "#{e.class}: #{e.message}"))
      end
    puts line
  end
end
clients.each_value(&:close)
