//! Tagged JSON (tests/matrix/README.md) to and from the core's [`Value`]: the matrix's Rust
//! programs read scenarios and print what they saw in this form.

use serde_json::{json, Map, Value as J};
use zss::Value;

/// Tagged JSON → a value to send: `{"$float": x}` is a float, `{"$int": "digits"}` an integer.
pub fn from_tagged(j: &J) -> Result<Value, String> {
    Ok(match j {
        J::Object(map) if map.len() == 1 && map.contains_key("$float") => {
            Value::Float(map["$float"].as_f64().ok_or_else(|| format!("bad $float: {j}"))?)
        }
        J::Object(map) if map.len() == 1 && map.contains_key("$int") => {
            let digits = map["$int"].as_str().ok_or_else(|| format!("bad $int: {j}"))?;
            match digits.parse::<i64>() {
                Ok(i) => Value::Int(i),
                Err(_) => Value::UInt(digits.parse::<u64>().map_err(|e| format!("bad $int {digits}: {e}"))?),
            }
        }
        J::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| Ok((Value::Str(k.clone()), from_tagged(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        J::Array(items) => Value::Array(items.iter().map(from_tagged).collect::<Result<_, _>>()?),
        // Plain numbers, strings, booleans and null read the same as untagged JSON.
        other => Value::from(other),
    })
}

/// A received value → tagged JSON: floats tagged, integers plain, binary as `{"$bin": [..]}`.
pub fn to_tagged(value: &Value) -> J {
    match value {
        Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => json!(i),
        Value::UInt(u) => json!(u),
        Value::Float(f) => json!({ "$float": f }),
        Value::Str(s) => J::String(s.clone()),
        Value::Bin(bytes) => json!({ "$bin": bytes }),
        Value::Array(items) => J::Array(items.iter().map(to_tagged).collect()),
        Value::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| (k.as_str().map(str::to_owned).unwrap_or_else(|| k.to_json_string()), to_tagged(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

/// CURVE keys from the environment, as the `zss` program reads them (the matrix's `--curve`
/// run sets both): `ZSS_BROKER_KEY` the broker's public key, `ZSS_KEY` this program's secret
/// key (each a key file, Z85 text or `env:VAR`). `Ok(None)`: plaintext.
pub fn curve_from_env() -> zss::Result<Option<(zss::security::Key, zss::KeyPair)>> {
    let Ok(broker_key) = std::env::var("ZSS_BROKER_KEY") else { return Ok(None) };
    let secret = std::env::var("ZSS_KEY").map_err(|_| zss::Error::InvalidArgument("ZSS_BROKER_KEY without ZSS_KEY".into()))?;
    Ok(Some((zss::security::load_key(&broker_key)?, zss::KeyPair::load(&secret)?)))
}

/// The entries of a headers map whose names start with `x-matrix-`.
pub fn matrix_headers(headers: &Value) -> Vec<(String, Value)> {
    match headers {
        Value::Map(entries) => entries
            .iter()
            .filter_map(|(k, v)| k.as_str().filter(|k| k.starts_with("x-matrix-")).map(|k| (k.to_owned(), v.clone())))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_survive_a_round_trip() {
        let tagged = json!([1, {"$float": 2.0}, {"$int": "18446744073709551615"}, {"k": [null, true, "s"]}]);
        let value = from_tagged(&tagged).unwrap();
        let Value::Array(items) = &value else { panic!("not an array: {value:?}") };
        assert_eq!(items[1], Value::Float(2.0));
        assert_eq!(items[2], Value::UInt(u64::MAX));
        assert_eq!(to_tagged(&value), json!([1, {"$float": 2.0}, 18446744073709551615u64, {"k": [null, true, "s"]}]));
    }
}
