//! The C ABI of zss: `libzss.so` / `libzss.a` and the generated `include/zss.h`.
//!
//! This crate only translates: every protocol decision lives in the `zss` core. Its habits
//! follow rustls-ffi:
//!
//! - opaque handles (`zss_broker`, `zss_client`, `zss_worker`, `zss_reply`, and the borrowed
//!   `zss_request` / `zss_response` a worker handler sees), each created and destroyed by a
//!   pair of functions, converted from raw pointers by the small helpers in [`handle`];
//! - every function returns a [`zss_result`]; a failing call also leaves a message in a
//!   thread-local slot ([`zss_last_error`], [`zss_last_error_message`]);
//! - every exported function body runs inside [`guard`], one `catch_unwind` boundary: a panic
//!   becomes `ZSS_RESULT_PANIC` and never unwinds into C;
//! - data crosses as pointer + length (msgpack) or NUL-terminated UTF-8 (JSON text, names).

#![allow(non_camel_case_types)]
// Every exported function checks its pointers before dereferencing them; the safety contract
// is the C one written in each function's doc comment.
#![allow(clippy::missing_safety_doc)]

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

mod broker;
mod client;
mod handle;
mod reply;
mod security;
mod value;
mod worker;

pub use broker::*;
pub use client::*;
pub use reply::*;
pub use worker::*;

/// The outcome of every zss function.
///
/// `ZSS_RESULT_OK` is 0, so `if (zss_x(...) != ZSS_RESULT_OK)` reads naturally. On any other
/// value, `zss_last_error()` on the same thread describes what went wrong.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum zss_result {
    /// Success (for a call: the service answered with a 2xx status).
    Ok = 0,
    /// A required pointer argument was NULL.
    NullParameter = 1,
    /// An argument had the wrong form: not UTF-8, an empty sid or verb, a status out of range,
    /// a payload that cannot be sent (binary data), headers that are not a map…
    InvalidArgument = 2,
    /// A JSON text argument did not parse.
    InvalidJson = 3,
    /// A msgpack byte argument did not decode.
    InvalidMsgpack = 4,
    /// The service (or the broker) answered with a non-2xx status. The reply handle is still
    /// returned: read its status, error code and messages.
    ServiceError = 5,
    /// The call timed out (status 599). The reply handle is still returned, as for
    /// `ZSS_RESULT_SERVICE_ERROR`.
    Timeout = 6,
    /// The handle was closed or stopped (`zss_client_close`, `zss_broker_stop`, ...).
    Closed = 7,
    /// A ZeroMQ operation failed: bad endpoint, address already in use, ...
    Socket = 8,
    /// The call does not fit the handle's state: starting twice, adding a verb to a running
    /// worker, asking a success reply for its error code, ...
    InvalidState = 9,
    /// The caller's buffer is too small; the required size is reported through the out-param.
    InsufficientSize = 10,
    /// The broker refused the CURVE handshake (wrong broker key, our key not on its allow list)
    /// or a worker's registration (403: its key may not serve the sid). Retrying will not help.
    AuthenticationFailed = 11,
    /// The broker the call went through was lost with the call in flight (status 503): it may
    /// or may not have run.
    BrokerLost = 12,
    /// A bug in zss: a Rust panic was caught at the boundary. Please report it.
    Panic = 99,
}

/// How a failing call reports: its code and a message for `zss_last_error`.
pub(crate) struct Failure {
    pub(crate) code: zss_result,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: zss_result, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }
}

/// Core errors map onto result codes one to one; the message is the core's own text.
impl From<zss::Error> for Failure {
    fn from(e: zss::Error) -> Failure {
        let code = match &e {
            zss::Error::Service(s) if s.is_timeout() => zss_result::Timeout,
            zss::Error::Service(_) => zss_result::ServiceError,
            zss::Error::InvalidArgument(_) => zss_result::InvalidArgument,
            zss::Error::Closed => zss_result::Closed,
            zss::Error::Socket { .. } => zss_result::Socket,
            zss::Error::AuthenticationFailed(_) => zss_result::AuthenticationFailed,
            zss::Error::BrokerLost(_) => zss_result::BrokerLost,
        };
        Failure::new(code, e.to_string())
    }
}

pub(crate) type FfiResult<T = ()> = Result<T, Failure>;

thread_local! {
    /// The message of the last failing call on this thread (errno-style: success leaves it).
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: String) {
    // An interior NUL cannot be represented; keep the text up to it.
    let text = match CString::new(message) {
        Ok(c) => c,
        Err(e) => {
            let nul = e.nul_position();
            let mut bytes = e.into_vec();
            bytes.truncate(nul);
            CString::new(bytes).unwrap_or_default()
        }
    };
    LAST_ERROR.with(|slot| *slot.borrow_mut() = text);
}

/// The one panic boundary: runs an exported function's body, turns `Err` into its result code
/// (recording the message), and a panic into `ZSS_RESULT_PANIC`.
pub(crate) fn guard(function: &str, body: impl FnOnce() -> FfiResult) -> zss_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => zss_result::Ok,
        Ok(Err(failure)) => {
            set_last_error(format!("{function}: {}", failure.message));
            failure.code
        }
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".into());
            set_last_error(format!("{function}: internal error (panic): {detail}"));
            zss_result::Panic
        }
    }
}

/// The same boundary for functions that return nothing (the `_free` family).
pub(crate) fn guard_void(function: &str, body: impl FnOnce()) {
    let _ = guard(function, || {
        body();
        Ok(())
    });
}

