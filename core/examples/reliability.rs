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

fn main() {
    println!("zss {} reliability scenarios ({} CPUs)\n", zss::VERSION, std::thread::available_parallelism().map_or(0, |n| n.get()));
    worker_killed();
    println!();
    broker_restarted();
    println!();
    flood();
    println!();
    client_vanishes();
}
