//! CURVE, the allow list (ZAP) and per-service permissions, over real loopback sockets.
//! Every test but the last needs a libzmq with CURVE: in the `--features vendored` build (the
//! bundled libzmq has none) they print why they are skipped; in the default build they run.

mod common;
use common::*;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zss::security::{self, AllowList, KeyPair, SharedAllowList};
use zss::{status, Broker, BrokerConfig, BrokerStats, Client, ClientConfig, Error, RunningBroker, Value, Worker};

/// Skips the test (with the reason) only where CURVE cannot exist: the vendored build.
macro_rules! need_curve {
    () => {
        if !zss::socket::has_curve() {
            assert!(cfg!(feature = "vendored"), "the default build must link a libzmq with CURVE");
            eprintln!("skipped: this build's libzmq (--features vendored) has no CURVE");
            return;
        }
    };
}

struct Keys {
    broker: KeyPair,
    a: KeyPair,
    b: KeyPair,
}

fn keys() -> Keys {
    Keys { broker: KeyPair::generate().unwrap(), a: KeyPair::generate().unwrap(), b: KeyPair::generate().unwrap() }
}

fn curve_broker(secret: &KeyPair, allow: Option<SharedAllowList>) -> RunningBroker {
    let _ = env_logger::builder().is_test(true).try_init();
    let mut config = BrokerConfig::new("tcp://127.0.0.1:*", "tcp://127.0.0.1:*").curve(secret.clone());
    config.heartbeat = Duration::from_millis(100);
    config.max_ttl = Duration::from_millis(600);
    config.sweep_interval = Duration::from_millis(100);
    config.allow = allow;
    Broker::bind(config).unwrap().start().unwrap()
}

fn curve_worker(broker: &RunningBroker, sid: &str, server: &KeyPair, me: &KeyPair) -> zss::RunningWorker {
    let mut w = Worker::new(worker_config(broker.backend_endpoint(), sid).curve(server.public, me.clone()));
    add_test_verbs(&mut w);
    w.start().unwrap()
}

fn curve_client(endpoint: &str, sid: &str, server: &KeyPair, me: &KeyPair) -> Client {
    Client::connect(ClientConfig::new(endpoint).sid(sid).curve(server.public, me.clone())).unwrap()
}

fn line(key: &KeyPair, rest: &str) -> String {
    format!("{} {rest}\n", key.public_z85())
}

#[test]
fn encrypted_round_trip() {
    need_curve!();
    let k = keys();
    let broker = curve_broker(&k.broker, None);
    let _w = curve_worker(&broker, "pong", &k.broker, &k.a);
    wait_for_workers(&broker, 1);
    let c = curve_client(broker.frontend_endpoint(), "pong", &k.broker, &k.b);
    let reply = c.call("echo", "over curve").unwrap();
    assert_eq!(reply.payload.as_str(), Some("over curve"));
}

#[test]
fn a_plaintext_peer_on_a_curve_endpoint_gets_nothing_through() {
    need_curve!();
    let k = keys();
    let broker = curve_broker(&k.broker, None);
    let _w = curve_worker(&broker, "pong", &k.broker, &k.a);
    wait_for_workers(&broker, 1);
    let raw = Raw::connect(broker.frontend_endpoint(), "client#plain");
    raw.send(&[b"ZSS:0.0", b"REQ", b"rid-1", &address("pong", "echo"), &[0x80], b"null", &enc(&Value::from("x"))]);
    assert!(raw.recv(Duration::from_millis(700)).is_none(), "a plaintext peer got an answer");
    assert_eq!(BrokerStats::get(&broker.stats().requests), 0, "a plaintext request reached the broker");
    // And a plaintext zss client is told, not left waiting for a 599.
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("pong")).unwrap();
    assert!(c.call("echo", 1).is_err());
    // A plaintext worker does not get registered either.
    let _plain_worker = test_worker(broker.backend_endpoint(), "pong");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(BrokerStats::get(&broker.stats().workers), 1);
}

