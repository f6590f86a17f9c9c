//! The msgpack dialect spoken by the original ZSS peers.
//!
//! The Node packages use `msgpack-js@0.3.0` (pre-2013 msgpack plus private codes) and the Ruby
//! gem pins msgpack 0.5.12. Everything we *emit* must be readable by both, so [`encode`] is
//! strict: strings only as fixstr/`0xda`/`0xdb` (never str8 `0xd9`), integers beyond the int32
//! range as float64 (exactly what msgpack-js does), and binary data is refused because neither
//! peer has a portable encoding for it. [`decode`] is lenient: it accepts the old dialect, the
//! msgpack-js private codes (`0xc4` undefined, `0xd8`/`0xd9` buffers) and modern msgpack.
//!
//! Parsing never panics and never trusts a length prefix before checking it against the input.

use std::fmt;

/// A msgpack value. Maps keep their key order (the peers are JavaScript objects and Ruby
/// hashes, both ordered) and may have non-string keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Nil,
    Bool(bool),
    /// Any integer that fits an `i64`.
    Int(i64),
    /// Integers above `i64::MAX` (only decoded from modern uint64 input).
    UInt(u64),
    Float(f64),
    Str(String),
    /// Bytes: a msgpack-js Buffer, a modern `bin`, or a raw string that is not valid UTF-8.
    /// Decoded, never encoded (see [`EncodeError::Binary`]).
    Bin(Vec<u8>),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
}

/// Why a value could not be encoded for the old peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// Binary data has no encoding both msgpack-js and Ruby's msgpack 0.5 can read.
    Binary,
    /// A string, array or map longer than 2^32-1 (the dialect's limit).
    TooLong,
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::Binary => f.write_str(
                "binary data cannot be sent: the ZSS peers (msgpack-js 0.3, msgpack 0.5) have no \
                 portable binary type; send it as a string (e.g. base64) instead",
            ),
            EncodeError::TooLong => f.write_str("string, array or map longer than 2^32-1"),
            EncodeError::TooDeep => write!(f, "value nested deeper than {MAX_DEPTH} levels"),
        }
    }
}
impl std::error::Error for EncodeError {}

/// Why bytes could not be decoded. `offset` is where the decoder stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub kind: DecodeErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeErrorKind {
    Empty,
    Truncated,
    UnknownType(u8),
    TrailingBytes(usize),
    TooDeep,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DecodeErrorKind::Empty => f.write_str("empty msgpack frame"),
            DecodeErrorKind::Truncated => write!(f, "msgpack truncated at byte {}", self.offset),
            DecodeErrorKind::UnknownType(b) => {
                write!(f, "unsupported msgpack type 0x{b:02x} at byte {}", self.offset)
            }
            DecodeErrorKind::TrailingBytes(n) => {
                write!(f, "{n} trailing bytes after the msgpack value")
            }
            DecodeErrorKind::TooDeep => {
                write!(f, "msgpack nested deeper than {MAX_DEPTH} levels at byte {}", self.offset)
            }
        }
    }
}
impl std::error::Error for DecodeError {}

/// Deepest nesting accepted either way; protects the stack from hostile input.
pub const MAX_DEPTH: usize = 128;

// ---------------------------------------------------------------------------------------------
// Encoding

/// Encodes `value` in the dialect every ZSS peer reads.
pub fn encode(value: &Value) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(64);
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `value` to `out` (on error `out` may hold a partial value).
pub fn encode_into(value: &Value, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    encode_value(value, out, 0)
}

fn encode_value(value: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), EncodeError> {
    if depth > MAX_DEPTH {
        return Err(EncodeError::TooDeep);
    }
    match value {
        Value::Nil => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Int(i) => encode_int(*i, out),
        Value::UInt(u) => match i64::try_from(*u) {
            Ok(i) => encode_int(i, out),
            Err(_) => encode_f64(*u as f64, out),
        },
        Value::Float(f) => encode_f64(*f, out),
        Value::Str(s) => encode_str(s, out)?,
        Value::Bin(_) => return Err(EncodeError::Binary),
        Value::Array(items) => {
            encode_len(items.len(), 0x90, 0xdc, 0xdd, out)?;
            for item in items {
                encode_value(item, out, depth + 1)?;
            }
        }
        Value::Map(entries) => {
            encode_len(entries.len(), 0x80, 0xde, 0xdf, out)?;
            for (k, v) in entries {
                encode_value(k, out, depth + 1)?;
                encode_value(v, out, depth + 1)?;
            }
        }
    }
    Ok(())
}

