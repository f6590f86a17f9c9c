# frozen_string_literal: true

require_relative "helper"
require "socket"

# Several brokers: two `zss broker` processes (ZSS_BIN, default target/debug/zss), a service
# registered with both, a client given both. One broker is SIGKILLed with calls in flight:
# plain calls end with a reply or ZSS::BrokerLostError at once (not at their timeout), calls
# with retries all succeed, and later calls all succeed on the survivor.
class TestFailover < Minitest::Test
  ZSS_BIN = ENV.fetch("ZSS_BIN") { File.expand_path("../../../target/debug/zss", __dir__) }

  # A `zss broker` process on free loopback ports, with fast worker liveness.
  class BrokerProc
    attr_reader :frontend, :backend

    def initialize
      raise "#{ZSS_BIN} missing: cargo build -p zss (or set ZSS_BIN)" unless File.executable?(ZSS_BIN)

      @frontend = "tcp://127.0.0.1:#{free_port}"
      @backend = "tcp://127.0.0.1:#{free_port}"
      @pid = Process.spawn(ZSS_BIN, "--log-level", "warn", "broker", "--frontend", @frontend, "--backend", @backend,
                           "--heartbeat", "100", "--max-ttl", "600", "--update-interval", "100", out: File::NULL)
      probe = ZSS::Client.new(:probe, frontend: @frontend, timeout: 200)
      deadline = Time.now + 10
      begin
        probe.management(:ping)
      rescue ZSS::Error
        raise "zss broker on #{@frontend} does not answer" if Time.now > deadline || Process.waitpid(@pid, Process::WNOHANG)

        sleep 0.05
        retry
      ensure
        probe.close
      end
    end

    # Requests this broker forwarded to workers (its SMI STATS).
    def forwarded
      c = ZSS::Client.new(:stats, frontend: @frontend, timeout: 1000)
      c.management(:stats).fetch("broker").fetch("forwarded")
    ensure
      c&.close
    end

    def kill(signal = "KILL")
      return unless @pid

      Process.kill(signal, @pid)
      Process.wait(@pid)
      @pid = nil
    end

    private

    def free_port
      server = TCPServer.new("127.0.0.1", 0)
      server.addr[1]
    ensure
      server&.close
    end
  end

  def setup
    @a = BrokerProc.new
    @b = BrokerProc.new
    @service = ZSS::Service.new(:failover, backend: [@a.backend, @b.backend], heartbeat: 100, threads: 16)
    @service.add_route(:echo) { |payload, _headers| payload }
    @service.add_route(:nap) do |payload, _headers|
      sleep payload
      payload
    end
    @service.start
    [@a, @b].each do |broker| # registered with each: a call through it alone succeeds
      alone = ZSS::Client.new(:failover, frontend: broker.frontend, timeout: 500)
      deadline = Time.now + 10
      begin
        alone.call(:echo, 1)
      rescue ZSS::Error
        raise if Time.now > deadline

        sleep 0.02
        retry
      ensure
        alone.close
      end
    end
  end

  def teardown
    @service&.stop&.join
    @a&.kill("TERM")
    @b&.kill("KILL")
  end

  def test_a_killed_broker_costs_only_its_calls_in_flight
    assert_equal [@a.backend, @b.backend], @service.backends
    before = [@a.forwarded, @b.forwarded]
    client = ZSS::Client.new(:failover, frontend: [@a.frontend, @b.frontend], timeout: 5000, heartbeat: 100, lost_after: 10)
    assert_equal [@a.frontend, @b.frontend], client.frontends
    assert_equal({ heartbeat: 100.0, lost_after: 10 }, client.liveness)
    40.times { |i| assert_equal i, client.call(:echo, i) }
    spread = [@a.forwarded - before[0], @b.forwarded - before[1]]
    assert_equal 40, spread.sum
    assert spread.min.positive?, "calls spread over both brokers: #{spread}"

    # 12 threads calling back to back: 0,1 plain, 2,3 with retries, ... (half of each parity,
    # so both kinds are in flight on each broker); kill b under the load.
    running = true
    outcomes = Queue.new
    threads = Array.new(12) do |i|
      idempotent = i % 4 >= 2
      Thread.new do
        while running
          result = begin
            client.call(:nap, 0.1, idempotent: idempotent)
          rescue ZSS::Error => e
            e
          end
          outcomes << [idempotent, result, Process.clock_gettime(Process::CLOCK_MONOTONIC)]
        end
      end
    end
    sleep 0.5
    killed = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    @b.kill
    sleep 1.0
    settled = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    sleep 0.5
    running = false
    threads.each(&:join)

    results = Array.new(outcomes.size) { outcomes.pop }
    lost = 0
    results.each do |idempotent, result, at|
      next unless result.is_a?(Exception)

      refute idempotent, "a call with retries failed: #{result.inspect}"
      assert_kind_of ZSS::BrokerLostError, result
      assert_equal 503, result.code
      assert (killed...killed + 1.0).cover?(at), "broker lost #{(at - killed).round(3)} s after the kill (timeout 5 s)"
      lost += 1
    end
    assert lost.positive?, "calls were in flight on the killed broker and ended broker-lost (#{results.size} calls)"
    assert results.select { |_, _, at| at > settled }.none? { |_, r, _| r.is_a?(Exception) }, "no failures after the loss"
    20.times { |i| assert_equal i, client.call(:echo, i) }
  ensure
    client&.close
  end

  def test_broker_lists_and_retries_are_checked
    assert_raises(ArgumentError) { ZSS::Client.new(:x, frontend: []) }
    assert_raises(ArgumentError) { ZSS::Client.new(:x, frontend: " , ") }
    error = assert_raises(TypeError) { ZSS::Client.new(:x, frontend: ["tcp://127.0.0.1:1", 2]) }
    assert_match(/frontend must be a String or an Array of Strings/, error.message)
    assert_raises(TypeError) { ZSS::Client.new(:x, frontend: 7777) }
    assert_raises(ArgumentError) { ZSS::Client.new(:x, frontend: "tcp://127.0.0.1:1", lost_after: 0) }
    assert_raises(TypeError) { ZSS::Client.new(:x, frontend: "tcp://127.0.0.1:1", lost_after: "3") }
    assert_raises(ArgumentError) { ZSS::Client.new(:x, frontend: "tcp://127.0.0.1:1", heartbeat: 0) }
    assert_raises(TypeError) { ZSS::Service.new(:x, backend: [nil]) }
    service = ZSS::Service.new(:x, backend: "tcp://127.0.0.1:1, tcp://127.0.0.1:2")
    assert_equal %w[tcp://127.0.0.1:1 tcp://127.0.0.1:2], service.backends
    assert_equal "tcp://127.0.0.1:1,tcp://127.0.0.1:2", service.backend
    service.backends = ["tcp://127.0.0.1:3"]
    assert_equal ["tcp://127.0.0.1:3"], service.backends

    client = ZSS::Client.new(:x, frontend: "tcp://127.0.0.1:1,tcp://127.0.0.1:2", timeout: 50)
    assert_equal %w[tcp://127.0.0.1:1 tcp://127.0.0.1:2], client.frontends
    assert_equal "tcp://127.0.0.1:1,tcp://127.0.0.1:2", client.frontend
    assert_equal({ heartbeat: 1000.0, lost_after: 3 }, client.liveness)
    assert_match(/retries must be an Integer/, assert_raises(TypeError) { client.call(:echo, 1, retries: "2") }.message)
    assert_raises(ArgumentError) { client.call(:echo, 1, retries: -1) }
    assert_match(/idempotent must be true or false/, assert_raises(TypeError) { client.call(:echo, 1, idempotent: "yes") }.message)
    assert_raises(ArgumentError) { client.frontends = [] }
    client.frontends = ["tcp://127.0.0.1:3"]
    assert_equal ["tcp://127.0.0.1:3"], client.frontends
    # Nothing listens: a timeout, not a retry loop.
    assert_raises(ZSS::TimeoutError) { client.call(:echo, 1, idempotent: true) }
  ensure
    client&.close
  end
end
