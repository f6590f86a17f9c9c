//! Several brokers: workers register with each, clients spread calls over the ones that are up,
//! and a broker that dies (a SIGKILLed `zss broker` process), hangs or leaves costs at most the
//! calls that were in flight on it, each answered at once.

mod common;

use common::process::{free_port, Proc, ZSS};
use common::*;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zss::{Call, Client, ClientConfig, Error, RunningWorker, Value, Worker};

/// A `zss broker` process on fixed loopback ports (so it can be restarted on them), with fast
/// worker liveness.
struct BrokerProc {
    frontend: String,
    backend: String,
    proc: Option<Proc>,
}

impl BrokerProc {
    fn new() -> BrokerProc {
        let frontend = format!("tcp://127.0.0.1:{}", free_port());
        let backend = format!("tcp://127.0.0.1:{}", free_port());
        let mut b = BrokerProc { frontend, backend, proc: None };
        b.start();
        b
    }

    fn start(&mut self) {
        let child = Command::new(ZSS)
            .args(["--log-level", "warn", "broker", "--frontend", &self.frontend, "--backend", &self.backend])
            .args(["--heartbeat", "100", "--max-ttl", "600", "--update-interval", "100"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("zss broker starts");
        self.proc = Some(Proc(child));
        // Up when it answers; a broker that could not bind its ports has exited.
        let probe = Client::connect(ClientConfig::new(&self.frontend).timeout(Duration::from_millis(200))).unwrap();
        let ready = wait_until(Duration::from_secs(10), || {
            if let Some(status) = self.proc.as_mut().unwrap().0.try_wait().unwrap() {
                panic!("zss broker on {} exited: {status}", self.frontend);
            }
            probe.management("PING").is_ok()
        });
        assert!(ready, "zss broker on {} does not answer", self.frontend);
    }

    fn signal(&self, signal: i32) {
        unsafe { libc::kill(self.proc.as_ref().expect("running").0.id() as i32, signal) };
    }

    fn kill(&mut self) {
        let mut p = self.proc.take().expect("running");
        p.0.kill().expect("SIGKILL");
        p.0.wait().unwrap();
        std::mem::forget(p); // already reaped: no SIGTERM on drop
    }

    /// Requests this broker forwarded to a worker (its SMI STATS), through a client of its own.
    fn forwarded(&self) -> Option<i64> {
        let c = Client::connect(ClientConfig::new(&self.frontend).timeout(Duration::from_millis(500))).ok()?;
        let stats = c.management("STATS").ok()?;
        stats.get("broker")?.get("forwarded")?.as_i64()
    }

    /// Live workers this broker knows for `sid` (its SMI SERVICES).
    fn workers(&self, sid: &str) -> usize {
        let Ok(c) = Client::connect(ClientConfig::new(&self.frontend).timeout(Duration::from_millis(500))) else { return 0 };
        match c.management("SERVICES") {
            Ok(v) => match v.get(&sid.to_uppercase()) {
                Some(Value::Array(ws)) => ws.len(),
                Some(Value::Map(m)) => m.len(),
                _ => 0,
            },
            Err(_) => 0,
        }
    }
}

fn frontends(brokers: &[&BrokerProc]) -> Vec<String> {
    brokers.iter().map(|b| b.frontend.clone()).collect()
}

fn backends(brokers: &[&BrokerProc]) -> Vec<String> {
    brokers.iter().map(|b| b.backend.clone()).collect()
}

fn worker_on(backends: Vec<String>, sid: &str) -> RunningWorker {
    let mut w = Worker::new(worker_config("tcp://unused:1", sid).brokers(backends));
    add_test_verbs(&mut w);
    w.start().expect("worker starts")
}

/// Fast client liveness: a ping every 100 ms, lost after 300 ms of silence.
fn client_on(frontends: Vec<String>, timeout_ms: u64) -> Client {
    Client::connect(
        ClientConfig::new("")
            .brokers(frontends)
            .sid("svc")
            .timeout(Duration::from_millis(timeout_ms))
            .liveness(Duration::from_millis(100), 3),
    )
    .unwrap()
}

fn wait_registered(b: &BrokerProc, sid: &str, n: usize) {
    assert!(wait_until(Duration::from_secs(5), || b.workers(sid) == n), "{} has {} workers of {sid}, want {n}", b.frontend, b.workers(sid));
}

#[test]
fn a_worker_registers_with_every_broker_and_a_client_spreads_calls_over_them() {
    let brokers: Vec<BrokerProc> = (0..3).map(|_| BrokerProc::new()).collect();
    let all: Vec<&BrokerProc> = brokers.iter().collect();
    let _w = worker_on(backends(&all), "svc");
    for b in &brokers {
        wait_registered(b, "svc", 1);
    }
    let c = client_on(frontends(&all), 2000);
    for i in 0..300 {
        assert_eq!(c.call("echo", i).unwrap().payload, Value::from(i));
    }
    let counts: Vec<i64> = brokers.iter().map(|b| b.forwarded().unwrap()).collect();
    assert_eq!(counts.iter().sum::<i64>(), 300, "{counts:?}");
    for n in &counts {
        assert!(*n >= 50, "every broker takes a share of the calls: {counts:?}");
    }
}

#[test]
fn a_killed_broker_under_load_costs_only_its_calls_in_flight_and_rejoins_at_once() {
    let mut brokers: Vec<BrokerProc> = (0..3).map(|_| BrokerProc::new()).collect();
    let all: Vec<&BrokerProc> = brokers.iter().collect();
    let (fes, bes) = (frontends(&all), backends(&all));
    let _workers: Vec<RunningWorker> = (0..2).map(|_| worker_on(bes.clone(), "svc")).collect();
    for b in &brokers {
        wait_registered(b, "svc", 2);
    }
    // 4 clients under steady load, each with a few calls in flight at once: half of them
    // idempotent. Every outcome is kept with when it ended.
    let running = Arc::new(AtomicBool::new(true));
    type Outcome = (bool, Result<(), Error>, Instant);
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (fes, running, outcomes) = (fes.clone(), running.clone(), outcomes.clone());
            std::thread::spawn(move || {
                let c = client_on(fes, 5000);
                let mut n = 0u64;
                while running.load(Ordering::Relaxed) {
                    let batch: Vec<_> = (0..4)
                        .map(|k| {
                            n += 1;
                            let idempotent = k % 2 == 0;
                            // Slow enough that calls are in flight on the broker when it dies.
                            let call = Call::new("sleep", Value::from(5));
                            let call = if idempotent { call.idempotent() } else { call };
                            (idempotent, c.start(call).unwrap())
                        })
                        .collect();
                    for (idempotent, p) in batch {
                        let r = p.wait().map(|_| ());
                        outcomes.lock().unwrap().push((idempotent, r, Instant::now()));
                    }
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    brokers[1].kill();
    let killed = Instant::now();
    std::thread::sleep(Duration::from_millis(1200));
    let settled = outcomes.lock().unwrap().len();
    brokers[1].start();
    let restarted = Instant::now();
    let mut rejoined = None;
    while restarted.elapsed() < Duration::from_secs(3) {
        if brokers[1].forwarded().unwrap_or(0) > 0 {
            rejoined = Some(restarted.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    running.store(false, Ordering::Relaxed);
    let calls: u64 = load.into_iter().map(|t| t.join().unwrap()).sum();
    let outcomes = outcomes.lock().unwrap();
    assert_eq!(outcomes.len() as u64, calls, "every call ended");
    let window = Duration::from_millis(300 + 200); // liveness window, plus detection slack
    let mut lost = 0;
    for (idempotent, r, at) in outcomes.iter() {
        match r {
            Ok(()) => {}
            Err(Error::BrokerLost(endpoint)) => {
                lost += 1;
                assert!(!idempotent, "an idempotent call failed with broker lost instead of being re-sent");
                assert_eq!(endpoint, &brokers[1].frontend);
                assert!(*at >= killed && *at < killed + window, "broker lost {:?} after the kill", at.duration_since(killed));
            }
            Err(e) => panic!("unexpected outcome {e:?} (idempotent: {idempotent})"),
        }
    }
    assert!(lost > 0, "calls were in flight on the killed broker and ended broker-lost");
    assert!(outcomes[settled..].iter().all(|o| o.1.is_ok()), "after the loss no further failures");
    let rejoined = rejoined.expect("the restarted broker takes traffic again");
    assert!(rejoined < Duration::from_millis(1000), "took traffic {rejoined:?} after the restart (heartbeat 100 ms)");
    eprintln!("calls {calls}, broker lost {lost}, rejoined after {rejoined:?}");
}

#[test]
fn a_hung_broker_is_dropped_when_it_leaves_pings_unanswered() {
    let good = BrokerProc::new();
    let hung = BrokerProc::new();
    let _w = worker_on(vec![good.backend.clone(), hung.backend.clone()], "svc");
    wait_registered(&good, "svc", 1);
    wait_registered(&hung, "svc", 1);
    let c = client_on(vec![good.frontend.clone(), hung.frontend.clone()], 3000);
    for i in 0..20 {
        c.call("echo", i).unwrap(); // both up, both used
    }
    // SIGSTOP: its connections stay open, it answers nothing.
    hung.signal(libc::SIGSTOP);
    let started = Instant::now();
    let plain: Vec<_> = (0..10).map(|i| c.start(Call::new("echo", i)).unwrap()).collect();
    let retried: Vec<_> = (0..10).map(|i| c.start(Call::new("echo", i).idempotent()).unwrap()).collect();
    let mut lost = 0;
    for p in plain {
        match p.wait() {
            Ok(_) => {}
            Err(Error::BrokerLost(endpoint)) => {
                assert_eq!(endpoint, hung.frontend);
                lost += 1
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    for (i, p) in retried.into_iter().enumerate() {
        assert_eq!(p.wait().unwrap().payload, Value::from(i as i64), "idempotent calls are re-sent to the good broker");
    }
    let took = started.elapsed();
    assert!(lost > 0, "some calls went to the hung broker");
    assert!(took < Duration::from_millis(1500), "calls on the hung broker ended after {took:?}, not at their timeout");
    // From now on only the good broker gets calls.
    for i in 0..20 {
        assert_eq!(c.call("echo", i).unwrap().payload, Value::from(i));
    }
    hung.signal(libc::SIGCONT);
}

#[test]
fn an_unreachable_broker_at_start_costs_no_call() {
    let good = BrokerProc::new();
    let _w = worker_on(vec![good.backend.clone()], "svc");
    wait_registered(&good, "svc", 1);
    let dead = format!("tcp://127.0.0.1:{}", free_port());
    let c = client_on(vec![dead, good.frontend.clone()], 3000);
    // Not idempotent: the calls queued for the broker that never answered never left.
    let pending: Vec<_> = (0..20).map(|i| c.start(Call::new("echo", i)).unwrap()).collect();
    for (i, p) in pending.into_iter().enumerate() {
        assert_eq!(p.wait().unwrap().payload, Value::from(i as i64));
    }
}

#[test]
fn brokers_added_at_run_time_get_traffic_and_removed_ones_get_none() {
    let a = BrokerProc::new();
    let b = BrokerProc::new();
    let w = worker_on(vec![a.backend.clone()], "svc");
    wait_registered(&a, "svc", 1);
    let c = client_on(vec![a.frontend.clone()], 2000);
    // Add b on both sides.
    w.set_brokers(vec![a.backend.clone(), b.backend.clone()]);
    wait_registered(&b, "svc", 1);
    c.set_brokers(vec![a.frontend.clone(), b.frontend.clone()]).unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || {
            c.call("echo", 1).unwrap();
            b.forwarded().unwrap_or(0) > 0
        }),
        "a broker added at run time gets traffic"
    );
    // Remove a from the client: it gets nothing more.
    c.set_brokers(vec![b.frontend.clone()]).unwrap();
    c.call("echo", 0).unwrap(); // the change is applied in order with calls
    let a_before = a.forwarded().unwrap();
    for i in 0..50 {
        assert_eq!(c.call("echo", i).unwrap().payload, Value::from(i));
    }
    assert_eq!(a.forwarded().unwrap(), a_before, "a removed broker gets no calls");
    // And the worker leaves a: a no longer lists it (after its TTL).
    w.set_brokers(vec![b.backend.clone()]);
    wait_registered(&a, "svc", 0);
}

#[test]
fn with_one_broker_a_lost_connection_ends_the_calls_on_it_at_once() {
    let mut b = BrokerProc::new();
    let _w = worker_on(vec![b.backend.clone()], "svc");
    wait_registered(&b, "svc", 1);
    let c = Client::connect(ClientConfig::new(&b.frontend).sid("svc").timeout(Duration::from_secs(10))).unwrap();
    c.call("echo", 1).unwrap();
    let slow: Vec<_> = (0..3).map(|_| c.start(Call::new("sleep", Value::from(2000))).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(100));
    b.kill();
    let killed = Instant::now();
    for p in slow {
        assert!(matches!(p.wait(), Err(Error::BrokerLost(_))));
    }
    assert!(killed.elapsed() < Duration::from_millis(500), "ended {:?} after the kill, not at the 10 s timeout", killed.elapsed());
    // Back on the same ports: the client uses it again.
    b.start();
    assert!(wait_until(Duration::from_secs(5), || c.call("echo", 2).is_ok()), "the client recovers when the broker is back");
}