/// Integers exactly as msgpack-js writes them: unsigned forms for non-negative values, signed
/// forms for negative ones, and float64 outside the int32 range (msgpack-js's `(v << 0) !== v`).
fn encode_int(i: i64, out: &mut Vec<u8>) {
    match i {
        0..=0x7f => out.push(i as u8),
        0x80..=0xff => out.extend_from_slice(&[0xcc, i as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(i as u16).to_be_bytes());
        }
        0x1_0000..=0x7fff_ffff => {
            out.push(0xce);
            out.extend_from_slice(&(i as u32).to_be_bytes());
        }
        -0x20..=-1 => out.push(i as i8 as u8),
        -0x80..=-0x21 => out.extend_from_slice(&[0xd0, i as i8 as u8]),
        -0x8000..=-0x81 => {
            out.push(0xd1);
            out.extend_from_slice(&(i as i16).to_be_bytes());
        }
        -0x8000_0000..=-0x8001 => {
            out.push(0xd2);
            out.extend_from_slice(&(i as i32).to_be_bytes());
        }
        _ => encode_f64(i as f64, out),
    }
}

fn encode_f64(f: f64, out: &mut Vec<u8>) {
    out.push(0xcb);
    out.extend_from_slice(&f.to_be_bytes());
}

/// Strings as fixstr, raw16 (`0xda`) or raw32 (`0xdb`): never str8 (`0xd9`), which msgpack-js
/// reads as a 32-bit-length Buffer.
pub fn encode_str(s: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let len = s.len();
    if len < 0x20 {
        out.push(0xa0 | len as u8);
    } else if len < 0x1_0000 {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else if len <= u32::MAX as usize {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        return Err(EncodeError::TooLong);
    }
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn encode_len(len: usize, fix: u8, b16: u8, b32: u8, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if len < 0x10 {
        out.push(fix | len as u8);
    } else if len < 0x1_0000 {
        out.push(b16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else if len <= u32::MAX as usize {
        out.push(b32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        return Err(EncodeError::TooLong);
    }
    Ok(())
}

/// Starts a map of `len` entries; the caller appends the keys and values. Used where encoding
/// straight into a buffer avoids building a [`Value`] (e.g. reply headers).
pub fn encode_map_header(len: usize, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    encode_len(len, 0x80, 0xde, 0xdf, out)
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// How `0xd9` is read: msgpack-js's 32-bit-length Buffer, or modern str8.
#[derive(Clone, Copy, PartialEq, Eq)]
enum D9 {
    Buffer32,
    Str8,
}

/// How `0xc4` is read inside a value: modern bin8, or msgpack-js's `undefined`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum C4 {
    Bin8,
    Undefined,
}

/// Decodes exactly one value that must span all of `bytes`.
///
/// Two codes mean different things to msgpack-js and to modern msgpack, and the bytes alone
/// cannot say which encoder wrote them. The readings are tried in turn and the first that
/// decodes the whole input wins:
/// - `0xd9`: msgpack-js Buffer with a 32-bit length first, else str8;
/// - `0xc4`: modern bin8 first, else JavaScript `undefined` (→ [`Value::Nil`]); `0xc4` as the
///   whole input is always `undefined`.
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    if bytes == [0xc4] {
        return Ok(Value::Nil);
    }
    let (has_d9, has_c4) = (bytes.contains(&0xd9), bytes.contains(&0xc4));
    let mut first_error = None;
    for (d9, c4) in [(D9::Buffer32, C4::Bin8), (D9::Str8, C4::Bin8), (D9::Buffer32, C4::Undefined), (D9::Str8, C4::Undefined)] {
        if (d9 == D9::Str8 && !has_d9) || (c4 == C4::Undefined && !has_c4) {
            continue;
        }
        match (Decoder { bytes, pos: 0, d9, c4 }).decode_all() {
            Ok(v) => return Ok(v),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.expect("at least one reading is always tried"))
}

struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
    d9: D9,
    c4: C4,
}

impl<'a> Decoder<'a> {

    fn err(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError { offset: self.pos, kind }
    }

    fn decode_all(mut self) -> Result<Value, DecodeError> {
        if self.bytes.is_empty() {
            return Err(self.err(DecodeErrorKind::Empty));
        }
        let v = self.value(0)?;
        let rest = self.bytes.len() - self.pos;
        if rest != 0 {
            return Err(self.err(DecodeErrorKind::TrailingBytes(rest)));
        }
        Ok(v)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let s = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(self.err(DecodeErrorKind::Truncated)),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<usize, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?) as usize)
    }
    fn u32(&mut self) -> Result<usize, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?) as usize)
    }

    fn text(&mut self, len: usize) -> Result<Value, DecodeError> {
        let raw = self.take(len)?;
        // Old encoders (Ruby msgpack 0.5) send any byte string as "raw": keep what is not text.
        Ok(match std::str::from_utf8(raw) {
            Ok(s) => Value::Str(s.to_owned()),
            Err(_) => Value::Bin(raw.to_vec()),
        })
    }

    fn bin(&mut self, len: usize) -> Result<Value, DecodeError> {
        Ok(Value::Bin(self.take(len)?.to_vec()))
    }

    /// Each element takes at least one byte: refuse counts the input cannot hold before
    /// allocating for them.
    fn check_count(&self, count: usize, per_item: usize) -> Result<(), DecodeError> {
        let needed = count.saturating_mul(per_item);
        if needed > self.bytes.len() - self.pos {
            return Err(self.err(DecodeErrorKind::Truncated));
        }
        Ok(())
    }

    fn seq(&mut self, len: usize, depth: usize) -> Result<Value, DecodeError> {
        self.check_count(len, 1)?;
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value, DecodeError> {
        self.check_count(len, 2)?;
        let mut entries = Vec::with_capacity(len);
        for _ in 0..len {
            let k = self.value(depth + 1)?;
            let v = self.value(depth + 1)?;
            entries.push((k, v));
        }
        Ok(Value::Map(entries))
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(self.err(DecodeErrorKind::TooDeep));
        }
        let start = self.pos;
        let t = self.u8()?;
        Ok(match t {
            0x00..=0x7f => Value::Int(t as i64),
            0x80..=0x8f => self.map((t & 0x0f) as usize, depth)?,
            0x90..=0x9f => self.seq((t & 0x0f) as usize, depth)?,
            0xa0..=0xbf => self.text((t & 0x1f) as usize)?,
            0xc0 => Value::Nil,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 if self.c4 == C4::Undefined => Value::Nil,
            0xc4 => {
                let n = self.u8()? as usize;
                self.bin(n)?
            }
            0xc5 => {
                let n = self.u16()?;
                self.bin(n)?
            }
            0xc6 => {
                let n = self.u32()?;
                self.bin(n)?
            }
            0xca => Value::Float(f32::from_be_bytes(self.array()?) as f64),
            0xcb => Value::Float(f64::from_be_bytes(self.array()?)),
            0xcc => Value::Int(self.u8()? as i64),
            0xcd => Value::Int(self.u16()? as i64),
            0xce => Value::Int(self.u32()? as i64),
            0xcf => {
                let u = u64::from_be_bytes(self.array()?);
                i64::try_from(u).map(Value::Int).unwrap_or(Value::UInt(u))
            }
            0xd0 => Value::Int(i8::from_be_bytes(self.array()?) as i64),
            0xd1 => Value::Int(i16::from_be_bytes(self.array()?) as i64),
            0xd2 => Value::Int(i32::from_be_bytes(self.array()?) as i64),
            0xd3 => Value::Int(i64::from_be_bytes(self.array()?)),
            // msgpack-js buffer16 (modern fixext16 is not spoken by any ZSS peer).
            0xd8 => {
                let n = self.u16()?;
                self.bin(n)?
            }
            0xd9 => match self.d9 {
                D9::Buffer32 => {
                    let n = self.u32()?;
                    self.bin(n)?
                }
                D9::Str8 => {
                    let n = self.u8()? as usize;
                    self.text(n)?
                }
            },
            0xda => {
                let n = self.u16()?;
                self.text(n)?
            }
            0xdb => {
                let n = self.u32()?;
                self.text(n)?
            }
            0xdc => {
                let n = self.u16()?;
                self.seq(n, depth)?
            }
            0xdd => {
                let n = self.u32()?;
                self.seq(n, depth)?
            }
            0xde => {
                let n = self.u16()?;
                self.map(n, depth)?
            }
            0xdf => {
                let n = self.u32()?;
                self.map(n, depth)?
            }
            0xe0..=0xff => Value::Int(t as i8 as i64),
            // 0xc1 (never used), ext types 0xc7-0xc9 / 0xd4-0xd7: no ZSS peer sends them.
            other => {
                self.pos = start;
                return Err(self.err(DecodeErrorKind::UnknownType(other)));
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Zero-allocation lookups for the broker's hot path

/// Finds the string value stored under `key` in a top-level msgpack map without building a
/// [`Value`]. Returns `None` when `bytes` is not a map, the key is absent, or the value is not a
/// string. Used by the broker to read `sid` from the address frame.
pub fn map_str_field<'a>(bytes: &'a [u8], key: &str) -> Option<&'a str> {
    find_str_field(bytes, key, |a, b| a == b)
}

/// [`map_str_field`] with an ASCII-case-insensitive key (HTTP-style header names).
pub fn map_str_field_ignore_case<'a>(bytes: &'a [u8], key: &str) -> Option<&'a str> {
    find_str_field(bytes, key, <[u8]>::eq_ignore_ascii_case)
}

