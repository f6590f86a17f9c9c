# frozen_string_literal: true

require_relative "helper"
require "stringio"

class TestService < Minitest::Test
  include ZSSTest

  # Handlers in the old gem's style: a context object and method names.
  class Handlers
    attr_reader :calls

    def initialize
      @calls = Queue.new
    end

    def greet(payload, headers)
      @calls << headers
      "hello #{payload["name"]}"
    end

    def upcase(payload)
      payload.upcase
    end

    def ping_pong(payload, _headers)
      "pong #{payload}"
    end
  end

  def test_add_route_with_a_context_object
    handlers = Handlers.new
    sid = unique_sid
    start_service(sid) do |s|
      s.add_route(handlers, :greet)
      s.add_route(handlers, :upcase)
      s.add_route(handlers, "ping/pong", :ping_pong)
    end
    c = client(sid)
    assert_equal "hello ann", c.greet({ name: "ann" }, headers: { "h" => 1 })
    assert_equal 1, handlers.calls.pop["h"]
    assert_equal "ABC", c.upcase("abc")
    assert_equal "pong 1", c.ping_pong(1)
  end

  def test_add_route_refuses_what_it_cannot_call
    s = ZSS::Service.new(:x, backend: broker.backend)
    assert_raises(ArgumentError) { s.add_route(Handlers.new, :missing) }
    assert_raises(ArgumentError) { s.add_route(Handlers.new, nil) }
    assert_raises(ArgumentError) { s.start } # no routes
  end

  def test_zss_error_sets_the_status_messages_and_extra_fields
    sid = unique_sid
    start_service(sid) do |s|
      s.add_route(:validate) do |_payload, _headers|
        raise ZSS::Error.new(422, "name is missing", payload: { "validationErrors" => ["name"] })
      end
      s.add_route(:forbidden) { |_p, _h| raise ZSS::Error[403] }
    end
    c = client(sid)
    error = assert_raises(ZSS::Error) { c.validate({}) }
    assert_equal 422, error.code
    assert_equal "name is missing", error.developer_message
    assert_equal "The request could not be processed.", error.user_message
    assert_equal ["name"], error.payload["validationErrors"]
    assert_equal 422, error.payload["errorCode"]
    assert_equal 422, error.payload["code"]

    error = assert_raises(ZSS::Error) { c.forbidden(nil) }
    assert_equal 403, error.code
    assert_equal "You do not have access to this resource.", error.user_message
  end

  def test_other_exceptions_give_a_generic_500
    sid = unique_sid
    start_service(sid) do |s|
      s.add_route(:boom) { |_p, _h| raise "secret database password in this message" }
      s.add_route(:unsendable) { |_p, _h| Object.new }
    end
    c = client(sid)
    error = assert_raises(ZSS::Error) { c.boom(1) }
    assert_equal 500, error.code
    refute_match(/secret/, error.developer_message)
    assert_equal "There was an error while processing this request.", error.user_message
    assert_equal 500, assert_raises(ZSS::Error) { c.unsendable(1) }.code
    # The service survives its handlers' failures.
    assert_equal "ready", c.call("__ready")
  end

  def test_a_response_sets_the_status_and_reply_headers
    sid = unique_sid
    start_service(sid) do |s|
      s.add_route(:create) do |payload, _h|
        ZSS::Response.new({ "id" => payload }, status: 201, headers: { "location" => "/items/#{payload}", n: [1, 2.5] })
      end
      s.add_route(:seen) do |payload, headers|
        ZSS::Response.new(payload, headers: { "x-seen" => headers["x-seen"], "x-replaced" => "by service" })
      end
    end
    c = client(sid)
    reply = c.request(:create, 7)
    assert_equal [201, { "id" => 7 }], [reply.status, reply.payload]
    assert_equal "/items/7", reply.headers["location"]
    assert_equal [1, 2.5], reply.headers["n"] # a Symbol key arrives as a String
    assert_kind_of Float, reply.headers["response-time"]
    assert_equal({ "id" => 7 }, c.create(7)) # `call` gives the payload of any 2xx

    # No status: 200, or 204 for nil; a reply header replaces the request header it echoes.
    reply = c.request(:seen, "p", headers: { "x-seen" => 1, "x-replaced" => "by client" })
    assert_equal [200, "p", 1, "by service"],
                 [reply.status, reply.payload, reply.headers["x-seen"], reply.headers["x-replaced"]]
    assert_equal [204, nil], c.request(:seen, nil).to_a.values_at(0, 2)
  end

  def test_response_arguments
    r = ZSS::Response.new([1], status: 202, headers: { "k" => "v" })
    assert_equal [[1], 202, { "k" => "v" }], [r.payload, r.status, r.headers]
    empty = ZSS::Response.new
    assert_equal [nil, nil, {}], [empty.payload, empty.status, empty.headers]
    mine = { "k" => 1 }
    copied = ZSS::Response.new(nil, headers: mine)
    mine["k"] = 2
    assert_equal({ "k" => 1 }, copied.headers)
    assert_match(/2xx/, assert_raises(ArgumentError) { ZSS::Response.new("x", status: 404) }.message)
    assert_raises(ArgumentError) { ZSS::Response.new("x", status: "201") }
    assert_raises(ArgumentError) { ZSS::Response.new("x", status: 200.0) }
    assert_raises(TypeError) { ZSS::Response.new("x", headers: [%w[k v]]) }
  end

  def test_a_response_that_cannot_be_sent_answers_500_and_is_logged
    sid = unique_sid
    start_service(sid) do |s|
      s.add_route(:badheader) { |_p, _h| ZSS::Response.new("ok", headers: { "when" => Object.new }) }
      s.add_route(:badstatus) { |_p, _h| ZSS::Response.new("x", status: 500) }
    end
    c = client(sid)
    log = StringIO.new
    previous = ZSS.logger
    ZSS.logger = Logger.new(log)
    assert_equal 500, assert_raises(ZSS::Error) { c.badheader(nil) }.code
    assert_equal 500, assert_raises(ZSS::Error) { c.badstatus(nil) }.code
    assert_match(/headers\["when"\]: cannot send a Object/, log.string)
    assert_match(/must be a 2xx/, log.string)
    assert_equal "ready", c.call("__ready")
  ensure
    ZSS.logger = previous if previous
  end

  def test_handler_threads_run_requests_concurrently
    sid = unique_sid
    start_service(sid, threads: 4) { |s| s.add_route(:nap) { |payload, _h| sleep payload; "ok" } }
    c = client(sid, timeout: 5000)
    took = elapsed { Array.new(4) { Thread.new { c.nap(0.4) } }.each { |t| assert_equal "ok", t.value } }
    assert_operator took, :<, 1.2, "4 naps of 0.4 s on 4 handler threads took #{took} s"
  end

  def test_one_handler_thread_by_default_serves_in_order
    sid = unique_sid
    start_service(sid) { |s| s.add_route(:nap) { |payload, _h| sleep payload; "ok" } }
    c = client(sid, timeout: 5000)
    took = elapsed { Array.new(3) { Thread.new { c.nap(0.2) } }.each(&:join) }
    assert_operator took, :>=, 0.55
  end

  def test_stop_from_inside_a_handler
    sid = unique_sid
    service = nil
    service = start_service(sid) { |s| s.add_route(:quit) { |_p, _h| service.stop; "bye" } }
    assert_equal "bye", client(sid).quit(nil)
    Timeout.timeout(5) { service.join }
    refute service.running?
  end

  def test_run_blocks_until_stop_from_another_thread
    sid = unique_sid
    service = ZSS::Service.new(sid, backend: broker.backend, heartbeat: 200)
    service.add_route(:__ready) { |_p, _h| "ready" }
    runner = Thread.new { service.run }
    wait_until_routed(sid)
    assert runner.alive?
    service.stop
    assert runner.join(5), "run did not return after stop"
    # Stopped services unregister (SMI DOWN): the broker no longer routes to them.
    assert_equal 404, assert_raises(ZSS::Error) { client(sid).call("__ready") }.code
  end

  def test_requests_are_not_delayed_while_run_waits
    # Regression: the thread in `run` and the handler threads once shared one condvar, and a
    # request's wake-up could go to the wrong one: every call then took a whole wait slice.
    sid = unique_sid
    service = ZSS::Service.new(sid, backend: broker.backend, heartbeat: 200)
    service.add_route(:__ready) { |_p, _h| "ready" }
    runner = Thread.new { service.run }
    wait_until_routed(sid)
    c = client(sid)
    took = elapsed { 20.times { c.call("__ready") } }
    assert_operator took, :<, 0.8, "20 sequential calls took #{took} s"
  ensure
    service&.stop
    runner&.join(5)
  end

  def test_sigterm_stops_a_running_service_process
    sid = unique_sid
    script = <<~RUBY
      require "zss"
      service = ZSS::Service.new(#{sid.dump}, backend: #{broker.backend.dump}, heartbeat: 200)
      service.add_route(:__ready) { |_p, _h| "ready" }
      service.run
      puts "stopped cleanly"
    RUBY
    output = nil
    status = with_child(script) do |pid, out|
      wait_until_routed(sid, within: 10)
      Process.kill("TERM", pid)
      output = Timeout.timeout(10) { out.read }
    end
    assert_predicate status, :success?
    assert_equal "stopped cleanly\n", output
    assert_equal 404, assert_raises(ZSS::Error) { client(sid).call("__ready") }.code
  end

  def test_requests_carry_their_headers_and_stats_count_them
    sid = unique_sid
    service = start_service(sid) { |s| s.add_route(:h) { |_p, headers| headers["x"] } }
    assert_equal "y", client(sid).h(nil, headers: { x: "y" })
    assert_operator service.stats["requests"], :>=, 2
    assert_match(/\A#{sid.upcase}#/, service.identity)
  end
end
