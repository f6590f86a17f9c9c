# frozen_string_literal: true

module ZSS
  # Default endpoints, as in the zss 0.3 gem (`ZSS::Configuration.default.frontend`).
  class Configuration
    Defaults = Struct.new(:frontend, :backend, keyword_init: true)

    def self.default
      @default ||= Defaults.new(frontend: "tcp://127.0.0.1:7777", backend: "tcp://127.0.0.1:7776")
    end
  end

  # Merges an old-style config Hash (`Client.new(:pong, config)`) with keyword options, symbol
  # or string keys, keywords winning.
  def self.options(config, keywords)
    raise ArgumentError, "config must be a Hash, got #{config.class}" unless config.is_a?(Hash)

    config.transform_keys(&:to_sym).merge(keywords)
  end
end
