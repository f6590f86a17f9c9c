//! `zss bench`: the physical limit and zss side by side, in one run, on loopback TCP.
//!
//! 1. raw ZeroMQ DEALER↔ROUTER echo, one hop, no ZSS: synchronous round trip and pipelined;
//! 2. a synchronous call through the zss broker to a worker (two hops), next to the broker's
//!    floor (hand-written client and worker through it) and each zss library alone on it;
//! 3. pipelined throughput, N clients × M workers, many calls in flight;
//! 4. payload sizes;
//! 5. latency at half the peak rate, and the floor's at the same rate;
//! 6. the broker's resident memory before and after a number of requests.
//!
//! The zss broker always runs in its own process (`zss broker`), as deployed; clients and
//! workers run in the bench process. The synchronous cases are interleaved (a few turns each)
//! so that drift of the machine during the run cannot favour one of them, and each counts the
//! context switches per call of every process involved: on a small VM, wake-ups are most of
//! what a round trip costs.
//!
//! Figures are printed as a table (and optionally JSON); the ratios the project is judged by
//! are computed from the same run.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zss::{Call, Client, ClientConfig, Response, RunningWorker, Value, Worker, WorkerConfig};

pub struct BenchOptions {
    pub seconds: f64,
    pub matrix: Vec<(usize, usize)>,
    pub in_flight: usize,
    pub sizes: Vec<usize>,
    pub memory_requests: u64,
    pub json: Option<String>,
}

pub struct Latency {
    pub rps: f64,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    /// Context switches per call, every thread of every process of the case counted (NaN
    /// where not measured). On a small VM each is a wake-up costing tens of µs.
    pub switches: f64,
}

impl Latency {
    pub fn to_json(&self) -> serde_json::Value {
        let mut doc = serde_json::json!({"rps": self.rps, "p50_us": self.p50, "p99_us": self.p99, "p999_us": self.p999});
        if self.switches.is_finite() {
            doc["switches_per_call"] = serde_json::json!(self.switches);
        }
        doc
    }

    /// Figures from round-trip times in µs taken over `seconds` of sending.
    fn from_samples(mut samples_us: Vec<f64>, seconds: f64) -> Latency {
        samples_us.sort_by(|a, b| a.partial_cmp(b).unwrap());
        Latency {
            rps: samples_us.len() as f64 / seconds,
            p50: percentile(&samples_us, 0.5),
            p99: percentile(&samples_us, 0.99),
            p999: percentile(&samples_us, 0.999),
            switches: f64::NAN,
        }
    }
}

fn percentile(sorted_us: &[f64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted_us.len() as f64 - 1.0) * p).round() as usize;
    sorted_us[idx]
}

/// Runs `round_trip` back to back for `seconds`, timing each. Appends the times in µs to
/// `samples`; returns the seconds spent.
fn time_round_trips(seconds: f64, round_trip: &mut dyn FnMut(), samples: &mut Vec<f64>) -> f64 {
    let start = Instant::now();
    let budget = Duration::from_secs_f64(seconds);
    while start.elapsed() < budget {
        let t = Instant::now();
        round_trip();
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    start.elapsed().as_secs_f64()
}

/// Connections, allocator and caches settle before anything is timed.
fn warm_up(round_trip: &mut dyn FnMut()) {
    for _ in 0..200 {
        round_trip();
    }
}

/// Runs `round_trip` back to back for `seconds`, timing each.
pub fn measure_sync(seconds: f64, mut round_trip: impl FnMut()) -> Latency {
    warm_up(&mut round_trip);
    let mut samples = Vec::with_capacity(200_000);
    let spent = time_round_trips(seconds, &mut round_trip, &mut samples);
    Latency::from_samples(samples, spent)
}

/// A synchronous case ready to run: what keeps it alive (echo, broker, workers, client) and
/// one round trip.
struct SyncCase {
    _setup: Vec<Box<dyn std::any::Any>>,
    /// The case's processes besides this one (broker, echo), for [`context_switches`].
    processes: Vec<u32>,
    round_trip: Box<dyn FnMut()>,
}

/// Context switches so far (voluntary and not) of every thread of this process and of `others`.
fn context_switches(others: &[u32]) -> u64 {
    let of_process = |pid: u32| -> u64 {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
        tasks
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
            .map(|status| {
                status
                    .lines()
                    .filter(|l| l.starts_with("voluntary_ctxt_switches:") || l.starts_with("nonvoluntary_ctxt_switches:"))
                    .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                    .sum::<u64>()
            })
            .sum()
    };
    of_process(std::process::id()) + others.iter().map(|&pid| of_process(pid)).sum::<u64>()
}

/// Lets this thread's sleeps end when asked (1 ns timer slack instead of the default 50 µs),
/// for pacing sends at fine intervals.
fn fine_timer_slack() {
    // SAFETY: prctl(PR_SET_TIMERSLACK) only changes this thread's timer slack.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
}

/// Measures `cases` side by side: `rounds` turns, each case `seconds / rounds` per turn, so a
/// machine that drifts during the run (other tenants, frequency) shifts every case alike and
/// the ratios between them stay honest.
fn measure_interleaved(cases: &mut [SyncCase], seconds: f64, rounds: usize) -> Vec<Latency> {
    for case in cases.iter_mut() {
        warm_up(&mut case.round_trip);
    }
    let mut samples: Vec<Vec<f64>> = cases.iter().map(|_| Vec::with_capacity(100_000)).collect();
    let mut spent = vec![0.0; cases.len()];
    let mut switches = vec![0u64; cases.len()];
    for _ in 0..rounds {
        for (i, case) in cases.iter_mut().enumerate() {
            let before = context_switches(&case.processes);
            spent[i] += time_round_trips(seconds / rounds as f64, &mut case.round_trip, &mut samples[i]);
            switches[i] += context_switches(&case.processes) - before;
        }
    }
    let mut results = Vec::new();
    for ((s, t), sw) in samples.into_iter().zip(spent).zip(switches) {
        let calls = s.len() as f64;
        results.push(Latency { switches: sw as f64 / calls, ..Latency::from_samples(s, t) });
    }
    results
}

// ------------------------------------------------------------------------- raw ZeroMQ

struct RawEcho {
    endpoint: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    child: Option<std::process::Child>,
}

/// A ROUTER bound on a free loopback port, for [`echo_loop`].
fn bind_router() -> (zmq::Socket, String) {
    let router = zss::socket::context().socket(zmq::ROUTER).unwrap();
    router.set_linger(0).unwrap();
    router.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = router.get_last_endpoint().unwrap().unwrap();
    (router, endpoint)
}

/// Sends every message straight back until `stop` is set.
fn echo_loop(router: &zmq::Socket, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let mut items = [router.as_poll_item(zmq::POLLIN)];
        if zmq::poll(&mut items, 50).is_err() || !items[0].is_readable() {
            continue;
        }
        while let Ok(frames) = router.recv_multipart(zmq::DONTWAIT) {
            let _ = router.send_multipart(frames, 0);
        }
    }
}

