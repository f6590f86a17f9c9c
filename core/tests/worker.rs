//! The worker as a broker sees it, with a raw ROUTER standing in for the broker.

mod common;
use common::*;
use std::time::Duration;
use zss::{Value, Worker};

struct FakeBroker {
    router: zmq::Socket,
    endpoint: String,
}

impl FakeBroker {
    fn bind() -> FakeBroker {
        let router = zss::socket::context().socket(zmq::ROUTER).unwrap();
        router.set_linger(0).unwrap();
        router.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = router.get_last_endpoint().unwrap().unwrap();
        FakeBroker { router, endpoint }
    }

    fn recv(&self, timeout: Duration) -> Option<Vec<Vec<u8>>> {
        let mut items = [self.router.as_poll_item(zmq::POLLIN)];
        zmq::poll(&mut items, timeout.as_millis() as i64).unwrap();
        items[0].is_readable().then(|| self.router.recv_multipart(0).unwrap())
    }

    /// Receives until an SMI message with `verb` arrives; returns its frames.
    fn expect_smi(&self, verb: &str) -> Vec<Vec<u8>> {
        for _ in 0..50 {
            let f = self.recv(Duration::from_secs(2)).expect("an SMI message");
            if f.len() == 9 && f[5] == address("SMI", verb) {
                return f;
            }
        }
        panic!("no SMI {verb}");
    }

    fn send(&self, frames: &[Vec<u8>]) {
        self.router.send_multipart(frames.iter(), 0).unwrap();
    }
}

#[test]
fn smi_messages_are_node_style_and_replies_carry_the_contract() {
    let fake = FakeBroker::bind();
    let worker = test_worker(&fake.endpoint, "pong");
    let up = fake.expect_smi("UP");
    // [routing id, own identity, protocol, REQ, rid, address, headers nil, "null", sid]
    assert_eq!(up[0], up[1], "field 0 is the worker's own identity");
    assert!(String::from_utf8(up[0].clone()).unwrap().starts_with("PONG#"));
    assert_eq!((&up[2][..], &up[3][..], &up[6][..], &up[7][..]), (&b"ZSS:0.0"[..], &b"REQ"[..], &[0xc0][..], &b"null"[..]));
    assert_eq!(up[8], enc(&Value::from("PONG")));
    fake.expect_smi("HEARTBEAT");

    // A request from a Ruby client: empty status frame, nil headers.
    let id = up[0].clone();
    fake.send(&[id.clone(), b"client#ruby".to_vec(), b"ZSS:0.0".to_vec(), b"REQ".to_vec(), b"rid-1".to_vec(),
        address("PONG", "echo"), vec![0xc0], Vec::new(), enc(&Value::from(7))]);
    let reply = loop {
        let f = fake.recv(Duration::from_secs(2)).expect("reply");
        if f[1] == b"client#ruby" { break f; }
    };
    assert_eq!(reply.len(), 9);
    assert_eq!((&reply[3][..], &reply[4][..], &reply[7][..]), (&b"REP"[..], &b"rid-1"[..], &b"200"[..]));
    assert_eq!(reply[5], address("PONG", "echo"), "address echoed byte for byte");
    let headers = zss::msgpack::decode(&reply[6]).unwrap();
    assert!(matches!(headers.get("response-time"), Some(Value::Float(_))));
    assert_eq!(zss::msgpack::decode(&reply[8]).unwrap(), Value::from(7));

    // A request it cannot parse, from a readable sender: answered 400, not dropped.
    fake.send(&[id.clone(), b"client#bad".to_vec(), b"ZSS:0.0".to_vec(), b"REQ".to_vec(), b"rid-2".to_vec(),
        address("PONG", "echo"), vec![0x80], b"null".to_vec(), vec![0xc1]]);
    let reply = loop {
        let f = fake.recv(Duration::from_secs(2)).expect("400 reply");
        if f[1] == b"client#bad" { break f; }
    };
    assert_eq!((&reply[4][..], &reply[7][..]), (&b"rid-2"[..], &b"400"[..]));
    assert_eq!(zss::BrokerStats::get(&worker.stats().malformed), 1);

    // A request for another sid: the worker's own 404.
    fake.send(&[id, b"client#lost".to_vec(), b"ZSS:0.0".to_vec(), b"REQ".to_vec(), b"rid-3".to_vec(),
        address("OTHER", "echo"), vec![0x80], b"null".to_vec(), vec![0xc0]]);
    let reply = loop {
        let f = fake.recv(Duration::from_secs(2)).expect("404 reply");
        if f[1] == b"client#lost" { break f; }
    };
    assert_eq!(reply[7], b"404");

    // Stop: DOWN is sent and the worker exits once it is answered.
    worker.stop();
    let mut down = fake.expect_smi("DOWN");
    let rid = down[4].clone();
    down.remove(1);
    down[2] = b"REP".to_vec();
    down[6] = b"200".to_vec();
    assert_eq!(down[3], rid);
    fake.send(&down);
    assert!(worker.wait(Some(Duration::from_secs(1))), "worker stops once DOWN is answered");
}

