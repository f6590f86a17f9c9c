//! The ZooKeeper registry against a real ZooKeeper (scripts/zookeeper.sh; `ZSS_ZOOKEEPER` to
//! use another): brokers registering and leaving, watches, ZooKeeper going away and coming
//! back, and `zss broker --registry` as a process.

use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use zss::registry::{
    list_services, register_broker, register_service, watch_brokers, BrokerEntry, BrokerWatch, RegistryUrl, ServiceEntry,
};
use zss::Error;

mod common;
use common::process::{free_port, Proc, ZSS};
use common::zookeeper::{zookeeper, OwnZooKeeper};

/// A registry path of the test's own on the shared ZooKeeper.
fn fresh_url(zk: &str) -> RegistryUrl {
    RegistryUrl::parse(&format!("zk://{zk}/zss-test-{}", uuid::Uuid::new_v4().simple())).unwrap()
}

fn entry(name: &str) -> BrokerEntry {
    BrokerEntry::new(name, format!("tcp://{name}:7777"), format!("tcp://{name}:7776"))
}

/// Every list a watch reported, in order.
#[derive(Default)]
struct Seen {
    lists: Mutex<Vec<Vec<BrokerEntry>>>,
    changed: Condvar,
}

impl Seen {
    fn watch(url: &RegistryUrl) -> (Arc<Seen>, BrokerWatch) {
        let seen = Arc::new(Seen::default());
        let sink = seen.clone();
        let watch = watch_brokers(
            url,
            Box::new(move |list| {
                sink.lists.lock().unwrap().push(list);
                sink.changed.notify_all();
            }),
        )
        .expect("watch starts");
        (seen, watch)
    }

    fn count(&self) -> usize {
        self.lists.lock().unwrap().len()
    }

    fn all(&self) -> Vec<Vec<BrokerEntry>> {
        self.lists.lock().unwrap().clone()
    }

    /// Waits until a list after the first `after` reported is `want`; how long it took.
    fn wait_for(&self, after: usize, want: &[BrokerEntry], timeout: Duration) -> Duration {
        let start = Instant::now();
        let mut lists = self.lists.lock().unwrap();
        while !lists.iter().skip(after).any(|l| l == want) {
            let left = timeout.checked_sub(start.elapsed()).unwrap_or_else(|| {
                panic!("no report of {want:?} within {timeout:?} after report {after}; reported: {lists:#?}")
            });
            lists = self.changed.wait_timeout(lists, left).unwrap().0;
        }
        start.elapsed()
    }
}

#[test]
fn two_brokers_are_seen_and_a_dropped_one_goes() {
    let url = fresh_url(&zookeeper());
    let a = register_broker(&url, entry("a")).expect("a registers");
    let b = register_broker(&url, entry("b")).expect("b registers");
    let node = a.node().unwrap();
    assert!(node.starts_with(&format!("{}/brokers/a-", url.path())), "{node}");

    let (seen, _watch) = Seen::watch(&url);
    // The first list is reported before watch_brokers returns, in registration order.
    assert_eq!(seen.all(), vec![vec![entry("a"), entry("b")]]);

    drop(a); // deletes the node before returning
    let took = seen.wait_for(1, &[entry("b")], Duration::from_secs(5));
    assert!(took < Duration::from_secs(1), "the watch saw a leave after {took:?}");
    drop(b);
    seen.wait_for(2, &[], Duration::from_secs(5));
    assert_eq!(seen.count(), 3, "one report per change: {:#?}", seen.all());
}

#[test]
fn a_watch_started_first_sees_brokers_appear() {
    let url = fresh_url(&zookeeper());
    let (seen, watch) = Seen::watch(&url);
    assert_eq!(seen.all(), vec![Vec::<BrokerEntry>::new()], "the empty list at start");

    let a = register_broker(&url, entry("a")).unwrap();
    seen.wait_for(1, &[entry("a")], Duration::from_secs(5));
    let b = register_broker(&url, entry("b")).unwrap();
    seen.wait_for(2, &[entry("a"), entry("b")], Duration::from_secs(5));

    // A second watch on the same path sees the same list; dropping the first stops it.
    let (other, _other_watch) = Seen::watch(&url);
    assert_eq!(other.all(), vec![vec![entry("a"), entry("b")]]);
    drop(watch);
    let reported = seen.count();
    drop(a);
    other.wait_for(1, &[entry("b")], Duration::from_secs(5));
    assert_eq!(seen.count(), reported, "a dropped watch reported: {:#?}", seen.all());
    drop(b);
}

#[test]
fn a_deleted_node_is_registered_again() {
    let zk = zookeeper();
    let url = fresh_url(&zk);
    let a = register_broker(&url, entry("a")).unwrap();
    let (seen, _watch) = Seen::watch(&url);
    let first = a.node().unwrap();
    zk_cli(&zk, &["delete", &first]);
    // Either the watch caught the gap or not, the broker is listed again under a new node.
    assert!(
        common::wait_until(Duration::from_secs(5), || a.node().is_some_and(|n| n != first)),
        "not registered again: {:?}",
        a.node()
    );
    seen.wait_for(0, &[entry("a")], Duration::from_secs(5));
    assert!(seen.all().last() == Some(&vec![entry("a")]), "{:#?}", seen.all());
}

