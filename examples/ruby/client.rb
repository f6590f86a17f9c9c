# frozen_string_literal: true

# Calls the PONG service of examples/ruby/service.rb.
#
#   ruby examples/ruby/client.rb [frontend]        (default tcp://127.0.0.1:7777)

require "zss"

frontend = ARGV[0] || "tcp://127.0.0.1:7777"
client = ZSS::Client.new(:pong, frontend: frontend, identity: "example", timeout: 1000)

# A call returns the reply's payload; the verb sugar turns `_` into `/`.
puts "ping          → #{client.ping('hello', headers: { from: 'client.rb' }).inspect}"
puts "ping/pong     → #{client.ping_pong({ n: 1 }).inspect}"
puts "call create   → #{client.call(:create, { name: 'zss' }).inspect}"

# #request also gives the status and headers.
reply = client.request(:ping, "again")
puts "request       → status #{reply.status}, response-time #{reply.headers['response-time']&.round(3)} ms"
created = client.request(:create, { name: "zss" })
puts "request create → status #{created.status}, location #{created.headers['location'].inspect}"

# Error replies raise ZSS::Error with the status and messages.
begin
  client.create({})
rescue ZSS::Error => e
  puts "create {}     → #{e.code} #{e.developer_message} #{e.payload['validationErrors'].inspect}"
end
begin
  client.fail(nil)
rescue ZSS::Error => e
  puts "fail          → #{e.code} #{e.user_message}"
end

# A timeout is a ZSS::TimeoutError (code 599).
begin
  client.sleep(500, timeout: 100)
rescue ZSS::TimeoutError => e
  puts "sleep 500/100 → #{e.code} #{e.developer_message}"
end

# An unknown service gets the broker's 404.
begin
  ZSS::Client.new(:nobody, frontend: frontend).call(:ping, nil)
rescue ZSS::Error => e
  puts "nobody        → #{e.code} #{e.user_message}"
end

# One client serves many threads at once.
replies = Array.new(4) { |i| Thread.new { client.sleep(200 + i) } }.map(&:value)
puts "4 threads     → #{replies.inspect}"
client.close
