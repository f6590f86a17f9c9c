# frozen_string_literal: true

require_relative "helper"

class TestClient < Minitest::Test
  include ZSSTest

  def setup
    @seen = Queue.new
    seen = @seen
    @sid = unique_sid("pong")
    start_service(@sid) do |s|
      s.add_route(:echo) { |payload, _headers| payload }
      s.add_route(:headers) { |_payload, headers| headers }
      s.add_route(:nothing) { |_payload, _headers| nil }
      s.add_route("ping/pong") { |payload, _headers| seen << "PING/PONG"; "pong:#{payload}" }
      s.add_route("ping") { |payload, _headers| seen << "PING"; "pong:#{payload}" }
      s.add_route(:slow) { |payload, _headers| sleep payload; "slept" }
    end
    @client = client(@sid, timeout: 2000)
  end

  def test_management_calls
    assert_equal "PONG", @client.management(:ping)
    @client.echo(1)
    services = @client.management("SERVICES")
    assert_equal 1, services[@sid.upcase].size
    stats = @client.management("STATS")
    assert_operator stats["services"][@sid.upcase]["replies"]["2xx"], :>=, 1
    err = assert_raises(ZSS::Error) { @client.management("REBOOT") }
    assert_equal 404, err.code
  end

  def test_round_trip_of_every_payload_type
    payload = {
      "nil" => nil, "true" => true, "false" => false, "int" => 42, "negative" => -7,
      "int32_max" => 2_147_483_647, "float" => 2.5, "string" => "héllo ✓", "empty" => "",
      "array" => [1, "two", [3.0, nil]], "hash" => { "nested" => { "deep" => [true] } }
    }
    assert_equal payload, @client.call(:echo, payload)
    assert_equal "plain", @client.call(:echo, "plain")
    assert_equal 3, @client.call(:echo, 3)
    assert_nil @client.call(:echo, nil)
  end

  def test_symbols_become_strings_and_keys_are_strings
    assert_equal({ "a" => "b", "list" => ["c"] }, @client.call(:echo, { a: :b, list: [:c] }))
  end

  def test_integers_beyond_int32_come_back_as_floats_as_the_wire_dialect_sends_them
    assert_equal 1_099_511_627_776.0, @client.call(:echo, 2**40)
  end

  def test_headers_reach_the_handler_and_the_reply
    headers = @client.call(:headers, nil, headers: { trace: "abc", "n" => 1 })
    assert_equal "abc", headers["trace"]
    assert_equal 1, headers["n"]
    reply = @client.request(:echo, "x", headers: { "k" => "v" })
    assert_equal 200, reply.status
    assert_equal "v", reply.headers["k"]
    assert_kind_of Float, reply.headers["response-time"]
  end

  def test_nil_result_is_a_204_and_call_returns_nil
    reply = @client.request(:nothing, "x")
    assert_equal 204, reply.status
    assert_nil reply.payload
    assert_nil @client.call(:nothing, "x")
  end

  def test_verb_sugar_maps_underscores_to_slashes
    assert_equal "pong:1", @client.ping_pong(1)
    assert_equal "PING/PONG", @seen.pop
    assert_equal "pong:2", @client.ping(2)
    assert_equal "PING", @seen.pop
    assert_equal "pong:3", @client.call("ping/pong", 3)
    assert_equal "pong:4", @client.ping(4, headers: { "a" => "b" }, timeout: 1000)
    assert_equal "pong:5", @client.ping(5, { headers: { "a" => "b" } }) # the old gem's positional options
    assert @client.respond_to?(:ping_pong)
  end

  def test_conversion_hooks_are_not_verbs
    refute @client.respond_to?(:to_ary)
    refute @client.respond_to?(:to_str)
    assert_raises(NoMethodError) { @client.to_hash }
    assert_equal [@client], [[@client]].flatten # flatten probes to_ary: must not call the service
  end

  def test_verbs_are_case_insensitive
    assert_equal "x", @client.call("ECHO", "x")
    assert_equal "x", @client.call("Echo", "x")
  end

  def test_unknown_service_is_the_brokers_404
    error = assert_raises(ZSS::Error) { client(unique_sid("nobody")).call(:echo, 1) }
    assert_equal 404, error.code
    assert_equal "The content you requested was not found.", error.user_message
    assert_equal "The resource could not be found.", error.developer_message
  end

  def test_unknown_verb_is_the_services_404
    error = assert_raises(ZSS::Error) { @client.call(:missing, 1) }
    assert_equal 404, error.code
  end

  def test_timeout_raises_timeout_error_with_code_599
    fast = client(@sid, timeout: 200)
    error = nil
    took = elapsed { error = assert_raises(ZSS::TimeoutError) { fast.call(:slow, 1) } }
    assert_kind_of ZSS::Error, error
    assert_equal 599, error.code
    assert_operator took, :>=, 0.19
    assert_operator took, :<, 0.8, "a 200 ms timeout took #{took} s"
  end

  def test_per_call_timeout_overrides_the_clients
    took = elapsed { assert_raises(ZSS::TimeoutError) { @client.call(:slow, 1, timeout: 150) } }
    assert_operator took, :>=, 0.14
    assert_operator took, :<, 0.8, "a 150 ms timeout took #{took} s"
    assert_equal "slept", @client.call(:slow, 0.05, timeout: 1000)
  end

  def test_unreachable_broker_times_out
    nowhere = ZSS::Client.new(:pong, frontend: "tcp://127.0.0.1:1", timeout: 150)
    assert_raises(ZSS::TimeoutError) { nowhere.ping(1) }
  ensure
    nowhere&.close
  end

  def test_integer_beyond_64_bits_is_a_range_error
    error = assert_raises(RangeError) { @client.call(:echo, { "big" => [2**70] }) }
    assert_match(/payload\["big"\]\[0\]/, error.message)
    assert_raises(RangeError) { @client.call(:echo, 2**64) }
    assert_raises(RangeError) { @client.call(:echo, -2**63 - 1) }
  end

  def test_the_whole_64_bit_range_is_sent_as_float64_beyond_int32
    # Signed and unsigned 64-bit, as the core and the Python binding take them.
    assert_equal [18_446_744_073_709_551_615.0, -9_223_372_036_854_775_808.0, 2_147_483_648.0, 2_147_483_647],
                 @client.call(:echo, [2**64 - 1, -2**63, 2**31, 2**31 - 1])
    assert_kind_of Float, @client.call(:echo, 2**64 - 1)
  end

  def test_unsupported_objects_are_a_type_error_naming_the_place
    error = assert_raises(TypeError) { @client.call(:echo, { "when" => Time.now }) }
    assert_match(/payload\["when"\]: cannot send a Time/, error.message)
    assert_raises(TypeError) { @client.call(:echo, 1, headers: "not a hash") }
  end

  def test_binary_strings_are_sent_as_text_only_when_they_are_utf8
    assert_equal "abc", @client.call(:echo, "abc".b)
    assert_equal "é", @client.call(:echo, "é".b)
    error = assert_raises(EncodingError) { @client.call(:echo, "\xff\xfe".b) }
    assert_match(/no portable binary type/, error.message)
  end

  def test_other_encodings_are_transcoded_to_utf8
    latin1 = "café".encode("ISO-8859-1")
    result = @client.call(:echo, latin1)
    assert_equal "café", result
    assert_equal Encoding::UTF_8, result.encoding
  end

  def test_cyclic_payload_is_refused
    cycle = []
    cycle << cycle
    assert_raises(ArgumentError) { @client.call(:echo, cycle) }
  end

  def test_closed_client_raises_closed_error
    c = client(@sid)
    c.close
    error = assert_raises(ZSS::ClosedError) { c.call(:echo, 1) }
    assert_kind_of ZSS::Error, error
    c.close # idempotent
  end

  def test_old_style_config_hash_and_defaults
    c = ZSS::Client.new(@sid, { frontend: broker.frontend, "timeout" => 1500 })
    assert_equal @sid.upcase, c.sid
    assert_equal 1500, c.timeout
    assert_equal "client", c.identity
    assert_match(/\Aclient#/, c.socket_identity)
    assert_equal "x", c.echo("x")
  ensure
    c&.close
  end

  def test_bad_options_raise_argument_error
    assert_raises(ArgumentError) { ZSS::Client.new("", frontend: broker.frontend) }
    assert_raises(ArgumentError) { ZSS::Client.new(:x, frontend: broker.frontend, timeout: 0) }
    assert_raises(ZSS::SocketError) { ZSS::Client.new(:x, frontend: "nonsense://") }
  end

  def test_concurrent_calls_from_several_threads_on_one_client
    results = Array.new(8) do |t|
      Thread.new { Array.new(25) { |i| @client.call(:echo, { "t" => t, "i" => i }) } }
    end.map(&:value)
    results.each_with_index do |replies, t|
      assert_equal Array.new(25) { |i| { "t" => t, "i" => i } }, replies
    end
  end

  def test_round_trips_under_gc_stress
    payload = { "list" => [1, "two", { "three" => [3.0, nil, true] }], "s" => "x" * 100 }
    GC.stress = true
    begin
      3.times { assert_equal payload, @client.call(:echo, payload) }
    ensure
      GC.stress = false
    end
  end
end
