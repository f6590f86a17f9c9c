//! Hostile input: random and mutated frames at both broker sockets and at a worker, and random
//! bytes into the codec. Deterministic (seeded) and bounded, so it runs in every test run.
//! Expected: no crash, no hang, every bad message counted, valid traffic keeps flowing.

mod common;
use common::*;
use std::time::Duration;
use zss::{BrokerStats, Client, ClientConfig, Value};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A valid request's frames (7, as a client sends them), to mutate.
fn valid_request() -> Vec<Vec<u8>> {
    zss::Message::request(
        "rid".into(),
        zss::Address::new("svc", "echo"),
        Value::map([("k", Value::from("v"))]),
        Value::map([("n", Value::from(vec![Value::from(1), Value::from("two")]))]),
    )
    .to_frames()
    .unwrap()
}

/// One hostile message: random frames, or a valid one with frames dropped, duplicated,
/// truncated, bit-flipped, emptied or oversized.
fn hostile(rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut frames = valid_request();
    match rng.below(8) {
        0 => (0..rng.below(12) + 1).map(|_| rng.bytes(64)).collect(),
        1 => {
            let i = rng.below(frames.len());
            frames.remove(i);
            frames
        }
        2 => {
            let i = rng.below(frames.len());
            let f = frames[i].clone();
            frames.insert(i, f);
            frames
        }
        3 => {
            let i = 3 + rng.below(4); // address, headers, status or payload
            let len = frames[i].len();
            frames[i].truncate(rng.below(len.max(1)));
            frames
        }
        4 => {
            for _ in 0..rng.below(4) + 1 {
                let i = rng.below(frames.len());
                if !frames[i].is_empty() {
                    let j = rng.below(frames[i].len());
                    frames[i][j] ^= 1 << rng.below(8);
                }
            }
            frames
        }
        5 => {
            let i = rng.below(frames.len());
            frames[i].clear();
            frames
        }
        6 => {
            // A msgpack length prefix claiming far more than is there.
            frames[3] = vec![0xdf, 0xff, 0xff, 0xff, 0xff];
            frames[6] = vec![0xdb, 0x7f, 0xff, 0xff, 0xff, b'x'];
            frames
        }
        _ => {
            frames[0] = [b'Z', b'S', b'S', b':', b'0', b'.', rng.next() as u8].to_vec();
            frames
        }
    }
}

/// Equality where an integer equals the float of the same value, and NaN equals NaN.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::Float(f), other) | (other, Value::Float(f)) => other.as_i64().map(|i| i as f64) == Some(*f) || matches!(other, Value::UInt(u) if *u as f64 == *f),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Value::Map(x), Value::Map(y)) => x.len() == y.len() && x.iter().zip(y).all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2)),
        _ => a == b,
    }
}

#[test]
fn codec_never_panics_on_random_or_mutated_bytes() {
    let mut rng = Rng(0x5eed_0001);
    let valid = zss::msgpack::encode(&Value::map([
        ("a", Value::from(vec![Value::from(1), Value::from(-300), Value::from(1.5), Value::Nil])),
        ("b", Value::from("x".repeat(40))),
        ("c", Value::map([("d", Value::from(true))])),
    ]))
    .unwrap();
    for _ in 0..100_000 {
        let bytes = if rng.below(2) == 0 {
            rng.bytes(48)
        } else {
            let mut b = valid.clone();
            for _ in 0..rng.below(3) + 1 {
                let j = rng.below(b.len());
                b[j] = rng.next() as u8;
            }
            b.truncate(rng.below(b.len() + 1));
            b
        };
        if let Ok(v) = zss::msgpack::decode(&bytes) {
            // Whatever decodes re-encodes (binary aside) and decodes to the same value, integers
            // beyond int32 coming back as the equal float64 the dialect sends them as.
            if let Ok(again) = zss::msgpack::encode(&v) {
                let back = zss::msgpack::decode(&again).unwrap();
                assert!(same(&back, &v), "{bytes:02x?}: {v:?} came back as {back:?}");
            }
        }
        let frames: Vec<&[u8]> = bytes.chunks(5).collect();
        let _ = zss::Message::from_frames(&frames);
        let _ = zss::msgpack::map_str_field(&bytes, "sid");
    }
}

#[test]
fn broker_and_worker_survive_a_hostile_stream() {
    let broker = broker();
    let worker = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 1);
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc").timeout(Duration::from_secs(3))).unwrap();
    let evil_client = Raw::connect(broker.frontend_endpoint(), "client#evil");
    let evil_worker = Raw::connect(broker.backend_endpoint(), "SVC#evil");
    let mut rng = Rng(0x5eed_0002);
    const N: usize = 3000;
    for i in 0..N {
        let frames = hostile(&mut rng);
        let refs: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
        evil_client.send(&refs);
        evil_worker.send(&refs);
        // A hostile request through the broker to the real worker: valid envelope, bad insides.
        if i % 3 == 0 {
            let mut f = valid_request();
            f[6] = rng.bytes(8);
            f[4] = rng.bytes(8);
            evil_client.send(&f.iter().map(|x| &x[..]).collect::<Vec<_>>());
        }
        if i % 100 == 0 {
            let v = Value::from(i as i64);
            assert_eq!(c.call("echo", v.clone()).unwrap().payload, v, "valid traffic flows at message {i}");
        }
    }
    // Drain whatever the evil sockets were answered, then check the service once more.
    while evil_client.recv(Duration::from_millis(200)).is_some() {}
    for i in 0..20 {
        assert_eq!(c.call("echo", i).unwrap().payload, Value::from(i));
    }
    let s = broker.stats();
    let counted = BrokerStats::get(&s.malformed_frontend)
        + BrokerStats::get(&s.bad_requests)
        + BrokerStats::get(&s.forwarded)
        + BrokerStats::get(&s.not_found);
    assert_eq!(BrokerStats::get(&s.requests), counted, "every frontend message is accounted for");
    assert!(BrokerStats::get(&s.malformed_frontend) > N as u64 / 2);
    assert!(BrokerStats::get(&s.malformed_backend) > N as u64 / 2);
    assert!(BrokerStats::get(&worker.stats().malformed) > 0, "the worker saw and counted bad requests");
    assert_eq!(BrokerStats::get(&s.workers), 1, "the real worker stayed registered");
    assert_eq!(BrokerStats::get(&s.in_flight), 0, "nothing left waiting");
}
