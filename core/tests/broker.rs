//! The broker as peers see it: SMI bytes, liveness, lost workers, restarts, hostile frames.

mod common;
use common::*;
use std::time::{Duration, Instant};
use zss::{BrokerStats, Call, Client, ClientConfig, Error, Value};

const RID: &[u8] = b"5d1c3a4e-0000-4000-8000-000000000001";

fn smi_frames(verb: &str) -> Vec<Vec<u8>> {
    vec![b"ZSS:0.0".to_vec(), b"REQ".to_vec(), RID.to_vec(), address("SMI", verb), vec![0xc0], b"null".to_vec(), enc(&Value::from("PONG"))]
}

/// Sends an SMI request the way a Node worker does (8 frames, own identity first) and returns
/// the status of the 7-frame reply after checking its echo.
fn node_smi(raw: &Raw, identity: &str, verb: &str) -> String {
    let mut frames = smi_frames(verb);
    frames.insert(0, identity.as_bytes().to_vec());
    let refs: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
    raw.send(&refs);
    let reply = raw.recv(Duration::from_secs(2)).expect("SMI reply");
    assert_eq!(reply.len(), 7, "the worker receives 7 frames");
    assert_eq!(reply[0], b"ZSS:0.0");
    assert_eq!(reply[1], b"REP");
    assert_eq!(reply[2], RID);
    assert_eq!(reply[3], address("SMI", verb));
    assert_eq!(reply[4], [0xc0]);
    assert_eq!(reply[6], [0xa4, b'P', b'O', b'N', b'G']);
    String::from_utf8(reply[5].clone()).unwrap()
}

#[test]
fn smi_statuses_and_reply_bytes() {
    let broker = broker();
    let id = "PONG#node-style";
    let raw = Raw::connect(broker.backend_endpoint(), id);
    assert_eq!(node_smi(&raw, id, "UP"), "200");
    assert_eq!(node_smi(&raw, id, "UP"), "500", "already registered");
    assert_eq!(node_smi(&raw, id, "HEARTBEAT"), "200");
    assert_eq!(node_smi(&raw, id, "DOWN"), "200");
    assert_eq!(node_smi(&raw, id, "DOWN"), "500", "not registered");
    assert_eq!(node_smi(&raw, id, "HEARTBEAT"), "200", "unknown worker registered by heartbeat");
    wait_for_workers(&broker, 1);
    assert_eq!(node_smi(&raw, id, "RESTART"), "500", "unknown SMI verb");

    // Ruby workers send 7 frames (no identity field).
    let ruby = Raw::connect(broker.backend_endpoint(), "PONG#ruby-style");
    let frames = smi_frames("UP");
    ruby.send(&frames.iter().map(|f| &f[..]).collect::<Vec<_>>());
    let reply = ruby.recv(Duration::from_secs(2)).unwrap();
    assert_eq!((reply.len(), &reply[5][..]), (7, &b"200"[..]));
    wait_for_workers(&broker, 2);

    // Any other REQ on the backend: 500.
    let mut other = smi_frames("UP");
    other[3] = address("PONG", "PING");
    ruby.send(&other.iter().map(|f| &f[..]).collect::<Vec<_>>());
    assert_eq!(ruby.recv(Duration::from_secs(2)).unwrap()[5], b"500");
}

#[test]
fn requests_reach_raw_workers_with_the_contracts_frames() {
    let broker = broker();
    let raw = Raw::connect(broker.backend_endpoint(), "PONG#raw");
    assert_eq!(node_smi(&raw, "PONG#raw", "UP"), "200");
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("pong")).unwrap();
    let pending = c.start(Call::new("ping", "ping")).unwrap();
    let req = raw.recv(Duration::from_secs(2)).expect("request forwarded");
    assert_eq!(req.len(), 8, "the worker receives 8 frames");
    assert_eq!(req[0], c.identity().as_bytes());
    assert_eq!((&req[1][..], &req[2][..]), (&b"ZSS:0.0"[..], &b"REQ"[..]));
    assert_eq!(req[4], address("PONG", "PING"));
    assert_eq!(req[5], [0x80], "an empty header map, never nil: the Node service writes into it");
    assert_eq!(req[6], b"null");
    assert_eq!(req[7], [0xa4, b'p', b'i', b'n', b'g']);
    // Reply as a Node service would: 8 frames, status as digits.
    let mut rep = req.clone();
    rep[2] = b"REP".to_vec();
    rep[6] = b"200".to_vec();
    rep[7] = enc(&Value::from("PONG"));
    raw.send(&rep.iter().map(|f| &f[..]).collect::<Vec<_>>());
    let reply = pending.wait().unwrap();
    assert_eq!((reply.status, reply.payload), (200, Value::from("PONG")));
}

