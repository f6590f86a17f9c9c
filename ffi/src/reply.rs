//! `zss_reply`: the outcome of a call, success or error, owned by C until `zss_reply_free`.

use crate::handle::{borrow, free_raw, out_param};
use crate::value::{c_string, write_bytes, CachedValue};
use crate::{guard, guard_void, zss_result, FfiResult, Failure};
use std::ffi::{c_char, CString};
use zss::{Reply, ServiceError};

/// The answer to one call: a 2xx reply, or an error reply (non-2xx status, a broker 404, a
/// local timeout 599). Opaque; read it with the `zss_reply_*` functions and free it with
/// `zss_reply_free`. Every pointer it hands out is borrowed from it and lives until it is freed.
pub struct zss_reply {
    status: u16,
    payload: CachedValue,
    headers: CachedValue,
    rid: CString,
    error: Option<ErrorText>,
}

struct ErrorText {
    code: u16,
    user_message: CString,
    developer_message: CString,
}

impl zss_reply {
    pub(crate) fn success(reply: Reply) -> zss_reply {
        zss_reply {
            status: reply.status,
            payload: CachedValue::new(reply.payload),
            headers: CachedValue::new(reply.headers),
            rid: c_string(&reply.rid),
            error: None,
        }
    }

    /// The core reports error replies as `ServiceError`, without their headers or rid (a gap
    /// noted in docs/c.md): those read as an empty map and an empty string.
    pub(crate) fn error(e: ServiceError) -> zss_reply {
        zss_reply {
            status: e.code,
            payload: CachedValue::new(e.to_payload()),
            headers: CachedValue::new(zss::Value::Map(Vec::new())),
            rid: CString::default(),
            error: Some(ErrorText {
                code: e.code,
                user_message: c_string(&e.user_message),
                developer_message: c_string(&e.developer_message),
            }),
        }
    }

    fn error_text(&self) -> FfiResult<&ErrorText> {
        self.error.as_ref().ok_or_else(|| {
            Failure::new(zss_result::InvalidState, format!("the reply is a success (status {}), not an error", self.status))
        })
    }
}

/// Frees a reply. NULL is a no-op.
///
/// Ownership: takes back the reply; every pointer read from it becomes invalid.
/// Threading: the reply must not be in use on another thread. Errors: none.
#[no_mangle]
pub unsafe extern "C" fn zss_reply_free(reply: *mut zss_reply) {
    guard_void("zss_reply_free", || free_raw(reply));
}

/// The reply's status code: 200/204/... for a success, the error code for an error reply,
/// 599 for a timeout.
///
/// Threading: a reply may be read from several threads at once (it is immutable).
/// Errors: `ZSS_RESULT_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn zss_reply_status(reply: *const zss_reply, status_out: *mut u16) -> zss_result {
    guard("zss_reply_status", || {
        let reply = borrow(reply, "reply")?;
        *out_param(status_out, "status_out")? = reply.status;
        Ok(())
    })
}

/// Sets `*is_error_out` to true when the reply is an error (non-2xx status or timeout).
///
/// Errors: `ZSS_RESULT_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn zss_reply_is_error(reply: *const zss_reply, is_error_out: *mut bool) -> zss_result {
    guard("zss_reply_is_error", || {
        let reply = borrow(reply, "reply")?;
        *out_param(is_error_out, "is_error_out")? = reply.error.is_some();
        Ok(())
    })
}

/// The payload as compact JSON text (`null` for a 204). For an error reply this is the error
/// map: `{"code", "userMessage", "developerMessage", "errorCode", ...extra fields}`.
///
/// Ownership: `*json_out` is borrowed from the reply, NUL-terminated, valid until
/// `zss_reply_free`. Errors: `ZSS_RESULT_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn zss_reply_payload_json(reply: *const zss_reply, json_out: *mut *const c_char) -> zss_result {
    guard("zss_reply_payload_json", || {
        let reply = borrow(reply, "reply")?;
        *out_param(json_out, "json_out")? = reply.payload.json();
        Ok(())
    })
}

