//! Clients and workers given a registry instead of a broker list (real ZooKeeper): they follow
//! brokers as they register and leave, and keep calling through known brokers while ZooKeeper
//! is down.

#![cfg(feature = "registry")]

mod common;

use common::zookeeper::{zookeeper, OwnZooKeeper};
use common::*;
use std::time::Duration;
use zss::registry::{register_broker, BrokerEntry, Registration, RegistryUrl};
use zss::{BrokerStats, Client, ClientConfig, RunningBroker, Value, Worker};

fn fresh_url(zk: &str) -> String {
    format!("zk://{zk}/zss-test-{}", uuid::Uuid::new_v4().simple())
}

/// An in-process broker listed in the registry (dropping the registration unlists it; the
/// broker keeps running).
fn registered_broker(url: &str, name: &str) -> (RunningBroker, Registration) {
    let b = broker();
    let entry = BrokerEntry::new(name, b.frontend_endpoint(), b.backend_endpoint());
    let registration = register_broker(&RegistryUrl::parse(url).unwrap(), entry).unwrap();
    (b, registration)
}

fn forwarded(b: &RunningBroker) -> u64 {
    BrokerStats::get(&b.stats().forwarded)
}

fn registry_client(url: &str) -> Client {
    Client::connect(ClientConfig::new("").registry(url).sid("svc").timeout(Duration::from_secs(2)).liveness(Duration::from_millis(100), 3))
        .unwrap()
}

fn registry_worker(url: &str) -> zss::RunningWorker {
    let mut w = Worker::new(worker_config("", "svc").registry(url));
    add_test_verbs(&mut w);
    w.start().unwrap()
}

#[test]
fn clients_and_workers_follow_brokers_as_they_register_and_leave() {
    let url = fresh_url(&zookeeper());
    let (a, a_listing) = registered_broker(&url, "a");
    let _w = registry_worker(&url);
    wait_for_workers(&a, 1);
    let c = registry_client(&url);
    assert_eq!(c.call("echo", 1).unwrap().payload, Value::from(1));
    assert!(forwarded(&a) >= 1);

    // A broker registered at run time: the worker registers with it, the client sends to it.
    let (b, _b_listing) = registered_broker(&url, "b");
    wait_for_workers(&b, 1);
    assert!(
        wait_until(Duration::from_secs(5), || {
            c.call("echo", 2).unwrap();
            forwarded(&b) > 0
        }),
        "a broker registered at run time gets traffic"
    );

    // Unlisted (still running): it gets nothing more, and the worker leaves it.
    drop(a_listing);
    assert!(wait_until(Duration::from_secs(5), || BrokerStats::get(&a.stats().workers) == 0), "the worker leaves an unlisted broker");
    let before = forwarded(&a);
    for i in 0..50 {
        assert_eq!(c.call("echo", i).unwrap().payload, Value::from(i));
    }
    assert_eq!(forwarded(&a), before, "an unlisted broker gets no calls");
}

#[test]
fn known_brokers_keep_serving_while_zookeeper_is_down() {
    let zk = OwnZooKeeper::start();
    let url = fresh_url(&zk.address());
    let (a, _listing) = registered_broker(&url, "a");
    let _w = registry_worker(&url);
    wait_for_workers(&a, 1);
    let c = registry_client(&url);
    c.call("echo", 0).unwrap();
    zk.stop();
    for i in 0..200 {
        assert_eq!(c.call("echo", i).unwrap().payload, Value::from(i), "calls go on without ZooKeeper");
        std::thread::sleep(Duration::from_millis(10));
    }
    // A new client cannot find brokers without ZooKeeper: a clear error, not a hang.
    let started = std::time::Instant::now();
    let err = Client::connect(ClientConfig::new("").registry(&url)).err().expect("no registry, no client");
    assert!(started.elapsed() < Duration::from_secs(10), "{err}");
    zk.start_again();
}

#[test]
fn a_registry_with_no_broker_yet_holds_calls_until_one_registers() {
    let url = fresh_url(&zookeeper());
    let c = registry_client(&url);
    let pending = c.start(zss::Call::new("echo", "early")).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (a, _listing) = registered_broker(&url, "a");
    let _w = registry_worker(&url);
    wait_for_workers(&a, 1);
    // Sent when the broker appeared; the worker may still have been registering (404).
    match pending.wait() {
        Ok(r) => assert_eq!(r.payload, Value::from("early")),
        Err(e) => assert_eq!(e.code(), 404, "{e}"),
    }
    assert_eq!(c.call("echo", "later").unwrap().payload, Value::from("later"));
}

#[test]
fn zss_services_with_a_registry_lists_the_whole_cluster() {
    let url = fresh_url(&zookeeper());
    let (a, _a_listing) = registered_broker(&url, "a");
    let (b, _b_listing) = registered_broker(&url, "b");
    let w = registry_worker(&url);
    wait_for_workers(&a, 1);
    wait_for_workers(&b, 1);
    let out = common::process::run(&["services", "--registry", &url, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = Value::from_json(std::str::from_utf8(&out.stdout).unwrap()).unwrap();
    for broker in [&a, &b] {
        let services = v.get("brokers").and_then(|m| m.get(broker.frontend_endpoint())).expect("each registered broker answers");
        assert!(services.get("SVC").is_some(), "{} lists SVC: {services:?}", broker.frontend_endpoint());
    }
    let Some(Value::Array(instances)) = v.get("instances") else { panic!("instances: {v:?}") };
    assert_eq!(instances.len(), 1, "{instances:?}");
    assert_eq!(instances[0].get("identity").and_then(Value::as_str), Some(w.identity()));
    assert_eq!(instances[0].get("sid").and_then(Value::as_str), Some("SVC"));
    // Stopped: the worker's entry goes at once.
    w.stop();
    let out = common::process::run(&["services", "--registry", &url, "--json"]);
    let v = Value::from_json(std::str::from_utf8(&out.stdout).unwrap()).unwrap();
    assert_eq!(v.get("instances"), Some(&Value::Array(vec![])), "{v:?}");
}
