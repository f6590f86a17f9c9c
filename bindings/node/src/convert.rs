//! JavaScript values ↔ [`zss::Value`], the core's payload model.
//!
//! JS → Value (on the JS thread, before anything is handed to the core):
//! `null`/`undefined` → Nil, booleans, numbers (integral and within i64 → Int, else Float),
//! BigInt within i64 → Int, strings, Arrays, and objects by their own enumerable string keys
//! (what JSON and msgpack-js see). Refused with a TypeError naming the path, e.g.
//! `payload.items[2]: ...`: Buffers/typed arrays/ArrayBuffers (the wire dialect has no binary
//! type every peer reads, contract §4), Dates (msgpack-js would send `{}`), functions, symbols,
//! BigInts outside i64, and nesting deeper than [`MAX_DEPTH`] (a cycle).
//!
//! Value → JS is total: Nil → null, UInt/Int → number, binary decoded from old peers → Buffer,
//! map keys that are not strings → their JSON text.
//!
//! Written against the raw N-API (`napi::sys`): the conversion is a tight recursive walk and
//! the C API is the stable, documented contract.

use napi::bindgen_prelude::*;
use napi::sys;
use std::ptr;
use zss::Value;

/// Deeper than this is almost certainly a cyclic object; the wire has no use for it.
pub const MAX_DEPTH: usize = 256;

/// A payload coming from JavaScript.
pub struct JsValueIn(pub Value);

/// Headers coming from JavaScript: a plain object (or null/undefined for none).
pub struct JsHeaders(pub Vec<(String, Value)>);

fn type_error(path: &str, what: &str) -> Error {
    Error::new(Status::InvalidArg, format!("{path}: {what}"))
}

fn check(status: sys::napi_status, what: &str) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(
            Status::from(status),
            format!("N-API call failed: {what}"),
        ))
    }
}

unsafe fn is(
    env: sys::napi_env,
    v: sys::napi_value,
    f: unsafe extern "C" fn(sys::napi_env, sys::napi_value, *mut bool) -> sys::napi_status,
) -> Result<bool> {
    let mut out = false;
    check(f(env, v, &mut out), "type check")?;
    Ok(out)
}

/// Converts one JS value; `path` names it in error messages.
pub unsafe fn from_js(
    env: sys::napi_env,
    v: sys::napi_value,
    path: &mut String,
    depth: usize,
) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err(type_error(
            path,
            &format!("nested deeper than {MAX_DEPTH} levels (a cyclic object?)"),
        ));
    }
    let mut ty = 0;
    check(sys::napi_typeof(env, v, &mut ty), "typeof")?;
    match ty {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(Value::Nil),
        sys::ValueType::napi_boolean => {
            let mut b = false;
            check(sys::napi_get_value_bool(env, v, &mut b), "bool")?;
            Ok(Value::Bool(b))
        }
        sys::ValueType::napi_number => {
            let mut n = 0f64;
            check(sys::napi_get_value_double(env, v, &mut n), "number")?;
            // -2^63 is exact in f64; 2^63 is not an i64, hence the half-open range.
            if n.fract() == 0.0
                && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n)
            {
                Ok(Value::Int(n as i64))
            } else {
                Ok(Value::Float(n))
            }
        }
        sys::ValueType::napi_bigint => {
            let (mut n, mut lossless) = (0i64, false);
            check(
                sys::napi_get_value_bigint_int64(env, v, &mut n, &mut lossless),
                "bigint",
            )?;
            if lossless {
                Ok(Value::Int(n))
            } else {
                Err(type_error(
                    path,
                    "BigInt outside the 64-bit signed range cannot be sent",
                ))
            }
        }
        sys::ValueType::napi_string => Ok(Value::Str(string(env, v)?)),
        sys::ValueType::napi_object => {
            if is(env, v, sys::napi_is_buffer)?
                || is(env, v, sys::napi_is_typedarray)?
                || is(env, v, sys::napi_is_arraybuffer)?
                || is(env, v, sys::napi_is_dataview)?
            {
                return Err(type_error(
                    path,
                    "binary data (Buffer/TypedArray/ArrayBuffer) has no portable encoding in the ZSS msgpack dialect; send a base64 or hex string instead",
                ));
            }
            if is(env, v, sys::napi_is_date)? {
                return Err(type_error(
                    path,
                    "a Date cannot be sent; send date.toISOString() or date.getTime()",
                ));
            }
            if is(env, v, sys::napi_is_array)? {
                let mut len = 0u32;
                check(sys::napi_get_array_length(env, v, &mut len), "array length")?;
                let mut items = Vec::with_capacity(len as usize);
                for i in 0..len {
                    let mut item = ptr::null_mut();
                    check(sys::napi_get_element(env, v, i, &mut item), "array element")?;
                    let before = path.len();
                    path.push_str(&format!("[{i}]"));
                    items.push(from_js(env, item, path, depth + 1)?);
                    path.truncate(before);
                }
                return Ok(Value::Array(items));
            }
            let mut names = ptr::null_mut();
            check(
                sys::napi_get_all_property_names(
                    env,
                    v,
                    sys::KeyCollectionMode::own_only,
                    sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
                    sys::KeyConversion::numbers_to_strings,
                    &mut names,
                ),
                "property names",
            )?;
            let mut len = 0u32;
            check(
                sys::napi_get_array_length(env, names, &mut len),
                "property count",
            )?;
            let mut entries = Vec::with_capacity(len as usize);
            for i in 0..len {
                let mut key = ptr::null_mut();
                check(
                    sys::napi_get_element(env, names, i, &mut key),
                    "property name",
                )?;
                let key = string(env, key)?;
                let mut item = ptr::null_mut();
                let ckey = std::ffi::CString::new(key.as_str())
                    .map_err(|_| type_error(path, "property names must not contain NUL"))?;
                check(
                    sys::napi_get_named_property(env, v, ckey.as_ptr(), &mut item),
                    "property",
                )?;
                let before = path.len();
                path.push('.');
                path.push_str(&key);
                let value = from_js(env, item, path, depth + 1)?;
                path.truncate(before);
                entries.push((Value::Str(key), value));
            }
            Ok(Value::Map(entries))
        }
        sys::ValueType::napi_function => Err(type_error(path, "a function cannot be sent")),
        sys::ValueType::napi_symbol => Err(type_error(path, "a Symbol cannot be sent")),
        _ => Err(type_error(path, "this kind of value cannot be sent")),
    }
}

