# frozen_string_literal: true

# The matrix's --curve run (tests/matrix/README.md): CURVE keys from the environment, as the
# `zss` program reads them: ZSS_BROKER_KEY (the broker's public key) and ZSS_KEY (this
# program's secret key), each a key file. nil when unset: plaintext.
module CurveEnv
  def self.curve
    broker_key = ENV.fetch("ZSS_BROKER_KEY", nil)
    broker_key && { broker_key: broker_key, keypair: ENV.fetch("ZSS_KEY") }
  end
end
