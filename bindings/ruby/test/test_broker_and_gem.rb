# frozen_string_literal: true

require_relative "helper"

class TestBrokerAndGem < Minitest::Test
  include ZSSTest

  def test_wildcard_endpoints_resolve
    assert_match(%r{\Atcp://127\.0\.0\.1:\d+\z}, broker.frontend)
    refute_equal broker.frontend, broker.backend
    assert broker.running?
  end

  def test_a_second_broker_in_process_serves_and_stops
    other = ZSS::Broker.new(frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*")
    service = ZSS::Service.new(:local, backend: other.backend, heartbeat: 200)
    service.add_route(:echo) { |payload, _h| payload }
    service.start
    c = ZSS::Client.new(:local, frontend: other.frontend, timeout: 500)
    result = nil
    20.times do
      result = c.echo("through the second broker")
      break
    rescue ZSS::Error => e
      raise unless e.code == 404

      sleep 0.05
    end
    assert_equal "through the second broker", result
    service.stop.join
    c.close
    other.stop
    refute other.running?
    other.stop # idempotent
  end

  def test_busy_address_raises_socket_error
    assert_raises(ZSS::SocketError) { ZSS::Broker.new(frontend: broker.frontend, backend: "tcp://127.0.0.1:*") }
  end

  def test_broker_run_returns_on_stop
    other = ZSS::Broker.new(frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*")
    runner = Thread.new { other.run }
    sleep 0.05
    other.stop
    assert runner.join(2)
  end

  def test_the_installed_gem_is_the_one_under_test
    spec = Gem.loaded_specs.fetch("zss")
    assert_equal ZSS::VERSION, spec.version.to_s
    assert $LOADED_FEATURES.any? { |f| f.start_with?(spec.full_gem_path) && f.end_with?("lib/zss.rb") },
           "zss was not loaded from the installed gem #{spec.full_gem_path}"
    assert_equal ZSS::VERSION, ZSS::Native::CORE_VERSION, "gem and core versions drifted"
    refute File.exist?(File.join(spec.full_gem_path, "ext", "zss", "target")), "cargo's target dir left in the gem"
  end

  def test_error_is_compatible_with_the_old_gem
    e = ZSS::Error.new(404)
    assert_equal "The resource could not be found.", e.developer_message
    assert_equal e.developer_message, e.message
    e.developer_message = "Invalid route x!"
    assert_equal "Invalid route x!", e.message
    assert_equal 500, ZSS::Error.new.code
    assert_equal 599, ZSS::TimeoutError.new.code
    assert_equal "custom", ZSS::Error.new(400, "custom").developer_message
  end
end