fn find_str_field<'a>(bytes: &'a [u8], key: &str, same: fn(&[u8], &[u8]) -> bool) -> Option<&'a str> {
    let mut d = Decoder { bytes, pos: 0, d9: D9::Buffer32, c4: C4::Bin8 };
    let len = match d.u8().ok()? {
        t @ 0x80..=0x8f => (t & 0x0f) as usize,
        0xde => d.u16().ok()?,
        0xdf => d.u32().ok()?,
        _ => return None,
    };
    for _ in 0..len {
        let k = d.raw_str();
        match k {
            Some(k) if same(k, key.as_bytes()) => {
                return d.raw_str().and_then(|v| std::str::from_utf8(v).ok());
            }
            _ => {
                k?; // a non-string key: give up rather than guess where it ends
                d.skip(0).ok()?;
            }
        }
    }
    None
}

impl<'a> Decoder<'a> {
    /// Reads a string (fixstr, str8, raw16, raw32) and returns its bytes.
    fn raw_str(&mut self) -> Option<&'a [u8]> {
        let n = match self.u8().ok()? {
            t @ 0xa0..=0xbf => (t & 0x1f) as usize,
            0xd9 => self.u8().ok()? as usize,
            0xda => self.u16().ok()?,
            0xdb => self.u32().ok()?,
            _ => return None,
        };
        self.take(n).ok()
    }

    /// Skips one value without allocating.
    fn skip(&mut self, depth: usize) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(self.err(DecodeErrorKind::TooDeep));
        }
        let t = self.u8()?;
        let (n, kids): (usize, usize) = match t {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            0x80..=0x8f => (0, 2 * (t & 0x0f) as usize),
            0x90..=0x9f => (0, (t & 0x0f) as usize),
            0xa0..=0xbf => ((t & 0x1f) as usize, 0),
            0xc4 => (self.u8()? as usize, 0),
            0xc5 | 0xd8 | 0xda => (self.u16()?, 0),
            0xc6 | 0xd9 | 0xdb => (self.u32()?, 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xca | 0xce | 0xd2 => (4, 0),
            0xcb | 0xcf | 0xd3 => (8, 0),
            0xdc => (0, self.u16()?),
            0xdd => (0, self.u32()?),
            0xde => (0, self.u16()?.saturating_mul(2)),
            0xdf => (0, self.u32()?.saturating_mul(2)),
            other => return Err(self.err(DecodeErrorKind::UnknownType(other))),
        };
        self.take(n)?;
        self.check_count(kids, 1)?;
        for _ in 0..kids {
            self.skip(depth + 1)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Convenience accessors and conversions

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An integer, accepting a float with an integral value (msgpack-js sends every number
    /// outside int32, timestamps and codes included, as float64).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            Value::UInt(u) => i64::try_from(u).ok(),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.3e18 => Some(f as i64),
            _ => None,
        }
    }

    /// Looks up a string key in a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => {
                entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// Inserts or replaces a string key in a map (no-op on other values).
    pub fn insert(&mut self, key: &str, value: Value) {
        if let Value::Map(entries) = self {
            match entries.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
                Some(entry) => entry.1 = value,
                None => entries.push((Value::Str(key.to_owned()), value)),
            }
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Builds a map from string keys.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (Value::Str(k.into()), v)).collect())
    }

    /// Parses JSON text into a value (numbers without a fraction become integers).
    pub fn from_json(text: &str) -> Result<Value, serde_json::Error> {
        serde_json::from_str::<serde_json::Value>(text).map(|j| Value::from(&j))
    }

    /// Renders the value as JSON. Non-string map keys are rendered as their JSON text, binary as
    /// an array of byte values, non-finite floats as `null` (JSON has no form for them).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Nil => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::UInt(u) => J::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
            Value::Str(s) => J::String(s.clone()),
            Value::Bin(b) => J::Array(b.iter().map(|&x| J::from(x)).collect()),
            Value::Array(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Value::Str(s) => s.clone(),
                            other => other.to_json().to_string(),
                        };
                        (key, v.to_json())
                    })
                    .collect(),
            ),
        }
    }

    /// The value as compact JSON text.
    pub fn to_json_string(&self) -> String {
        self.to_json().to_string()
    }
}