#[test]
fn silent_workers_expire_and_their_service_404s() {
    let broker = broker();
    let raw = Raw::connect(broker.backend_endpoint(), "GONE#1");
    let mut frames = smi_frames("UP");
    frames[6] = enc(&Value::from("gone"));
    raw.send(&frames.iter().map(|f| &f[..]).collect::<Vec<_>>());
    wait_for_workers(&broker, 1);
    let start = Instant::now();
    wait_for_workers(&broker, 0);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(400) && took < Duration::from_millis(1500), "expired after {took:?} (TTL 600 ms)");
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("gone")).unwrap();
    assert!(matches!(c.call("x", Value::Nil), Err(Error::Service(e)) if e.code == 404));
}

#[test]
fn requests_of_an_expired_worker_are_answered_at_once() {
    let broker = broker();
    let raw = Raw::connect(broker.backend_endpoint(), "PONG#mute");
    assert_eq!(node_smi(&raw, "PONG#mute", "UP"), "200");
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("pong").timeout(Duration::from_secs(10))).unwrap();
    let start = Instant::now();
    let calls: Vec<_> = (0..3).map(|i| c.start(Call::new("ping", i)).unwrap()).collect();
    for p in calls {
        match p.wait() {
            Err(Error::Service(e)) => assert_eq!(e.code, 503),
            other => panic!("expected 503, got {other:?}"),
        }
    }
    assert!(start.elapsed() < Duration::from_secs(2), "answered after {:?}, not at the 10 s timeout", start.elapsed());
    assert_eq!(BrokerStats::get(&broker.stats().unavailable), 3);
    assert_eq!(BrokerStats::get(&broker.stats().in_flight), 0);
}

#[test]
fn sigkilled_worker_process_fails_its_calls_fast_and_survivors_take_over() {
    let broker = broker();
    let zss = env!("CARGO_BIN_EXE_zss");
    let mut victim = std::process::Command::new(zss)
        .args(["echo", "svc", "--heartbeat", "100", "--broker", broker.backend_endpoint(), "--log-level", "warn"])
        .spawn()
        .unwrap();
    wait_for_workers(&broker, 1);
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc").timeout(Duration::from_secs(10))).unwrap();
    let slow: Vec<_> = (0..4).map(|_| c.start(Call::new("sleep", Value::map([("ms", Value::from(5000))]))).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let _survivor = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 2);
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    let killed_at = Instant::now();
    for p in slow {
        match p.wait() {
            Err(Error::Service(e)) => assert_eq!(e.code, 503),
            other => panic!("expected 503, got {other:?}"),
        }
    }
    assert!(killed_at.elapsed() < Duration::from_millis(1500), "took {:?}", killed_at.elapsed());
    for i in 0..20 {
        assert_eq!(c.call("echo", i).unwrap().payload, Value::from(i), "later calls go to the survivor");
    }
}

