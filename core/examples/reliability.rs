//! Fault scenarios with figures, for the README's reliability section:
//!
//! ```sh
//! cargo build --release -p zss && cargo run --release -p zss --example reliability
//! ```
//!
//! Uses the deployed liveness settings (heartbeat 1 s, TTL 2 s, sweep 500 ms) and real worker
//! processes (`target/release/zss echo`) where a process must die. Prints, per scenario,
//! requests sent, answers by status, and the times that matter.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zss::{Broker, BrokerConfig, BrokerStats, Call, Client, ClientConfig, Response, RunningBroker, Value, Worker, WorkerConfig};

mod common;
use common::{port, show, status_of, zss_binary, Tally};

fn start_broker(fe: &str, be: &str) -> RunningBroker {
    Broker::bind(BrokerConfig::new(fe, be)).unwrap().start().unwrap() // deployed defaults
}

fn wait_workers(b: &RunningBroker, n: u64) {
    let end = Instant::now() + Duration::from_secs(10);
    while BrokerStats::get(&b.stats().workers) != n && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn echo_worker(be: &str) -> zss::RunningWorker {
    let mut w = Worker::new(WorkerConfig::new("svc").broker(be));
    w.verb("echo", |r| Ok(Response::ok(r.payload.clone())));
    w.verb("sleep", |r| {
        std::thread::sleep(Duration::from_millis(r.payload.get("ms").and_then(Value::as_i64).unwrap_or(10) as u64));
        Ok(Response::ok(true))
    });
    w.start().unwrap()
}

/// A worker process is SIGKILLed with calls in flight.
fn worker_killed() {
    let (fe, be) = (format!("tcp://127.0.0.1:{}", port()), format!("tcp://127.0.0.1:{}", port()));
    let broker = start_broker(&fe, &be);
    let mut victim = std::process::Command::new(zss_binary())
        .args(["echo", "svc", "--broker", &be, "--log-level", "error"])
        .spawn()
        .unwrap();
    wait_workers(&broker, 1);
    let _survivor = echo_worker(&be);
    wait_workers(&broker, 2);
    let c = Client::connect(ClientConfig::new(&fe).sid("svc").timeout(Duration::from_secs(10))).unwrap();
    let sent = 40;
    // Each outcome is recorded when it arrives (callback), with its time.
    let (tx, rx) = std::sync::mpsc::channel::<(u16, Instant)>();
    for _ in 0..sent {
        let tx = tx.clone();
        let call = Call::new("sleep", Value::map([("ms", Value::from(3000))]));
        c.send(call, Box::new(move |r| tx.send((status_of(&r), Instant::now())).unwrap())).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    victim.kill().unwrap();
    victim.wait().unwrap();
    let killed = Instant::now();
    let mut tally = Tally::new();
    let mut last_error = Duration::ZERO;
    for _ in 0..sent {
        let (status, at) = rx.recv().unwrap();
        if status != 200 {
            last_error = last_error.max(at.saturating_duration_since(killed));
        }
        *tally.entry(status).or_default() += 1;
    }
    let mut after = Tally::new();
    for i in 0..1000 {
        *after.entry(status_of(&c.call("echo", i))).or_default() += 1;
    }
    println!("worker SIGKILLed with {sent} calls in flight (half on it):");
    println!("  answers: {}; the killed worker's calls answered {:.2} s after the kill (TTL 2 s)", show(&tally), last_error.as_secs_f64());
    println!("  next 1000 calls: {}", show(&after));
}

/// The broker is stopped and restarted while 4 clients call continuously.
fn broker_restarted() {
    let (fe, be) = (format!("tcp://127.0.0.1:{}", port()), format!("tcp://127.0.0.1:{}", port()));
    let mut broker = Some(start_broker(&fe, &be));
    let _worker = echo_worker(&be);
    wait_workers(broker.as_ref().unwrap(), 1);
    let tally = Arc::new(Mutex::new(Tally::new()));
    let over_timeout = Arc::new(Mutex::new(0u64));
    let first_ok_after_restart: Arc<Mutex<Option<Instant>>> = Arc::default();
    let restarted_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (fe, tally, over, first_ok, restarted, running) =
                (fe.clone(), tally.clone(), over_timeout.clone(), first_ok_after_restart.clone(), restarted_at.clone(), running.clone());
            std::thread::spawn(move || {
                let c = Client::connect(ClientConfig::new(&fe).sid("svc").timeout(Duration::from_millis(500))).unwrap();
                while running.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let r = c.call("echo", 1);
                    if t.elapsed() > Duration::from_millis(600) {
                        *over.lock().unwrap() += 1;
                    }
                    if r.is_ok() && restarted.lock().unwrap().is_some() {
                        first_ok.lock().unwrap().get_or_insert(Instant::now());
                    }
                    *tally.lock().unwrap().entry(status_of(&r)).or_default() += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    drop(broker.take()); // stop
    std::thread::sleep(Duration::from_secs(1));
    let b = start_broker(&fe, &be);
    let t0 = Instant::now();
    *restarted_at.lock().unwrap() = Some(t0);
    wait_workers(&b, 1);
    let reregistered = t0.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    running.store(false, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let recovered = first_ok_after_restart.lock().unwrap().map(|t| t - t0);
    println!("broker stopped for 1 s and restarted under steady load (4 clients, timeout 500 ms):");
    println!("  answers: {} (599 = calls made while it was down)", show(&tally.lock().unwrap()));
    println!(
        "  worker re-registered {:.2} s after the restart; first successful call {:.2} s after; calls past their timeout: {}",
        reregistered.as_secs_f64(),
        recovered.map_or(f64::NAN, |d| d.as_secs_f64()),
        over_timeout.lock().unwrap()
    );
}

/// Far more requests than the workers can serve.
fn flood() {
    let mut cfg = BrokerConfig::new("tcp://127.0.0.1:*", "tcp://127.0.0.1:*");
    cfg.max_in_flight_per_worker = 1000;
    let broker = Broker::bind(cfg).unwrap().start().unwrap();
    let _w1 = echo_worker(broker.backend_endpoint());
    let _w2 = echo_worker(broker.backend_endpoint());
    wait_workers(&broker, 2);
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc").timeout(Duration::from_secs(5))).unwrap();
    let sent = 20_000;
    let start = Instant::now();
    let calls: Vec<_> = (0..sent).map(|_| c.start(Call::new("sleep", Value::map([("ms", Value::from(5))]))).unwrap()).collect();
    let mut peak = 0;
    let mut tally = Tally::new();
    for p in calls {
        peak = peak.max(BrokerStats::get(&broker.stats().in_flight));
        *tally.entry(status_of(&p.wait())).or_default() += 1;
    }
    let took = start.elapsed();
    let t = Instant::now();
    let ok_after = c.call("echo", 1).is_ok();
    println!("flood: {sent} calls at once on 2 workers (16 handlers each, 5 ms per call, limit 1000 in flight per worker):");
    println!("  answers: {} in {:.2} s; broker in-flight peak {peak}", show(&tally), took.as_secs_f64());
    println!("  after the flood: next call {} in {:.1} ms", if ok_after { "succeeded" } else { "FAILED" }, t.elapsed().as_secs_f64() * 1e3);
}

/// A client with calls in flight disappears.
fn client_vanishes() {
    let broker = start_broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*");
    let _w = echo_worker(broker.backend_endpoint());
    wait_workers(&broker, 1);
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc").timeout(Duration::from_secs(30))).unwrap();
    let sent = 1000;
    let calls: Vec<_> = (0..sent).map(|_| c.start(Call::new("sleep", Value::map([("ms", Value::from(1))]))).unwrap()).collect();
    c.close();
    drop(calls); // each failed with Closed; the broker still holds them in flight
    let end = Instant::now() + Duration::from_secs(10);
    while BrokerStats::get(&broker.stats().in_flight) > 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("client closed with {sent} calls in flight:");
    println!(
        "  replies dropped and counted by the broker: {}; broker in flight afterwards: {}",
        BrokerStats::get(&broker.stats().dropped_replies),
        BrokerStats::get(&broker.stats().in_flight)
    );
}

/// A `zss broker` process, on fixed ports so it can be restarted on them.
struct BrokerProcess {
    fe: String,
    be: String,
    child: Option<std::process::Child>,
}

impl BrokerProcess {
    fn start(fe: String, be: String) -> BrokerProcess {
        let mut b = BrokerProcess { fe, be, child: None };
        b.restart();
        b
    }
    fn restart(&mut self) {
        let child = std::process::Command::new(zss_binary())
            .args(["--log-level", "error", "broker", "--frontend", &self.fe, "--backend", &self.be])
            .spawn()
            .unwrap();
        self.child = Some(child);
        let probe = Client::connect(ClientConfig::new(&self.fe).timeout(Duration::from_millis(200))).unwrap();
        while probe.management("PING").is_err() {}
    }
    fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.child.as_ref().unwrap().id() as i32, sig) };
    }
    fn kill(&mut self) {
        let mut c = self.child.take().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
    }
    /// Requests it forwarded to workers (its SMI STATS).
    fn forwarded(&self) -> i64 {
        let c = Client::connect(ClientConfig::new(&self.fe).timeout(Duration::from_millis(300))).unwrap();
        c.management("STATS").ok().and_then(|s| s.get("broker")?.get("forwarded")?.as_i64()).unwrap_or(-1)
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One of three brokers dies (SIGKILL) or hangs (SIGSTOP) under steady load: 2 workers on all
/// three, 4 clients on all three with 8 calls in flight each, half of them idempotent.
fn broker_lost(how: &str) {
    let mut brokers: Vec<BrokerProcess> =
        (0..3).map(|_| BrokerProcess::start(format!("tcp://127.0.0.1:{}", port()), format!("tcp://127.0.0.1:{}", port()))).collect();
    let fes: Vec<String> = brokers.iter().map(|b| b.fe.clone()).collect();
    let bes: Vec<String> = brokers.iter().map(|b| b.be.clone()).collect();
    let _workers: Vec<_> = (0..2).map(|_| {
        let mut w = Worker::new(WorkerConfig::new("svc").brokers(bes.clone()));
        w.verb("sleep", |r| {
            std::thread::sleep(Duration::from_millis(r.payload.as_i64().unwrap_or(1) as u64));
            Ok(Response::ok(true))
        });
        w.start().unwrap()
    }).collect();
    std::thread::sleep(Duration::from_millis(1500)); // registered everywhere, clients' pings answered
    let running = Arc::new(AtomicBool::new(true));
    // (idempotent, status, when)
    let outcomes: Arc<Mutex<Vec<(bool, u16, Instant)>>> = Arc::default();
    let clients: Vec<Client> = (0..4).map(|_| Client::connect(ClientConfig::new("").brokers(fes.clone()).sid("svc").timeout(Duration::from_secs(10))).unwrap()).collect();
    let threads: Vec<_> = clients
        .iter()
        .cloned()
        .map(|c| {
            let (running, outcomes) = (running.clone(), outcomes.clone());
            std::thread::spawn(move || {
                while running.load(Ordering::Relaxed) {
                    let batch: Vec<_> = (0..8)
                        .map(|k| {
                            let call = Call::new("sleep", Value::from(2));
                            (k % 2 == 0, c.start(if k % 2 == 0 { call.idempotent() } else { call }).unwrap())
                        })
                        .collect();
                    for (idempotent, p) in batch {
                        let r = p.wait();
                        outcomes.lock().unwrap().push((idempotent, status_of(&r), Instant::now()));
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let t0 = Instant::now();
    match how {
        "killed" => brokers[1].kill(),
        _ => brokers[1].signal(libc::SIGSTOP),
    }
    std::thread::sleep(Duration::from_secs(5));
    let t1 = Instant::now();
    match how {
        "killed" => brokers[1].restart(),
        _ => brokers[1].signal(libc::SIGCONT),
    }
    let before = brokers[1].forwarded();
    let mut rejoined = None;
    while t1.elapsed() < Duration::from_secs(10) {
        if brokers[1].forwarded() > before.max(0) + 100 {
            rejoined = Some(t1.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_secs(1));
    running.store(false, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let outcomes = outcomes.lock().unwrap();
    let mut plain = Tally::new();
    let mut idem = Tally::new();
    for (i, status, _) in outcomes.iter() {
        *(if *i { &mut idem } else { &mut plain }).entry(*status).or_default() += 1;
    }
    let failures: Vec<f64> = outcomes.iter().filter(|o| o.1 != 200).map(|o| o.2.duration_since(t0).as_secs_f64()).collect();
    let last_failure = failures.iter().cloned().fold(f64::NAN, f64::max);
    let sum = |f: fn(&zss::ClientStats) -> &std::sync::atomic::AtomicU64| clients.iter().map(|c| f(c.stats()).load(Ordering::Relaxed)).sum::<u64>();
    let verb = if how == "killed" { "SIGKILLed, restarted 5 s later" } else { "SIGSTOPped (hung), SIGCONTed 5 s later" };
    println!("1 of 3 brokers {verb}; 2 workers, 4 clients × 8 in flight, half idempotent (client liveness: ping 1 s, lost after 3 s):");
    println!("  calls: {}; plain {}; idempotent {}", outcomes.len(), show(&plain), show(&idem));
    println!(
        "  broker lost by {} clients; calls lost (503) {}, re-sent {}; last failure {:.3} s after the {}",
        sum(|s| &s.brokers_lost),
        sum(|s| &s.calls_lost),
        sum(|s| &s.calls_resent),
        last_failure,
        if how == "killed" { "kill" } else { "stop" }
    );
    println!("  back in service (100 calls forwarded) {:.2} s after the {}", rejoined.map_or(f64::NAN, |d| d.as_secs_f64()), if how == "killed" { "restart" } else { "SIGCONT" });
}

fn main() {
    println!("zss {} reliability scenarios ({} CPUs)\n", zss::VERSION, std::thread::available_parallelism().map_or(0, |n| n.get()));
    worker_killed();
    println!();
    broker_restarted();
    println!();
    flood();
    println!();
    client_vanishes();
    println!();
    broker_lost("killed");
    println!();
    broker_lost("hung");
}
