//! Raw pointer ↔ Rust conversions, in one place.
//!
//! Ownership is decided by which helper is used, never by ad-hoc casts:
//! - [`into_raw`] gives a boxed value to C (C now owns it) and [`free_raw`] takes it back;
//! - [`borrow`] / [`borrow_mut`] lend a handle C still owns for the duration of a call;
//! - [`out_param`] checks an out-pointer before anything is written through it.
//!
//! Every helper turns NULL into `ZSS_RESULT_NULL_PARAMETER` with the argument's name.

use crate::{zss_result, FfiResult, Failure};
use std::ffi::{c_char, CStr};

fn null(what: &str) -> Failure {
    Failure::new(zss_result::NullParameter, format!("{what} is NULL"))
}

/// Hands a new handle to C. C owns it until it passes it to the matching `_free`.
pub(crate) fn into_raw<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back a handle made by [`into_raw`] and drops it. NULL is a no-op.
///
/// Safety: `ptr` is NULL or came from `into_raw::<T>` and was not freed before.
pub(crate) unsafe fn free_raw<T>(ptr: *mut T) {
    if !ptr.is_null() {
        drop(Box::from_raw(ptr));
    }
}

/// Borrows a handle C owns, for the duration of the current call.
///
/// Safety: `ptr` is NULL or points to a live `T`.
pub(crate) unsafe fn borrow<'a, T>(ptr: *const T, what: &str) -> FfiResult<&'a T> {
    ptr.as_ref().ok_or_else(|| null(what))
}

/// Borrows a handle mutably (only for handles C gives to one thread at a time, as documented).
///
/// Safety: `ptr` is NULL or points to a live `T` that nothing else uses during the call.
pub(crate) unsafe fn borrow_mut<'a, T>(ptr: *mut T, what: &str) -> FfiResult<&'a mut T> {
    ptr.as_mut().ok_or_else(|| null(what))
}

/// Checks an out-pointer; the caller then writes through the returned reference.
///
/// Safety: `ptr` is NULL or valid for a write of `T`.
pub(crate) unsafe fn out_param<'a, T>(ptr: *mut T, what: &str) -> FfiResult<&'a mut T> {
    ptr.as_mut().ok_or_else(|| null(what))
}

/// A required NUL-terminated UTF-8 string.
///
/// Safety: `ptr` is NULL or a NUL-terminated string that outlives the call.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, what: &str) -> FfiResult<&'a str> {
    if ptr.is_null() {
        return Err(null(what));
    }
    CStr::from_ptr(ptr)
        .to_str()
        .map_err(|e| Failure::new(zss_result::InvalidArgument, format!("{what} is not valid UTF-8: {e}")))
}

/// An optional string: NULL means "not given".
///
/// Safety: as [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(ptr: *const c_char, what: &str) -> FfiResult<Option<&'a str>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        str_arg(ptr, what).map(Some)
    }
}

/// A byte buffer given as pointer + length. NULL is accepted only with length 0.
///
/// Safety: `ptr` is NULL or valid for reads of `len` bytes during the call.
pub(crate) unsafe fn bytes_arg<'a>(ptr: *const u8, len: usize, what: &str) -> FfiResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null(what));
    }
    Ok(std::slice::from_raw_parts(ptr, len))
}

/// A required comma-separated list of endpoints (at least one), e.g. `"tcp://a:1,tcp://b:1"`.
///
/// Safety: as [`str_arg`].
pub(crate) unsafe fn endpoints_arg(ptr: *const c_char, what: &str) -> FfiResult<Vec<String>> {
    let endpoints = zss::socket::parse_endpoints(str_arg(ptr, what)?);
    if endpoints.is_empty() {
        return Err(Failure::new(zss_result::InvalidArgument, format!("{what} names no endpoint")));
    }
    Ok(endpoints)
}