#[test]
fn broker_restart_under_steady_load_workers_reregister_and_clients_recover() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let port = free_port();
    let fe = format!("tcp://127.0.0.1:{port}");
    let be = format!("tcp://127.0.0.1:{}", free_port());
    let first = broker_on(&fe, &be);
    let _worker = test_worker(&be, "svc");
    wait_for_workers(&first, 1);
    // Steady load: 3 clients calling back to back, timeout 300 ms, through the whole restart.
    let running = Arc::new(AtomicBool::new(true));
    let outcomes: Arc<Mutex<Vec<(u16, Duration)>>> = Arc::default();
    let load: Vec<_> = (0..3)
        .map(|_| {
            let (fe, running, outcomes) = (fe.clone(), running.clone(), outcomes.clone());
            std::thread::spawn(move || {
                let c = Client::connect(ClientConfig::new(&fe).sid("svc").timeout(Duration::from_millis(300))).unwrap();
                while running.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let r = c.call("echo", 1);
                    let code = match r { Ok(r) => r.status, Err(e) => e.code() };
                    outcomes.lock().unwrap().push((code, t.elapsed()));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    drop(first); // the broker goes away without a word, as a killed one does
    std::thread::sleep(Duration::from_millis(500));
    let second = broker_on(&fe, &be);
    let restarted = Instant::now();
    wait_for_workers(&second, 1);
    let reregistered = restarted.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let served_before_end = outcomes.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(300));
    running.store(false, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    assert!(reregistered < Duration::from_millis(1000), "re-registered after {reregistered:?} (heartbeat 100 ms)");
    let outcomes = outcomes.lock().unwrap();
    for (code, took) in outcomes.iter() {
        // 503: in flight when the broker went (broker lost); 599: made while it was down.
        assert!([200, 404, 503, 599].contains(code), "unexpected status {code}");
        assert!(*took < Duration::from_millis(600), "a call took {took:?}, past its 300 ms timeout");
    }
    assert!(outcomes.iter().any(|o| o.0 == 599), "calls made while the broker was down time out");
    assert!(outcomes[served_before_end..].iter().all(|o| o.0 == 200), "after recovery every call succeeds");
    assert!(outcomes.len() - served_before_end > 0, "clients kept calling after the restart");
}

#[test]
fn malformed_frames_on_both_sockets_are_counted_and_service_continues() {
    let broker = broker();
    let _worker = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 1);
    let evil = Raw::connect(broker.frontend_endpoint(), "client#evil");
    let junk: Vec<Vec<&[u8]>> = vec![
        vec![b"garbage"],
        vec![b""],
        vec![b"ZSS:0.0", b"REQ"],
        vec![b"ZSS:9.9", b"REQ", b"r", b"\x80", b"\x80", b"null", b"\xc0"],
        vec![b"ZSS:0.0", b"REP", b"r", b"\x80", b"\x80", b"null", b"\xc0"],
        vec![b"ZSS:0.0", b"REQ", b"r", b"\x80", b"\x80", b"null", b"\xc0", b"extra"],
        vec![&[0xff; 100][..]; 12],
    ];
    for frames in &junk {
        evil.send(frames);
    }
    // An unreadable address with a readable envelope is answered 400, not dropped.
    evil.send(&[b"ZSS:0.0", b"REQ", b"rid-bad-address", b"\xc1\xc1", b"\x80", b"null", b"\xc0"]);
    let reply = evil.recv(Duration::from_secs(2)).expect("400 reply");
    assert_eq!((&reply[2][..], &reply[5][..]), (&b"rid-bad-address"[..], &b"400"[..]));

    let evil_worker = Raw::connect(broker.backend_endpoint(), "SVC#evil");
    for frames in &junk {
        evil_worker.send(frames);
    }
    evil_worker.send(&[b"ZSS:0.0", b"REQ", b"r", b"\xc1", b"\x80", b"null", b"\xc0"]);
    assert_eq!(evil_worker.recv(Duration::from_secs(2)).expect("500 for a bad SMI")[5], b"500");

    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc")).unwrap();
    for i in 0..10 {
        assert_eq!(c.call("echo", i).unwrap().payload, Value::from(i));
    }
    let s = broker.stats();
    assert_eq!(BrokerStats::get(&s.malformed_frontend), junk.len() as u64);
    assert!(BrokerStats::get(&s.malformed_backend) >= junk.len() as u64 - 1, "{}", BrokerStats::get(&s.malformed_backend));
    assert_eq!(BrokerStats::get(&s.bad_requests), 1);
}

#[test]
fn replies_for_vanished_clients_are_dropped_and_counted() {
    let broker = broker();
    let _worker = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 1);
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc").timeout(Duration::from_secs(5))).unwrap();
    let _pending = c.start(Call::new("sleep", 300)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    c.close();
    drop(_pending);
    assert!(wait_until(Duration::from_secs(3), || BrokerStats::get(&broker.stats().dropped_replies) == 1));
    assert_eq!(BrokerStats::get(&broker.stats().in_flight), 0);
}

#[test]
fn dispatch_routes_around_a_slow_worker() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let broker = broker();
    let served = [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))];
    let mut workers = Vec::new();
    for (i, delay) in [(0usize, 400u64), (1, 0)] {
        let counter = served[i].clone();
        let mut w = zss::Worker::new(worker_config(broker.backend_endpoint(), "svc").concurrency(1));
        w.verb("work", move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(delay));
            Ok(zss::Response::ok(true))
        });
        workers.push(w.start().unwrap());
        wait_for_workers(&broker, i as u64 + 1);
    }
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc").timeout(Duration::from_secs(5))).unwrap();
    // Four callers in a loop: a steady stream. Round robin would send the slow worker half of
    // the calls (20 × 400 ms); least-in-flight sends it one whenever it is idle.
    std::thread::scope(|s| {
        for _ in 0..4 {
            let c = c.clone();
            s.spawn(move || {
                for _ in 0..10 {
                    c.call("work", Value::Nil).unwrap();
                }
            });
        }
    });
    let (slow, fast) = (served[0].load(Ordering::SeqCst), served[1].load(Ordering::SeqCst));
    assert_eq!(slow + fast, 40);
    assert!(slow <= 10, "slow worker got {slow} of 40 calls; round robin would give it 20");
    drop(workers);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn a_flooded_service_answers_503_at_once_and_recovers() {
    let mut config = zss::BrokerConfig::new("tcp://127.0.0.1:*", "tcp://127.0.0.1:*");
    config.max_in_flight_per_worker = 5;
    let broker = zss::Broker::bind(config).unwrap().start().unwrap();
    let _worker = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 1);
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc").timeout(Duration::from_secs(10))).unwrap();
    let start = Instant::now();
    let flood: Vec<_> = (0..50).map(|_| c.start(Call::new("sleep", 300)).unwrap()).collect();
    let (mut ok, mut overloaded) = (0, 0);
    for p in flood {
        match p.wait() {
            Ok(_) => ok += 1,
            Err(Error::Service(e)) if e.code == 503 => {
                assert!(e.developer_message.contains("overloaded"), "{}", e.developer_message);
                overloaded += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, overloaded), (5, 45), "5 in flight served, the rest refused");
    assert!(start.elapsed() < Duration::from_secs(3), "nobody waited for a timeout");
    assert_eq!(BrokerStats::get(&broker.stats().overloaded), 45);
    // The flood is over: the service serves again.
    assert_eq!(c.call("echo", 1).unwrap().payload, Value::from(1));
}

