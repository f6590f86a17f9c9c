//! The ZSS broker: a frontend ROUTER for clients and a backend ROUTER for workers, owned by
//! one I/O thread.
//!
//! Hot path: a request's frames are received as `zmq::Message`s and moved, untouched, to the
//! chosen worker; the only bytes read are the `sid` of the address (without building a value).
//! Replies travel back the same way. Headers and payloads are never decoded or re-encoded.
//!
//! Beyond the original broker, without changing what a peer sees: dispatch picks the live
//! worker with the fewest requests in flight (ties round robin); an in-flight table answers
//! waiting clients at once (503) when their worker expires, goes DOWN or disconnects; replies
//! to clients that are gone are dropped and counted; queues and frame sizes are bounded.

mod dispatch;
mod management;
mod metrics;
mod stats;

pub use metrics::{render as render_metrics, MetricsServer, ServiceSnapshot, Snapshot};

use crate::error::{status, Error, Result, ServiceError};
use crate::mailbox::{self, Mailbox};
use crate::msgpack::{self, Value};
use crate::protocol::{self, Address, MessageType, RequestTag, PROTOCOL, SMI_SID};
use crate::security::{self, Curve, KeyPair, SharedAllowList, ZapDomain};
use crate::socket::{self, Role, SocketOptions};
use dispatch::Service;
use rustc_hash::FxHashMap as HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Broker settings. Defaults are the deployed broker's.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// Where clients connect (`MICRO_BROKER_FE_ADDR`, default `tcp://0.0.0.0:7777`).
    pub frontend: String,
    /// Where workers connect (`MICRO_BROKER_BE_ADDR`, default `tcp://0.0.0.0:7776`).
    pub backend: String,
    /// The workers' heartbeat interval (`MICRO_BROKER_HEARTBEAT`, 1000 ms); informational.
    pub heartbeat: Duration,
    /// A worker silent for longer is dropped (`MICRO_BROKER_MAX_TTL`, 2000 ms).
    pub max_ttl: Duration,
    /// How often liveness is checked (`MICRO_BROKER_UPDATE_INT`, 500 ms).
    pub sweep_interval: Duration,
    /// Requests a worker may have outstanding; when every worker of a service is at this
    /// limit, new requests are answered 503 at once instead of queueing (default 10,000).
    pub max_in_flight_per_worker: u32,
    /// A forwarded request still unanswered after this long is answered 503 and forgotten, so a
    /// worker that heartbeats but never replies cannot grow the broker's memory (default 60 s).
    pub request_timeout: Duration,
    /// Add the original broker's timing headers (`micro.bfer`, `micro.bbes` on requests,
    /// `micro.bber`, `micro.bfes` on replies; float64 epoch ms). Off by default: it means
    /// decoding and re-encoding every header map, which the hot path otherwise never does.
    pub timing_headers: bool,
    /// Sockets' settings; `socket.curve` = `Curve::Server` serves CURVE (see [`BrokerConfig::curve`]).
    pub socket: SocketOptions,
    /// Extra plaintext endpoints next to the CURVE ones (migration; off by default). Peers on
    /// them are not authenticated and not subject to the allow list's permissions.
    pub frontend_plain: Option<String>,
    pub backend_plain: Option<String>,
    /// Only these keys may connect (CURVE only), with their per-service permissions. Replace
    /// its contents to reload ([`SharedAllowList::replace`]; `zss broker` does on SIGHUP).
    pub allow: Option<SharedAllowList>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            frontend: "tcp://0.0.0.0:7777".into(),
            backend: "tcp://0.0.0.0:7776".into(),
            heartbeat: Duration::from_millis(1000),
            max_ttl: Duration::from_millis(2000),
            sweep_interval: Duration::from_millis(500),
            max_in_flight_per_worker: 10_000,
            request_timeout: Duration::from_secs(60),
            timing_headers: false,
            socket: SocketOptions::default(),
            frontend_plain: None,
            backend_plain: None,
            allow: None,
        }
    }
}

impl BrokerConfig {
    pub fn new(frontend: impl Into<String>, backend: impl Into<String>) -> Self {
        BrokerConfig { frontend: frontend.into(), backend: backend.into(), ..Default::default() }
    }

    /// Serves CURVE on the frontend and backend with this secret key.
    pub fn curve(mut self, secret: KeyPair) -> Self {
        self.socket.curve = Some(Curve::Server { secret, zap_domain: None, plain: None });
        self
    }

    /// Accepts only the keys of `allow` (needs [`BrokerConfig::curve`]).
    pub fn allow(mut self, allow: SharedAllowList) -> Self {
        self.allow = Some(allow);
        self
    }
}

