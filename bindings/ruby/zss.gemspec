# frozen_string_literal: true

require_relative "lib/zss/version"

# Inside the repository, stage a copy of the core crate into ext/zss/vendor so the gem is
# self-contained (a path dependency on ../../core would not survive `gem build`).
stage = File.expand_path("ext/zss/stage.rb", __dir__)
if File.file?(stage)
  require stage
  ZSSStage.run if ZSSStage.available?
end

Gem::Specification.new do |spec|
  spec.name = "zss"
  spec.version = ZSS::VERSION
  spec.summary = "ZeroMQ Service Suite client, service and broker backed by a Rust core"
  spec.description = "ZSS::Client, ZSS::Service and ZSS::Broker speaking the ZSS/0.0 protocol, " \
                     "wire-compatible with the zss 0.3 gem and the Node.js packages. The native " \
                     "extension is built from source with cargo and links the system libzmq."
  spec.license = "MIT"
  spec.authors = ["zss contributors"]
  spec.homepage = "https://example.invalid/zss"
  spec.required_ruby_version = ">= 3.0"

  base = __dir__
  spec.files = Dir.glob(
    %w[README.md lib/**/*.rb ext/zss/extconf.rb ext/zss/stage.rb ext/zss/Cargo.toml ext/zss/Cargo.lock
       ext/zss/src/**/*.rs ext/zss/vendor/zss/Cargo.toml ext/zss/vendor/zss/build.rs ext/zss/vendor/zss/src/**/*],
    base: base
  ).sort
  unless spec.files.include?("ext/zss/vendor/zss/Cargo.toml")
    raise "zss.gemspec: ext/zss/vendor/zss is not staged (run `ruby ext/zss/stage.rb` inside the repository)"
  end

  spec.require_paths = ["lib"]
  spec.extensions = ["ext/zss/extconf.rb"]
  # No runtime dependencies: only Ruby's standard library (logger).
end