/// `zss bench-raw-echo` (hidden): the raw echo in a process of its own, so that a raw hop
/// crosses processes (and their ZeroMQ I/O threads) as every zss hop does. Prints the bound
/// endpoint, then echoes until SIGTERM/SIGINT.
pub fn raw_echo_process() {
    let (router, endpoint) = bind_router();
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone()).expect("signal handler");
    }
    println!("{endpoint}");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    echo_loop(&router, &stop);
}

impl RawEcho {
    /// The echo on a thread of this process: both ends share one ZeroMQ I/O thread.
    fn start() -> RawEcho {
        let (router, endpoint) = bind_router();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || echo_loop(&router, &flag));
        RawEcho { endpoint, stop, thread: Some(thread), child: None }
    }

    /// The echo in a child process (`zss bench-raw-echo`).
    fn start_process() -> RawEcho {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--log-level", "error", "bench-raw-echo"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start raw echo process");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        RawEcho { endpoint: line.trim().to_owned(), stop: Arc::new(AtomicBool::new(false)), thread: None, child: Some(child) }
    }

    fn dealer(&self) -> zmq::Socket {
        raw_dealer(&self.endpoint, None)
    }
}

impl Drop for RawEcho {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

/// A plain DEALER (no zss client) connected to `endpoint`, for the raw cases.
fn raw_dealer(endpoint: &str, identity: Option<&[u8]>) -> zmq::Socket {
    let socket = zss::socket::context().socket(zmq::DEALER).unwrap();
    socket.set_linger(0).unwrap();
    if let Some(id) = identity {
        socket.set_identity(id).unwrap();
    }
    socket.connect(endpoint).unwrap();
    socket
}

/// The same 7 frames a zss request carries, so the raw figure moves the same bytes.
fn request_like_frames(payload: &[u8]) -> Vec<Vec<u8>> {
    let msg = zss::Message::request(
        zss::protocol::new_rid(),
        zss::Address::new("bench", "echo"),
        Value::Map(Vec::new()),
        Value::Nil,
    );
    let mut frames = msg.to_frames().unwrap();
    *frames.last_mut().unwrap() = payload.to_vec();
    frames
}

/// Raw one-hop echo round trips carrying `payload`.
fn raw_echo_case(echo: RawEcho, payload: &[u8]) -> SyncCase {
    let dealer = echo.dealer();
    let frames = request_like_frames(payload);
    SyncCase {
        processes: echo.child.iter().map(|c| c.id()).collect(),
        _setup: vec![Box::new(echo)],
        round_trip: Box::new(move || {
            dealer.send_multipart(frames.iter(), 0).unwrap();
            dealer.recv_multipart(0).unwrap();
        }),
    }
}

fn raw_pipelined(seconds: f64, in_flight: usize, payload: &[u8]) -> f64 {
    let echo = RawEcho::start();
    let dealer = echo.dealer();
    let frames = request_like_frames(payload);
    for _ in 0..in_flight {
        dealer.send_multipart(frames.iter(), 0).unwrap();
    }
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        dealer.recv_multipart(0).unwrap();
        done += 1;
        dealer.send_multipart(frames.iter(), 0).unwrap();
    }
    done as f64 / start.elapsed().as_secs_f64()
}