#[test]
fn a_wrong_server_key_fails_fast() {
    need_curve!();
    let k = keys();
    let broker = curve_broker(&k.broker, None);
    let wrong = KeyPair::generate().unwrap();
    let c = curve_client(broker.frontend_endpoint(), "pong", &wrong, &k.a);
    let started = Instant::now();
    let err = c.request(zss::Call::new("echo", 1).timeout(Duration::from_secs(10))).unwrap_err();
    assert!(matches!(err, Error::AuthenticationFailed(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    // A worker with the wrong key stops with the same error instead of retrying forever.
    let w = curve_worker(&broker, "pong", &wrong, &k.b);
    assert!(w.wait(Some(Duration::from_secs(2))), "the worker kept retrying");
    assert!(matches!(w.error(), Some(Error::AuthenticationFailed(_))), "{:?}", w.error());
}

#[test]
fn an_unlisted_key_is_refused_and_counted() {
    need_curve!();
    let k = keys();
    let allow = SharedAllowList::new(AllowList::parse(&line(&k.a, "name=a")).unwrap());
    let broker = curve_broker(&k.broker, Some(allow));
    let _w = curve_worker(&broker, "pong", &k.broker, &k.a);
    wait_for_workers(&broker, 1);
    assert_eq!(curve_client(broker.frontend_endpoint(), "pong", &k.broker, &k.a).call("echo", 1).unwrap().status, 200);
    let started = Instant::now();
    let err = curve_client(broker.frontend_endpoint(), "pong", &k.broker, &k.b).call("echo", 1).unwrap_err();
    assert!(matches!(err, Error::AuthenticationFailed(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(BrokerStats::get(&broker.stats().auth_failures_frontend) >= 1);
    let w = curve_worker(&broker, "pong", &k.broker, &k.b);
    assert!(w.wait(Some(Duration::from_secs(2))));
    assert!(BrokerStats::get(&broker.stats().auth_failures_backend) >= 1);
    let metrics = zss::broker::render_metrics(broker.snapshot().unwrap());
    assert!(metrics.contains("zss_broker_auth_failures_total{socket=\"frontend\"}"), "{metrics}");
}

#[test]
fn a_listed_key_calling_a_sid_it_may_not_call_gets_403() {
    need_curve!();
    let k = keys();
    let list = line(&k.a, "name=svc call=* serve=PONG,SECRET") + &line(&k.b, "name=billing call=PONG");
    let broker = curve_broker(&k.broker, Some(SharedAllowList::new(AllowList::parse(&list).unwrap())));
    let _w1 = curve_worker(&broker, "pong", &k.broker, &k.a);
    let _w2 = curve_worker(&broker, "secret", &k.broker, &k.a);
    wait_for_workers(&broker, 2);
    let c = curve_client(broker.frontend_endpoint(), "pong", &k.broker, &k.b);
    assert_eq!(c.call("echo", 1).unwrap().status, 200);
    match c.request(zss::Call::new("echo", 1).sid("secret")) {
        Err(Error::Service(e)) => {
            assert_eq!(e.code, status::FORBIDDEN);
            assert_eq!(e.payload.get("errorCode"), Some(&Value::from(403)));
            assert_eq!(e.user_message, status::messages(403).0);
        }
        other => panic!("expected 403, got {other:?}"),
    }
    assert_eq!(BrokerStats::get(&broker.stats().forbidden), 1);
}

#[test]
fn a_rogue_up_is_refused_while_the_legitimate_worker_keeps_all_traffic() {
    need_curve!();
    let k = keys();
    let list = line(&k.a, "name=payments serve=PAYMENTS") + &line(&k.b, "name=other serve=OTHER");
    let broker = curve_broker(&k.broker, Some(SharedAllowList::new(AllowList::parse(&list).unwrap())));
    let legit = curve_worker(&broker, "payments", &k.broker, &k.a);
    wait_for_workers(&broker, 1);
    let rogue = curve_worker(&broker, "payments", &k.broker, &k.b);
    assert!(rogue.wait(Some(Duration::from_secs(2))), "the refused worker kept retrying");
    match rogue.error() {
        Some(Error::AuthenticationFailed(m)) => assert!(m.contains("403"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(BrokerStats::get(&broker.stats().workers), 1);
    let c = curve_client(broker.frontend_endpoint(), "payments", &k.broker, &k.a);
    for i in 0..50 {
        assert_eq!(c.call("echo", i).unwrap().status, 200);
    }
    assert_eq!(legit.stats().fields()[0].1, 50, "{:?}", legit.stats().fields());
    assert_eq!(rogue.stats().fields()[0].1, 0);
}

#[test]
fn reloading_adds_and_removes_keys_under_load_without_losing_calls() {
    need_curve!();
    let k = keys();
    let c_key = KeyPair::generate().unwrap();
    let base = line(&k.a, "name=a");
    let allow = SharedAllowList::new(AllowList::parse(&(base.clone() + &line(&c_key, "name=c"))).unwrap());
    let broker = curve_broker(&k.broker, Some(allow.clone()));
    let _w = curve_worker(&broker, "pong", &k.broker, &k.a);
    wait_for_workers(&broker, 1);
    let c_client = curve_client(broker.frontend_endpoint(), "pong", &k.broker, &c_key);
    assert_eq!(c_client.call("echo", 0).unwrap().status, 200);

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(Mutex::new(Vec::new())));
    let load = {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        let client = curve_client(broker.frontend_endpoint(), "pong", &k.broker, &k.a);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match client.call("echo", 1) {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        failed.lock().unwrap().push(e);
                        0
                    }
                };
            }
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    // Add b, remove c.
    allow.replace(AllowList::parse(&(base + &line(&k.b, "name=b"))).unwrap());
    let b_client = curve_client(broker.frontend_endpoint(), "pong", &k.broker, &k.b);
    assert_eq!(b_client.call("echo", 2).unwrap().status, 200, "an added key is accepted");
    match c_client.call("echo", 3) {
        Err(Error::Service(e)) => assert_eq!(e.code, 403, "a removed key's connection is refused from then on"),
        other => panic!("{other:?}"),
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    assert!(failed.lock().unwrap().is_empty(), "calls lost during reload: {:?}", failed.lock().unwrap());
    assert!(ok.load(Ordering::Relaxed) > 20, "load ran: {}", ok.load(Ordering::Relaxed));
}

/// A TCP proxy on loopback recording every byte in both directions.
fn tap(target: &str) -> (String, Arc<Mutex<Vec<u8>>>) {
    let upstream = target.trim_start_matches("tcp://").to_owned();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(down) = conn else { return };
            let Ok(up) = std::net::TcpStream::connect(&upstream) else { return };
            for (mut from, mut to) in [(down.try_clone().unwrap(), up.try_clone().unwrap()), (up, down)] {
                let record = record.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        record.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    (addr, seen)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_bytes_on_the_wire_hold_no_plaintext_payload() {
    need_curve!();
    let secret = "TOP-SECRET-PAYLOAD-0123456789";
    // Control: the tap does see a plaintext payload.
    let plain = broker();
    let _pw = test_worker(plain.backend_endpoint(), "pong");
    wait_for_workers(&plain, 1);
    let (addr, seen) = tap(plain.frontend_endpoint());
    let c = Client::connect(ClientConfig::new(&addr).sid("pong")).unwrap();
    assert_eq!(c.call("echo", secret).unwrap().payload.as_str(), Some(secret));
    assert!(contains(&seen.lock().unwrap(), secret.as_bytes()), "the tap records nothing");

    let k = keys();
    let broker = curve_broker(&k.broker, None);
    let _w = curve_worker(&broker, "pong", &k.broker, &k.a);
    wait_for_workers(&broker, 1);
    let (addr, seen) = tap(broker.frontend_endpoint());
    let c = curve_client(&addr, "pong", &k.broker, &k.b);
    assert_eq!(c.call("echo", secret).unwrap().payload.as_str(), Some(secret));
    let bytes = seen.lock().unwrap();
    assert!(bytes.len() > 200, "only {} bytes seen", bytes.len());
    assert!(!contains(&bytes, secret.as_bytes()), "the payload crossed the wire in clear");
    assert!(!contains(&bytes, b"ZSS:0.0"), "the protocol frame crossed the wire in clear");
}

#[test]
fn a_plaintext_endpoint_can_sit_next_to_the_curve_one() {
    need_curve!();
    let k = keys();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = BrokerConfig::new("tcp://127.0.0.1:*", "tcp://127.0.0.1:*").curve(k.broker.clone());
    config.frontend_plain = Some(format!("tcp://127.0.0.1:{port}"));
    let broker = Broker::bind(config).unwrap().start().unwrap();
    let _w = curve_worker(&broker, "pong", &k.broker, &k.a);
    wait_for_workers(&broker, 1);
    let plain = Client::connect(ClientConfig::new(format!("tcp://127.0.0.1:{port}")).sid("pong")).unwrap();
    assert_eq!(plain.call("echo", 1).unwrap().status, 200);
    let curve = curve_client(broker.frontend_endpoint(), "pong", &k.broker, &k.b);
    assert_eq!(curve.call("echo", 2).unwrap().status, 200);
}

#[test]
fn keys_load_from_strings_files_and_env_and_bad_keys_are_errors() {
    need_curve!();
    let pair = KeyPair::generate().unwrap();
    let dir = std::env::temp_dir().join(format!("zss-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let name = dir.join("svc").display().to_string();
    pair.write(&name).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(format!("{name}.key")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(KeyPair::load(&format!("{name}.key")).unwrap(), pair);
    assert_eq!(security::load_key(&format!("{name}.pub")).unwrap(), pair.public);
    assert_eq!(security::load_key(&pair.public_z85()).unwrap(), pair.public);
    std::env::set_var("ZSS_TEST_SECRET", pair.secret_z85());
    assert_eq!(KeyPair::load("env:ZSS_TEST_SECRET").unwrap(), pair);
    for bad in ["", "short", "0123456789012345678901234567890123456789\u{7f}", &pair.public_z85()[..39]] {
        assert!(matches!(security::load_key(bad), Err(Error::InvalidArgument(_))), "{bad:?}");
    }
    assert!(security::load_key("env:ZSS_TEST_NOT_SET").is_err());
    assert_eq!(KeyPair::load_checked(&pair.secret_z85(), Some(&format!("{name}.pub"))).unwrap(), pair);
    assert_eq!(KeyPair::load_checked(&format!("{name}.key"), None).unwrap(), pair);
    let other = KeyPair::generate().unwrap();
    assert!(matches!(KeyPair::load_checked(&pair.secret_z85(), Some(&other.public_z85())), Err(Error::InvalidArgument(_))));
    assert!(AllowList::parse("notakey name=x").is_err());
    assert!(AllowList::parse(&format!("{} colour=red", pair.public_z85())).is_err());
    let list = AllowList::parse(&format!("# comment\n\n{} name=x call=a,B serve=*  # trailing\n", pair.public_z85())).unwrap();
    let e = list.get(&pair.public_z85()).unwrap();
    assert!(e.call.allows("A") && e.call.allows("B") && !e.call.allows("C") && e.serve.allows("ANY"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn curve_without_curve_support_is_a_clear_error() {
    if zss::socket::has_curve() {
        // The default build: CURVE is there, and a broker without a key refuses an allow list.
        let err = Broker::bind(BrokerConfig::new("tcp://127.0.0.1:*", "tcp://127.0.0.1:*").allow(SharedAllowList::default()));
        assert!(matches!(err, Err(Error::InvalidArgument(_))));
        return;
    }
    let err = KeyPair::generate().unwrap_err().to_string();
    assert!(err.contains("vendored"), "{err}");
    let fake = KeyPair { public: [1; 32], secret: [2; 32] };
    let err = Broker::bind(BrokerConfig::new("tcp://127.0.0.1:*", "tcp://127.0.0.1:*").curve(fake)).err().unwrap().to_string();
    assert!(err.contains("CURVE is not available") && err.contains("vendored"), "{err}");
}
