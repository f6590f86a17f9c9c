//! Payloads and headers in both C forms: msgpack bytes and JSON text.
//!
//! Values arrive as [`zss::Value`] (the core decodes frames once); C asks for them as JSON or
//! msgpack. Each form is rendered on first request and cached next to the value, so the
//! borrowed pointer C receives stays valid as long as the handle that owns it.

use crate::handle::{bytes_arg, str_arg};
use crate::{zss_result, FfiResult, Failure};
use std::ffi::{c_char, CString};
use std::sync::OnceLock;
use zss::Value;

/// Parses a JSON text argument.
///
/// Safety: as [`str_arg`].
pub(crate) unsafe fn json_arg(ptr: *const c_char, what: &str) -> FfiResult<Value> {
    let text = str_arg(ptr, what)?;
    Value::from_json(text).map_err(|e| Failure::new(zss_result::InvalidJson, format!("{what} is not valid JSON: {e}")))
}

/// Decodes a msgpack argument; zero bytes mean nil (a payload frame is never empty on the
/// wire, so there is nothing else they could mean).
///
/// Safety: as [`bytes_arg`].
pub(crate) unsafe fn msgpack_arg(ptr: *const u8, len: usize, what: &str) -> FfiResult<Value> {
    let bytes = bytes_arg(ptr, len, what)?;
    if bytes.is_empty() {
        return Ok(Value::Nil);
    }
    zss::msgpack::decode(bytes)
        .map_err(|e| Failure::new(zss_result::InvalidMsgpack, format!("{what} is not valid msgpack: {e}")))
}

/// Headers must be a map with string keys (or nil/absent: no headers).
pub(crate) fn headers_from(value: Value, what: &str) -> FfiResult<Vec<(String, Value)>> {
    match value {
        Value::Nil => Ok(Vec::new()),
        Value::Map(entries) => entries
            .into_iter()
            .map(|(k, v)| match k {
                Value::Str(s) => Ok((s, v)),
                other => Err(Failure::new(
                    zss_result::InvalidArgument,
                    format!("{what}: header keys must be strings, got {other}"),
                )),
            })
            .collect(),
        other => Err(Failure::new(zss_result::InvalidArgument, format!("{what} must be a map, got {other}"))),
    }
}

/// A value plus its lazily rendered C forms.
pub(crate) struct CachedValue {
    value: Value,
    json: OnceLock<CString>,
    msgpack: OnceLock<Vec<u8>>,
}

impl CachedValue {
    pub(crate) fn new(value: Value) -> CachedValue {
        CachedValue { value, json: OnceLock::new(), msgpack: OnceLock::new() }
    }

    /// Compact JSON text, NUL-terminated. JSON escapes control characters, so the text has no
    /// interior NUL; binary data renders as an array of byte values (see `Value::to_json`).
    pub(crate) fn json(&self) -> *const c_char {
        self.json
            .get_or_init(|| CString::new(self.value.to_json_string()).unwrap_or_default())
            .as_ptr()
    }

    /// The msgpack encoding in the peers' dialect. Fails only for binary data, which the
    /// dialect cannot carry (it is still readable as JSON).
    pub(crate) fn msgpack(&self) -> FfiResult<&[u8]> {
        if let Some(bytes) = self.msgpack.get() {
            return Ok(bytes);
        }
        let bytes = zss::msgpack::encode(&self.value).map_err(|e| {
            Failure::new(zss_result::InvalidArgument, format!("value cannot be rendered as msgpack: {e}"))
        })?;
        Ok(self.msgpack.get_or_init(|| bytes))
    }
}

/// A name or id rendered once as a C string (NUL bytes, impossible in practice, are dropped).
pub(crate) fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "")).unwrap_or_default()
}

/// Writes a borrowed byte view into two out-params.
pub(crate) fn write_bytes(bytes: &[u8], data: &mut *const u8, len: &mut usize) {
    *data = bytes.as_ptr();
    *len = bytes.len();
}
