//! Shared fixtures for the integration tests: a real broker on ephemeral ports, workers, and a
//! raw DEALER for speaking frames directly.
#![allow(dead_code)]

pub mod process;
pub mod zookeeper;

use std::time::{Duration, Instant};
use zss::{Broker, BrokerConfig, Response, RunningBroker, RunningWorker, ServiceError, Value, Worker, WorkerConfig};

/// A broker on loopback wildcard ports with fast liveness settings (TTL 600 ms, sweep 100 ms).
pub fn broker() -> RunningBroker {
    broker_on("tcp://127.0.0.1:*", "tcp://127.0.0.1:*")
}

pub fn broker_on(frontend: &str, backend: &str) -> RunningBroker {
    // RUST_LOG=zss=debug shows the broker's and workers' logs for a failing test.
    let _ = env_logger::builder().is_test(true).try_init();
    let mut config = BrokerConfig::new(frontend, backend);
    config.heartbeat = Duration::from_millis(100);
    config.max_ttl = Duration::from_millis(600);
    config.sweep_interval = Duration::from_millis(100);
    Broker::bind(config).expect("broker binds").start().expect("broker starts")
}

pub fn worker_config(backend: &str, sid: &str) -> WorkerConfig {
    WorkerConfig::new(sid).broker(backend).heartbeat(Duration::from_millis(100))
}

/// A worker with the verbs the tests use.
pub fn test_worker(backend: &str, sid: &str) -> RunningWorker {
    let mut w = Worker::new(worker_config(backend, sid));
    add_test_verbs(&mut w);
    w.start().expect("worker starts")
}

pub fn add_test_verbs(w: &mut Worker) {
    w.verb("echo", |req| Ok(Response::ok(req.payload.clone())))
        .verb("nothing", |_| Ok(Response::ok(Value::Nil)))
        .verb("created", |req| Ok(Response::with_status(201, req.payload.clone())))
        .verb("bad_status", |_| Ok(Response::with_status(404, "nope")))
        .verb("invalid", |_| {
            Err(ServiceError::with_messages(422, "Invalid name", "name must not be empty")
                .with_field("validationErrors", Value::from(vec!["name"])))
        })
        .verb("panic", |_| panic!("handler exploded"))
        .verb("headers", |req| Ok(Response::ok(req.headers.clone()).header("x-answer", 42)))
        .verb("whoami", |req| Ok(Response::ok(req.client.clone())))
        .verb("sleep", |req| {
            let ms = req.payload.as_i64().unwrap_or(100) as u64;
            std::thread::sleep(Duration::from_millis(ms));
            Ok(Response::ok(Value::from(ms)))
        });
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

pub fn wait_for_workers(broker: &RunningBroker, n: u64) {
    assert!(
        wait_until(Duration::from_secs(5), || zss::BrokerStats::get(&broker.stats().workers) == n),
        "expected {n} registered workers, broker has {}",
        zss::BrokerStats::get(&broker.stats().workers)
    );
}

/// A raw DEALER socket for sending hand-made frames.
pub struct Raw {
    pub socket: zmq::Socket,
}

impl Raw {
    pub fn connect(endpoint: &str, identity: &str) -> Raw {
        let socket = zss::socket::context().socket(zmq::DEALER).unwrap();
        socket.set_identity(identity.as_bytes()).unwrap();
        socket.set_linger(0).unwrap();
        socket.connect(endpoint).unwrap();
        Raw { socket }
    }

    pub fn send(&self, frames: &[&[u8]]) {
        self.socket.send_multipart(frames.iter().copied(), 0).unwrap();
    }

    pub fn recv(&self, timeout: Duration) -> Option<Vec<Vec<u8>>> {
        let mut items = [self.socket.as_poll_item(zmq::POLLIN)];
        zmq::poll(&mut items, timeout.as_millis() as i64).unwrap();
        if items[0].is_readable() {
            Some(self.socket.recv_multipart(0).unwrap())
        } else {
            None
        }
    }
}

pub fn enc(v: &Value) -> Vec<u8> {
    zss::msgpack::encode(v).unwrap()
}

pub fn address(sid: &str, verb: &str) -> Vec<u8> {
    zss::Address { sid: sid.into(), sversion: "*".into(), verb: verb.into() }.encode()
}
