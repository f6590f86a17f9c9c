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
  #
  # Several brokers: `frontend:` takes an Array of endpoints (or one comma-separated String).
  # Calls go to the broker with the fewest calls in flight among those that are up; one that
  # drops its connection, or leaves its pings (every `heartbeat:` ms, default 1000) unanswered
  # for `lost_after:` intervals (default 3), gets no calls until it answers again, and its
  # calls in flight raise ZSS::BrokerLostError (503) at once, or, when made with `retries:` /
  # `idempotent: true`, are re-sent to another broker:
  #
  #   client = ZSS::Client.new(:pong, frontend: ["tcp://a:7777", "tcp://b:7777"])
  #   client.call(:get, { "id" => 7 }, idempotent: true)
  class Client
    attr_reader :sid, :identity, :timeout

    # `config` (the old gem's positional Hash) and keywords: `frontend` (one endpoint, an
    # Array of them or a comma-separated String), `identity` (the socket identity's prefix:
    # "<identity>#<uuid>"), `timeout` (ms, default 1000), `curve` (`{ broker_key:, keypair: }`:
    # encrypt with CURVE; see ZSS::Security), `heartbeat` (ms between pings to each broker when
    # there are several, default 1000) and `lost_after` (silent intervals that make a broker
    # lost, default 3). A broker that refuses the handshake makes calls raise
    # ZSS::AuthenticationError within about a second.
    def initialize(sid, config = {}, **options)
      options = ZSS.options(config, options)
      @sid = sid.to_s.upcase
      raise ArgumentError, "sid must not be empty" if @sid.empty?

      frontends = ZSS.endpoints(options[:frontend] || Configuration.default.frontend, "frontend")
      @identity = options[:identity] || "client"
      @timeout = options[:timeout] || 1000
      @curve = Security.curve_args(options[:curve])
      @liveness = [options[:heartbeat] && Float(options[:heartbeat]),
                   options[:lost_after] && ZSS.count("lost_after", options[:lost_after], 1)]
      @native = Native::Client.new(frontends, @sid, @identity.to_s, Float(@timeout), @curve, *@liveness)
    end

    # The brokers' frontends, comma-separated.
    def frontend
      frontends.join(",")
    end

    # The brokers' frontends (an Array).
    def frontends
      @native.brokers
    end

    # Replaces the brokers (an Array or a comma-separated String): new ones are connected; one
    # no longer listed takes no new calls and is closed once its calls in flight are answered.
    def frontends=(value)
      @native.set_brokers(ZSS.endpoints(value, "frontend"))
      @management&.set_brokers(frontends)
    end

    # `{ heartbeat:, lost_after: }`: the brokers' ping interval (ms) and the silent intervals
    # that make one lost.
    def liveness
      heartbeat, lost_after = @native.liveness
      { heartbeat: heartbeat, lost_after: lost_after }
    end

    # Calls `verb` and returns the reply's payload (nil for a 204). `timeout` is in ms.
    # `retries`: how many times the call may be re-sent to another broker when its broker is
    # lost with it in flight (default 0: it raises ZSS::BrokerLostError); `idempotent: true` is
    # `retries: 2` (an explicit `retries` wins). Only for calls that are safe to run twice.
    def call(verb, payload = nil, headers: {}, timeout: nil, retries: nil, idempotent: false)
      request(verb, payload, headers: headers, timeout: timeout, retries: retries, idempotent: idempotent).payload
    end

    # Like #call, but returns a ZSS::Reply with the status (200, 201, 204...) and headers.
    def request(verb, payload = nil, headers: {}, timeout: nil, retries: nil, idempotent: false)
      status, reply_headers, reply_payload =
        @native.call(verb.to_s.upcase, payload, headers, timeout && Float(timeout), retries_of(retries, idempotent))
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
      @management ||= Native::Client.new(frontends, Native::SMI_SID, @identity.to_s, Float(@timeout), @curve, *@liveness)
      _status, _headers, payload = @management.call(verb.to_s.upcase, nil, {}, timeout && Float(timeout), 0)
      payload
    end

    # Closes the socket; calls still waiting raise ZSS::ClosedError. Idempotent.
    def close
      @native.close
      @management&.close
    end

    private

    def retries_of(retries, idempotent)
      raise TypeError, "idempotent must be true or false, got #{idempotent.class}" unless [true, false].include?(idempotent)
      return idempotent ? Native::IDEMPOTENT_RETRIES : 0 if retries.nil?

      ZSS.count("retries", retries, 0)
    end

    # Verb sugar, as in the zss 0.3 gem: `client.get_user(payload, headers: {...})` calls verb
    # GET/USER. Method names cannot hold "/", so "_" stands for it; call verbs with a real "_"
    # through #call. Names ending in ?, ! or = and Ruby's conversion hooks (to_str, to_ary,
    # ...) are not verbs, so the client does not answer them by making network calls.
    def method_missing(name, *args, **options, &block)
      return super unless verb_method?(name)

      raise ArgumentError, "#{name}: expected (payload = nil, headers: {}, timeout: nil, retries: nil, idempotent: false)" if args.size > 2

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
