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

  # Broker endpoints from a String (one endpoint, or several separated by commas) or an Array
  # of Strings: TypeError for anything else, ArgumentError when no endpoint is named.
  def self.endpoints(value, name)
    raise TypeError, "#{name} must be a String or an Array of Strings, got #{value.class}" unless value.is_a?(String) || value.is_a?(Array)

    items = value.is_a?(Array) ? value : [value]
    bad = items.index { |e| !e.is_a?(String) }
    raise TypeError, "#{name} must be a String or an Array of Strings, got a #{items[bad].class} in the Array" if bad

    list = Native.parse_endpoints(items.join(","))
    raise ArgumentError, "#{name} names no endpoint" if list.empty?

    list
  end

  # An Integer option from `min` to 2**32 - 1: TypeError for a non-Integer, else ArgumentError.
  def self.count(name, value, min)
    raise TypeError, "#{name} must be an Integer, got #{value.class}" unless value.is_a?(Integer)
    raise ArgumentError, "#{name} must be from #{min} to #{2**32 - 1}, got #{value}" unless (min...2**32).cover?(value)

    value
  end
end