#[test]
fn requests_a_live_worker_never_answers_are_answered_after_request_timeout() {
    let mut config = zss::BrokerConfig::new("tcp://127.0.0.1:*", "tcp://127.0.0.1:*");
    config.request_timeout = Duration::from_millis(300);
    config.sweep_interval = Duration::from_millis(100);
    let broker = zss::Broker::bind(config).unwrap().start().unwrap();
    let raw = Raw::connect(broker.backend_endpoint(), "PONG#blackhole");
    assert_eq!(node_smi(&raw, "PONG#blackhole", "UP"), "200");
    // Keep it alive (heartbeats) but never answer requests.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let beat = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut f = smi_frames("HEARTBEAT");
                f.insert(0, b"PONG#blackhole".to_vec());
                raw.send(&f.iter().map(|x| &x[..]).collect::<Vec<_>>());
                std::thread::sleep(Duration::from_millis(100));
                while raw.recv(Duration::from_millis(1)).is_some() {}
            }
        })
    };
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("pong").timeout(Duration::from_secs(5))).unwrap();
    let start = Instant::now();
    let r = c.call("ping", Value::Nil);
    assert!(matches!(r, Err(Error::Service(ref e)) if e.code == 503), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(1), "{:?}", start.elapsed());
    // The broker updates the figure just after answering.
    assert!(wait_until(Duration::from_secs(1), || BrokerStats::get(&broker.stats().in_flight) == 0), "the entry is forgotten");
    assert_eq!(BrokerStats::get(&broker.stats().workers), 1, "the worker itself stays registered");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    beat.join().unwrap();
}
