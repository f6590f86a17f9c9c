//! Client ↔ broker ↔ worker over real sockets: transports, statuses, errors, timeouts, headers.

mod common;
use common::*;
use std::time::{Duration, Instant};
use zss::{status, Call, Client, ClientConfig, Error, Value};

fn client(broker: &zss::RunningBroker, sid: &str) -> Client {
    Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid(sid)).unwrap()
}

fn round_trip_on(frontend: &str, backend: &str) {
    let broker = broker_on(frontend, backend);
    let _worker = test_worker(broker.backend_endpoint(), "pong");
    wait_for_workers(&broker, 1);
    let c = client(&broker, "pong");
    let payload = Value::map([
        ("n", Value::from(42)),
        ("list", Value::from(vec![Value::from(1.5), Value::Nil, Value::from("ünï")])),
    ]);
    let reply = c.call("echo", payload.clone()).unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.payload, payload);
    assert!(reply.headers.get("response-time").and_then(|v| match v {
        Value::Float(f) => Some(*f),
        _ => None,
    }).is_some_and(|ms| ms >= 0.0));
}

#[test]
fn round_trip_over_tcp() {
    round_trip_on("tcp://127.0.0.1:*", "tcp://127.0.0.1:*");
}

#[test]
fn round_trip_over_ipc() {
    let dir = std::env::temp_dir();
    let pid = std::process::id();
    round_trip_on(
        &format!("ipc://{}/zss-test-{pid}-fe", dir.display()),
        &format!("ipc://{}/zss-test-{pid}-be", dir.display()),
    );
}

#[test]
fn round_trip_over_inproc() {
    round_trip_on("inproc://zss-test-fe", "inproc://zss-test-be");
}

#[test]
fn unknown_service_gets_the_brokers_404() {
    let broker = broker();
    let c = client(&broker, "nobody");
    let Err(Error::Service(e)) = c.call("anything", Value::Nil) else { panic!("expected an error reply") };
    assert_eq!(e.code, 404);
    assert_eq!(e.user_message, "The content you requested was not found.");
    assert_eq!(e.developer_message, "The resource could not be found.");
    assert_eq!(e.payload.get("errorCode").and_then(Value::as_i64), Some(404));
    assert_eq!(e.payload.get("code").and_then(Value::as_i64), Some(404));
    assert_eq!(zss::BrokerStats::get(&broker.stats().not_found), 1);
}

#[test]
fn sid_and_verb_are_case_insensitive() {
    let broker = broker();
    let _worker = test_worker(broker.backend_endpoint(), "PoNg");
    wait_for_workers(&broker, 1);
    let c = client(&broker, "pOnG");
    assert_eq!(c.call("EcHo", "x").unwrap().payload, Value::from("x"));
}

#[test]
fn statuses_follow_the_contract() {
    let broker = broker();
    let _worker = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 1);
    let c = client(&broker, "svc");

    let r = c.call("nothing", Value::Nil).unwrap();
    assert_eq!((r.status, r.payload), (204, Value::Nil));

    let r = c.call("created", "thing").unwrap();
    assert_eq!((r.status, r.payload), (201, Value::from("thing")));

    let Err(Error::Service(e)) = c.call("invalid", Value::Nil) else { panic!() };
    assert_eq!((e.code, e.user_message.as_str(), e.developer_message.as_str()), (422, "Invalid name", "name must not be empty"));
    assert_eq!(e.payload.get("validationErrors"), Some(&Value::from(vec!["name"])));
    assert_eq!(e.payload.get("errorCode").and_then(Value::as_i64), Some(422));

    let Err(Error::Service(e)) = c.call("panic", Value::Nil) else { panic!() };
    assert_eq!(e.code, 500);
    assert_eq!(e.user_message, status::messages(500).0);
    assert!(!e.developer_message.contains("exploded"), "panic detail must not leak to callers");

    let Err(Error::Service(e)) = c.call("bad_status", Value::Nil) else { panic!() };
    assert_eq!(e.code, 500, "a non-2xx 'success' status becomes 500");

    let Err(Error::Service(e)) = c.call("no_such_verb", Value::Nil) else { panic!() };
    assert_eq!(e.code, 404, "the worker answers unknown verbs itself");
}

