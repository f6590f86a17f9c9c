# frozen_string_literal: true

# A PONG service in the zss 0.3 gem's style, served by the Rust core.
#
#   ruby examples/ruby/service.rb [backend]        (default tcp://127.0.0.1:7776)
#
# Needs a broker: `zss broker`, the Node broker, or `ruby examples/ruby/service.rb --broker`
# to run one in this process (frontend 7777, backend 7776). Stop with Ctrl-C.

require "zss"

# Handlers as the old gem wrote them: methods on a context object.
class PongHandlers
  # verb PING: the payload back, with the caller's headers available.
  def ping(payload, headers)
    ZSS.logger.info("PING from #{headers['from'] || 'someone'}")
    "PONG #{payload}"
  end

  # verb PING/PONG: a one-argument handler gets only the payload.
  def ping_pong(payload)
    { "echo" => payload, "at" => Time.now.to_f }
  end

  # verb CREATE: 201 with a reply header, or a validation error with extra fields (422).
  def create(payload, _headers)
    unless payload.is_a?(Hash) && payload["name"]
      raise ZSS::Error.new(422, "name is required", payload: { "validationErrors" => ["name"] })
    end

    ZSS::Response.new({ "id" => 1, "name" => payload["name"] }, status: 201, headers: { "location" => "/items/1" })
  end
end

broker = nil
if ARGV.delete("--broker")
  broker = ZSS::Broker.new(frontend: "tcp://127.0.0.1:7777", backend: "tcp://127.0.0.1:7776")
  puts "broker: clients on #{broker.frontend}, services on #{broker.backend}"
end
backend = ARGV[0] || "tcp://127.0.0.1:7776"

ZSS.logger.level = Logger::INFO
service = ZSS::Service.new(:pong, backend: backend, heartbeat: 1000, threads: 4)
handlers = PongHandlers.new
service.add_route(handlers, :ping)
service.add_route(handlers, "ping/pong", :ping_pong)
service.add_route(handlers, :create)
# The block form.
service.add_route(:sleep) do |payload, _headers|
  sleep(payload.to_f / 1000) # ms
  "slept #{payload} ms"
end
service.add_route(:fail) { |_payload, _headers| raise "a bug in a handler: the caller gets a 500" }

puts "service PONG on #{backend} (Ctrl-C to stop)"
service.run # blocks until SIGINT/SIGTERM; unregisters from the broker before returning
broker&.stop
puts "stopped"
