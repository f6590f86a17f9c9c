//! CURVE from C: key pairs, and encrypted brokers, clients and workers.
//!
//! Key arguments are NUL-terminated strings read as the core's `load_key` reads them: the
//! 40-character Z85 key itself, a path to a key file (`zss keygen`'s `NAME.key` / `NAME.pub`),
//! or `env:VAR`. A key that does not parse is `ZSS_RESULT_INVALID_ARGUMENT`, never plaintext.

use crate::handle::{out_param, str_arg};
use crate::{guard, zss_result, Failure, FfiResult};
use std::ffi::c_char;
use zss::security::{load_key, Key, KeyPair};

pub(crate) fn key_arg(ptr: *const c_char, what: &str) -> FfiResult<Key> {
    // SAFETY: forwarded from the exported function's contract (a NUL-terminated string).
    let spec = unsafe { str_arg(ptr, what)? };
    load_key(spec).map_err(|e| Failure::new(zss_result::InvalidArgument, format!("{what}: {e}")))
}

pub(crate) fn pair_arg(ptr: *const c_char, what: &str) -> FfiResult<KeyPair> {
    Ok(KeyPair::from_secret(key_arg(ptr, what)?)?)
}

/// Generates a CURVE key pair and writes it as Z85 text: 40 characters and a NUL into each of
/// `public_out` and `secret_out`, which must each hold at least 41 bytes.
///
/// Ownership: the buffers are the caller's. Threading: thread-safe.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`; `ZSS_RESULT_INVALID_ARGUMENT` when the linked libzmq
/// has no CURVE (the message names the build).
#[no_mangle]
pub unsafe extern "C" fn zss_generate_keypair(public_out: *mut c_char, secret_out: *mut c_char) -> zss_result {
    guard("zss_generate_keypair", || {
        let public_out = out_param(public_out, "public_out")?;
        let secret_out = out_param(secret_out, "secret_out")?;
        let pair = KeyPair::generate()?;
        for (text, out) in [(pair.public_z85(), public_out as *mut c_char), (pair.secret_z85(), secret_out as *mut c_char)] {
            // SAFETY: the caller provides 41 writable bytes (documented above).
            std::ptr::copy_nonoverlapping(text.as_ptr() as *const c_char, out, 40);
            *out.add(40) = 0;
        }
        Ok(())
    })
}
