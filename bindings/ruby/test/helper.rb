# frozen_string_literal: true

# Shared set-up: one in-process broker on wildcard ports for the whole run, and services
# started per test under unique service ids, so tests never see each other's workers.
# Everything runs on real sockets through the real broker.

require "minitest/autorun"
require "securerandom"
require "timeout"
require "rbconfig"
require "zss"

ZSS.logger.level = Logger::FATAL # handler failures are expected here; keep the output clean

module ZSSTest
  BROKER = ZSS::Broker.new(frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*")
  Minitest.after_run { BROKER.stop }

  def broker
    BROKER
  end

  def unique_sid(prefix = "test")
    "#{prefix}-#{SecureRandom.hex(4)}"
  end

  def client(sid, **options)
    c = ZSS::Client.new(sid, frontend: broker.frontend, **options)
    (@clients ||= []) << c
    c
  end

  # Starts a service for `sid` with the routes the block adds, and waits until the broker
  # routes to it (a worker is reachable only once its SMI UP has been processed).
  def start_service(sid = unique_sid, threads: 1, heartbeat: 200)
    service = ZSS::Service.new(sid, backend: broker.backend, heartbeat: heartbeat, threads: threads)
    service.add_route(:__ready) { |_payload, _headers| "ready" }
    yield service if block_given?
    service.start
    (@services ||= []) << service
    wait_until_routed(sid)
    service
  end

  # `client_options` for the probe (another broker's frontend, CURVE keys).
  def wait_until_routed(sid, within: 5, **client_options)
    probe = ZSS::Client.new(sid, frontend: broker.frontend, timeout: 500, **client_options)
    deadline = Time.now + within
    begin
      probe.call("__ready")
    rescue ZSS::Error => e
      raise if e.code != 404 || Time.now > deadline

      sleep 0.02
      retry
    end
  ensure
    probe&.close
  end

  def teardown
    Array(@clients).each(&:close)
    Array(@services).each { |s| s.stop.join }
    super
  end

  # Runs `script` in a child Ruby with the same gem environment; yields its pid and stdout
  # pipe; returns its exit status. The child is killed if it outlives the block.
  def with_child(script)
    reader, writer = IO.pipe
    pid = Process.spawn(RbConfig.ruby, "-e", script, out: writer, err: File::NULL)
    writer.close
    status = nil
    yield pid, reader
    _, status = Timeout.timeout(10) { Process.wait2(pid) }
    status
  ensure
    if status.nil? && pid
      Process.kill("KILL", pid) rescue nil # rubocop:disable Style/RescueModifier
      Process.wait(pid) rescue nil # rubocop:disable Style/RescueModifier
    end
    reader&.close
  end

  # Seconds `block` took.
  def elapsed
    t = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    yield
    Process.clock_gettime(Process::CLOCK_MONOTONIC) - t
  end
end
