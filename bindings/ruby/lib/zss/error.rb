# frozen_string_literal: true

module ZSS
  # An error reply (any non-2xx status), as raised by ZSS::Client and as raised by a service
  # handler to answer with that status.
  #
  # Compatible with the zss 0.3 gem: `ZSS::Error.new(code = 500, developer_message = nil,
  # payload: nil)` and `ZSS::Error[code]`, with `code`, `user_message` and
  # `developer_message`. Added: `user_message:` and `payload` (the whole error payload of a
  # reply, extra fields such as `validationErrors` included; raised from a handler, its extra
  # fields are sent next to the standard ones).
  class Error < StandardError
    # The standard messages per status, as the original packages ship them.
    MESSAGES = {
      400 => ["An error occured", "The request cannot be fulfilled due to bad syntax."],
      401 => ["This resource is only available after logging in.", "User authentication token has expired or is missing"],
      403 => ["You do not have access to this resource.", "User does not have enough privileges to access this resource."],
      404 => ["The content you requested was not found.", "The resource could not be found."],
      409 => ["The request conflicts with the current state of the resource.",
              "The request could not be completed due to a conflict with the current state of the resource."],
      410 => ["The content you requested is no longer available.", "The resource is no longer available."],
      422 => ["The request could not be processed.",
              "The request was well-formed but could not be processed due to semantic errors."],
      429 => ["Please wait a while before trying to access this content again",
              "You have sent too many requests in a given amount of time."],
      500 => ["There was an error while processing this request.",
              "There was an error while processing this request. There is probably something wrong with the API server."],
      503 => ["The service is temporarily unavailable.", "The service instance handling this request stopped before replying."],
      599 => ["Connection timeout while processing this request.", "Connection timeout while processing this request."]
    }.freeze

    STANDARD_FIELDS = %w[code errorCode userMessage developerMessage].freeze

    attr_reader :code, :user_message, :payload
    attr_accessor :developer_message

    # `payload` may be a Hash (an error payload: its userMessage/developerMessage are used
    # when not given explicitly, its other fields are kept).
    def initialize(code = 500, developer_message = nil, user_message: nil, payload: nil)
      @code = Integer(code)
      raise ArgumentError, "invalid status code #{code}" unless (100..999).cover?(@code)

      @payload = payload.is_a?(Hash) ? payload : {}
      standard_user, standard_developer = MESSAGES.fetch(@code, MESSAGES[500])
      @user_message = user_message || field("userMessage") || standard_user
      @developer_message = developer_message || field("developerMessage") || standard_developer
      super(@developer_message)
    end

    # The error with the standard messages for `code` (the old gem's `Error[404]`).
    def self.[](code)
      new(code)
    end

    # Used by the native extension for error replies; 599 (a client-side timeout) becomes a
    # ZSS::TimeoutError.
    def self.from_reply(code, user_message, developer_message, payload)
      klass = code == TimeoutError::CODE ? TimeoutError : Error
      klass.new(code, developer_message, user_message: user_message, payload: payload)
    end

    # The payload fields other than the standard ones (sent with the error by a service).
    def extra_fields
      @payload.reject { |k, _| STANDARD_FIELDS.include?(k.to_s) }
    end

    # As in the old gem, the message is the developer message (kept in step with the
    # writable `developer_message`).
    def message
      developer_message
    end

    def inspect
      "#<#{self.class.name} #{code}: #{developer_message}>"
    end

    private

    def field(name)
      @payload[name] || @payload[name.to_sym]
    end
  end

  # A call that got no reply in time (code 599; never sent on the wire).
  class TimeoutError < Error
    CODE = 599

    def initialize(code = CODE, developer_message = nil, **kwargs)
      super
    end
  end

  # The client or service was closed (code 500).
  class ClosedError < Error; end

  # A ZeroMQ failure: a bad or busy endpoint, ... (code 500).
  class SocketError < Error; end

  # The broker refused our CURVE key, or a service's registration (code 401). Do not retry.
  class AuthenticationError < Error; end

  # The broker a call went through was lost with the call in flight (code 503): it may or may
  # not have run. Calls made with retries: N are re-sent to another broker instead.
  class BrokerLostError < Error; end
end
