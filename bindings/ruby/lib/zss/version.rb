# frozen_string_literal: true

module ZSS
  # The gem's version: the repository's one version (root Cargo.toml, [workspace.package]).
  # The test suite checks it against the core the extension was built from.
  VERSION = "0.1.0"
end
