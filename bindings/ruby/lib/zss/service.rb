# frozen_string_literal: true

require "logger"

module ZSS
  # Serves one service id through a broker's backend, with the zss 0.3 gem's shape:
  #
  #   service = ZSS::Service.new(:pong, backend: "tcp://127.0.0.1:7776", heartbeat: 1000)
  #   service.add_route(handlers, :ping)                    # handlers.ping(payload, headers)
  #   service.add_route(handlers, "ping/pong", :ping_pong)  # verb PING/PONG → handlers.ping_pong
  #   service.add_route(:echo) { |payload, headers| payload }
  #   service.run   # blocks until SIGINT/SIGTERM or #stop
  #
  # A handler gets the payload and the request headers (a Hash with String keys) and returns
  # the reply's payload: 200, or 204 when it returns nil; or a ZSS::Response to choose the
  # (2xx) status and set reply headers. Raising ZSS::Error answers with its
  # code, messages and extra payload fields; any other StandardError answers 500 with the
  # standard message (the error itself goes to ZSS.logger, never to the caller).
  #
  # The Rust core does the socket work (registration, heartbeats, reconnecting) on its own
  # threads; handlers run on `threads` Ruby threads (default 1, as the old gem ran one handler
  # at a time), which hold the GVL only while Ruby code runs.
  class Service
    attr_reader :sid, :heartbeat, :threads

    # `config` (the old gem's positional Hash) and keywords: `backend` (one endpoint, or several
    # brokers: an Array or a comma-separated String; the service registers with each one,
    # heartbeats each, and re-registers with each on its own when it comes back), `heartbeat` (ms,
    # default 1000), `threads` (handler threads, default 1), `curve` (`{ broker_key:,
    # keypair: }`: encrypt with CURVE, as ZSS::Client). A service the broker refuses (wrong
    # keys, or its key may not serve the sid) stops by itself: #error says why, #run raises it.
    def initialize(sid, config = {}, **options)
      options = ZSS.options(config, options)
      @sid = sid.to_s.upcase
      raise Error.new(500, "a service needs a sid") if @sid.empty?

      @heartbeat = Integer(options[:heartbeat] || 1000)
      @backends = ZSS.endpoints(options[:backend] || Configuration.default.backend, "backend")
      @threads = Integer(options[:threads] || 1)
      raise ArgumentError, "heartbeat and threads must be positive" unless @heartbeat.positive? && @threads.positive?

      @curve = Security.curve_args(options[:curve])

      @routes = {}
      @native = nil
      @workers = []
    end

    # add_route(context, route, handler = route): verb `route` (case-insensitive) calls
    # `context.send(handler, payload, headers)` (or `(payload)` for a one-argument method).
    # add_route(route) { |payload, headers| ... }: the block handles the verb.
    def add_route(context, route = nil, handler = nil, &block)
      if block
        raise ArgumentError, "add_route(route) { |payload, headers| ... } takes only the route" if route || handler

        @routes[context.to_s.upcase] = block
        return self
      end
      raise ArgumentError, "invalid route: #{route.inspect}" if route.nil? || route.to_s.empty?

      handler ||= route.to_sym
      raise ArgumentError, "invalid handler: #{context.inspect} does not respond to #{handler}" unless context.respond_to?(handler)

      # As the old gem's router: a one-argument handler gets only the payload.
      @routes[route.to_s.upcase] =
        case context.method(handler).arity
        when 0 then ->(_payload, _headers) { context.send(handler) }
        when 1 then ->(payload, _headers) { context.send(handler, payload) }
        else ->(payload, headers) { context.send(handler, payload, headers) }
        end
      self
    end

    def routes
      @routes.keys
    end

    # The brokers' backends, comma-separated.
    def backend
      @backends.join(",")
    end

    # The brokers' backends (an Array).
    def backends
      @backends.dup
    end

    # Replaces the brokers (an Array or a comma-separated String). A running service registers
    # with the new ones and disconnects from the ones no longer listed.
    def backends=(value)
      @backends = ZSS.endpoints(value, "backend")
      @native&.set_brokers(@backends)
    end

    # Registers with the broker and starts the handler threads; returns at once.
    def start
      raise Error.new(500, "service #{sid} is already running") if running?
      raise ArgumentError, "service #{sid} has no routes" if @routes.empty?

      native = Native::Worker.new(sid, @backends, heartbeat, threads, @routes.keys, @curve)
      @native = native
      @workers = Array.new(threads) { |i| Thread.new { serve(native) }.tap { |t| t.name = "zss #{sid} #{i}" } }
      ZSS.logger.info("service #{sid} (#{native.identity}) serving via #{backend}")
      self
    end

    # Starts, then blocks until SIGINT/SIGTERM or #stop (from a handler or another thread).
    # The handlers in flight finish, then the service unregisters (SMI DOWN). Previous signal
    # handlers are restored on return.
    #
    # Raises ZSS::AuthenticationError when the broker refused the service.
    def run
      start unless running?
      previous = %w[INT TERM].to_h { |sig| [sig, Signal.trap(sig) { stop }] }
      join
      raise error if error

      self
    ensure
      previous&.each { |sig, handler| Signal.trap(sig, handler || "DEFAULT") }
    end

    # Asks the service to stop and returns at once; safe from a handler and a trap handler.
    def stop
      @native&.stop
      self
    end

    # Waits until the service has stopped and its handler threads have finished.
    def join
      native = @native
      return self unless native

      native.wait(nil)
      @workers.each(&:join)
      self
    end

    def running?
      !@native.nil? && !@native.stopped?
    end

    # Why the service stopped by itself: a ZSS::AuthenticationError when the broker refused
    # its CURVE handshake or its registration; nil otherwise.
    def error
      @native&.error
    end

    # The socket identity, "<SID>#<uuid>", while running.
    def identity
      @native&.identity
    end

    # Counters of the running service: requests, replies, handler_errors, not_found, ...
    def stats
      @native&.stats || {}
    end

    private

    def serve(native)
      while (job = native.next_request(nil))
        responder, verb, payload, headers, _info = job
        handle(responder, verb, payload, headers)
      end
    end

    def handle(responder, verb, payload, headers)
      handler = @routes.fetch(verb.upcase) do
        error = Error[404]
        error.developer_message = "Invalid route #{verb}!"
        raise error
      end
      result = handler.call(payload, headers)
      if result.is_a?(Response)
        responder.reply(result.payload, result.status, result.headers)
      else
        responder.reply(result, nil, nil)
      end
    rescue Error => e
      ZSS.logger.info("#{sid} #{verb}: #{e.code} #{e.developer_message}")
      responder.fail(e.code, e.user_message, e.developer_message, e.extra_fields) unless responder.answered?
    rescue StandardError => e
      # Includes a result that cannot be sent (TypeError, RangeError, EncodingError).
      ZSS.logger.error("#{sid} #{verb}: #{e.class}: #{e.message}\n  #{Array(e.backtrace).first(10).join("\n  ")}")
      unless responder.answered?
        internal = Error[500]
        responder.fail(500, internal.user_message, internal.developer_message, nil)
      end
    end
  end
end
