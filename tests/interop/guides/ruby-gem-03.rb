# The Ruby migration guide (bindings/ruby/README.md, "Migrating from the zss 0.3 gem") as a
# test: code in the zss 0.3 gem's style (ZSS::Client.new(sid, config_hash), verb sugar,
# ZSS::Service#add_route with a context object, raise ZSS::Error) on our gem, behind the broker
# guides/run.sh started (the original or ours), also calling the ORIGINAL Node service GUIDE-ORIG.
# `ruby ruby-gem-03.rb <frontend> <backend>`; exits 1 on any failure.
require "zss"

frontend, backend = ARGV
$failed = false
def check(name)
  yield
  puts "guide ruby: ok   #{name}"
rescue StandardError => e
  puts "guide ruby: FAIL #{name}: #{e.class}: #{e.message}"
  $failed = true
end
def eq(a, b) = (a == b) || raise("expected #{b.inspect}, got #{a.inspect}")

class PongRouter
  def ping(payload, headers) = "PONG #{payload}"
  def check(payload) = raise(ZSS::Error.new(422, "name missing", payload: { "validationErrors" => ["name"] }))
  def nothing(_payload) = nil
end

service = ZSS::Service.new(:guide_ruby, backend: backend, heartbeat: 1000)
router = PongRouter.new
service.add_route(router, :ping)
service.add_route(router, :check)
service.add_route(router, :nothing)
service.add_route("get/user") { |payload, headers| { "id" => payload, "trace" => headers["x-trace"] } }
service.start
sleep 1.5

client = ZSS::Client.new(:guide_ruby, { frontend: frontend, timeout: 2000 })
check("verb sugar and payload") { eq client.ping("hi"), "PONG hi" }
check("'_' is '/' in verb sugar, headers reach the handler") do
  eq client.get_user(7, headers: { "x-trace" => "abc" }), { "id" => 7, "trace" => "abc" }
end
check("nil → 204, call returns nil") { eq client.nothing("x"), nil; eq client.request(:nothing, "x").status, 204 }
check("ZSS::Error with extra fields") do
  client.check({})
  raise "no error raised"
rescue ZSS::Error => e
  eq e.code, 422; eq e.message, "name missing"; eq e.payload["validationErrors"], ["name"]
end
check("unknown verb → ZSS::Error 404") do
  client.call(:nope, 1)
  raise "no error raised"
rescue ZSS::Error => e
  eq e.code, 404
end

orig = ZSS::Client.new("guide-orig", frontend: frontend, timeout: 2000)
check("original service: echo") { eq orig.echo({ "a" => [1, "b"] }), { "a" => [1, "b"] } }
check("original service: status 201") { r = orig.request(:status, { "status" => 201, "payload" => "made" }); eq [r.status, r.payload], [201, "made"] }
check("original service: error with extra fields") do
  orig.fail({ "code" => 422, "validationErrors" => ["name"] })
  raise "no error raised"
rescue ZSS::Error => e
  eq e.code, 422; eq e.payload["validationErrors"], ["name"]
end
check("original service: handler exception → 500") do
  orig.crash("x")
  raise "no error raised"
rescue ZSS::Error => e
  eq e.code, 500
end
check("timeout → ZSS::TimeoutError (599)") do
  orig.sleep(1500, timeout: 200)
  raise "no error raised"
rescue ZSS::TimeoutError => e
  eq e.code, 599
end

client.close
orig.close
service.stop
service.join
exit($failed ? 1 : 0)