/// Counters and gauges, updated by the broker thread and readable from any thread.
#[derive(Debug, Default)]
pub struct BrokerStats {
    /// Requests received on the frontend (valid or not).
    pub requests: AtomicU64,
    /// Requests forwarded to a worker.
    pub forwarded: AtomicU64,
    /// Replies forwarded to clients.
    pub replies: AtomicU64,
    /// Requests answered 404: no live worker for the sid.
    pub not_found: AtomicU64,
    /// Requests answered 400: readable envelope, unreadable address.
    pub bad_requests: AtomicU64,
    /// Requests answered 503: their worker was lost, or never replied within `request_timeout`.
    pub unavailable: AtomicU64,
    /// Requests answered 503 because every worker of the service was at its in-flight limit
    /// or its queue at the broker was full.
    pub overloaded: AtomicU64,
    /// Frontend messages dropped as malformed (wrong frame count, protocol or type).
    pub malformed_frontend: AtomicU64,
    /// Backend messages dropped as malformed.
    pub malformed_backend: AtomicU64,
    /// Replies dropped because their client is gone.
    pub dropped_replies: AtomicU64,
    /// SMI requests handled.
    pub smi: AtomicU64,
    /// Workers dropped for silence, DOWN, or disconnection.
    pub workers_removed: AtomicU64,
    /// Gauge: live workers.
    pub workers: AtomicU64,
    /// Gauge: requests forwarded and not yet answered.
    pub in_flight: AtomicU64,
    /// CURVE handshakes refused by the allow list, per socket.
    pub auth_failures_frontend: AtomicU64,
    pub auth_failures_backend: AtomicU64,
    /// Calls and registrations answered 403 (the key may not call / serve that sid).
    pub forbidden: AtomicU64,
}

impl BrokerStats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Every figure as `(name, description, value, is_gauge)`: the one list `SMI STATS` and
    /// the Prometheus endpoint are both made from.
    pub fn fields(&self) -> [(&'static str, &'static str, u64, bool); 17] {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("requests", "Requests received on the frontend", g(&self.requests), false),
            ("forwarded", "Requests forwarded to a worker", g(&self.forwarded), false),
            ("replies", "Replies forwarded to clients", g(&self.replies), false),
            ("not_found", "Requests answered 404 (no live worker)", g(&self.not_found), false),
            ("bad_requests", "Requests answered 400 (unreadable address)", g(&self.bad_requests), false),
            ("unavailable", "Requests answered 503 (worker lost or silent)", g(&self.unavailable), false),
            ("overloaded", "Requests answered 503 (all workers at their limit)", g(&self.overloaded), false),
            ("malformed_frontend", "Malformed frontend messages dropped", g(&self.malformed_frontend), false),
            ("malformed_backend", "Malformed backend messages dropped", g(&self.malformed_backend), false),
            ("dropped_replies", "Replies dropped because the client was gone", g(&self.dropped_replies), false),
            ("smi", "SMI requests from workers", g(&self.smi), false),
            ("workers_removed", "Workers removed (expired, DOWN, disconnected)", g(&self.workers_removed), false),
            ("workers", "Live workers", g(&self.workers), true),
            ("in_flight", "Requests forwarded and not yet answered", g(&self.in_flight), true),
            ("auth_failures_frontend", "Handshakes refused on the frontend", g(&self.auth_failures_frontend), false),
            ("auth_failures_backend", "Handshakes refused on the backend", g(&self.auth_failures_backend), false),
            ("forbidden", "Calls and registrations answered 403 (key not permitted)", g(&self.forbidden), false),
        ]
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

enum Command {
    Stop,
    /// Fill the slot with the current figures (metrics scrapes).
    Snapshot(Arc<crate::mailbox::Oneshot<Snapshot>>),
}

/// A broker with its sockets bound, not yet serving. Binding happens here, on the caller's
/// thread, so a bad or busy address is an error from [`Broker::bind`] rather than a log line.
pub struct Broker {
    frontend: zmq::Socket,
    backend: zmq::Socket,
    frontend_endpoint: String,
    backend_endpoint: String,
    config: BrokerConfig,
    stats: Arc<BrokerStats>,
    /// The allow list's ZAP domains, registered as long as the broker lives.
    zap: Vec<ZapDomain>,
}

