# frozen_string_literal: true

# The matrix service in Ruby: `service.rb <backend-endpoint> <SID>` (tests/matrix/README.md).
# A thin harness over the zss gem's public API; serves until SIGTERM/SIGINT, then stops
# cleanly (exit 0).

require "zss"
require_relative "tagged"
require_relative "curve_env"

if ARGV.size != 2
  warn "usage: service.rb <backend-endpoint> <SID>"
  exit 2
end
backend, sid = ARGV

# Handler threads: `sleep` must not hold up other requests (the default is one thread).
service = ZSS::Service.new(sid, backend: backend, threads: 16, curve: CurveEnv.curve)

service.add_route(:echo) { |payload, _headers| payload }

service.add_route(:inspect) { |payload, _headers| Tagged.dump(payload) }

service.add_route(:status) do |payload, _headers|
  ZSS::Response.new(payload["payload"], status: payload["status"])
end

# code n; userMessage/developerMessage when given (ZSS::Error reads them from the payload,
# standard texts otherwise); every other field travels as an extra field.
service.add_route(:fail) { |payload, _headers| raise ZSS::Error.new(payload["code"], payload: payload) }

service.add_route(:crash) { |payload, _headers| raise "crash requested: #{payload}" }

service.add_route(:sleep) do |payload, _headers|
  sleep(payload / 1000.0)
  "awake"
end

service.add_route(:headers) do |payload, headers|
  matrix = headers.select { |name, _| name.start_with?("x-matrix-") }
  ZSS::Response.new(matrix, headers: { "x-matrix-reply" => payload })
end

service.run # until SIGTERM/SIGINT: handlers in flight finish, then SMI DOWN
