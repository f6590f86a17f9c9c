# frozen_string_literal: true

module ZSS
  # A handler's answer when the payload alone is not enough: a chosen 2xx status and/or reply
  # headers.
  #
  #   service.add_route(:create) do |payload, _headers|
  #     ZSS::Response.new({ "id" => 7 }, status: 201, headers: { "location" => "/items/7" })
  #   end
  #
  # `status` nil means 200, or 204 when the payload is nil. `headers` (String or Symbol keys)
  # are added to, or replace, the request headers the reply echoes. A status that is not a
  # 2xx raises ArgumentError here (raise ZSS::Error for error replies); headers that are not a
  # Hash raise TypeError. Payload and header values are checked when sent: one that cannot be
  # sent answers 500 and is logged, as for a plain return value.
  class Response
    attr_reader :payload, :status, :headers

    def initialize(payload = nil, status: nil, headers: nil)
      unless status.nil? || (status.is_a?(Integer) && (200..299).cover?(status))
        raise ArgumentError, "a Response status must be a 2xx Integer, got #{status.inspect}; raise ZSS::Error for errors"
      end
      raise TypeError, "Response headers must be a Hash, got #{headers.class}" unless headers.nil? || headers.is_a?(Hash)

      @payload = payload
      @status = status
      @headers = headers ? headers.dup : {}
    end

    def inspect
      "#<#{self.class.name} status=#{status.inspect} payload=#{payload.inspect} headers=#{headers.inspect}>"
    end
  end
end
