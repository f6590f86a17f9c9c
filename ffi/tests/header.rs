//! The committed include/zss.h must equal what the pinned cbindgen generates from this crate.
//! Run with `ZSS_UPDATE_HEADER=1` to rewrite it after changing the API.

use std::path::PathBuf;

#[test]
fn committed_header_matches_generation() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let header_path = crate_dir.join("../include/zss.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);

    if std::env::var_os("ZSS_UPDATE_HEADER").is_some() {
        std::fs::create_dir_all(header_path.parent().unwrap()).unwrap();
        std::fs::write(&header_path, &fresh).expect("write include/zss.h");
        return;
    }
    let committed = std::fs::read(&header_path).unwrap_or_default();
    if committed != fresh {
        let fresh_path = crate_dir.join("../target/zss.h.fresh");
        let _ = std::fs::write(&fresh_path, &fresh);
        panic!(
            "include/zss.h differs from a fresh cbindgen generation (written to {}).\n\
             Regenerate it with `ZSS_UPDATE_HEADER=1 cargo test -p zss-ffi --test header` and commit it.",
            fresh_path.display()
        );
    }
}
