# frozen_string_literal: true

module ZSS
  # A CURVE key pair as Z85 text (ZSS.generate_keypair). Keep `secret_key` private: #inspect
  # does not show it.
  KeyPair = Struct.new(:public_key, :secret_key) do
    def inspect
      "#<struct ZSS::KeyPair public_key=#{public_key.inspect}, secret_key=[hidden]>"
    end
    alias_method :to_s, :inspect
  end

  class << self
    # A fresh CURVE key pair (raises ArgumentError when the linked libzmq has no CURVE).
    def generate_keypair
      KeyPair.new(*Native.generate_keypair)
    end

    # Whether the linked libzmq supports CURVE.
    def has_curve? # rubocop:disable Naming/PredicateName
      Native.has_curve?
    end
  end

  # The `curve:` option of ZSS::Client and ZSS::Service, checked and unpacked for the native
  # extension. A key is the 40-character Z85 text, a key file (`zss keygen`'s NAME.key /
  # NAME.pub; a String or Pathname) or "env:VAR".
  module Security
    module_function

    # `{ broker_key:, keypair: }` (keypair: a ZSS::KeyPair, a Hash with :secret_key and
    # optionally :public_key, or a secret key alone) → `[broker_key, secret, public or nil]`;
    # nil for plaintext.
    def curve_args(curve)
      return nil if curve.nil?
      raise TypeError, "curve must be a Hash { broker_key:, keypair: }, not #{curve.class}" unless curve.is_a?(Hash)

      curve = curve.transform_keys(&:to_sym)
      unknown = curve.keys - %i[broker_key keypair]
      raise ArgumentError, "curve: unknown keys #{unknown.inspect} (expected broker_key:, keypair:)" unless unknown.empty?

      broker_key = key(curve[:broker_key], "curve broker_key")
      pair = curve[:keypair]
      pair = pair.to_h.transform_keys(&:to_sym) if pair.is_a?(KeyPair) || pair.is_a?(Hash)
      return [broker_key, key(pair, "curve keypair"), nil] unless pair.is_a?(Hash)

      public_key = pair[:public_key]
      [broker_key, key(pair[:secret_key], "curve keypair secret_key"),
       public_key.nil? ? nil : key(public_key, "curve keypair public_key")]
    end

    # A broker's secret key: a key, or a key pair's secret.
    def secret(value, what)
      key(value.is_a?(KeyPair) ? value.secret_key : value, what)
    end

    def key(value, what, kind = 'a Z85 key, a key file or "env:VAR"')
      value = value.to_path if value.respond_to?(:to_path)
      return value if value.is_a?(String)

      raise TypeError, "#{what} must be a String (#{kind}), not #{value.class}"
    end
  end
end
