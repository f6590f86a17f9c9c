# frozen_string_literal: true

# zss — the ZeroMQ Service Suite: ZSS::Client, ZSS::Service and ZSS::Broker, backed by the
# Rust core through a native extension (ZSS::Native). Wire-compatible with the zss 0.3 gem and
# the Node.js packages.

require "logger"
require_relative "zss/version"
require_relative "zss/error"
require_relative "zss/configuration"
require "zss/zss_native"
require_relative "zss/security"
require_relative "zss/client"
require_relative "zss/response"
require_relative "zss/service"
require_relative "zss/broker"

module ZSS
  class << self
    attr_writer :logger

    # Where services log handler failures (the detail a caller never sees). Defaults to
    # $stderr at WARN.
    def logger
      @logger ||= Logger.new($stderr, level: Logger::WARN, progname: "zss")
    end
  end
end
