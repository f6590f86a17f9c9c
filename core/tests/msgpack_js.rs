//! Byte-level checks against the real msgpack-js@0.3.0 (tests/msgpack-js, installed by
//! scripts/setup.sh): what we encode must equal what msgpack-js encodes for the same value and
//! decode there to the same value; what msgpack-js encodes must decode here.

use serde_json::{json, Value as J};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use zss::msgpack::{decode, encode};
use zss::Value;

struct Oracle {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Oracle {
    fn start() -> Oracle {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/msgpack-js");
        assert!(
            dir.join("node_modules/msgpack-js").is_dir(),
            "msgpack-js@0.3.0 is not installed in {}: run scripts/setup.sh",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg(dir.join("oracle.js"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs (scripts/setup.sh checks for it)");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Oracle { child, stdin, stdout }
    }

    fn ask(&mut self, req: J) -> J {
        writeln!(self.stdin, "{req}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let answer: J = serde_json::from_str(&line).unwrap();
        assert_eq!(answer["ok"], json!(true), "msgpack-js failed on {req}: {}", answer["error"]);
        answer
    }

    fn js_encode(&mut self, v: &J) -> Vec<u8> {
        unhex(self.ask(json!({"op": "encode", "value": v}))["hex"].as_str().unwrap())
    }

    fn js_decode(&mut self, bytes: &[u8]) -> J {
        self.ask(json!({"op": "decode", "hex": hex(bytes)}))["value"].clone()
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Values whose encoding must be byte-identical in both implementations.
fn shared_vectors() -> Vec<J> {
    let mut v = vec![
        json!(null), json!(true), json!(false),
        json!(0), json!(1), json!(127), json!(128), json!(255), json!(256), json!(65535), json!(65536),
        json!(2147483647), json!(2147483648u64), json!(4294967295u64), json!(4294967296u64),
        json!(9007199254740991u64), json!(1553000000000u64),
        json!(-1), json!(-32), json!(-33), json!(-128), json!(-129), json!(-32768), json!(-32769),
        json!(-2147483648i64), json!(-2147483649i64), json!(-9007199254740991i64),
        json!(1.5), json!(-0.25), json!(std::f64::consts::PI), json!(1e300), json!(-1e-300),
        json!(""), json!("a"), json!("ünïcødé ✓ 🚀"), json!("x".repeat(31)), json!("x".repeat(32)),
        json!("y".repeat(255)), json!("z".repeat(256)), json!("w".repeat(65535)), json!("v".repeat(65536)),
        json!([]), json!([1, "two", 3.5, null, true, [[]], {}]),
        json!({}), json!({"sid": "PONG", "sversion": "*", "verb": "PING"}),
        json!({"developerMessage": "The resource could not be found.", "userMessage": "The content you requested was not found.", "errorCode": 404}),
        json!({"nested": {"deeper": {"deepest": [1, {"k": "v"}]}}, "ü": "ß"}),
    ];
    v.push(J::Array((0..15).map(J::from).collect()));
    v.push(J::Array((0..16).map(J::from).collect()));
    v.push(J::Array((0..70000).map(|i| J::from(i % 300)).collect()));
    v.push(J::Object((0..15).map(|i| (format!("k{i}"), J::from(i))).collect()));
    v.push(J::Object((0..16).map(|i| (format!("k{i}"), J::from(i))).collect()));
    v.push(J::Object((0..70000).map(|i| (format!("key{i}"), J::from(i))).collect()));
    v
}

/// JSON equality where numbers compare by value (`2147483648` == `2147483648.0`).
fn same_numbers(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
        (J::Array(x), J::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_numbers(p, q)),
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((k1, v1), (k2, v2))| k1 == k2 && same_numbers(v1, v2))
        }
        _ => a == b,
    }
}

#[test]
fn our_bytes_equal_msgpack_js_bytes_and_decode_both_ways() {
    let mut js = Oracle::start();
    for v in shared_vectors() {
        let ours = encode(&Value::from(&v)).unwrap();
        let theirs = js.js_encode(&v);
        let label = { let s = v.to_string(); if s.len() > 60 { format!("{}…", &s[..60]) } else { s } };
        assert_eq!(hex(&ours), hex(&theirs), "bytes differ for {label}");
        // msgpack-js reads our bytes back to the same value...
        let back = js.js_decode(&ours);
        assert!(same_numbers(&back, &v), "msgpack-js misread {label}");
        // ...and we read theirs (integers beyond int32 arrive as float64, equal in value).
        assert!(same_numbers(&decode(&theirs).unwrap().to_json(), &v), "we misread {label}");
    }
}

#[test]
fn we_read_msgpack_js_private_types() {
    let mut js = Oracle::start();
    // undefined → nil, alone and inside containers.
    assert_eq!(decode(&js.js_encode(&json!({"$undefined": true}))).unwrap(), Value::Nil);
    let with_undefined = js.js_encode(&json!({"a": {"$undefined": true}, "b": [{"$undefined": true}, 1]}));
    assert_eq!(
        decode(&with_undefined).unwrap(),
        Value::map([("a", Value::Nil), ("b", Value::from(vec![Value::Nil, Value::from(1)]))])
    );
    // Buffers: 0xd8 (16-bit length) and 0xd9 (32-bit length).
    let small = js.js_encode(&json!({"$buffer": "00ff10"}));
    assert_eq!(small[0], 0xd8);
    assert_eq!(decode(&small).unwrap(), Value::Bin(vec![0, 0xff, 0x10]));
    let big_hex = "ab".repeat(70000);
    let big = js.js_encode(&json!({"$buffer": big_hex}));
    assert_eq!(big[0], 0xd9);
    assert_eq!(decode(&big).unwrap(), Value::Bin(vec![0xab; 70000]));
    let in_map = js.js_encode(&json!({"blob": {"$buffer": "0102"}, "after": "x"}));
    assert_eq!(decode(&in_map).unwrap(), Value::map([("blob", Value::Bin(vec![1, 2])), ("after", Value::from("x"))]));
}

#[test]
fn msgpack_js_reads_what_we_emit_for_values_it_cannot_produce() {
    let mut js = Oracle::start();
    // Integers beyond int32 from Rust/Python go out as float64; msgpack-js reads the number.
    for (ours, expected) in [
        (Value::Int(i64::MAX), json!(9.223372036854776e18)),
        (Value::UInt(u64::MAX), json!(1.8446744073709552e19)),
        (Value::Int(-(1 << 40)), json!(-1099511627776i64)),
        (Value::Float(2.0), json!(2)),
    ] {
        let bytes = encode(&ours).unwrap();
        assert_eq!(bytes[0], 0xcb);
        let back = js.js_decode(&bytes);
        assert_eq!(back.as_f64(), expected.as_f64(), "{ours:?}");
    }
    // A modern encoder's str8 for a short string would be misread by msgpack-js; we never emit it.
    let s = "s".repeat(200);
    let bytes = encode(&Value::from(s.as_str())).unwrap();
    assert_eq!(js.js_decode(&bytes), json!(s));
    // And we do read a modern str8 when a peer sends one.
    let mut str8 = vec![0xd9, 200];
    str8.extend_from_slice(s.as_bytes());
    assert_eq!(decode(&str8).unwrap(), Value::from(s.as_str()));
}
