# frozen_string_literal: true

# Stages a self-contained copy of the repository's core crate (`core/`) into
# `ext/zss/vendor/zss`, so the gem carries everything cargo needs.
#
# Why: `gem build` packs only files under the gem's directory, so a path dependency on
# `../../../../core` would dangle in the built gem. The core's Cargo.toml also inherits
# `version`, `edition`, ... from the repository's workspace, which does not exist inside the
# gem, so the copy gets those values written in. Only what the library needs is copied: the
# `zss` program (src/bin), its [[bin]] table and the dev-dependencies stay behind.
#
# Run from the gemspec whenever the gem is built inside the repository (so a plain
# `gem build zss.gemspec` works), or by hand: `ruby ext/zss/stage.rb`.

require "fileutils"

module ZSSStage
  EXT_DIR = File.expand_path(__dir__)
  REPO_ROOT = File.expand_path("../../../..", EXT_DIR)
  CORE_DIR = File.join(REPO_ROOT, "core")
  VENDOR_DIR = File.join(EXT_DIR, "vendor", "zss")

  module_function

  # True when this is a repository checkout (not an unpacked gem).
  def available?
    File.file?(File.join(CORE_DIR, "Cargo.toml")) && File.file?(File.join(REPO_ROOT, "Cargo.toml"))
  end

  def run
    raise "zss: core crate not found at #{CORE_DIR}" unless available?

    wanted = { "Cargo.toml" => manifest }
    collect(File.join(CORE_DIR, "src"), "src", wanted, skip: ["src/bin"])
    build_rs = File.join(CORE_DIR, "build.rs")
    wanted["build.rs"] = File.binread(build_rs) if File.file?(build_rs)
    sync(wanted)
    refresh_lock
    VENDOR_DIR
  end

  # Keeps ext/zss/Cargo.lock in step with the staged core (the gem builds with --locked):
  # `cargo metadata` adds what a changed core needs and changes nothing else.
  def refresh_lock
    cargo = ENV["CARGO"] || "cargo"
    ok = system(cargo, "metadata", "--format-version", "1", "--manifest-path", File.join(EXT_DIR, "Cargo.toml"),
                out: File::NULL)
    raise "zss: `cargo metadata` failed; is cargo installed?" unless ok
  end

  # relative path => contents of every file to stage under `rel`.
  def collect(dir, rel, wanted, skip:)
    Dir.children(dir).sort.each do |name|
      path = File.join(dir, name)
      rel_path = File.join(rel, name)
      next if skip.include?(rel_path)

      if File.directory?(path)
        collect(path, rel_path, wanted, skip: skip)
      else
        wanted[rel_path] = File.binread(path)
      end
    end
  end

  # Writes only what changed and removes what is gone: unchanged files keep their mtimes, so
  # cargo does not rebuild the core on every staging.
  def sync(wanted)
    wanted.each do |rel, contents|
      path = File.join(VENDOR_DIR, rel)
      next if File.file?(path) && File.binread(path) == contents

      FileUtils.mkdir_p(File.dirname(path))
      File.binwrite(path, contents)
    end
    Dir.glob("**/*", File::FNM_DOTMATCH, base: VENDOR_DIR).sort.reverse_each do |rel|
      path = File.join(VENDOR_DIR, rel)
      next if rel.end_with?(".") || wanted.key?(rel)

      if File.directory?(path)
        Dir.rmdir(path) if Dir.empty?(path)
      else
        File.delete(path)
      end
    end
  end

  # The core's manifest with workspace inheritance resolved and the program's parts removed.
  def manifest
    inherited = table(File.read(File.join(REPO_ROOT, "Cargo.toml")), "workspace.package")
    out = []
    section = nil
    File.read(File.join(CORE_DIR, "Cargo.toml")).each_line do |line|
      if (m = line.match(/^\s*\[\[?([^\]]+)\]\]?\s*$/))
        section = m[1].strip
        next if dropped?(section)

        out << line
        out << "autobins = false\nautoexamples = false\nautotests = false\nautobenches = false\n" if section == "package"
        next
      end
      next if dropped?(section)

      if (m = line.match(/^(\s*)([\w-]+)\.workspace\s*=\s*true\s*$/))
        raise "zss: cannot stage core: #{m[2]}.workspace outside [package]" unless section == "package"

        value = inherited.fetch(m[2]) { raise "zss: [workspace.package] has no #{m[2]}" }
        out << "#{m[1]}#{m[2]} = #{value}\n"
      elsif line =~ /workspace\s*=\s*true/
        # A dependency inherited from [workspace.dependencies]: not used by the core today.
        raise "zss: cannot stage core: unsupported workspace inheritance: #{line.strip}"
      else
        out << line
      end
    end
    "# Staged from the repository's core/ by ext/zss/stage.rb; do not edit.\n" + out.join
  end

  def dropped?(section)
    %w[bin dev-dependencies example test bench].include?(section)
  end

  # `key = value` lines of one [section] of a manifest (values kept as TOML text).
  def table(text, name)
    values = {}
    inside = false
    text.each_line do |line|
      if (m = line.match(/^\s*\[\[?([^\]]+)\]\]?\s*$/))
        inside = (m[1].strip == name)
      elsif inside && (m = line.match(/^\s*([\w-]+)\s*=\s*(.+?)\s*$/))
        values[m[1]] = m[2]
      end
    end
    values
  end
end

puts ZSSStage.run if $PROGRAM_NAME == __FILE__