// ------------------------------------------------------------------------- zss

/// A `zss broker` in its own process, as deployed (in-process it would share this process's
/// ZeroMQ I/O thread with every client and worker of the bench).
struct BrokerProcess {
    child: std::process::Child,
    frontend: String,
    backend: String,
    /// With CURVE: the broker's public key (clients and workers make their own pairs).
    curve: Option<zss::security::Key>,
}

impl BrokerProcess {
    /// A broker serving CURVE (its secret passed through the environment, as deployed).
    fn start_curve() -> BrokerProcess {
        let pair = zss::KeyPair::generate().expect("CURVE key pair");
        let mut b = BrokerProcess::start_with(Some(&pair));
        b.curve = Some(pair.public);
        b
    }

    /// A client or worker config for this broker's frontend or backend (CURVE if it serves it).
    fn client_config(&self) -> ClientConfig {
        let c = ClientConfig::new(&self.frontend);
        match self.curve {
            Some(server) => c.curve(server, zss::KeyPair::generate().unwrap()),
            None => c,
        }
    }

    fn start() -> BrokerProcess {
        BrokerProcess::start_with(None)
    }

    fn start_with(curve: Option<&zss::KeyPair>) -> BrokerProcess {
        let port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (frontend, backend) = (format!("tcp://127.0.0.1:{}", port()), format!("tcp://127.0.0.1:{}", port()));
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args(["broker", "--frontend", &frontend, "--backend", &backend, "--log-level", "error"]);
        if let Some(pair) = curve {
            cmd.env("MICRO_BROKER_CURVE_SECRET", pair.secret_z85());
        }
        let child = cmd.spawn().expect("start broker process");
        let mut broker = BrokerProcess { child, frontend, backend, curve: curve.map(|p| p.public) };
        let probe = Client::connect(broker.client_config().timeout(Duration::from_millis(200))).unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        while probe.management("PING").is_err() && Instant::now() < end {}
        broker.curve = curve.map(|p| p.public);
        broker
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn workers(&self) -> u64 {
        let probe = Client::connect(self.client_config().timeout(Duration::from_secs(1))).unwrap();
        probe.management("STATS").ok().and_then(|s| s.get("broker")?.get("workers")?.as_i64()).unwrap_or(0) as u64
    }

    fn wait_workers(&self, n: u64) {
        let end = Instant::now() + Duration::from_secs(10);
        while self.workers() < n && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn echo_worker(backend: &str) -> RunningWorker {
    echo_worker_named(backend, "bench", false)
}

/// An echo worker for `broker`, with CURVE if it serves it.
fn echo_worker_for(broker: &BrokerProcess, sid: &str) -> RunningWorker {
    let mut config = WorkerConfig::new(sid).broker(&broker.backend).concurrency(4);
    if let Some(server) = broker.curve {
        config = config.curve(server, zss::KeyPair::generate().unwrap());
    }
    let mut w = Worker::new(config);
    w.verb("echo", |req| Ok(Response::ok(req.payload.clone())));
    w.start().unwrap()
}

fn echo_worker_named(backend: &str, sid: &str, inline: bool) -> RunningWorker {
    let mut config = WorkerConfig::new(sid).broker(backend).concurrency(4);
    config.inline_handlers = inline;
    let mut w = Worker::new(config);
    w.verb("echo", |req| Ok(Response::ok(req.payload.clone())));
    w.start().unwrap()
}

fn client(broker: &BrokerProcess) -> Client {
    Client::connect(broker.client_config().sid("bench").timeout(Duration::from_secs(30))).unwrap()
}

/// zss client → broker → zss worker, all three with CURVE (`curve`) or plaintext.
fn zss_case_secured(curve: bool) -> SyncCase {
    let broker = if curve { BrokerProcess::start_curve() } else { BrokerProcess::start() };
    let worker = echo_worker_for(&broker, "BENCH");
    broker.wait_workers(1);
    zss_client_case(broker, Box::new(worker), 2)
}

fn payload_of(size: usize) -> Value {
    // A string whose msgpack encoding is `size` bytes (header included) where possible.
    let header = if size <= 32 { 1 } else if size <= 65_537 { 3 } else { 5 };
    Value::from("x".repeat(size.saturating_sub(header)))
}

/// zss client → broker → zss worker, payloads of `size` bytes.
fn zss_case(size: usize, inline: bool) -> SyncCase {
    let broker = BrokerProcess::start();
    let worker = echo_worker_named(&broker.backend, "BENCH", inline);
    broker.wait_workers(1);
    zss_client_case(broker, Box::new(worker), size)
}

/// A hand-written DEALER worker (no zss worker library, no threads besides ZeroMQ's) for
/// service `BENCH`: registers, heartbeats and echoes every request until dropped.
struct RawWorker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RawWorker {
    fn start(backend: &str) -> RawWorker {
        RawWorker::start_nth(backend, 0)
    }

    /// The `n`th of several (each needs its own identity).
    fn start_nth(backend: &str, n: usize) -> RawWorker {
        let stop = Arc::new(AtomicBool::new(false));
        let (backend, flag) = (backend.to_owned(), stop.clone());
        let thread = std::thread::spawn(move || {
            let socket = raw_dealer(&backend, Some(format!("BENCH#raw{n}").as_bytes()));
            let smi = |verb: &str| {
                let msg = zss::Message::request(
                    zss::protocol::new_rid(),
                    zss::Address::new(zss::protocol::SMI_SID, verb),
                    Value::Nil,
                    Value::from("BENCH"),
                );
                socket.send_multipart(msg.to_frames().unwrap(), 0).unwrap();
            };
            smi("UP");
            let mut last_beat = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                if last_beat.elapsed() > Duration::from_millis(500) {
                    smi("HEARTBEAT");
                    last_beat = Instant::now();
                }
                let mut items = [socket.as_poll_item(zmq::POLLIN)];
                if zmq::poll(&mut items, 100).is_err() || !items[0].is_readable() {
                    continue;
                }
                while let Ok(mut frames) = socket.recv_multipart(zmq::DONTWAIT) {
                    // [client, protocol, REQ, rid, address, headers, status, payload]; SMI
                    // replies have 7 frames and need no answer.
                    if frames.len() == 8 && frames[2] == b"REQ" {
                        frames[2] = b"REP".to_vec();
                        frames[6] = b"200".to_vec();
                        socket.send_multipart(frames, 0).unwrap();
                    }
                }
            }
            smi("DOWN");
        });
        RawWorker { stop, thread: Some(thread) }
    }
}

impl Drop for RawWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Synchronous calls to `BENCH` through `broker` from a hand-written DEALER client.
fn raw_client_case(broker: BrokerProcess, worker: Box<dyn std::any::Any>) -> SyncCase {
    // A text identity, as every zss client has (the zss worker refuses binary ones).
    let client = raw_dealer(&broker.frontend, Some(format!("raw#{}", zss::protocol::new_rid()).as_bytes()));
    let frames = request_like_frames(&[0xa1, b'x']); // its sid, "bench", is BENCH to the broker
    SyncCase {
        processes: vec![broker.pid()],
        _setup: vec![worker, Box::new(broker)], // the worker goes first: its DOWN needs the broker
        round_trip: Box::new(move || {
            client.send_multipart(frames.iter(), 0).unwrap();
            client.recv_multipart(0).unwrap();
        }),
    }
}

/// Synchronous calls to `BENCH` through `broker` from the zss client.
fn zss_client_case(broker: BrokerProcess, worker: Box<dyn std::any::Any>, size: usize) -> SyncCase {
    let c = Client::connect(broker.client_config().sid("BENCH").timeout(Duration::from_secs(30))).unwrap();
    let payload = payload_of(size);
    SyncCase {
        processes: vec![broker.pid()],
        _setup: vec![worker, Box::new(broker)],
        round_trip: Box::new(move || {
            c.call("echo", payload.clone()).unwrap();
        }),
    }
}

/// The broker's own floor: a hand-written client and worker through the zss broker process.
/// The gap between this and zss is what the client and worker libraries cost; the gap between
/// this and the raw echo is the broker and its second hop.
fn floor_case() -> SyncCase {
    let broker = BrokerProcess::start();
    let worker = RawWorker::start(&broker.backend);
    broker.wait_workers(1);
    raw_client_case(broker, Box::new(worker))
}

/// The zss client alone on the floor: zss client, hand-written worker.
fn zss_client_raw_worker_case() -> SyncCase {
    let broker = BrokerProcess::start();
    let worker = RawWorker::start(&broker.backend);
    broker.wait_workers(1);
    zss_client_case(broker, Box::new(worker), 2)
}

/// The zss worker alone on the floor: hand-written client, zss worker.
fn raw_client_zss_worker_case(inline: bool) -> SyncCase {
    let broker = BrokerProcess::start();
    let worker = echo_worker_named(&broker.backend, "BENCH", inline);
    broker.wait_workers(1);
    raw_client_case(broker, Box::new(worker))
}

/// The broker alone at its pipelined peak: `clients` hand-written clients (one thread each,
/// keeping `in_flight` requests outstanding) and `workers` hand-written workers; no zss library
/// on either side. This is the figure to set next to another broker's request-reply rate.
pub fn broker_alone_pipelined(seconds: f64, clients: usize, workers: usize, in_flight: usize) -> f64 {
    raw_clients_pipelined(seconds, clients, workers, in_flight, false)
}

/// Hand-written clients keeping `in_flight` requests outstanding each, against hand-written
/// workers, or zss workers when `zss_workers` (what the zss worker library costs at the peak).
fn raw_clients_pipelined(seconds: f64, clients: usize, workers: usize, in_flight: usize, zss_workers: bool) -> f64 {
    let broker = BrokerProcess::start();
    let _workers: Vec<Box<dyn std::any::Any>> = (0..workers)
        .map(|n| -> Box<dyn std::any::Any> {
            if zss_workers {
                Box::new(echo_worker_named(&broker.backend, "BENCH", false))
            } else {
                Box::new(RawWorker::start_nth(&broker.backend, n))
            }
        })
        .collect();
    broker.wait_workers(workers as u64);
    let done = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let running = Arc::new(AtomicBool::new(true));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (frontend, done, measuring, running) = (broker.frontend.clone(), done.clone(), measuring.clone(), running.clone());
            std::thread::spawn(move || {
                let client = raw_dealer(&frontend, Some(format!("raw#{}", zss::protocol::new_rid()).as_bytes()));
                let frames = request_like_frames(&[0xa1, b'x']);
                for _ in 0..in_flight {
                    client.send_multipart(frames.iter(), 0).unwrap();
                }
                let mut items = [client.as_poll_item(zmq::POLLIN)];
                while running.load(Ordering::Relaxed) {
                    if zmq::poll(&mut items, 100).is_err() || !items[0].is_readable() {
                        continue;
                    }
                    while let Ok(reply) = client.recv_multipart(zmq::DONTWAIT) {
                        // [protocol, REP, rid, address, headers, status, payload]: only 200s count
                        // (a broker answering 503 at once would look fast otherwise).
                        if measuring.load(Ordering::Relaxed) && reply.get(5).is_some_and(|s| s == b"200") {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        client.send_multipart(frames.iter(), 0).unwrap();
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300)); // ramp-up
    measuring.store(true, Ordering::Relaxed);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    rate
}

/// The broker alone, as JSON: synchronous calls (its floor) and the pipelined peak
/// (`zss bench-broker-alone`, for scripts/bench-nats.sh).
pub fn broker_alone_json(seconds: f64, clients: usize, workers: usize, in_flight: usize) -> serde_json::Value {
    let mut floor = [floor_case()];
    let sync = measure_interleaved(&mut floor, seconds, 1).remove(0);
    drop(floor);
    let pipelined = broker_alone_pipelined(seconds, clients, workers, in_flight);
    serde_json::json!({
        "sync": sync.to_json(),
        "pipelined": {"clients": clients, "workers": workers, "in_flight": in_flight, "rps": pipelined},
    })
}

/// N clients × M workers; each client keeps `in_flight` calls outstanding by re-issuing from
/// its completion callback.
fn zss_pipelined(seconds: f64, clients: usize, workers: usize, in_flight: usize, size: usize) -> f64 {
    zss_pipelined_on(BrokerProcess::start(), seconds, clients, workers, in_flight, size)
}

fn zss_pipelined_on(broker: BrokerProcess, seconds: f64, clients: usize, workers: usize, in_flight: usize, size: usize) -> f64 {
    let _workers: Vec<_> = (0..workers).map(|_| echo_worker_for(&broker, "bench")).collect();
    broker.wait_workers(workers as u64);
    let done = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let payload = payload_of(size);
    let clients: Vec<Client> = (0..clients).map(|_| client(&broker)).collect();

    fn issue(c: Client, payload: Value, done: Arc<AtomicU64>, running: Arc<AtomicBool>) {
        let next = (c.clone(), payload.clone(), done.clone(), running.clone());
        let _ = c.send(
            Call::new("echo", payload),
            Box::new(move |r| {
                if r.is_ok() {
                    next.2.fetch_add(1, Ordering::Relaxed);
                }
                if next.3.load(Ordering::Relaxed) {
                    issue(next.0, next.1, next.2, next.3);
                }
            }),
        );
    }
    for c in &clients {
        for _ in 0..in_flight {
            issue(c.clone(), payload.clone(), done.clone(), running.clone());
        }
    }
    std::thread::sleep(Duration::from_millis(300)); // ramp-up
    let start_count = done.load(Ordering::Relaxed);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let n = done.load(Ordering::Relaxed) - start_count;
    let rate = n as f64 / start.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(200));
    for c in &clients {
        c.close();
    }
    rate
}

/// The broker's floor at a fixed offered rate: a hand-written client paces requests through
/// the broker to a hand-written worker. One thread sends and receives, waiting on the socket's
/// ZMQ_FD with a nanosecond `ppoll`, so the pacing is as fine as [`zss_at_rate`]'s. What this
/// shows is what the machine itself does to latency at that rate, with no zss library.
fn floor_at_rate(rate: f64, seconds: f64) -> Latency {
    let broker = BrokerProcess::start();
    let _worker = RawWorker::start(&broker.backend);
    broker.wait_workers(1);
    let client = raw_dealer(&broker.frontend, Some(b"raw#paced"));
    // Distinct rids for the requests in flight, as a real client's.
    let requests: Vec<Vec<Vec<u8>>> = (0..1024)
        .map(|i| {
            let mut frames = request_like_frames(&[0xa1, b'x']);
            frames[2] = format!("rid-{i:04}").into_bytes();
            frames
        })
        .collect();
    let switches_before = context_switches(&[broker.pid()]);
    fine_timer_slack();
    let fd = client.get_fd().unwrap();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let drained = end + Duration::from_millis(300);
    let (mut next, mut sent) = (start, 0usize);
    let mut in_flight = std::collections::VecDeque::new(); // one worker: replies come in order
    let mut samples = Vec::with_capacity((rate * seconds) as usize + 16);
    loop {
        while client.recv_multipart(zmq::DONTWAIT).is_ok() {
            if let Some(t) = in_flight.pop_front() {
                samples.push(Instant::elapsed(&t).as_secs_f64() * 1e6);
            }
        }
        let now = Instant::now();
        if now >= drained || (now >= end && in_flight.is_empty()) {
            break;
        }
        if now < end && now >= next {
            client.send_multipart(requests[sent % requests.len()].iter(), 0).unwrap();
            in_flight.push_back(now);
            sent += 1;
            next += interval;
            if now > next {
                next = now + interval; // more than an interval late: skip ahead, never burst
            }
            continue;
        }
        // ZMQ_FD only signals a change: check the socket's events before sleeping on it.
        if client.get_events().unwrap().contains(zmq::POLLIN) {
            continue;
        }
        let wait = if now < end { next - now } else { drained - now };
        let timeout = libc::timespec { tv_sec: wait.as_secs() as libc::time_t, tv_nsec: wait.subsec_nanos() as libc::c_long };
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd and a valid timeout; no signal mask change.
        unsafe { libc::ppoll(&mut pfd, 1, &timeout, std::ptr::null()) };
    }
    let elapsed = (end - start).as_secs_f64();
    let switches = context_switches(&[broker.pid()]) - switches_before;
    Latency { rps: sent as f64 / elapsed, switches: switches as f64 / sent as f64, ..Latency::from_samples(samples, elapsed) }
}

/// Latency at a fixed offered rate (open loop, one client): p50 and p99 at half the peak.
///
/// Sends are paced one at a time against a fixed schedule, with the thread's timer slack at
/// 1 ns so each sleep ends when asked. A pacer that falls more than one interval behind skips
/// ahead instead of catching up: catching up would send bursts, and a burst measures the
/// pacer's queueing, not the broker's. `rps` is the rate actually sent.
fn zss_at_rate(rate: f64, seconds: f64) -> Latency {
    let broker = BrokerProcess::start();
    let _w = echo_worker(&broker.backend);
    broker.wait_workers(1);
    let c = client(&broker);
    let samples = Arc::new(std::sync::Mutex::new(Vec::with_capacity((rate * seconds) as usize + 16)));
    fine_timer_slack();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let switches_before = context_switches(&[broker.pid()]);
    let start = Instant::now();
    let mut next = start;
    let mut sent = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let t = Instant::now();
        next += interval;
        if t > next {
            next = t + interval; // more than an interval late: skip ahead, never burst
        }
        let s = samples.clone();
        let _ = c.send(
            Call::new("echo", Value::from("x")),
            Box::new(move |_| s.lock().unwrap().push(t.elapsed().as_secs_f64() * 1e6)),
        );
        sent += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    let switches = context_switches(&[broker.pid()]) - switches_before;
    let v = std::mem::take(&mut *samples.lock().unwrap());
    Latency { rps: sent as f64 / elapsed, switches: switches as f64 / sent as f64, ..Latency::from_samples(v, elapsed) }
}

// ------------------------------------------------------------------------- memory

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Broker RSS (own process) after warm-up and after `requests` more, pipelined.
fn broker_memory(requests: u64) -> (u64, u64, f64) {
    let broker = BrokerProcess::start();
    let workers: Vec<_> = (0..2).map(|_| echo_worker(&broker.backend)).collect();
    broker.wait_workers(2);
    let c = client(&broker);
    let run = |n: u64| {
        let window = 256u64;
        let mut pending = std::collections::VecDeque::new();
        for i in 0..n {
            if pending.len() as u64 >= window {
                let p: zss::PendingReply = pending.pop_front().unwrap();
                p.wait().unwrap();
            }
            pending.push_back(c.start(Call::new("echo", Value::from(i))).unwrap());
        }
        for p in pending {
            p.wait().unwrap();
        }
    };
    run(100_000.min(requests)); // warm-up: tables and allocator reach their steady size
    let before = rss_kib(broker.pid());
    let t = Instant::now();
    run(requests);
    let rate = requests as f64 / t.elapsed().as_secs_f64();
    let after = rss_kib(broker.pid());
    drop(workers);
    (before, after, rate)
}

// ------------------------------------------------------------------------- report

/// Turns each synchronous case gets in [`measure_interleaved`].
const ROUNDS: usize = 4;

pub fn run(opts: BenchOptions) {
    let s = opts.seconds;
    println!("zss {} bench — loopback TCP, {} s per case, {} CPUs", zss::VERSION, s, std::thread::available_parallelism().map_or(0, |n| n.get()));
    println!();
    let mut cases = vec![
        raw_echo_case(RawEcho::start(), &[0xa1, b'x']),
        raw_echo_case(RawEcho::start_process(), &[0xa1, b'x']),
        floor_case(),
        zss_case(2, false),
        zss_case(2, true),
        zss_client_raw_worker_case(),
        raw_client_zss_worker_case(false),
        raw_client_zss_worker_case(true),
    ];
    let sync = measure_interleaved(&mut cases, s, ROUNDS);
    drop(cases);
    let [raw, raw_process, floor, zss1, zss_inline, client_only, worker_only, worker_only_inline] =
        <[Latency; 8]>::try_from(sync).ok().expect("one result per case");
    println!(
        "{:<44} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "synchronous round trip (1 in flight)", "calls/s", "p50 µs", "p99 µs", "p99.9 µs", "switches"
    );
    let row = |name: &str, l: &Latency| {
        println!("{:<44} {:>10.0} {:>9.1} {:>9.1} {:>9.1} {:>9.1}", name, l.rps, l.p50, l.p99, l.p999, l.switches)
    };
    row("raw ZeroMQ echo, one hop, same process", &raw);
    row("raw ZeroMQ echo, one hop to another process", &raw_process);
    row("raw sockets through the zss broker", &floor);
    row("zss client → broker → worker (two hops)", &zss1);
    row("  … handlers on the worker's I/O thread", &zss_inline);
    row("zss client, raw worker", &client_only);
    row("raw client, zss worker", &worker_only);
    row("raw client, zss worker, inline handlers", &worker_only_inline);
    println!();

    println!("{:<44} {:>10}", "payload size (synchronous)", "calls/s");
    let mut sizes = Vec::new();
    for &size in &opts.sizes {
        let payload: Vec<u8> = zss::msgpack::encode(&payload_of(size)).unwrap();
        let mut pair = [raw_echo_case(RawEcho::start(), &payload), zss_case(size, false)];
        let [r, z] = <[Latency; 2]>::try_from(measure_interleaved(&mut pair, s / 2.0, ROUNDS)).ok().expect("two results");
        println!("{:<44} {:>10.0}   (raw {:.0}, p50 {:.1} vs {:.1} µs)", format!("{size} B"), z.rps, r.rps, z.p50, r.p50);
        sizes.push((size, r, z));
    }
    println!();

    let raw_pipe = raw_pipelined(s, opts.in_flight, &[0xa1, b'x']);
    println!("{:<44} {:>10}", format!("pipelined ({} in flight per client)", opts.in_flight), "calls/s");
    println!("{:<44} {:>10.0}", "raw ZeroMQ echo, one hop, 1 client", raw_pipe);
    let mut matrix = Vec::new();
    for &(c, w) in &opts.matrix {
        let rate = zss_pipelined(s, c, w, opts.in_flight, 2);
        println!("{:<44} {:>10.0}", format!("zss {c} clients × {w} workers"), rate);
        matrix.push((c, w, rate));
    }
    let peak = matrix.iter().map(|m| m.2).fold(0.0, f64::max);
    let alone = broker_alone_pipelined(s, 4, 2, 32);
    println!("{:<44} {:>10.0}", "raw 4 clients × 2 workers through the broker", alone);
    println!("{:<44}", "  (the broker alone; 32 in flight per client)");
    let zss_workers_only = raw_clients_pipelined(s, 4, 2, 32, true);
    println!("{:<44} {:>10.0}", "raw 4 clients × 2 zss workers", zss_workers_only);
    println!();

    // Half the peak of the same set-up the paced case uses (one client, one worker).
    let one_to_one = match matrix.iter().find(|m| m.0 == 1 && m.1 == 1) {
        Some(m) => m.2,
        None => zss_pipelined(s, 1, 1, opts.in_flight, 2),
    };
    // CURVE next to plaintext, in this run: synchronous (interleaved) and pipelined.
    let curve = if zss::socket::has_curve() {
        let mut pair = [zss_case_secured(false), zss_case_secured(true)];
        let [plain, enc] = <[Latency; 2]>::try_from(measure_interleaved(&mut pair, s / 2.0, ROUNDS)).ok().expect("two results");
        drop(pair);
        println!("{:<44} {:>10} {:>9} {:>9}", "CURVE vs plaintext (zss client → broker → worker)", "calls/s", "p50 µs", "p99 µs");
        println!("{:<44} {:>10.0} {:>9.1} {:>9.1}", "synchronous, plaintext", plain.rps, plain.p50, plain.p99);
        println!("{:<44} {:>10.0} {:>9.1} {:>9.1}", "synchronous, CURVE", enc.rps, enc.p50, enc.p99);
        let mut piped = Vec::new();
        for (c, w) in [(1usize, 1usize), (4, 2)] {
            let p = zss_pipelined_on(BrokerProcess::start(), s, c, w, opts.in_flight, 2);
            let e = zss_pipelined_on(BrokerProcess::start_curve(), s, c, w, opts.in_flight, 2);
            println!("{:<44} {:>10.0}", format!("pipelined {c}×{w}, plaintext"), p);
            println!("{:<44} {:>10.0}   ({:.0}% of plaintext)", format!("pipelined {c}×{w}, CURVE"), e, 100.0 * e / p.max(1.0));
            piped.push(serde_json::json!({"clients": c, "workers": w, "plain_rps": p, "curve_rps": e}));
        }
        println!();
        Some(serde_json::json!({"sync_plain": plain.to_json(), "sync_curve": enc.to_json(), "pipelined": piped}))
    } else {
        println!("CURVE rows skipped: this build's libzmq (--features vendored) has no CURVE\n");
        None
    };

    let half = zss_at_rate(one_to_one / 2.0, s);
    let floor_half = floor_at_rate(one_to_one / 2.0, s);
    println!(
        "at half the 1 client × 1 worker peak ({:.0}/s offered, {:.0}/s sent): p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, {:.1} switches/call",
        one_to_one / 2.0, half.rps, half.p50, half.p99, half.p999, half.switches
    );
    println!(
        "  raw sockets through the broker, same rate ({:.0}/s sent): p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, {:.1} switches/call",
        floor_half.rps, floor_half.p50, floor_half.p99, floor_half.p999, floor_half.switches
    );

    let mem = if opts.memory_requests > 0 {
        let (before, after, rate) = broker_memory(opts.memory_requests);
        println!(
            "broker RSS: {before} KiB before, {after} KiB after {} requests ({:+.1}%, {rate:.0} calls/s)",
            opts.memory_requests,
            (after as f64 - before as f64) * 100.0 / before as f64
        );
        Some((before, after))
    } else {
        None
    };
    println!();
    println!("targets (ratios from this run):");
    let check = |ok: bool| if ok { "ok" } else { "MISSED" };
    // Two baselines for "one hop": both ends in this process (sharing one ZeroMQ I/O thread,
    // cheaper than any real hop) and the echo in another process (as every zss hop is).
    let r0 = zss1.p50 / floor.p50;
    println!("  zss sync / raw sockets through the broker (p50):    {r0:.2}×, inline handlers {:.2}×  (target ≤ 1.15×) {}", zss_inline.p50 / floor.p50, check(r0 <= 1.15));
    let r1 = zss1.p50 / raw_process.p50;
    println!("  zss sync / raw hop to another process (p50):        {r1:.2}×  (target ≤ 2.4×) {}", check(r1 <= 2.4));
    println!("    … raw sockets through the broker (its floor):     {:.2}×", floor.p50 / raw_process.p50);
    let four_by_two = matrix.iter().find(|m| m.0 == 4 && m.1 == 2).map_or(peak, |m| m.2);
    let r2 = four_by_two / raw_pipe;
    println!("  pipelined zss 4×2 / raw echo:                       {:.0}%   (target ≥ 60%) {}", r2 * 100.0, check(r2 >= 0.6));
    println!("    … the broker alone (raw 4×2) / raw echo:          {:.0}%", alone / raw_pipe * 100.0);
    let r3 = half.p99 / half.p50;
    println!("  p99 / p50 at half the peak rate:                    {r3:.2}×  (target ≤ 2.5×) {}", check(r3 <= 2.5));
    println!("    … raw sockets through the broker at that rate:    {:.2}×", floor_half.p99 / floor_half.p50);
    if let Some((b, a)) = mem {
        let g = (a as f64 - b as f64) / b as f64;
        println!("  broker RSS growth:                                  {:.1}%  (target < 5%) {}", g * 100.0, check(g < 0.05));
    }

    if let Some(path) = opts.json {
        let lat = Latency::to_json;
        let doc = serde_json::json!({
            "version": zss::VERSION,
            "seconds_per_case": s,
            "raw_sync": lat(&raw),
            "raw_sync_other_process": lat(&raw_process),
            "raw_via_broker": lat(&floor),
            "zss_sync": lat(&zss1),
            "zss_sync_inline_handlers": lat(&zss_inline),
            "zss_client_raw_worker": lat(&client_only),
            "raw_client_zss_worker": lat(&worker_only),
            "raw_client_zss_worker_inline_handlers": lat(&worker_only_inline),
            "sizes": sizes.iter().map(|(n, r, z)| serde_json::json!({"bytes": n, "raw": lat(r), "zss": lat(z)})).collect::<Vec<_>>(),
            "raw_pipelined_rps": raw_pipe,
            "broker_alone_pipelined_rps": alone,
            "raw_clients_zss_workers_pipelined_rps": zss_workers_only,
            "zss_pipelined": matrix.iter().map(|(c, w, r)| serde_json::json!({"clients": c, "workers": w, "rps": r})).collect::<Vec<_>>(),
            "half_peak": lat(&half),
            "curve": curve,
            "half_peak_raw_via_broker": lat(&floor_half),
            "broker_rss_kib": mem.map(|(b, a)| serde_json::json!({"before": b, "after": a, "requests": opts.memory_requests})),
        });
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).expect("write JSON report");
        println!("\nwrote {path}");
    }
}