impl Broker {
    pub fn bind(config: BrokerConfig) -> Result<Broker> {
        if config.max_ttl.is_zero() || config.sweep_interval.is_zero() {
            return Err(Error::InvalidArgument("max_ttl and sweep_interval must be positive".into()));
        }
        let stats: Arc<BrokerStats> = Arc::default();
        let curve = config.socket.curve.is_some();
        if !curve && (config.allow.is_some() || config.frontend_plain.is_some() || config.backend_plain.is_some()) {
            return Err(Error::InvalidArgument("an allow list and plaintext extra endpoints need CURVE (a server secret key)".into()));
        }
        let mut zap = Vec::new();
        let mut options = |label: &'static str, plain: &Option<String>| -> Result<SocketOptions> {
            let mut o = config.socket.clone();
            if let Some(Curve::Server { zap_domain, plain: p, .. }) = &mut o.curve {
                *p = plain.clone();
                // Always a domain of our own, allow list or not: which handshakes libzmq sends to
                // a ZAP handler without one differs between libzmq builds.
                let st = stats.clone();
                let on_refused: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
                    bump(if label == "frontend" { &st.auth_failures_frontend } else { &st.auth_failures_backend })
                });
                let domain = security::register_zap_domain(label, config.allow.clone(), on_refused)?;
                *zap_domain = Some(domain.name.clone());
                zap.push(domain);
            }
            Ok(o)
        };
        let fe_options = options("frontend", &config.frontend_plain)?;
        let be_options = options("backend", &config.backend_plain)?;
        let (frontend, frontend_endpoint) = socket::open(Role::Frontend, &config.frontend, None, &fe_options)?;
        let (backend, backend_endpoint) = socket::open(Role::Backend, &config.backend, None, &be_options)?;
        Ok(Broker { frontend, backend, frontend_endpoint, backend_endpoint, config, stats, zap })
    }

    /// The frontend endpoint actually bound (a `*` port resolved).
    pub fn frontend_endpoint(&self) -> &str {
        &self.frontend_endpoint
    }

    pub fn backend_endpoint(&self) -> &str {
        &self.backend_endpoint
    }

    /// Serves on a background thread until [`RunningBroker::stop`] or drop.
    pub fn start(self) -> Result<RunningBroker> {
        let mailbox = Arc::new(Mailbox::new()?);
        let stats = self.stats.clone();
        let frontend_endpoint = self.frontend_endpoint.clone();
        let backend_endpoint = self.backend_endpoint.clone();
        let io_mailbox = mailbox.clone();
        let thread = std::thread::Builder::new()
            .name("zss-broker".into())
            .spawn(move || Engine::new(self, io_mailbox).run())
            .map_err(|e| Error::Socket { context: "spawn broker thread".into(), message: e.to_string() })?;
        Ok(RunningBroker { mailbox, thread: Some(thread), frontend_endpoint, backend_endpoint, stats })
    }
}

/// A broker serving in the background. Dropping it stops it and closes its sockets.
pub struct RunningBroker {
    mailbox: Arc<Mailbox<Command>>,
    thread: Option<JoinHandle<()>>,
    frontend_endpoint: String,
    backend_endpoint: String,
    stats: Arc<BrokerStats>,
}

impl RunningBroker {
    pub fn frontend_endpoint(&self) -> &str {
        &self.frontend_endpoint
    }
    pub fn backend_endpoint(&self) -> &str {
        &self.backend_endpoint
    }
    pub fn stats(&self) -> &BrokerStats {
        &self.stats
    }

    /// The broker's figures now (the same as `SMI STATS`, with latency buckets); `None` if the
    /// broker has stopped.
    pub fn snapshot(&self) -> Option<Snapshot> {
        metrics::request_snapshot(&self.mailbox, Duration::from_secs(2))
    }

    /// Serves the figures for Prometheus at `http://<addr>/metrics` (e.g. `127.0.0.1:9100`;
    /// port 0 picks one, see [`MetricsServer::local_addr`]) until the returned server is dropped.
    pub fn serve_metrics(&self, addr: &str) -> Result<MetricsServer> {
        MetricsServer::start(addr, self.mailbox.clone())
    }

