//! Soak run (not CI): hours of traffic through a `zss broker` process while worker processes
//! are restarted periodically, alternately with SIGTERM (clean: DOWN) and SIGKILL (crash).
//!
//! ```sh
//! cargo build --release -p zss
//! cargo run --release -p zss --example soak -- [MINUTES=60] [RESTART_EVERY_S=30] [CLIENTS=8]
//! ```
//!
//! Every 10 s it prints: elapsed, calls answered (total and per second), answers by status,
//! and the broker's resident memory.

mod common;
use common::{port, rss_kib, show, status_of, zss_binary, Tally};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zss::{Client, ClientConfig, Value};

fn spawn(args: &[&str]) -> Child {
    Command::new(zss_binary()).args(args).args(["--log-level", "error"]).spawn().expect("spawn zss")
}

fn main() {
    let args: Vec<f64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let minutes = args.first().copied().unwrap_or(60.0);
    let restart_every = Duration::from_secs_f64(args.get(1).copied().unwrap_or(30.0));
    let clients = args.get(2).copied().unwrap_or(8.0) as usize;
    let (fe, be) = (format!("tcp://127.0.0.1:{}", port()), format!("tcp://127.0.0.1:{}", port()));
    let mut broker = spawn(&["broker", "--frontend", &fe, "--backend", &be]);
    let mut workers: Vec<Child> = (0..3).map(|_| spawn(&["echo", "soak", "--broker", &be])).collect();
    std::thread::sleep(Duration::from_secs(2));

    let tally = Arc::new(Mutex::new(Tally::new()));
    let running = Arc::new(AtomicBool::new(true));
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let (fe, tally, running) = (fe.clone(), tally.clone(), running.clone());
            std::thread::spawn(move || {
                let c = Client::connect(ClientConfig::new(&fe).sid("soak").timeout(Duration::from_secs(2))).unwrap();
                let payload = Value::map([("client", Value::from(i as i64)), ("data", Value::from("x".repeat(256)))]);
                while running.load(Ordering::Relaxed) {
                    let r = c.call("echo", payload.clone());
                    *tally.lock().unwrap().entry(status_of(&r)).or_default() += 1;
                }
            })
        })
        .collect();

    let start = Instant::now();
    let end = start + Duration::from_secs_f64(minutes * 60.0);
    let mut next_restart = start + restart_every;
    let mut next_report = start + Duration::from_secs(10);
    let (mut restarts, mut last_total) = (0u64, 0u64);
    println!("soak: {minutes} min, {clients} clients, 3 workers, a worker restarted every {restart_every:?}");
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
        let now = Instant::now();
        if now >= next_restart {
            let i = (restarts as usize) % workers.len();
            let signal = if restarts % 2 == 0 { libc::SIGTERM } else { libc::SIGKILL };
            unsafe { libc::kill(workers[i].id() as i32, signal) };
            let _ = workers[i].wait();
            workers[i] = spawn(&["echo", "soak", "--broker", &be]);
            restarts += 1;
            next_restart = now + restart_every;
        }
        if now >= next_report {
            let t = tally.lock().unwrap().clone();
            let total: u64 = t.values().sum();
            println!(
                "{:>7.0} s  answered {:>10}  ({:>6.0}/s)  {}  broker RSS {} KiB  restarts {}",
                now.duration_since(start).as_secs_f64(),
                total,
                (total - last_total) as f64 / 10.0,
                show(&t),
                rss_kib(broker.id()),
                restarts
            );
            last_total = total;
            next_report = now + Duration::from_secs(10);
        }
    }
    running.store(false, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    for mut w in workers {
        unsafe { libc::kill(w.id() as i32, libc::SIGTERM) };
        let _ = w.wait();
    }
    unsafe { libc::kill(broker.id() as i32, libc::SIGTERM) };
    let _ = broker.wait();
    println!("soak: done; final answers {}", show(&tally.lock().unwrap()));
}
