//! Ruby objects ↔ [`zss::Value`], the payload model of the core.
//!
//! Ruby → Value: `nil`, `true`/`false`, Integer (64-bit range), Float, String, Symbol (its
//! name), Array and Hash (Symbol keys become String keys), recursively. Anything else raises
//! `TypeError` naming where in the payload it sits, e.g. `payload["items"][2]: cannot send a
//! Time`. Two deliberate refusals and one choice:
//!
//! * Integers outside -2^63..2^64-1 raise `RangeError` rather than silently becoming floats
//!   (within range the core picks the wire form: beyond int32 the peers only read float64).
//! * Strings are sent as UTF-8 text. Strings in other encodings are transcoded; an
//!   `ASCII-8BIT` (binary) string is sent as text when its bytes are valid UTF-8 (how a socket
//!   or file read usually comes back, and what the old gem sent too) and otherwise raises
//!   `EncodingError`: the wire dialect has no portable binary type (contract §4). Encode real
//!   binary data yourself (Base64) before sending.
//!
//! Value → Ruby is total: maps become Hashes with String keys, strings are UTF-8, and binary
//! values decoded from old peers (msgpack-js Buffers) become `ASCII-8BIT` Strings.

use magnus::prelude::*;
use magnus::value::{Qfalse, Qtrue};
use magnus::{r_hash::ForEach, Error, IntoValue, Float, Integer, RArray, RHash, RString, Ruby, Symbol, Value as RValue};
use zss::Value;

/// Containers nested deeper than this are refused (a self-referencing Array would otherwise
/// recurse until the stack overflows).
const MAX_DEPTH: usize = 256;

/// Converts `obj`; errors name its place under `what` (`payload`, `headers`, ...).
pub fn to_value(ruby: &Ruby, obj: RValue, what: &str) -> Result<Value, Error> {
    let mut path = Vec::new();
    convert(ruby, obj, 0, &mut path).map_err(|(class, message)| {
        Error::new(class, format!("{what}{}: {message}", path.iter().rev().cloned().collect::<String>()))
    })
}

/// Converts an optional Hash of headers to the core's list of pairs.
pub fn to_headers(ruby: &Ruby, obj: RValue) -> Result<Vec<(String, Value)>, Error> {
    if obj.is_nil() {
        return Ok(Vec::new());
    }
    if RHash::from_value(obj).is_none() {
        return Err(Error::new(ruby.exception_type_error(), format!("headers must be a Hash, got {}", class_name(obj))));
    }
    match to_value(ruby, obj, "headers")? {
        Value::Map(entries) => Ok(entries
            .into_iter()
            .map(|(k, v)| match k {
                Value::Str(k) => Ok((k, v)),
                other => Err(Error::new(
                    ruby.exception_type_error(),
                    format!("headers: keys must be Strings or Symbols, got {other:?}"),
                )),
            })
            .collect::<Result<_, _>>()?),
        _ => unreachable!("a Hash converts to a map"),
    }
}

type ConvertError = (magnus::ExceptionClass, String);

