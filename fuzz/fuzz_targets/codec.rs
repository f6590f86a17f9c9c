//! The msgpack dialect decoder on arbitrary bytes: never panics; whatever decodes and can be
//! sent re-encodes to bytes that decode to the same value (integers beyond int32 as floats).
#![no_main]
use libfuzzer_sys::fuzz_target;
use zss::msgpack::{decode, encode, map_str_field};

fuzz_target!(|data: &[u8]| {
    let _ = map_str_field(data, "sid");
    if let Ok(value) = decode(data) {
        if let Ok(bytes) = encode(&value) {
            let again = decode(&bytes).expect("our own encoding decodes");
            assert_eq!(encode(&again).expect("re-encodes"), bytes, "encoding is stable");
        }
    }
});