#[test]
fn a_silent_broker_is_detected_and_the_worker_reregisters() {
    let fake = FakeBroker::bind();
    let worker = test_worker(&fake.endpoint, "pong");
    let first = fake.expect_smi("UP")[0].clone();
    // Never answer: after 3 heartbeats (300 ms) the worker reconnects with a new identity.
    let second = fake.expect_smi("UP")[0].clone();
    assert_ne!(first, second);
    assert!(zss::BrokerStats::get(&worker.stats().reconnects) >= 1);
    drop(worker); // DOWN is unanswered: the bounded wait lets drop return.
}

#[test]
fn stop_waits_for_handlers_in_flight_then_says_down() {
    let broker = broker();
    let mut w = Worker::new(worker_config(broker.backend_endpoint(), "svc"));
    add_test_verbs(&mut w);
    let w = w.start().unwrap();
    wait_for_workers(&broker, 1);
    let c = zss::Client::connect(zss::ClientConfig::new(broker.frontend_endpoint()).sid("svc")).unwrap();
    let pending = c.start(zss::Call::new("sleep", 300)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    w.join();
    assert_eq!(pending.wait().unwrap().payload, Value::from(300), "the call in flight completed");
    wait_for_workers(&broker, 0);
    assert_eq!(zss::BrokerStats::get(&broker.stats().unavailable), 0);
}

#[test]
fn a_handler_can_stop_its_own_worker() {
    use std::sync::{Arc, Mutex};
    let broker = broker();
    let slot: Arc<Mutex<Option<Arc<zss::RunningWorker>>>> = Arc::default();
    let mut w = Worker::new(worker_config(broker.backend_endpoint(), "svc"));
    let s = slot.clone();
    w.verb("shutdown", move |_| {
        let me = s.lock().unwrap().clone().expect("worker started");
        me.join(); // blocks this handler until the worker has stopped
        Ok(zss::Response::ok("too late"))
    });
    let running = Arc::new(w.start().unwrap());
    *slot.lock().unwrap() = Some(running.clone());
    wait_for_workers(&broker, 1);
    let c = zss::Client::connect(zss::ClientConfig::new(broker.frontend_endpoint()).sid("svc")).unwrap();
    // The worker drains (bounded), says DOWN with this call still in flight, and the broker
    // answers it 503: an answer, not a hang.
    let r = c.request(zss::Call::new("shutdown", Value::Nil).timeout(Duration::from_secs(10)));
    assert!(matches!(r, Err(zss::Error::Service(ref e)) if e.code == 503), "{r:?}");
    assert!(running.wait(Some(Duration::from_secs(5))), "worker stopped");
    slot.lock().unwrap().take();
    wait_for_workers(&broker, 0);
}

#[test]
fn a_full_worker_queue_answers_503() {
    // Behind a broker that does not limit requests in flight (as the original does not).
    let mut config = zss::BrokerConfig::new("tcp://127.0.0.1:*", "tcp://127.0.0.1:*");
    config.max_in_flight_per_worker = u32::MAX;
    let broker = zss::Broker::bind(config).unwrap().start().unwrap();
    let mut cfg = worker_config(broker.backend_endpoint(), "svc").concurrency(1);
    cfg.max_queue = 3;
    let mut w = Worker::new(cfg);
    add_test_verbs(&mut w);
    let w = w.start().unwrap();
    wait_for_workers(&broker, 1);
    let c = zss::Client::connect(zss::ClientConfig::new(broker.frontend_endpoint()).sid("svc").timeout(Duration::from_secs(5))).unwrap();
    let calls: Vec<_> = (0..10).map(|_| c.start(zss::Call::new("sleep", 100)).unwrap()).collect();
    let codes: Vec<u16> = calls.into_iter().map(|p| match p.wait() { Ok(r) => r.status, Err(e) => e.code() }).collect();
    assert_eq!(codes.iter().filter(|&&c| c == 200).count(), 4, "1 running + 3 queued: {codes:?}");
    assert_eq!(codes.iter().filter(|&&c| c == 503).count(), 6, "{codes:?}");
    assert_eq!(zss::BrokerStats::get(&w.stats().overloaded), 6);
}

#[test]
fn inline_handlers_keep_the_contract() {
    let broker = broker();
    let mut cfg = worker_config(broker.backend_endpoint(), "svc");
    cfg.inline_handlers = true;
    let mut w = Worker::new(cfg);
    add_test_verbs(&mut w);
    let _w = w.start().unwrap();
    wait_for_workers(&broker, 1);
    let c = zss::Client::connect(zss::ClientConfig::new(broker.frontend_endpoint()).sid("svc").timeout(Duration::from_secs(5))).unwrap();
    let code = |verb: &str, p: Value| match c.call(verb, p) { Ok(r) => r.status, Err(e) => e.code() };
    assert_eq!(code("echo", Value::from(1)), 200);
    assert_eq!(code("nothing", Value::Nil), 204);
    assert_eq!(code("created", Value::from(1)), 201);
    assert_eq!(code("invalid", Value::Nil), 422);
    assert_eq!(code("panic", Value::Nil), 500);
    assert_eq!(code("nope", Value::Nil), 404);
    let calls: Vec<_> = (0..500).map(|i| c.start(zss::Call::new("echo", i)).unwrap()).collect();
    for (i, p) in calls.into_iter().enumerate() {
        assert_eq!(p.wait().unwrap().payload, Value::from(i as i64));
    }
}