/// The version of the zss library, e.g. `"0.1.0"`.
///
/// Ownership: a static NUL-terminated string; never free it.
/// Threading: callable from any thread. Errors: none.
#[no_mangle]
pub extern "C" fn zss_version() -> *const c_char {
    // The same version the core reports (one version for all packages).
    static VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };
    debug_assert_eq!(VERSION.to_str().ok(), Some(zss::VERSION));
    VERSION.as_ptr()
}

/// A short, static name for a result code, e.g. `"ZSS_RESULT_TIMEOUT"`.
///
/// Ownership: a static NUL-terminated string; never free it. `result` must be one of the
/// enum's values. Threading: any thread. Errors: none.
#[no_mangle]
pub extern "C" fn zss_result_name(result: zss_result) -> *const c_char {
    let name: &CStr = match result {
        zss_result::Ok => c"ZSS_RESULT_OK",
        zss_result::NullParameter => c"ZSS_RESULT_NULL_PARAMETER",
        zss_result::InvalidArgument => c"ZSS_RESULT_INVALID_ARGUMENT",
        zss_result::InvalidJson => c"ZSS_RESULT_INVALID_JSON",
        zss_result::InvalidMsgpack => c"ZSS_RESULT_INVALID_MSGPACK",
        zss_result::ServiceError => c"ZSS_RESULT_SERVICE_ERROR",
        zss_result::Timeout => c"ZSS_RESULT_TIMEOUT",
        zss_result::Closed => c"ZSS_RESULT_CLOSED",
        zss_result::Socket => c"ZSS_RESULT_SOCKET",
        zss_result::InvalidState => c"ZSS_RESULT_INVALID_STATE",
        zss_result::InsufficientSize => c"ZSS_RESULT_INSUFFICIENT_SIZE",
        zss_result::AuthenticationFailed => c"ZSS_RESULT_AUTHENTICATION_FAILED",
        zss_result::BrokerLost => c"ZSS_RESULT_BROKER_LOST",
        zss_result::Panic => c"ZSS_RESULT_PANIC",
    };
    name.as_ptr()
}

/// The message of the last failing zss call on the calling thread, or `""` if none failed.
///
/// Ownership: borrowed, thread-local; valid until the next zss call on this thread. Copy it
/// if you need it longer. Never NULL. Threading: each thread has its own message.
/// Errors: none. A successful call does not clear the message (like `errno`).
#[no_mangle]
pub extern "C" fn zss_last_error() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

/// Copies the last error message of the calling thread into `buf` (`len` bytes), always
/// NUL-terminated when `len > 0`, and stores the message length (without the NUL) in
/// `*out_n` when `out_n` is not NULL.
///
/// Ownership: the caller owns `buf`. Threading: per thread, as `zss_last_error`.
/// Errors: `ZSS_RESULT_NULL_PARAMETER` if `buf` is NULL; `ZSS_RESULT_INSUFFICIENT_SIZE` if the
/// message did not fit (the truncated text is still written, `*out_n` is the full length).
/// This function does not overwrite the message it reports.
#[no_mangle]
pub unsafe extern "C" fn zss_last_error_message(buf: *mut c_char, len: usize, out_n: *mut usize) -> zss_result {
    // Not through `guard`: a failure here must not replace the message being read.
    let result = catch_unwind(AssertUnwindSafe(|| {
        if buf.is_null() {
            return zss_result::NullParameter;
        }
        LAST_ERROR.with(|slot| {
            let msg = slot.borrow();
            let bytes = msg.as_bytes();
            if !out_n.is_null() {
                *out_n = bytes.len();
            }
            if len == 0 {
                return zss_result::InsufficientSize;
            }
            let n = bytes.len().min(len - 1);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf as *mut u8, n);
            *buf.add(n) = 0;
            if n < bytes.len() {
                zss_result::InsufficientSize
            } else {
                zss_result::Ok
            }
        })
    }));
    result.unwrap_or(zss_result::Panic)
}

/// The status a client reports for a call that timed out (never sent on the wire).
pub const ZSS_STATUS_TIMEOUT: u16 = 599;

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        unsafe { CStr::from_ptr(zss_last_error()) }.to_string_lossy().into_owned()
    }

    #[test]
    fn a_panic_becomes_a_result_code_and_a_message() {
        let r = guard("zss_test", || panic!("boom {}", 42));
        assert_eq!(r, zss_result::Panic);
        assert_eq!(last_error(), "zss_test: internal error (panic): boom 42");
    }

    #[test]
    fn failures_are_recorded_and_success_leaves_the_message() {
        let r = guard("zss_test", || Err(Failure::new(zss_result::InvalidJson, "bad")));
        assert_eq!(r, zss_result::InvalidJson);
        assert_eq!(guard("zss_other", || Ok(())), zss_result::Ok);
        assert_eq!(last_error(), "zss_test: bad");
    }

    #[test]
    fn interior_nul_is_cut_not_lost() {
        let _ = guard("zss_test", || Err(Failure::new(zss_result::InvalidArgument, "before\0after")));
        assert_eq!(last_error(), "zss_test: before");
    }

    #[test]
    fn core_errors_map_to_their_codes() {
        let timeout = Failure::from(zss::Error::Service(zss::ServiceError::timeout()));
        assert_eq!(timeout.code, zss_result::Timeout);
        let service = Failure::from(zss::Error::Service(zss::ServiceError::new(422)));
        assert_eq!(service.code, zss_result::ServiceError);
        assert_eq!(Failure::from(zss::Error::Closed).code, zss_result::Closed);
        assert_eq!(Failure::from(zss::Error::InvalidArgument("x".into())).code, zss_result::InvalidArgument);
    }

    #[test]
    fn version_is_the_core_version() {
        let v = unsafe { CStr::from_ptr(zss_version()) }.to_str().unwrap();
        assert_eq!(v, zss::VERSION);
    }
}