#[test]
fn headers_travel_both_ways() {
    let broker = broker();
    let _worker = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 1);
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc").header("x-default", "d")).unwrap();
    let r = c.request(Call::new("headers", Value::Nil).header("x-request-id", "abc").header("n", 7)).unwrap();
    assert_eq!(r.payload.get("x-default"), Some(&Value::from("d")));
    assert_eq!(r.payload.get("x-request-id"), Some(&Value::from("abc")));
    assert_eq!(r.payload.get("n"), Some(&Value::from(7)));
    assert_eq!(r.headers.get("x-answer"), Some(&Value::from(42)));
    assert_eq!(r.headers.get("x-request-id"), Some(&Value::from("abc")), "request headers are echoed");
}

#[test]
fn client_identity_is_textual_and_reaches_the_worker() {
    let broker = broker();
    let _worker = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 1);
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc").identity("billing")).unwrap();
    assert!(c.identity().starts_with("billing#"));
    assert_eq!(c.call("whoami", Value::Nil).unwrap().payload, Value::from(c.identity()));
}

#[test]
fn timeout_yields_599_on_time() {
    let broker = broker();
    let _worker = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 1);
    let c = client(&broker, "svc");
    let start = Instant::now();
    let r = c.request(Call::new("sleep", 1000).timeout(Duration::from_millis(200)));
    let took = start.elapsed();
    let Err(Error::Service(e)) = r else { panic!("expected timeout, got {r:?}") };
    assert!(e.is_timeout());
    assert_eq!(e.code, 599);
    assert_eq!(e.user_message, "Connection timeout while processing this request.");
    assert!(took >= Duration::from_millis(200) && took < Duration::from_millis(800), "took {took:?}");
    // The late reply is ignored and the client keeps working.
    assert_eq!(c.call("echo", 1).unwrap().payload, Value::from(1));
}

#[test]
fn unreachable_broker_times_out_instead_of_hanging() {
    let c = Client::connect(ClientConfig::new("tcp://127.0.0.1:1").sid("x").timeout(Duration::from_millis(150))).unwrap();
    let Err(Error::Service(e)) = c.call("y", Value::Nil) else { panic!() };
    assert_eq!(e.code, 599);
}

#[test]
fn many_concurrent_calls_share_one_socket() {
    let broker = broker();
    let _w1 = test_worker(broker.backend_endpoint(), "svc");
    let _w2 = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 2);
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc").timeout(Duration::from_secs(10))).unwrap();
    let pending: Vec<_> = (0..2000).map(|i| (i, c.start(Call::new("echo", i)).unwrap())).collect();
    for (i, p) in pending {
        assert_eq!(p.wait().unwrap().payload, Value::from(i));
    }
    // And from many threads at once.
    std::thread::scope(|s| {
        for t in 0..8 {
            let c = c.clone();
            s.spawn(move || {
                for i in 0..100 {
                    let v = Value::from(format!("{t}-{i}"));
                    assert_eq!(c.call("echo", v.clone()).unwrap().payload, v);
                }
            });
        }
    });
    assert_eq!(zss::BrokerStats::get(&broker.stats().in_flight), 0);
}

#[test]
fn completion_callback_form() {
    let broker = broker();
    let _worker = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 1);
    let c = client(&broker, "svc");
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..10 {
        let tx = tx.clone();
        c.send(Call::new("echo", i), Box::new(move |r| tx.send(r.map(|r| r.payload)).unwrap())).unwrap();
    }
    let mut got: Vec<i64> = (0..10).map(|_| rx.recv_timeout(Duration::from_secs(2)).unwrap().unwrap().as_i64().unwrap()).collect();
    got.sort();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
}

#[test]
fn bad_arguments_are_rejected_before_sending() {
    let broker = broker();
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint())).unwrap();
    assert!(matches!(c.call("x", Value::Nil), Err(Error::InvalidArgument(_))), "no sid anywhere");
    let c = client(&broker, "svc");
    assert!(matches!(c.call("", Value::Nil), Err(Error::InvalidArgument(_))));
    assert!(matches!(c.call("x", Value::Bin(vec![1])), Err(Error::InvalidArgument(_))));
    assert!(matches!(Client::connect(ClientConfig::new("nonsense://x")), Err(Error::Socket { .. })));
    assert!(matches!(zss::Broker::bind(zss::BrokerConfig::new("tcp://127.0.0.1:*", "bogus")), Err(Error::Socket { .. })));
}

