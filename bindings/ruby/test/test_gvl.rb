# frozen_string_literal: true

require_relative "helper"

# The GVL is released while a call waits: other Ruby threads run, and the wait is
# interruptible like any blocking Ruby method.
class TestGVL < Minitest::Test
  include ZSSTest

  # Counts in a busy loop (no sleeping, no I/O): it advances only while it can get the GVL.
  def count_while
    count = 0
    running = true
    counter = Thread.new { count += 1 while running }
    yield
    running = false
    counter.join
    count
  end

  def test_another_thread_progresses_during_a_slow_call
    sid = unique_sid
    start_service(sid) { |s| s.add_route(:slow) { |payload, _h| sleep payload; "done" } }
    c = client(sid, timeout: 5000)
    baseline = count_while { sleep 0.3 }
    during = count_while { assert_equal "done", c.slow(0.3) }
    # Held for the whole call, the GVL would leave the counter at (nearly) zero.
    assert_operator during, :>, baseline / 10, "counter: #{during} during the call vs #{baseline} while sleeping"
  end

  def test_another_thread_progresses_while_a_call_times_out
    # (An unknown sid gets the broker's 404 at once, so wait on a service that answers late.)
    sid = unique_sid
    start_service(sid) { |s| s.add_route(:hang) { |_p, _h| sleep 2; "late" } }
    c = client(sid, timeout: 300)
    baseline = count_while { sleep 0.3 }
    during = count_while { assert_raises(ZSS::TimeoutError) { c.hang(nil) } }
    assert_operator during, :>, baseline / 10
  end

  def test_timeout_timeout_interrupts_a_waiting_call
    sid = unique_sid
    start_service(sid) { |s| s.add_route(:hang) { |_p, _h| sleep 1; "late" } }
    c = client(sid, timeout: 10_000)
    took = elapsed { assert_raises(Timeout::Error) { Timeout.timeout(0.2) { c.hang(nil) } } }
    assert_operator took, :<, 0.6, "the interrupt took #{took} s"
    # The client is still usable afterwards.
    assert_equal "ready", c.call("__ready")
  end

  def test_thread_kill_interrupts_a_waiting_call
    sid = unique_sid
    start_service(sid) { |s| s.add_route(:hang) { |_p, _h| sleep 1; "late" } }
    c = client(sid, timeout: 10_000)
    caller_thread = Thread.new { c.hang(nil) }
    sleep 0.1
    took = elapsed { caller_thread.kill.join(2) }
    refute caller_thread.alive?
    assert_operator took, :<, 0.5
  end

  def test_ctrl_c_interrupts_a_call_on_the_main_thread
    # In a child process: the main thread waits on a call, every other Ruby thread is parked
    # in a wait too (the service's handler thread), and SIGINT must still raise Interrupt.
    script = <<~RUBY
      require "zss"
      broker = ZSS::Broker.new(frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*")
      service = ZSS::Service.new(:hang, backend: broker.backend, heartbeat: 200, threads: 2)
      service.add_route(:hang) { |_p, _h| sleep 30 }
      service.add_route(:ready) { |_p, _h| "ready" }
      service.start
      client = ZSS::Client.new(:hang, frontend: broker.frontend, timeout: 30_000)
      begin
        client.ready(nil)
      rescue ZSS::Error
        sleep 0.05
        retry
      end
      $stdout.puts "calling"
      $stdout.flush
      begin
        client.hang(nil)
        puts "returned"
      rescue Interrupt
        puts "interrupted"
      end
      $stdout.flush
      exit!(0) # the hanging handler would hold up a graceful stop
    RUBY
    output = nil
    took = nil
    status = with_child(script) do |pid, out|
      assert_equal "calling\n", Timeout.timeout(10) { out.gets }
      sleep 0.1
      took = elapsed do
        Process.kill("INT", pid)
        output = Timeout.timeout(10) { out.read }
      end
    end
    assert_predicate status, :success?
    assert_equal "interrupted\n", output
    assert_operator took, :<, 1.0
  end

  def test_handler_threads_and_caller_threads_share_the_process
    # A handler that itself calls another service (through the same broker), while the
    # calling thread waits: needs the GVL released on both waits.
    inner = unique_sid
    start_service(inner) { |s| s.add_route(:add) { |payload, _h| payload + 1 } }
    outer = unique_sid
    inner_client = client(inner)
    start_service(outer) { |s| s.add_route(:twice) { |payload, _h| inner_client.add(inner_client.add(payload)) } }
    assert_equal 3, client(outer).twice(1)
  end
end