/// The payload as msgpack bytes (the peers' dialect; nil is the single byte 0xc0).
///
/// Ownership: `*data_out` (`*len_out` bytes) is borrowed from the reply, valid until
/// `zss_reply_free`. Errors: `ZSS_RESULT_NULL_PARAMETER`; `ZSS_RESULT_INVALID_ARGUMENT` if the
/// payload holds binary data, which the dialect cannot encode (read it as JSON instead).
#[no_mangle]
pub unsafe extern "C" fn zss_reply_payload_msgpack(
    reply: *const zss_reply,
    data_out: *mut *const u8,
    len_out: *mut usize,
) -> zss_result {
    guard("zss_reply_payload_msgpack", || {
        let reply = borrow(reply, "reply")?;
        let (data_out, len_out) = (out_param(data_out, "data_out")?, out_param(len_out, "len_out")?);
        write_bytes(reply.payload.msgpack()?, data_out, len_out);
        Ok(())
    })
}

/// The reply headers as a JSON object text (`{}` for an error reply: see docs/c.md).
///
/// Ownership: borrowed from the reply, valid until `zss_reply_free`.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn zss_reply_headers_json(reply: *const zss_reply, json_out: *mut *const c_char) -> zss_result {
    guard("zss_reply_headers_json", || {
        let reply = borrow(reply, "reply")?;
        *out_param(json_out, "json_out")? = reply.headers.json();
        Ok(())
    })
}

/// The reply headers as a msgpack map.
///
/// Ownership: borrowed from the reply, valid until `zss_reply_free`.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`; `ZSS_RESULT_INVALID_ARGUMENT` for binary values.
#[no_mangle]
pub unsafe extern "C" fn zss_reply_headers_msgpack(
    reply: *const zss_reply,
    data_out: *mut *const u8,
    len_out: *mut usize,
) -> zss_result {
    guard("zss_reply_headers_msgpack", || {
        let reply = borrow(reply, "reply")?;
        let (data_out, len_out) = (out_param(data_out, "data_out")?, out_param(len_out, "len_out")?);
        write_bytes(reply.headers.msgpack()?, data_out, len_out);
        Ok(())
    })
}

/// The request id the reply answers (empty for error replies: see docs/c.md).
///
/// Ownership: borrowed from the reply, valid until `zss_reply_free`.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn zss_reply_rid(reply: *const zss_reply, rid_out: *mut *const c_char) -> zss_result {
    guard("zss_reply_rid", || {
        let reply = borrow(reply, "reply")?;
        *out_param(rid_out, "rid_out")? = reply.rid.as_ptr();
        Ok(())
    })
}

/// The error code of an error reply (the `code`/`errorCode` of the ZSS error contract; equal to
/// the status).
///
/// Errors: `ZSS_RESULT_NULL_PARAMETER`; `ZSS_RESULT_INVALID_STATE` for a success reply.
#[no_mangle]
pub unsafe extern "C" fn zss_reply_error_code(reply: *const zss_reply, code_out: *mut u16) -> zss_result {
    guard("zss_reply_error_code", || {
        let reply = borrow(reply, "reply")?;
        let code_out = out_param(code_out, "code_out")?;
        *code_out = reply.error_text()?.code;
        Ok(())
    })
}

/// The `userMessage` of an error reply (the standard text for the code when the service sent
/// none).
///
/// Ownership: borrowed from the reply, valid until `zss_reply_free`.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`; `ZSS_RESULT_INVALID_STATE` for a success reply.
#[no_mangle]
pub unsafe extern "C" fn zss_reply_error_user_message(
    reply: *const zss_reply,
    message_out: *mut *const c_char,
) -> zss_result {
    guard("zss_reply_error_user_message", || {
        let reply = borrow(reply, "reply")?;
        let message_out = out_param(message_out, "message_out")?;
        *message_out = reply.error_text()?.user_message.as_ptr();
        Ok(())
    })
}

/// The `developerMessage` of an error reply (the standard text for the code when the service
/// sent none).
///
/// Ownership: borrowed from the reply, valid until `zss_reply_free`.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`; `ZSS_RESULT_INVALID_STATE` for a success reply.
#[no_mangle]
pub unsafe extern "C" fn zss_reply_error_developer_message(
    reply: *const zss_reply,
    message_out: *mut *const c_char,
) -> zss_result {
    guard("zss_reply_error_developer_message", || {
        let reply = borrow(reply, "reply")?;
        let message_out = out_param(message_out, "message_out")?;
        *message_out = reply.error_text()?.developer_message.as_ptr();
        Ok(())
    })
}