#[test]
fn zookeeper_down_keeps_the_last_list_and_reports_again_when_back() {
    let zk = OwnZooKeeper::start();
    // Sessions of 2 s: the outage below outlives them (the client gives a session up after
    // 7/5 of its timeout), so the watch and the registrations all come back on new sessions.
    // Not 1 s, the least a 500 ms tick allows: its 400 ms connection timeout fails against a
    // JVM just restarted on a loaded machine.
    let url = fresh_url(&zk.address()).session_timeout(Duration::from_secs(2));
    let a = register_broker(&url, entry("a")).unwrap();
    let b = register_broker(&url, entry("b")).unwrap();
    let (seen, _watch) = Seen::watch(&url);
    assert_eq!(seen.all(), vec![vec![entry("a"), entry("b")]]);

    zk.stop();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(seen.all(), vec![vec![entry("a"), entry("b")]], "reported while ZooKeeper was down");

    zk.start_again();
    let back = seen.wait_for(1, &[entry("a"), entry("b")], Duration::from_secs(30));
    eprintln!("reported again {back:?} after ZooKeeper was back");
    assert!(
        common::wait_until(Duration::from_secs(10), || a.node().is_some() && b.node().is_some()),
        "registrations not back: {:?} {:?}",
        a.node(),
        b.node()
    );
    // Live again: a leave and a new broker are both seen.
    let after = seen.count();
    drop(a);
    seen.wait_for(after, &[entry("b")], Duration::from_secs(10));
    let c = register_broker(&url, entry("c")).unwrap();
    seen.wait_for(after, &[entry("b"), entry("c")], Duration::from_secs(10));
    assert!(seen.all().iter().all(|l| !l.is_empty()), "an empty list was reported: {:#?}", seen.all());
    drop((b, c));
}

#[test]
fn service_instances_are_listed_while_registered() {
    let zk = zookeeper();
    let url = fresh_url(&zk);
    assert_eq!(list_services(&url).unwrap(), vec![], "nothing registered yet");
    let service = |sid: &str, identity: &str, broker: &str| ServiceEntry { sid: sid.into(), identity: identity.into(), broker: broker.into() };
    let pong_a = register_service(&url, "pong", "w1", "tcp://a:7776").unwrap();
    let _pong_b = register_service(&url, "pong", "w1", "tcp://b:7776").unwrap();
    let _ping = register_service(&url, "ping/v2", "w2", "tcp://a:7776").unwrap();
    assert!(pong_a.node().unwrap().starts_with(&format!("{}/pong/w1-", url.services_path())), "{:?}", pong_a.node());
    let all = vec![service("ping/v2", "w2", "tcp://a:7776"), service("pong", "w1", "tcp://a:7776"), service("pong", "w1", "tcp://b:7776")];
    assert_eq!(list_services(&url).unwrap(), all);
    drop(pong_a);
    assert_eq!(list_services(&url).unwrap(), [&all[0], &all[2]].map(Clone::clone));

    let nobody = RegistryUrl::parse(&format!("zk://127.0.0.1:{}/zss", free_port())).unwrap().connect_timeout(Duration::from_secs(1));
    assert!(matches!(list_services(&nobody), Err(Error::Socket { .. })));
    assert!(matches!(register_service(&url, "", "w", "tcp://a:1"), Err(Error::InvalidArgument(_))));
}