    /// Stops serving and waits for the broker thread; the sockets are closed on return.
    pub fn stop(&mut self) {
        let _ = self.mailbox.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RunningBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

type WorkerId = Rc<[u8]>;

struct WorkerEntry {
    sid: String,
    last_seen: Instant,
    /// Index of its service's figures in `Engine::service_stats`.
    stats: usize,
}

/// A forwarded request awaiting its reply. The key of the table is `client ‖ rid` with the
/// client's length in front, so the client and rid can be recovered to answer it. The key and
/// `address` buffers come from, and return to, [`Engine::spare`].
struct InFlight {
    worker: WorkerId,
    address: Vec<u8>,
    since: Instant,
    stats: usize,
}

/// The outcome of choosing a worker for a request.
enum Pick {
    Worker(WorkerId),
    NoWorker,
    /// Every worker of the service is at `max_in_flight_per_worker`.
    Overloaded,
}

fn write_key(key: &mut Vec<u8>, client: &[u8], rid: &[u8]) {
    key.clear();
    key.extend_from_slice(&(client.len().min(u16::MAX as usize) as u16).to_be_bytes());
    key.extend_from_slice(&client[..client.len().min(u16::MAX as usize)]);
    key.extend_from_slice(rid);
}

fn split_key(key: &[u8]) -> (&[u8], &[u8]) {
    let n = u16::from_be_bytes([key[0], key[1]]) as usize;
    (&key[2..2 + n], &key[2 + n..])
}

/// Adds timing headers (float64 epoch ms, as the original broker) that are not already set.
/// A headers frame that is not a map (or nil) is left as it is.
fn stamp(frame: &mut zmq::Message, keys: &[&str]) {
    let mut headers = match msgpack::decode(frame) {
        Ok(Value::Nil) => Value::Map(Vec::new()),
        Ok(v @ Value::Map(_)) => v,
        _ => return,
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    for key in keys {
        if headers.get(key).is_none() {
            headers.insert(key, Value::Float(now as f64));
        }
    }
    if let Ok(bytes) = msgpack::encode(&headers) {
        *frame = zmq::Message::from(bytes);
    }
}

const MAX_FRAMES: usize = 16;
const BATCH: usize = 1024;
/// Spare buffers kept for in-flight keys and addresses (two per request in flight), and the
/// largest one worth keeping. Beyond these, buffers are freed as usual.
const SPARE_BUFFERS: usize = 8192;
const SPARE_CAPACITY: usize = 512;

struct Engine {
    frontend: zmq::Socket,
    backend: zmq::Socket,
    mailbox: Arc<Mailbox<Command>>,
    config: BrokerConfig,
    stats: Arc<BrokerStats>,
    workers: HashMap<WorkerId, WorkerEntry>,
    services: HashMap<String, Service>,
    inflight: HashMap<Vec<u8>, InFlight>,
    /// Reused for upper-casing sids without allocating.
    sid_buf: String,
    /// Reused for in-flight lookups on the reply path without allocating.
    key_buf: Vec<u8>,
    /// Buffers of answered requests' keys and addresses, reused for the next ones: in the
    /// steady state forwarding a request allocates nothing (see tests/broker_alloc.rs).
    spare: Vec<Vec<u8>>,
    frames: Vec<zmq::Message>,
    not_found_payload: Vec<u8>,
    started: Instant,
    endpoints: (String, String),
    /// Per-service figures, indexed by `service_index[sid]`; never shrinks.
    service_stats: Vec<stats::ServiceStats>,
    service_index: HashMap<String, usize>,
    allow: Option<SharedAllowList>,
    _zap: Vec<ZapDomain>,
}

impl Engine {
    fn new(broker: Broker, mailbox: Arc<Mailbox<Command>>) -> Engine {
        // The contract's broker 404 payload, plus `code` so the Node client passes it through.
        let not_found = Value::map([
            ("developerMessage", Value::from(status::messages(404).1)),
            ("userMessage", Value::from(status::messages(404).0)),
            ("errorCode", Value::from(404)),
            ("code", Value::from(404)),
        ]);
        Engine {
            allow: broker.config.allow.clone(),
            _zap: broker.zap,
            endpoints: (broker.frontend_endpoint, broker.backend_endpoint),
            started: Instant::now(),
            service_stats: Vec::new(),
            service_index: HashMap::default(),
            frontend: broker.frontend,
            backend: broker.backend,
            mailbox,
            config: broker.config,
            stats: broker.stats,
            workers: HashMap::default(),
            services: HashMap::default(),
            inflight: HashMap::default(),
            sid_buf: String::with_capacity(64),
            key_buf: Vec::with_capacity(128),
            spare: Vec::new(),
            frames: Vec::with_capacity(MAX_FRAMES),
            not_found_payload: msgpack::encode(&not_found).expect("static payload encodes"),
        }
    }

    fn run(mut self) {
        log::info!(
            "broker serving clients on {} and workers on {}",
            self.frontend.get_last_endpoint().ok().and_then(|r| r.ok()).unwrap_or_default(),
            self.backend.get_last_endpoint().ok().and_then(|r| r.ok()).unwrap_or_default()
        );
        let mut next_sweep = Instant::now() + self.config.sweep_interval;
        loop {
            let mut items = [self.frontend.as_poll_item(zmq::POLLIN), self.backend.as_poll_item(zmq::POLLIN), self.mailbox.poll_item()];
            if let Err(e) = mailbox::wait(&mut items, Some(next_sweep)) {
                log::error!("broker poll failed: {e}");
                break;
            }
            let (front, back, control) = (items[0].is_readable(), items[1].is_readable(), items[2].is_readable());
            if control {
                let mut stop = false;
                for cmd in self.mailbox.drain() {
                    match cmd {
                        Command::Stop => stop = true,
                        Command::Snapshot(slot) => slot.set(self.snapshot()),
                    }
                }
                if stop {
                    break;
                }
            }
            // Replies first: they free workers for the requests that follow.
            if back {
                for _ in 0..BATCH {
                    if !self.recv(Side::Backend) {
                        break;
                    }
                    self.on_backend();
                }
            }
            if front {
                for _ in 0..BATCH {
                    if !self.recv(Side::Frontend) {
                        break;
                    }
                    self.on_frontend();
                }
            }
            let now = Instant::now();
            if now >= next_sweep {
                self.sweep(now);
                next_sweep = now + self.config.sweep_interval;
            }
        }
        log::info!("broker stopped");
    }

    /// Receives one whole multipart message into `self.frames`. False when nothing is waiting.
    fn recv(&mut self, side: Side) -> bool {
        self.frames.clear();
        let sock = match side {
            Side::Frontend => &self.frontend,
            Side::Backend => &self.backend,
        };
        loop {
            let flags = if self.frames.is_empty() { zmq::DONTWAIT } else { 0 };
            match sock.recv_msg(flags) {
                Ok(msg) => {
                    let more = msg.get_more();
                    if self.frames.len() < MAX_FRAMES {
                        self.frames.push(msg);
                    }
                    if !more {
                        return true;
                    }
                }
                Err(zmq::Error::EAGAIN) => return false,
                Err(e) => {
                    log::error!("broker receive failed: {e}");
                    return false;
                }
            }
        }
    }

    // ------------------------------------------------------------------ frontend (clients)

    /// `[client, protocol, type, rid, address, headers, status, payload]`
    fn on_frontend(&mut self) {
        bump(&self.stats.requests);
        let f = &self.frames;
        if f.len() != 8 || &f[1][..] != PROTOCOL.as_bytes() || &f[2][..] != MessageType::Req.as_bytes() {
            bump(&self.stats.malformed_frontend);
            log::warn!(
                "dropped a malformed message from client {:?}: {} frames, protocol {:?}",
                String::from_utf8_lossy(f.first().map(|m| &m[..]).unwrap_or_default()),
                f.len(),
                f.get(1).map(|m| String::from_utf8_lossy(m).into_owned())
            );
            return;
        }
        let Some(sid) = msgpack::map_str_field(&f[4], "sid") else {
            bump(&self.stats.bad_requests);
            log::warn!("request {} has no readable sid; answering 400", RequestTag::from_frames(&f[3], &f[5]));
            let err = ServiceError::new(status::BAD_REQUEST).with_field("detail", "address has no string sid");
            let payload = msgpack::encode(&err.to_payload()).expect("error payload encodes");
            let address = Address::new("", "").encode();
            self.answer_client(status::BAD_REQUEST, payload, Some(address));
            return;
        };
        self.sid_buf.clear();
        self.sid_buf.extend(sid.chars().flat_map(char::to_uppercase));
        if self.sid_buf == SMI_SID {
            // The original broker answers 404 here; we answer management verbs.
            return self.on_management();
        }
        if !self.permitted(1, |entry, sid| entry.call.allows(sid)) {
            return self.answer_forbidden("call");
        }
        loop {
            let worker = match self.pick_worker() {
                Pick::Worker(w) => w,
                Pick::NoWorker => {
                    bump(&self.stats.not_found);
                    log::info!(
                        "no live worker for {}; answering 404 ({})",
                        self.sid_buf,
                        RequestTag::from_frames(&self.frames[3], &self.frames[5])
                    );
                    let payload = self.not_found_payload.clone();
                    self.answer_client(status::NOT_FOUND, payload, None);
                    return;
                }
                Pick::Overloaded => return self.answer_overloaded(),
            };
            if log::log_enabled!(log::Level::Debug) {
                log::debug!(
                    "{} for {} → {}",
                    RequestTag::from_frames(&self.frames[3], &self.frames[5]),
                    self.sid_buf,
                    String::from_utf8_lossy(&worker)
                );
            }
            match self.forward_to_worker(&worker) {
                Ok(()) => {
                    if let Some(w) = self.workers.get(&worker) {
                        self.service_stats[w.stats].requests += 1;
                    }
                    return;
                }
                Err(zmq::Error::EHOSTUNREACH) => {
                    // The worker disconnected without DOWN: forget it and try the next one.
                    self.remove_worker(&worker, "disconnected");
                }
                Err(e) => {
                    log::warn!("could not forward to worker {}: {e}", String::from_utf8_lossy(&worker));
                    return self.answer_overloaded();
                }
            }
        }
    }

    /// Whether the key that sent `self.frames` may do this with `self.sid_buf` (always, with
    /// no allow list or on a plaintext endpoint). Reads the ZAP User-Id of frame `frame`; no
    /// allocation.
    fn permitted(&self, frame: usize, check: impl Fn(&security::AllowEntry, &str) -> bool) -> bool {
        let Some(allow) = &self.allow else { return true };
        let Some(user) = security::user_id(&self.frames[frame]) else { return true };
        let list = allow.read();
        list.get(user).is_some_and(|entry| check(entry, &self.sid_buf))
    }

    fn answer_forbidden(&mut self, what: &str) {
        bump(&self.stats.forbidden);
        let user = security::user_id(&self.frames[1]).map(|u| u[..8.min(u.len())].to_owned()).unwrap_or_default();
        log::warn!(
            "key {user}… may not {what} {}; answering 403 ({})",
            self.sid_buf,
            RequestTag::from_frames(&self.frames[3], &self.frames[5])
        );
        let err = ServiceError::new(status::FORBIDDEN);
        let payload = msgpack::encode(&err.to_payload()).expect("error payload encodes");
        self.answer_client(status::FORBIDDEN, payload, None);
    }

    fn answer_overloaded(&mut self) {
        bump(&self.stats.overloaded);
        if let Some(&i) = self.service_index.get(self.sid_buf.as_str()) {
            self.service_stats[i].unavailable += 1;
        }
        log::warn!(
            "service {} is overloaded; answering 503 ({})",
            self.sid_buf,
            RequestTag::from_frames(&self.frames[3], &self.frames[5])
        );
        let err = ServiceError::with_messages(
            status::SERVICE_UNAVAILABLE,
            status::messages(status::SERVICE_UNAVAILABLE).0,
            "The service is overloaded: every instance has its maximum of requests in flight.",
        );
        let payload = msgpack::encode(&err.to_payload()).expect("error payload encodes");
        self.answer_client(status::SERVICE_UNAVAILABLE, payload, None);
    }

    /// A live worker of `self.sid_buf` with the fewest requests in flight; ties go round robin.
    /// O(1): see [`dispatch`].
    fn pick_worker(&mut self) -> Pick {
        let Some(service) = self.services.get_mut(self.sid_buf.as_str()) else { return Pick::NoWorker };
        match service.pick() {
            None => Pick::NoWorker,
            Some((_, load)) if load >= self.config.max_in_flight_per_worker => Pick::Overloaded,
            Some((worker, _)) => Pick::Worker(worker),
        }
    }

    /// Sends the request in `self.frames` to `worker` and records it in flight. On error the
    /// frames are still in place (ZeroMQ fails the first frame before taking any).
    fn forward_to_worker(&mut self, worker: &WorkerId) -> std::result::Result<(), zmq::Error> {
        if self.config.timing_headers {
            stamp(&mut self.frames[5], &["micro.bfer", "micro.bbes"]);
        }
        let mut key = self.spare.pop().unwrap_or_default();
        write_key(&mut key, &self.frames[0], &self.frames[3]);
        let mut address = self.spare.pop().unwrap_or_default();
        address.clear();
        address.extend_from_slice(&self.frames[4]);
        let stats = self.workers.get(worker).map_or(0, |w| w.stats);
        self.backend.send(&worker[..], zmq::SNDMORE | zmq::DONTWAIT)?;
        let last = self.frames.len() - 1;
        for (i, frame) in self.frames.drain(..).enumerate() {
            let flags = if i == last { 0 } else { zmq::SNDMORE };
            // Once the first frame is queued the rest of the message always follows.
            self.backend.send(frame, flags)?;
        }
        if let Some(service) = self.services.get_mut(self.sid_buf.as_str()) {
            service.started(worker);
        }
        if let Some(previous) = self.inflight.insert(key, InFlight { worker: worker.clone(), address, since: Instant::now(), stats }) {
            // A client reused a rid while the first call is still open; keep counts honest.
            self.release(&previous.worker);
            self.recycle(previous.address);
        }
        bump(&self.stats.forwarded);
        self.stats.in_flight.store(self.inflight.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Answers the request in `self.frames` directly: same rid, address (or `address`) and
    /// headers, the given status and payload.
    fn answer_client(&mut self, code: u16, payload: Vec<u8>, address: Option<Vec<u8>>) {
        let mut f = std::mem::take(&mut self.frames);
        let mut buf = [0u8; 5];
        f[2] = zmq::Message::from(MessageType::Rep.as_bytes());
        if let Some(a) = address {
            f[4] = zmq::Message::from(a);
        }
        f[6] = zmq::Message::from(protocol::status_frame(code, &mut buf));
        f[7] = zmq::Message::from(payload);
        self.send_to_client(f.drain(..));
        self.frames = f;
    }

    fn send_to_client(&mut self, frames: impl ExactSizeIterator<Item = zmq::Message>) {
        let last = frames.len() - 1;
        for (i, frame) in frames.enumerate() {
            let flags = if i == last { 0 } else { zmq::SNDMORE };
            if let Err(e) = self.frontend.send(frame, flags | zmq::DONTWAIT) {
                // Only the first frame can fail; the client is gone or not reading.
                bump(&self.stats.dropped_replies);
                log::debug!("dropped a reply for a client that is gone: {e}");
                return;
            }
        }
    }

    // ------------------------------------------------------------------ backend (workers)

    /// `[worker, client, protocol, REP, rid, address, headers, status, payload]` (a reply) or
    /// `[worker, (worker,)? protocol, REQ, rid, address, headers, status, payload]` (SMI).
    fn on_backend(&mut self) {
        let n = self.frames.len();
        let base = match n {
            8 => 1, // 7-frame message (Ruby SMI): no identity field
            9 => 2, // 8-frame message: field 0 is the client (reply) or the worker itself (Node SMI)
            _ => {
                bump(&self.stats.malformed_backend);
                log::warn!("dropped a backend message with {n} frames");
                return;
            }
        };
        if &self.frames[base][..] != PROTOCOL.as_bytes() {
            bump(&self.stats.malformed_backend);
            log::warn!("dropped a backend message with protocol {:?}", String::from_utf8_lossy(&self.frames[base]));
            return;
        }
        let now = Instant::now();
        if let Some(w) = self.workers.get_mut(&self.frames[0][..]) {
            w.last_seen = now;
        }
        match MessageType::parse(&self.frames[base + 1]) {
            Some(MessageType::Req) => self.on_smi(base),
            Some(MessageType::Rep) if base == 2 => self.on_reply(),
            _ => {
                bump(&self.stats.malformed_backend);
                log::warn!("dropped a backend message of type {:?}", String::from_utf8_lossy(&self.frames[base + 1]));
            }
        }
    }

    fn on_reply(&mut self) {
        write_key(&mut self.key_buf, &self.frames[1], &self.frames[4]);
        if let Some((key, entry)) = self.inflight.remove_entry(&self.key_buf[..]) {
            self.recycle(key);
            self.recycle(entry.address);
            self.release(&entry.worker);
            self.stats.in_flight.store(self.inflight.len() as u64, Ordering::Relaxed);
            let micros = entry.since.elapsed().as_micros() as u64;
            self.service_stats[entry.stats].record_reply(&self.frames[7], micros);
        }
        // Forwarded even without an in-flight entry: after a broker restart the client may
        // still be waiting for a request the previous broker sent.
        bump(&self.stats.replies);
        if log::log_enabled!(log::Level::Debug) {
            log::debug!(
                "{} answered {} by {}",
                RequestTag::from_frames(&self.frames[4], &self.frames[6]),
                String::from_utf8_lossy(&self.frames[7]),
                String::from_utf8_lossy(&self.frames[0])
            );
        }
        if self.config.timing_headers {
            stamp(&mut self.frames[6], &["micro.bber", "micro.bfes"]);
        }
        let mut f = std::mem::take(&mut self.frames);
        self.send_to_client(f.drain(1..));
        self.frames = f;
    }

    /// Keeps `buf` for a later request's key or address, within the limits above.
    fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS && buf.capacity() <= SPARE_CAPACITY {
            self.spare.push(buf);
        }
    }

    fn release(&mut self, worker: &[u8]) {
        if let Some(service) = self.workers.get(worker).and_then(|w| self.services.get_mut(&w.sid)) {
            service.finished(worker);
        }
    }

    /// SMI: `{sid: "SMI", verb: UP|DOWN|HEARTBEAT}`, payload = the worker's sid.
    fn on_smi(&mut self, base: usize) {
        bump(&self.stats.smi);
        let worker: WorkerId = self.frames[0][..].into();
        let address = Address::decode(&self.frames[base + 3]);
        let payload = msgpack::decode(&self.frames[base + 6]);
        let code = match (&address, &payload) {
            (Ok(a), Ok(Value::Str(sid))) if a.sid == SMI_SID => {
                let sid = sid.to_uppercase();
                let verb = a.verb.to_uppercase();
                self.sid_buf.clear();
                self.sid_buf.push_str(&sid);
                let registering = verb == "UP" || (verb == "HEARTBEAT" && !self.workers.contains_key(&worker));
                if registering && !self.permitted(base, |entry, sid| entry.serve.allows(sid)) {
                    bump(&self.stats.forbidden);
                    log::warn!(
                        "worker {} may not serve {sid}: registration refused (403)",
                        String::from_utf8_lossy(&worker)
                    );
                    status::FORBIDDEN
                } else {
                match verb.as_str() {
                    "UP" => self.register(worker.clone(), sid),
                    "DOWN" => self.unregister(&worker, &sid),
                    "HEARTBEAT" => {
                        if self.workers.get(&worker).is_some_and(|w| w.sid == sid) {
                            status::OK
                        } else {
                            // How workers come back after a broker restart.
                            self.register(worker.clone(), sid)
                        }
                    }
                    _ => status::INTERNAL,
                }
                }
            }
            _ => status::INTERNAL,
        };
        if code != status::OK && code != status::FORBIDDEN {
            log::warn!(
                "SMI request from {} answered {code} (address {:?}, payload {:?})",
                String::from_utf8_lossy(&worker),
                address.as_ref().map(|a| (&a.sid, &a.verb)).ok(),
                payload.as_ref().ok()
            );
        }
        // Reply with 7 frames at the worker: rid, address, headers and payload echoed.
        let mut f = std::mem::take(&mut self.frames);
        let mut buf = [0u8; 5];
        f[base + 1] = zmq::Message::from(MessageType::Rep.as_bytes());
        f[base + 5] = zmq::Message::from(protocol::status_frame(code, &mut buf));
        let mut out = Vec::with_capacity(8);
        let mut drained = f.drain(..);
        out.push(drained.next().expect("worker frame"));
        if base == 2 {
            drained.next(); // the Node worker's own identity field is not echoed
        }
        out.extend(drained);
        let last = out.len() - 1;
        for (i, frame) in out.into_iter().enumerate() {
            let flags = if i == last { 0 } else { zmq::SNDMORE };
            if self.backend.send(frame, flags | zmq::DONTWAIT).is_err() {
                break;
            }
        }
        self.frames = f;
    }

    fn register(&mut self, worker: WorkerId, sid: String) -> u16 {
        if let Some(existing) = self.workers.get(&worker) {
            log::warn!(
                "SMI UP from {} already registered for {}",
                String::from_utf8_lossy(&worker),
                existing.sid
            );
            return status::INTERNAL;
        }
        log::info!("worker {} registered for {sid}", String::from_utf8_lossy(&worker));
        let stats = match self.service_index.get(&sid) {
            Some(&i) => i,
            None => {
                self.service_stats.push(Default::default());
                self.service_index.insert(sid.clone(), self.service_stats.len() - 1);
                self.service_stats.len() - 1
            }
        };
        self.services.entry(sid.clone()).or_insert_with(Service::new).add(worker.clone());
        self.workers.insert(worker, WorkerEntry { sid, last_seen: Instant::now(), stats });
        self.stats.workers.store(self.workers.len() as u64, Ordering::Relaxed);
        status::OK
    }

    fn unregister(&mut self, worker: &WorkerId, sid: &str) -> u16 {
        match self.workers.get(worker) {
            Some(w) if w.sid == sid => {
                self.remove_worker(worker, "DOWN");
                status::OK
            }
            _ => status::INTERNAL,
        }
    }

    /// Forgets a worker and answers every request it still had with 503.
    fn remove_worker(&mut self, worker: &WorkerId, reason: &str) {
        let Some(entry) = self.workers.remove(worker) else { return };
        bump(&self.stats.workers_removed);
        self.stats.workers.store(self.workers.len() as u64, Ordering::Relaxed);
        let mut in_flight = 0;
        if let Some(service) = self.services.get_mut(&entry.sid) {
            in_flight = service.remove(worker).unwrap_or(0);
            if service.is_empty() {
                self.services.remove(&entry.sid);
            }
        }
        log::info!(
            "worker {} of {} removed ({reason}); {in_flight} requests in flight answered 503",
            String::from_utf8_lossy(worker),
            entry.sid,
        );
        if in_flight == 0 {
            return;
        }
        let orphaned: Vec<(Vec<u8>, InFlight)> = {
            let keys: Vec<Vec<u8>> =
                self.inflight.iter().filter(|(_, v)| &v.worker == worker).map(|(k, _)| k.clone()).collect();
            keys.into_iter().filter_map(|k| self.inflight.remove(&k).map(|v| (k, v))).collect()
        };
        self.answer_orphans(orphaned, &format!("worker {reason}"));
    }

    /// Answers forgotten in-flight requests with 503 (same rid and address, empty headers).
    fn answer_orphans(&mut self, orphaned: Vec<(Vec<u8>, InFlight)>, detail: &str) {
        if orphaned.is_empty() {
            return;
        }
        let err = ServiceError::new(status::SERVICE_UNAVAILABLE).with_field("detail", detail);
        let payload = msgpack::encode(&err.to_payload()).expect("error payload encodes");
        let headers = msgpack::encode(&Value::Map(Vec::new())).expect("empty map encodes");
        for (key, entry) in orphaned {
            bump(&self.stats.unavailable);
            self.service_stats[entry.stats].unavailable += 1;
            let (client, rid) = split_key(&key);
            let frames = [
                zmq::Message::from(client),
                zmq::Message::from(PROTOCOL.as_bytes()),
                zmq::Message::from(MessageType::Rep.as_bytes()),
                zmq::Message::from(rid),
                zmq::Message::from(&entry.address[..]),
                zmq::Message::from(&headers[..]),
                zmq::Message::from(&b"503"[..]),
                zmq::Message::from(&payload[..]),
            ];
            self.send_to_client(frames.into_iter());
        }
        self.stats.in_flight.store(self.inflight.len() as u64, Ordering::Relaxed);
    }

    fn sweep(&mut self, now: Instant) {
        let ttl = self.config.max_ttl;
        let expired: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| now.duration_since(w.last_seen) > ttl)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.remove_worker(&id, "expired");
        }
        let limit = self.config.request_timeout;
        if self.inflight.values().any(|e| now.duration_since(e.since) > limit) {
            let stale: Vec<Vec<u8>> =
                self.inflight.iter().filter(|(_, e)| now.duration_since(e.since) > limit).map(|(k, _)| k.clone()).collect();
            let orphaned: Vec<(Vec<u8>, InFlight)> =
                stale.into_iter().filter_map(|k| self.inflight.remove(&k).map(|v| (k, v))).collect();
            for (_, entry) in &orphaned {
                self.release(&entry.worker);
            }
            log::warn!("{} requests unanswered after {limit:?}; answering 503", orphaned.len());
            self.answer_orphans(orphaned, &format!("no reply from the worker within {limit:?}"));
        }
    }
}

#[derive(Clone, Copy)]
enum Side {
    Frontend,
    Backend,
}