fn convert(ruby: &Ruby, obj: RValue, depth: usize, path: &mut Vec<String>) -> Result<Value, ConvertError> {
    if depth > MAX_DEPTH {
        return Err((ruby.exception_arg_error(), format!("nested deeper than {MAX_DEPTH} levels (a cycle?)")));
    }
    if obj.is_nil() {
        return Ok(Value::Nil);
    }
    if Qtrue::from_value(obj).is_some() {
        return Ok(Value::Bool(true));
    }
    if Qfalse::from_value(obj).is_some() {
        return Ok(Value::Bool(false));
    }
    if let Some(i) = Integer::from_value(obj) {
        // i64, else u64: 2^63..2^64-1 are in range too (the core has `Value::UInt`, as Python sends them).
        return i.to_i64().map(Value::Int).or_else(|_| i.to_u64().map(Value::UInt)).map_err(|_| {
            (ruby.exception_range_error(), "Integer out of the 64-bit range the wire can carry".to_owned())
        });
    }
    if let Some(f) = Float::from_value(obj) {
        return Ok(Value::Float(f.to_f64()));
    }
    if let Some(s) = RString::from_value(obj) {
        return string(ruby, s).map(Value::Str);
    }
    if let Some(sym) = Symbol::from_value(obj) {
        return sym.name().map(|n| Value::Str(n.into_owned())).map_err(|e| (ruby.exception_encoding_error(), e.to_string()));
    }
    if let Some(array) = RArray::from_value(obj) {
        let mut out = Vec::with_capacity(array.len());
        for i in 0..array.len() {
            let item: RValue = array.entry(i as isize).map_err(|e| (ruby.exception_type_error(), e.to_string()))?;
            match convert(ruby, item, depth + 1, path) {
                Ok(v) => out.push(v),
                Err(e) => {
                    path.push(format!("[{i}]"));
                    return Err(e);
                }
            }
        }
        return Ok(Value::Array(out));
    }
    if let Some(hash) = RHash::from_value(obj) {
        let mut pairs = Vec::with_capacity(hash.len());
        hash.foreach(|k: RValue, v: RValue| {
            pairs.push((k, v));
            Ok(ForEach::Continue)
        })
        .map_err(|e| (ruby.exception_type_error(), e.to_string()))?;
        let mut out = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let key = match convert(ruby, k, depth + 1, path) {
                Ok(key) => key,
                Err(e) => {
                    path.push(" (a key)".to_owned());
                    return Err(e);
                }
            };
            match convert(ruby, v, depth + 1, path) {
                Ok(value) => out.push((key, value)),
                Err(e) => {
                    path.push(match &key {
                        Value::Str(s) => format!("[{s:?}]"),
                        other => format!("[{other:?}]"),
                    });
                    return Err(e);
                }
            }
        }
        return Ok(Value::Map(out));
    }
    Err((ruby.exception_type_error(), format!("cannot send a {} (send nil, true/false, Integer, Float, String, Symbol, Array or Hash)", class_name(obj))))
}

fn string(ruby: &Ruby, s: RString) -> Result<String, ConvertError> {
    let utf8 = if s.is_utf8_compatible_encoding() {
        s
    } else if s.enc_get() == ruby.ascii8bit_encindex() {
        // Binary: sent as text only when it is text (checked below).
        s
    } else {
        s.conv_enc(ruby.utf8_encoding()).map_err(|e| (ruby.exception_encoding_error(), e.to_string()))?
    };
    // SAFETY: the slice is copied before any Ruby code can run.
    let bytes = unsafe { utf8.as_slice() }.to_vec();
    String::from_utf8(bytes).map_err(|_| {
        let message = if s.enc_get() == ruby.ascii8bit_encindex() {
            "binary String (ASCII-8BIT) that is not valid UTF-8: ZSS has no portable binary type; encode it (e.g. Base64) first"
        } else {
            "String is not valid UTF-8"
        };
        (ruby.exception_encoding_error(), message.to_owned())
    })
}

fn class_name(obj: RValue) -> String {
    unsafe { obj.classname() }.into_owned()
}

/// Converts a value received from the wire.
pub fn to_ruby(ruby: &Ruby, value: &Value) -> Result<RValue, Error> {
    Ok(match value {
        Value::Nil => ruby.qnil().as_value(),
        Value::Bool(b) => (*b).into_value_with(ruby),
        Value::Int(i) => (*i).into_value_with(ruby),
        Value::UInt(u) => (*u).into_value_with(ruby),
        Value::Float(f) => (*f).into_value_with(ruby),
        Value::Str(s) => ruby.str_new(s).as_value(),
        Value::Bin(b) => ruby.enc_str_new(b, ruby.ascii8bit_encoding()).as_value(),
        Value::Array(items) => {
            let array = ruby.ary_new_capa(items.len());
            for item in items {
                array.push(to_ruby(ruby, item)?)?;
            }
            array.as_value()
        }
        Value::Map(entries) => {
            let hash = ruby.hash_new();
            for (k, v) in entries {
                hash.aset(to_ruby(ruby, k)?, to_ruby(ruby, v)?)?;
            }
            hash.as_value()
        }
    })
}
