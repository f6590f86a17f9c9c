//! The NATS side of `scripts/bench-nats.sh`: the same shapes `zss bench-broker-alone` measures
//! through the zss broker, over a local `nats-server`.
//!
//! `zss-nats-bench respond URL` answers every request on `bench.echo` with its payload.
//! `zss-nats-bench request URL --seconds S --clients C --in-flight K` measures synchronous
//! request-reply (one connection, one request at a time) and then the pipelined rate (C
//! connections, K requests outstanding on each), and prints them as JSON.

use futures::StreamExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SUBJECT: &str = "bench.echo";

fn arg(args: &[String], name: &str, default: f64) -> f64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number, got {v}")))
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().collect();
    let (mode, url) = match (args.get(1), args.get(2)) {
        (Some(m), Some(u)) => (m.as_str(), u.clone()),
        _ => {
            eprintln!("usage: zss-nats-bench respond URL | request URL [--seconds S] [--clients C] [--in-flight K]");
            std::process::exit(2);
        }
    };
    match mode {
        "respond" => respond(&url).await,
        "request" => {
            let seconds = arg(&args, "--seconds", 3.0);
            let clients = arg(&args, "--clients", 4.0) as usize;
            let in_flight = arg(&args, "--in-flight", 32.0) as usize;
            let sync = sync_rate(&url, seconds).await?;
            let pipelined = pipelined_rate(&url, seconds, clients, in_flight).await?;
            println!(
                "{}",
                serde_json::json!({
                    "sync": sync,
                    "pipelined": {"clients": clients, "in_flight": in_flight, "rps": pipelined},
                })
            );
            Ok(())
        }
        other => Err(format!("unknown mode {other}").into()),
    }
}

async fn respond(url: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let client = async_nats::connect(url).await?;
    let mut requests = client.subscribe(SUBJECT).await?;
    println!("ready");
    while let Some(msg) = requests.next().await {
        if let Some(reply) = msg.reply {
            client.publish(reply, msg.payload).await?;
        }
    }
    Ok(())
}

/// One request at a time: rate and p50/p99 in µs.
async fn sync_rate(url: &str, seconds: f64) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
    let client = async_nats::connect(url).await?;
    let payload = bytes::Bytes::from_static(b"x");
    for _ in 0..200 {
        client.request(SUBJECT, payload.clone()).await?; // warm-up
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds {
        let t = Instant::now();
        client.request(SUBJECT, payload.clone()).await?;
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let rps = samples.len() as f64 / start.elapsed().as_secs_f64();
    samples.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
    Ok(serde_json::json!({"rps": rps, "p50_us": pct(0.5), "p99_us": pct(0.99)}))
}

/// `clients` connections, each keeping `in_flight` requests outstanding.
async fn pipelined_rate(url: &str, seconds: f64, clients: usize, in_flight: usize) -> Result<f64, Box<dyn std::error::Error + Send + Sync>> {
    let done = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let running = Arc::new(AtomicBool::new(true));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = async_nats::connect(url).await?;
        for _ in 0..in_flight {
            let (client, done, measuring, running) = (client.clone(), done.clone(), measuring.clone(), running.clone());
            tasks.push(tokio::spawn(async move {
                let payload = bytes::Bytes::from_static(b"x");
                while running.load(Ordering::Relaxed) {
                    if client.request(SUBJECT, payload.clone()).await.is_ok() && measuring.load(Ordering::Relaxed) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await; // ramp-up
    measuring.store(true, Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    Ok(rate)
}