#[test]
fn closed_client_fails_pending_and_new_calls() {
    let broker = broker();
    let _worker = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 1);
    let c = client(&broker, "svc");
    let pending = c.start(Call::new("sleep", 300).timeout(Duration::from_secs(5))).unwrap();
    c.close();
    assert_eq!(pending.wait(), Err(Error::Closed));
    assert_eq!(c.call("echo", 1), Err(Error::Closed));
}

#[test]
fn concurrency_limit_bounds_handlers_in_flight() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let broker = broker();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut w = zss::Worker::new(worker_config(broker.backend_endpoint(), "svc").concurrency(3));
    let (r, p) = (running.clone(), peak.clone());
    w.verb("work", move |_| {
        let now = r.fetch_add(1, Ordering::SeqCst) + 1;
        p.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(30));
        r.fetch_sub(1, Ordering::SeqCst);
        Ok(zss::Response::ok(true))
    });
    let _w = w.start().unwrap();
    wait_for_workers(&broker, 1);
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc").timeout(Duration::from_secs(5))).unwrap();
    let calls: Vec<_> = (0..12).map(|_| c.start(Call::new("work", Value::Nil)).unwrap()).collect();
    for p in calls {
        p.wait().unwrap();
    }
    assert_eq!(peak.load(Ordering::SeqCst), 3);
}

#[test]
fn timing_headers_only_when_enabled() {
    for enabled in [false, true] {
        let mut config = zss::BrokerConfig::new("tcp://127.0.0.1:*", "tcp://127.0.0.1:*");
        config.timing_headers = enabled;
        let broker = zss::Broker::bind(config).unwrap().start().unwrap();
        let _worker = test_worker(broker.backend_endpoint(), "svc");
        wait_for_workers(&broker, 1);
        let c = client(&broker, "svc");
        let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64;
        // The "headers" verb answers with the request headers the worker saw.
        let r = c.request(Call::new("headers", Value::Nil).header("micro.bfer", 1.0)).unwrap();
        let seen = |v: &Value, k: &str| match v.get(k) {
            Some(Value::Float(ms)) => Some(*ms),
            _ => None,
        };
        if enabled {
            assert_eq!(seen(&r.payload, "micro.bfer"), Some(1.0), "an existing value is kept");
            assert!(seen(&r.payload, "micro.bbes").is_some_and(|ms| ms >= before - 5.0));
            for k in ["micro.bber", "micro.bfes"] {
                assert!(seen(&r.headers, k).is_some_and(|ms| ms >= before - 5.0), "{k} in {:?}", r.headers);
            }
        } else {
            for k in ["micro.bbes", "micro.bber", "micro.bfes"] {
                assert!(r.payload.get(k).is_none() && r.headers.get(k).is_none(), "{k} present with the flag off");
            }
        }
    }
}

#[test]
fn calls_issued_from_completion_callbacks_go_out_at_once() {
    let broker = broker();
    let _worker = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 1);
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc").timeout(Duration::from_secs(5))).unwrap();
    // A chain of 200 calls, each sent from the previous one's callback (the client's own I/O
    // thread), then one more sent from a timeout's callback.
    fn chain(c: Client, left: u32, done: std::sync::mpsc::Sender<Instant>) {
        if left == 0 {
            let next = c.clone();
            c.send(
                Call::new("sleep", 500).timeout(Duration::from_millis(50)),
                Box::new(move |r| {
                    assert!(matches!(r, Err(Error::Service(ref e)) if e.code == 599));
                    next.send(Call::new("echo", "last"), Box::new(move |r| {
                        assert_eq!(r.unwrap().payload, Value::from("last"));
                        done.send(Instant::now()).unwrap();
                    }))
                    .unwrap();
                }),
            )
            .unwrap();
            return;
        }
        let next = c.clone();
        c.send(Call::new("echo", left), Box::new(move |r| {
            assert_eq!(r.unwrap().payload, Value::from(left));
            chain(next, left - 1, done);
        }))
        .unwrap();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let start = Instant::now();
    chain(c.clone(), 200, tx);
    let end = rx.recv_timeout(Duration::from_secs(10)).expect("the chain completes");
    assert!(end - start < Duration::from_secs(3), "took {:?}", end - start);
}
