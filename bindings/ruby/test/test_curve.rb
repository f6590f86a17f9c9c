# frozen_string_literal: true

require_relative "helper"
require "tmpdir"
require "pathname"

# CURVE from Ruby: an encrypted broker, service and client on real sockets; keys as Z85 text,
# files, "env:VAR" and key pairs; refused keys fail fast; plaintext gets nothing.
class TestCurve < Minitest::Test
  include ZSSTest

  KEYS = %i[broker service client stranger].to_h { |name| [name, ZSS.generate_keypair] }
  DIR = Dir.mktmpdir("zss-ruby-curve-")
  ALLOW = File.join(DIR, "allow.txt")
  File.write(ALLOW, "# who may do what\n#{KEYS[:service].public_key} name=svc serve=SECRET\n" \
                    "#{KEYS[:client].public_key} name=cli call=SECRET\n")
  CURVE_BROKER = ZSS::Broker.new(frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*",
                                 curve_secret: KEYS[:broker], allow: ALLOW)
  Minitest.after_run do
    CURVE_BROKER.stop
    FileUtils.remove_entry(DIR)
  end

  def setup
    skip "this zss links a libzmq without CURVE" unless ZSS.has_curve?
    @service = ZSS::Service.new(:secret, backend: CURVE_BROKER.backend, heartbeat: 200,
                                         curve: { broker_key: KEYS[:broker].public_key, keypair: KEYS[:service] })
    @service.add_route(:echo) { |payload, _headers| { "echo" => payload } }
    @service.add_route(:__ready) { |_payload, _headers| "ready" }
    @service.start
    (@services ||= []) << @service
    wait_until_routed(:secret, frontend: CURVE_BROKER.frontend,
                               curve: { broker_key: KEYS[:broker].public_key, keypair: KEYS[:client] })
  end

  def curve_client(keypair: KEYS[:client], broker_key: KEYS[:broker].public_key, **options)
    c = ZSS::Client.new(:secret, frontend: CURVE_BROKER.frontend, timeout: 5000,
                                 curve: { broker_key: broker_key, keypair: keypair }, **options)
    (@clients ||= []) << c
    c
  end

  def test_generate_keypair_gives_distinct_z85_pairs
    a = ZSS.generate_keypair
    b = ZSS.generate_keypair
    assert_kind_of ZSS::KeyPair, a
    assert_equal [40, 40], [a.public_key.size, a.secret_key.size]
    assert_equal 4, [a.public_key, a.secret_key, b.public_key, b.secret_key].uniq.size
    refute_includes a.inspect, a.secret_key
    assert_includes a.inspect, a.public_key
  end

  def test_encrypted_round_trip
    client = curve_client
    assert_equal({ "echo" => { "n" => [1, 2.5, "three"] } }, client.call(:echo, { "n" => [1, 2.5, "three"] }))
    assert_equal "again", client.echo("again")["echo"]
    assert_equal "PONG", client.management(:ping) # the management socket is encrypted too
  end

  def test_keys_from_files_the_environment_and_a_secret_alone
    broker_pub = File.join(DIR, "broker.pub")
    File.write(broker_pub, "#{KEYS[:broker].public_key}\n")
    ENV["ZSS_TEST_CLIENT_SECRET"] = KEYS[:client].secret_key
    [
      [broker_pub, "env:ZSS_TEST_CLIENT_SECRET"],
      [Pathname.new(broker_pub), KEYS[:client].secret_key],
      [KEYS[:broker].public_key, { "secret_key" => KEYS[:client].secret_key }]
    ].each do |broker_key, keypair|
      assert_equal "x", curve_client(broker_key: broker_key, keypair: keypair).call(:echo, "x")["echo"]
    end
  ensure
    ENV.delete("ZSS_TEST_CLIENT_SECRET")
  end

  def test_wrong_broker_key_fails_fast
    client = curve_client(broker_key: KEYS[:stranger].public_key, timeout: 10_000)
    took = elapsed { assert_raises(ZSS::AuthenticationError) { client.call(:echo, 1) } }
    assert_operator took, :<, 3, "took #{took} s, the call timeout is 10 s"
    error = assert_raises(ZSS::AuthenticationError) { client.call(:echo, 2) }
    assert_equal 401, error.code
  end

  def test_unlisted_key_is_refused_fast
    client = curve_client(keypair: KEYS[:stranger], timeout: 10_000)
    took = elapsed { assert_raises(ZSS::AuthenticationError) { client.call(:echo, 1) } }
    assert_operator took, :<, 3
  end

  def test_plaintext_client_on_a_curve_endpoint_gets_no_reply
    client = ZSS::Client.new(:secret, frontend: CURVE_BROKER.frontend, timeout: 500)
    (@clients ||= []) << client
    # The client's connection monitor sees the plaintext/CURVE mismatch and raises
    # ZSS::AuthenticationError (401); a call sent before it noticed is lost (599), or finds no
    # peer to queue to (503, "send queue is full").
    3.times do
      error = assert_raises(ZSS::Error) { client.call(:echo, "in clear") }
      assert_includes [401, 503, 599], error.code
    end
  end

  def test_service_its_key_may_not_serve_stops_with_authentication_error
    other = ZSS::Service.new(:other, backend: CURVE_BROKER.backend, heartbeat: 200,
                                     curve: { broker_key: KEYS[:broker].public_key, keypair: KEYS[:service] })
    other.add_route(:echo) { |payload, _headers| payload }
    took = elapsed { assert_raises(ZSS::AuthenticationError) { Timeout.timeout(10) { other.run } } }
    assert_operator took, :<, 5
    assert_kind_of ZSS::AuthenticationError, other.error
    refute other.running?
  end

  def test_wrong_types_and_malformed_keys_raise
    pub = KEYS[:broker].public_key
    frontend = "tcp://127.0.0.1:1"
    [
      "a string", 42, [pub, KEYS[:client]], { keypair: KEYS[:client] }, { broker_key: 1, keypair: KEYS[:client] },
      { broker_key: pub }, { broker_key: pub, keypair: 7 }, { broker_key: pub, keypair: { secret_key: 1 } }
    ].each do |curve|
      assert_raises(TypeError, curve.inspect) { ZSS::Client.new(:x, frontend: frontend, curve: curve) }
      assert_raises(TypeError, curve.inspect) { ZSS::Service.new(:x, backend: frontend, curve: curve) }
    end
    assert_raises(ArgumentError) { ZSS::Client.new(:x, frontend: frontend, curve: { broker_key: pub, keypair: KEYS[:client], extra: 1 }) }
    [
      { broker_key: "short", keypair: KEYS[:client] },
      { broker_key: pub, keypair: "not a key" },
      { broker_key: pub, keypair: "env:ZSS_TEST_NOT_SET" },
      { broker_key: File.join(DIR, "missing.pub"), keypair: KEYS[:client] },
      { broker_key: pub, keypair: ZSS::KeyPair.new(KEYS[:stranger].public_key, KEYS[:client].secret_key) }
    ].each do |curve|
      assert_raises(ArgumentError, curve.inspect) { ZSS::Client.new(:x, frontend: frontend, curve: curve) }
      service = ZSS::Service.new(:x, backend: frontend, curve: curve)
      service.add_route(:echo) { |payload, _headers| payload }
      error = assert_raises(ArgumentError) { service.start }
      assert_match(/curve/, error.message)
      refute service.running?
    end
    secret = KEYS[:client].secret_key[0, 39]
    error = assert_raises(ArgumentError) { ZSS::Client.new(:x, frontend: frontend, curve: { broker_key: pub, keypair: secret }) }
    refute_includes error.message, secret

    wild = { frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*" }
    assert_raises(ArgumentError) { ZSS::Broker.new(**wild, curve_secret: "not a key") }
    assert_raises(TypeError) { ZSS::Broker.new(**wild, curve_secret: 42) }
    assert_raises(ArgumentError) { ZSS::Broker.new(**wild, curve_secret: KEYS[:broker], allow: File.join(DIR, "missing.txt")) }
    assert_raises(ArgumentError) { ZSS::Broker.new(**wild, allow: ALLOW) } # an allow list needs CURVE
  end
end
