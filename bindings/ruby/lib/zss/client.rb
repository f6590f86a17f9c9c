# frozen_string_literal: true

module ZSS
  # A successful reply with its status and headers (see Client#request).
  Reply = Struct.new(:status, :headers, :payload)

  # Calls one service through a broker, with the zss 0.3 gem's shape:
  #
  #   client = ZSS::Client.new(:pong, frontend: "tcp://127.0.0.1:7777", timeout: 1000)
  #   client.call(:ping, "payload", headers: { "trace" => "1" }, timeout: 500)  # → payload
  #   client.ping("payload")          # verb PING
  #   client.ping_pong("payload")     # verb PING/PONG (an underscore stands for "/")
  #
  # One socket per client, shared by every thread: calls from several threads run
  # concurrently, and a waiting call holds no GVL. Any 2xx reply is a success; anything else
  # raises ZSS::Error (ZSS::TimeoutError, code 599, when no reply came in time).
  class Client
    attr_reader :sid, :frontend, :identity, :timeout

    # `config` (the old gem's positional Hash) and keywords: `frontend`, `identity` (the
    # socket identity's prefix: "<identity>#<uuid>"), `timeout` (ms, default 1000), `curve`
    # (`{ broker_key:, keypair: }`: encrypt with CURVE; see ZSS::Security). A broker that
    # refuses the handshake makes calls raise ZSS::AuthenticationError within about a second.
    def initialize(sid, config = {}, **options)
      options = ZSS.options(config, options)
      @sid = sid.to_s.upcase
      raise ArgumentError, "sid must not be empty" if @sid.empty?

      @frontend = options[:frontend] || Configuration.default.frontend
      @identity = options[:identity] || "client"
      @timeout = options[:timeout] || 1000
      @curve = Security.curve_args(options[:curve])
      @native = Native::Client.new(@frontend, @sid, @identity.to_s, Float(@timeout), @curve)
    end

    # Calls `verb` and returns the reply's payload (nil for a 204). `timeout` is in ms.
    def call(verb, payload = nil, headers: {}, timeout: nil)
      request(verb, payload, headers: headers, timeout: timeout).payload
    end

    # Like #call, but returns a ZSS::Reply with the status (200, 201, 204...) and headers.
    def request(verb, payload = nil, headers: {}, timeout: nil)
      status, reply_headers, reply_payload =
        @native.call(verb.to_s.upcase, payload, headers, timeout && Float(timeout))
      Reply.new(status, reply_headers, reply_payload)
    end

    # The socket's full identity, "<identity>#<uuid>".
    def socket_identity
      @native.identity
    end

    # Asks the broker what it is doing and returns the reply's payload: verb "PING", "INFO",
    # "SERVICES" (each service with its live workers) or "STATS" (broker totals and, per
    # service, requests, replies by status class, errors, in flight, latency p50/p99 in ms).
    # Raises ZSS::Error 404 for an unknown verb or a broker without the interface.
    def management(verb, timeout: nil)
      @management ||= Native::Client.new(@frontend, Native::SMI_SID, @identity.to_s, Float(@timeout), @curve)
      _status, _headers, payload = @management.call(verb.to_s.upcase, nil, {}, timeout && Float(timeout))
      payload
    end

    # Closes the socket; calls still waiting raise ZSS::ClosedError. Idempotent.
    def close
      @native.close
      @management&.close
    end

    private

    # Verb sugar, as in the zss 0.3 gem: `client.get_user(payload, headers: {...})` calls verb
    # GET/USER. Method names cannot hold "/", so "_" stands for it; call verbs with a real "_"
    # through #call. Names ending in ?, ! or = and Ruby's conversion hooks (to_str, to_ary,
    # ...) are not verbs, so the client does not answer them by making network calls.
    def method_missing(name, *args, **options, &block)
      return super unless verb_method?(name)

      raise ArgumentError, "#{name}: expected (payload = nil, headers: {}, timeout: nil)" if args.size > 2

      # The old gem also took the options as a positional Hash: `client.ping(payload, {headers: ...})`.
      options = ZSS.options(args[1], options) if args.size == 2
      call(name.to_s.tr("_", "/"), args[0], **options)
    end

    def respond_to_missing?(name, include_private = false)
      verb_method?(name) || super
    end

    def verb_method?(name)
      name.match?(/\A[a-z][a-z0-9_]*\z/i) && !name.start_with?("to_")
    end
  end
end
