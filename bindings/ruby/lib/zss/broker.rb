# frozen_string_literal: true

module ZSS
  # The core's broker, in-process: binds at once and serves on a background thread.
  #
  #   broker = ZSS::Broker.new(frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*")
  #   broker.frontend   # => "tcp://127.0.0.1:41235" (wildcard ports resolved)
  #   broker.stop
  #
  # `max_ttl` (ms, default 2000) is how long a silent worker stays registered. `curve_secret`
  # (a secret key or a ZSS::KeyPair) serves CURVE on both sockets; `allow` (the path of an
  # allow list: one public key a line, optional name=, call=, serve=) then accepts only those keys.
  class Broker
    def initialize(frontend: "tcp://0.0.0.0:7777", backend: "tcp://0.0.0.0:7776", max_ttl: nil,
                   curve_secret: nil, allow: nil)
      @native = Native::Broker.new(frontend, backend, max_ttl && Integer(max_ttl),
                                   curve_secret && Security.secret(curve_secret, "curve_secret"),
                                   allow && Security.key(allow, "allow", "a file path"))
      @stopped = Thread::Queue.new
    end

    # The endpoints actually bound.
    def frontend
      @native.frontend
    end

    def backend
      @native.backend
    end

    def running?
      @native.running?
    end

    # Stops serving and closes the sockets. Idempotent; safe from a trap handler.
    def stop
      @native.stop
      @stopped.close
      self
    end

    # Blocks until SIGINT/SIGTERM or #stop; previous signal handlers are restored on return.
    def run
      previous = %w[INT TERM].to_h { |sig| [sig, Signal.trap(sig) { stop }] }
      @stopped.pop
      self
    ensure
      previous&.each { |sig, handler| Signal.trap(sig, handler || "DEFAULT") }
    end
  end
end