unsafe fn string(env: sys::napi_env, v: sys::napi_value) -> Result<String> {
    let mut len = 0usize;
    check(
        sys::napi_get_value_string_utf8(env, v, ptr::null_mut(), 0, &mut len),
        "string length",
    )?;
    let mut buf = vec![0u8; len + 1];
    let mut written = 0usize;
    check(
        sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast(), len + 1, &mut written),
        "string",
    )?;
    buf.truncate(written);
    // N-API writes valid UTF-8 (lone surrogates become U+FFFD).
    Ok(String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Converts one Value to JS.
pub unsafe fn to_js(env: sys::napi_env, value: &Value) -> Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    match value {
        Value::Nil => check(sys::napi_get_null(env, &mut out), "null")?,
        Value::Bool(b) => check(sys::napi_get_boolean(env, *b, &mut out), "boolean")?,
        // JS numbers: what msgpack-js yields too (it reads 64-bit integers as doubles).
        Value::Int(i) => check(sys::napi_create_double(env, *i as f64, &mut out), "number")?,
        Value::UInt(u) => check(sys::napi_create_double(env, *u as f64, &mut out), "number")?,
        Value::Float(f) => check(sys::napi_create_double(env, *f, &mut out), "number")?,
        Value::Str(s) => check(
            sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out),
            "string",
        )?,
        Value::Bin(bytes) => {
            let mut data = ptr::null_mut();
            check(
                sys::napi_create_buffer_copy(
                    env,
                    bytes.len(),
                    bytes.as_ptr().cast(),
                    &mut data,
                    &mut out,
                ),
                "buffer",
            )?
        }
        Value::Array(items) => {
            check(
                sys::napi_create_array_with_length(env, items.len(), &mut out),
                "array",
            )?;
            for (i, item) in items.iter().enumerate() {
                let v = to_js(env, item)?;
                check(
                    sys::napi_set_element(env, out, i as u32, v),
                    "array element",
                )?;
            }
        }
        Value::Map(entries) => {
            check(sys::napi_create_object(env, &mut out), "object")?;
            for (k, v) in entries {
                let key = match k {
                    Value::Str(s) => s.clone(),
                    Value::Int(i) => i.to_string(),
                    other => other.to_json_string(),
                };
                let mut jkey = ptr::null_mut();
                check(
                    sys::napi_create_string_utf8(
                        env,
                        key.as_ptr().cast(),
                        key.len() as isize,
                        &mut jkey,
                    ),
                    "key",
                )?;
                let jv = to_js(env, v)?;
                check(sys::napi_set_property(env, out, jkey, jv), "property")?;
            }
        }
    }
    Ok(out)
}

impl TypeName for JsValueIn {
    fn type_name() -> &'static str {
        "unknown"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl FromNapiValue for JsValueIn {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> Result<Self> {
        let mut path = String::from("payload");
        from_js(env, v, &mut path, 0).map(JsValueIn)
    }
}

impl TypeName for JsHeaders {
    fn type_name() -> &'static str {
        "Record<string, unknown>"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl FromNapiValue for JsHeaders {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> Result<Self> {
        let mut path = String::from("headers");
        match from_js(env, v, &mut path, 0)? {
            Value::Nil => Ok(JsHeaders(Vec::new())),
            Value::Map(entries) => Ok(JsHeaders(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), v))
                    .collect(),
            )),
            _ => Err(type_error("headers", "must be a plain object")),
        }
    }
}