impl From<&serde_json::Value> for Value {
    fn from(j: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match j {
            J::Null => Value::Nil,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => Value::Array(items.iter().map(Value::from).collect()),
            J::Object(map) => {
                Value::Map(map.iter().map(|(k, v)| (Value::Str(k.clone()), Value::from(v))).collect())
            }
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value { Value::Int(v as i64) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        i64::try_from(v).map(Value::Int).unwrap_or(Value::UInt(v))
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Str(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Str(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map(Into::into).unwrap_or(Value::Nil)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Value {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn address_bytes_match_the_captured_example() {
        let address = Value::map([
            ("sid", Value::from("PONG")),
            ("sversion", Value::from("*")),
            ("verb", Value::from("PING")),
        ]);
        assert_eq!(
            hex(&encode(&address).unwrap()),
            "83a3736964a4504f4e47a87376657273696f6ea12aa476657262a450494e47"
        );
    }

    #[test]
    fn broker_404_payload_uses_raw16_for_32_byte_strings() {
        let payload = Value::map([
            ("developerMessage", Value::from("The resource could not be found.")),
            ("userMessage", Value::from("The content you requested was not found.")),
            ("errorCode", Value::from(404)),
        ]);
        let bytes = encode(&payload).unwrap();
        let expected = format!(
            "83b0{}da0020{}ab{}da0028{}a9{}cd0194",
            hex(b"developerMessage"),
            hex(b"The resource could not be found."),
            hex(b"userMessage"),
            hex(b"The content you requested was not found."),
            hex(b"errorCode"),
        );
        assert_eq!(hex(&bytes), expected);
    }

    #[test]
    fn timestamp_header_is_float64() {
        let headers = Value::map([("micro.cs", Value::from(1553000000000i64))]);
        assert_eq!(
            hex(&encode(&headers).unwrap()),
            "81a86d6963726f2e6373cb4276996036a00000"
        );
    }

    #[test]
    fn integers_follow_msgpack_js() {
        let cases: &[(i64, &str)] = &[
            (0, "00"),
            (127, "7f"),
            (128, "cc80"),
            (255, "ccff"),
            (256, "cd0100"),
            (65535, "cdffff"),
            (65536, "ce00010000"),
            (2147483647, "ce7fffffff"),
            (2147483648, "cb41e0000000000000"),
            (-1, "ff"),
            (-32, "e0"),
            (-33, "d0df"),
            (-128, "d080"),
            (-129, "d1ff7f"),
            (-32768, "d18000"),
            (-32769, "d2ffff7fff"),
            (-2147483648, "d280000000"),
            (-2147483649, "cbc1e0000000200000"),
        ];
        for (i, want) in cases {
            assert_eq!(hex(&encode(&Value::Int(*i)).unwrap()), *want, "encoding {i}");
            assert_eq!(decode(&unhex(want)).unwrap().as_i64(), Some(*i), "decoding {want}");
        }
    }

    #[test]
    fn never_emits_str8_bin_ext_or_64_bit_ints() {
        let s31 = "x".repeat(31);
        let s32 = "x".repeat(32);
        let s255 = "x".repeat(255);
        let s64k = "x".repeat(65536);
        assert_eq!(encode(&Value::from(s31.as_str())).unwrap()[0], 0xbf);
        assert_eq!(&encode(&Value::from(s32.as_str())).unwrap()[..3], &[0xda, 0x00, 0x20]);
        assert_eq!(&encode(&Value::from(s255.as_str())).unwrap()[..3], &[0xda, 0x00, 0xff]);
        assert_eq!(&encode(&Value::from(s64k.as_str())).unwrap()[..5], &[0xdb, 0, 1, 0, 0]);
        assert_eq!(encode(&Value::Bin(vec![1, 2])), Err(EncodeError::Binary));
        assert_eq!(encode(&Value::UInt(u64::MAX)).unwrap()[0], 0xcb);
        assert_eq!(encode(&Value::Int(i64::MIN)).unwrap()[0], 0xcb);
    }

    #[test]
    fn accepts_msgpack_js_private_codes() {
        assert_eq!(decode(&[0xc4]).unwrap(), Value::Nil);
        assert_eq!(decode(&unhex("d80003616263")).unwrap(), Value::Bin(b"abc".to_vec()));
        assert_eq!(decode(&unhex("d900000003616263")).unwrap(), Value::Bin(b"abc".to_vec()));
        // Modern str8 when the msgpack-js reading does not fit.
        assert_eq!(decode(&unhex("d903616263")).unwrap(), Value::from("abc"));
        assert_eq!(
            decode(&unhex("92d903616263d90178")).unwrap(),
            Value::from(vec!["abc", "x"])
        );
        // A bin8 inside a container is modern bin when it reads as one...
        assert_eq!(decode(&unhex("91c40101")).unwrap(), Value::Array(vec![Value::Bin(vec![1])]));
        // ...and msgpack-js's undefined when it does not: `{a: undefined, b: 1}`.
        assert_eq!(
            decode(&unhex("82a161c4a16201")).unwrap(),
            Value::map([("a", Value::Nil), ("b", Value::from(1))])
        );
    }

    #[test]
    fn accepts_modern_forms() {
        assert_eq!(decode(&unhex("cf0000000100000000")).unwrap(), Value::Int(1 << 32));
        assert_eq!(decode(&unhex("cfffffffffffffffff")).unwrap(), Value::UInt(u64::MAX));
        assert_eq!(decode(&unhex("d3ffffffffffffffff")).unwrap(), Value::Int(-1));
        assert_eq!(decode(&unhex("ca3fc00000")).unwrap(), Value::Float(1.5));
        assert_eq!(decode(&unhex("c50002abcd")).unwrap(), Value::Bin(vec![0xab, 0xcd]));
        assert_eq!(decode(&unhex("cb4276996036a00000")).unwrap().as_i64(), Some(1553000000000));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in ["", "c1", "a5616263", "dc0010", "dfffffffff", "cd01", "92c0", "c0c0", "d4", "c7"] {
            assert!(decode(&unhex(bad)).is_err(), "{bad} should not decode");
        }
        let deep = vec![0x91u8; 10_000];
        assert!(matches!(decode(&deep).unwrap_err().kind, DecodeErrorKind::TooDeep | DecodeErrorKind::Truncated));
    }

    #[test]
    fn map_str_field_reads_sid_without_allocating() {
        let address = unhex("83a3736964a4504f4e47a87376657273696f6ea12aa476657262a450494e47");
        assert_eq!(map_str_field(&address, "sid"), Some("PONG"));
        assert_eq!(map_str_field(&address, "verb"), Some("PING"));
        assert_eq!(map_str_field(&address, "nope"), None);
        assert_eq!(map_str_field(&[0xc0], "sid"), None);
        assert_eq!(map_str_field(&address[..10], "verb"), None);
    }

    #[test]
    fn round_trip_preserves_key_order_and_types() {
        let v = Value::map([
            ("z", Value::from(1)),
            ("a", Value::from(vec![Value::Nil, Value::from(true), Value::from(-1.25)])),
            ("m", Value::map([("ü", Value::from("ß"))])),
        ]);
        assert_eq!(decode(&encode(&v).unwrap()).unwrap(), v);
    }
}