#[test]
fn bad_urls_and_entries_are_clear_errors() {
    for bad in ["", "127.0.0.1:2181", "http://127.0.0.1:2181/zss", "zk://", "zk://host:notaport/zss", "zk://h/a//b"] {
        match RegistryUrl::parse(bad) {
            Err(Error::InvalidArgument(msg)) => assert!(msg.contains("registry URL") && msg.contains("zk://"), "{msg}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let url = fresh_url(&zookeeper());
    match register_broker(&url, BrokerEntry::new("x", "", "tcp://h:1")) {
        Err(Error::InvalidArgument(msg)) => assert!(msg.contains("frontend"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unreachable_zookeeper_fails_within_the_bound() {
    let host = format!("127.0.0.1:{}", free_port());
    let nobody = format!("zk://{host}/zss");
    // The default bound (5 s) for a registration, a shorter one for a watch, side by side.
    let register = std::thread::spawn({
        let url = RegistryUrl::parse(&nobody).unwrap();
        move || {
            let start = Instant::now();
            (register_broker(&url, entry("a")).map(|_| ()), start.elapsed())
        }
    });
    let url = RegistryUrl::parse(&nobody).unwrap().connect_timeout(Duration::from_secs(1));
    let start = Instant::now();
    let watched = watch_brokers(&url, Box::new(|list| panic!("reported {list:?}"))).map(|_| ());
    let watch_took = start.elapsed();
    let (registered, register_took) = register.join().unwrap();
    for (what, result, took, bound) in
        [("register", registered, register_took, Duration::from_secs(5)), ("watch", watched, watch_took, Duration::from_secs(1))]
    {
        match result {
            Err(Error::Socket { context, message }) => {
                assert!(context.contains("registry") && context.contains(&host), "{what}: {context}: {message}")
            }
            other => panic!("{what}: {other:?}"),
        }
        assert!(took >= bound && took < bound + Duration::from_secs(2), "{what} failed after {took:?}, bound {bound:?}");
    }
}

/// `zkCli.sh -server ZK ARGS...`: ZooKeeper's own client, to look at what we wrote.
fn zk_cli(zk: &str, args: &[&str]) -> String {
    let out = Command::new("/usr/share/zookeeper/bin/zkCli.sh")
        .args(["-server", zk])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("zkCli.sh (zookeeperd) runs");
    assert!(out.status.success(), "zkCli.sh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn cli_broker_registers_and_leaves_on_sigterm() {
    let zk = zookeeper();
    let url = fresh_url(&zk);
    let (seen, _watch) = Seen::watch(&url);
    let (fe, be) = (free_port(), free_port());
    let spawn = |args: &[&str]| {
        Proc(Command::new(ZSS).arg("broker").args(args).arg("--registry").arg(url.to_string()).stderr(Stdio::null()).spawn().unwrap())
    };
    let local = spawn(&["--frontend", &format!("tcp://127.0.0.1:{fe}"), "--backend", &format!("tcp://127.0.0.1:{be}")]);
    // Not a wildcard: advertised as bound, named after this machine.
    let host = zss::registry::hostname();
    let local_entry = BrokerEntry::new(format!("{host}:{fe}"), format!("tcp://127.0.0.1:{fe}"), format!("tcp://127.0.0.1:{be}"));
    let listed = seen.wait_for(1, std::slice::from_ref(&local_entry), Duration::from_secs(10));
    eprintln!("the broker was listed {listed:?} after it was started");

    // A wildcard bind is advertised under --advertise.
    let (fe2, be2) = (free_port(), free_port());
    let wildcard = spawn(&["--frontend", &format!("tcp://*:{fe2}"), "--backend", &format!("tcp://0.0.0.0:{be2}"), "--advertise", "broker.example"]);
    let advertised = BrokerEntry::new(format!("broker.example:{fe2}"), format!("tcp://broker.example:{fe2}"), format!("tcp://broker.example:{be2}"));
    seen.wait_for(1, &[local_entry, advertised.clone()], Duration::from_secs(10));

    // The node's data is plain text in zkCli.
    let nodes = zk_cli(&zk, &["ls", &url.brokers_path()]);
    let node = nodes.lines().last().unwrap().trim_matches(['[', ']']).split(", ").find(|n| n.starts_with("broker.example")).unwrap().to_owned();
    let data = zk_cli(&zk, &["get", &format!("{}/{node}", url.brokers_path())]);
    assert!(
        data.contains(&format!("name=broker.example:{fe2}\nfrontend=tcp://broker.example:{fe2}\nbackend=tcp://broker.example:{be2}\n")),
        "{data}"
    );

    // SIGTERM: the node goes at once (not after the 6 s session timeout), the process exits 0.
    let reported = seen.count();
    let mut local = local;
    let start = Instant::now();
    unsafe { libc::kill(local.0.id() as i32, libc::SIGTERM) };
    assert!(local.0.wait().unwrap().success(), "the broker's exit status after SIGTERM");
    seen.wait_for(reported, &[advertised], Duration::from_secs(5));
    let gone = start.elapsed();
    assert!(gone < Duration::from_secs(2), "the node went {gone:?} after SIGTERM");
    drop(wildcard);
    seen.wait_for(reported, &[], Duration::from_secs(5));
}

#[test]
fn cli_broker_with_an_unreachable_registry_exits_with_an_error() {
    let start = Instant::now();
    let out = Command::new(ZSS)
        .args(["broker", "--frontend", &format!("tcp://127.0.0.1:{}", free_port()), "--backend"])
        .arg(format!("tcp://127.0.0.1:{}", free_port()))
        .args(["--registry", &format!("zk://127.0.0.1:{}/zss", free_port())])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("registry") && stderr.contains("ZooKeeper"), "{stderr}");
    assert!(start.elapsed() < Duration::from_secs(8), "exited after {:?}", start.elapsed());

    let out = Command::new(ZSS)
        .args(["broker", "--frontend", &format!("tcp://127.0.0.1:{}", free_port()), "--backend"])
        .arg(format!("tcp://127.0.0.1:{}", free_port()))
        .args(["--registry", "zk:/nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}
