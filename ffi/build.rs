//! Gives the shared library the SONAME it is installed under (scripts/install-c.sh renames
//! `libzss_ffi.so` to `libzss.so.<version>` with the links `libzss.so.0` and `libzss.so`), so
//! programs linked with `-lzss` record `libzss.so.0` as their dependency.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libzss.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
