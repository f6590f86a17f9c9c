//! The ZSS worker ("service"): serves one sid through one or more brokers' backends.
//!
//! A worker registers with every broker in its list (one DEALER each), heartbeats each, and
//! notices and re-registers with each one on its own: a broker that restarts gets an UP as
//! soon as the connection is back. A reply goes out on the socket its request came in on.
//!
//! The DEALER sockets and the protocol state (registration with SMI UP, heartbeats, detecting a
//! lost broker and reconnecting, stopping) form a `Core` held in a [`Baton`]: one owner at a
//! time, leader/follower style. The handler threads (`concurrency` of them) take turns as the
//! leader: the leader polls the socket; when it reads a request it hands the socket to the next
//! idle thread (the follower becomes the leader, so heartbeats never wait behind a handler),
//! runs the handler itself, and sends the reply itself when the socket is free (through the
//! [`Mailbox`] the leader polls when it is not). With every handler thread busy, the worker's
//! I/O thread leads: it queues requests (at most `concurrency` in flight, the rest wait) and
//! keeps the heartbeats going. A handler answers through a [`Responder`], from any thread and
//! at any time; the reply is encoded on the answering thread.

use crate::error::{status, Error, Result, ServiceError};
use crate::baton::{self, Baton, Place, Turn, Waiter};
use crate::discovery::{self, Follower, Side};
use crate::mailbox::{Mailbox, Oneshot};
use crate::msgpack::{self, Value};
use crate::protocol::{self, Address, FrameError, Message, MessageType, RequestTag, PROTOCOL, SMI_SID};
use crate::socket::{self, Role, SocketOptions};
use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Worker settings. Defaults follow the deployed services.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The brokers' backends, e.g. `tcp://127.0.0.1:7776` (one or more).
    pub brokers: Vec<String>,
    /// A registry (`zk://host:2181/zss`) to take the brokers from instead, following them as
    /// they come and go; the worker is also listed there as an instance of its sid (needs the
    /// `registry` feature).
    pub registry: Option<String>,
    /// The service id served (upper-cased on the wire).
    pub sid: String,
    /// SMI HEARTBEAT interval (default 1000 ms).
    pub heartbeat: Duration,
    /// Requests handled at once; more wait in the worker's queue (default 16).
    pub concurrency: usize,
    /// Requests allowed to wait in the worker's queue; beyond it a request is answered 503 at
    /// once (default 10,000). Our broker rarely lets it fill (it limits requests in flight per
    /// worker); the original broker does not limit anything.
    pub max_queue: usize,
    /// The broker counts as lost after this many heartbeats without an SMI reply; the worker
    /// then reconnects with a fresh identity and registers again (default 3).
    pub lost_after_beats: u32,
    /// How long [`RunningWorker::stop`] waits for handlers in flight before sending DOWN, and
    /// then for the broker's DOWN reply (default 2 s each).
    pub stop_timeout: Duration,
    /// Run handlers on the I/O thread, with no handler threads at all (default false). For
    /// handlers that only hand the request to another runtime and return (the Node binding's):
    /// a handler that blocks delays everything else, heartbeats included. Fast handlers on the
    /// handler threads already run without a thread hand-off (see the module docs), and a slow
    /// one there never delays heartbeats. `concurrency` is then 1 for synchronous handlers.
    pub inline_handlers: bool,
    pub socket: SocketOptions,
}

impl WorkerConfig {
    pub fn new(sid: impl Into<String>) -> Self {
        WorkerConfig {
            brokers: vec!["tcp://127.0.0.1:7776".into()],
            registry: None,
            sid: sid.into(),
            heartbeat: Duration::from_millis(1000),
            concurrency: 16,
            max_queue: 10_000,
            lost_after_beats: 3,
            stop_timeout: Duration::from_secs(2),
            inline_handlers: false,
            socket: SocketOptions::default(),
        }
    }
    /// `brokers`: one backend endpoint, or several separated by commas.
    pub fn broker(mut self, brokers: impl AsRef<str>) -> Self {
        self.brokers = socket::parse_endpoints(brokers.as_ref());
        self
    }
    /// Takes the brokers from a registry (`zk://host:2181/zss`) and follows it.
    pub fn registry(mut self, url: impl Into<String>) -> Self {
        self.registry = Some(url.into());
        self
    }
    /// The brokers' backends (replaces the list).
    pub fn brokers<S: Into<String>>(mut self, endpoints: impl IntoIterator<Item = S>) -> Self {
        self.brokers = endpoints.into_iter().map(Into::into).collect();
        self
    }
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }
    /// Encrypts with CURVE: the broker's public key and this worker's own key pair.
    pub fn curve(mut self, server_public: crate::security::Key, keypair: crate::security::KeyPair) -> Self {
        self.socket.curve = Some(crate::security::Curve::Client { server_public, keypair });
        self
    }
}

/// A request as a handler sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The calling client's identity (`<prefix>#<uuid>`).
    pub client: String,
    pub rid: String,
    pub address: Address,
    /// The request headers (a map; empty when the caller sent none).
    pub headers: Value,
    pub payload: Value,
}

/// A successful answer. `status` defaults to 200, or 204 when the payload is nil.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Response {
    pub status: Option<u16>,
    pub payload: Value,
    /// Added to (or replacing) the request's headers in the reply.
    pub headers: Vec<(String, Value)>,
}

impl Response {
    pub fn ok(payload: impl Into<Value>) -> Response {
        Response { payload: payload.into(), ..Default::default() }
    }
    /// A chosen 2xx status; anything else is turned into a 500 (as the Node service does).
    pub fn with_status(status: u16, payload: impl Into<Value>) -> Response {
        Response { status: Some(status), payload: payload.into(), headers: Vec::new() }
    }
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Value>) -> Response {
        self.headers.push((key.into(), value.into()));
        self
    }
}

impl From<Value> for Response {
    fn from(v: Value) -> Response {
        Response::ok(v)
    }
}

pub type HandlerResult = std::result::Result<Response, ServiceError>;

type HandlerFn = Arc<dyn Fn(Request, Responder) + Send + Sync>;

/// Counters a running worker keeps (read with [`RunningWorker::stats`]).
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub requests: AtomicU64,
    pub replies: AtomicU64,
    pub handler_errors: AtomicU64,
    pub not_found: AtomicU64,
    /// Requests refused (503) because the queue was full.
    pub overloaded: AtomicU64,
    pub malformed: AtomicU64,
    pub reconnects: AtomicU64,
}

impl WorkerStats {
    /// Every counter as `(name, value)`: the one list the bindings expose.
    pub fn fields(&self) -> [(&'static str, u64); 7] {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("requests", g(&self.requests)),
            ("replies", g(&self.replies)),
            ("handler_errors", g(&self.handler_errors)),
            ("not_found", g(&self.not_found)),
            ("overloaded", g(&self.overloaded)),
            ("malformed", g(&self.malformed)),
            ("reconnects", g(&self.reconnects)),
        ]
    }
}

enum Command {
    /// A reply's frames, for the broker its request came from; `counted` when its request was
    /// one of the `concurrency` in flight.
    Reply { frames: Vec<Vec<u8>>, counted: bool, broker: u32 },
    /// Replaces the broker list (see [`RunningWorker::set_brokers`]).
    SetBrokers(Vec<String>),
    Stop,
}

/// Answers one request, exactly once. Dropping it unanswered answers 500 (a handler that
/// panicked, or forgot to reply): a caller never waits for a reply that cannot come.
pub struct Responder {
    inner: Option<ResponderInner>,
}

struct ResponderInner {
    /// Weak: a responder kept past the worker's end must not keep it alive.
    link: Weak<Link>,
    /// Whether the request counts against `concurrency` (a 404 or 503 answered at once does not).
    counted: bool,
    /// The broker the request came from (its [`Upstream::id`]).
    broker: u32,
    stats: Arc<WorkerStats>,
    client: String,
    rid: String,
    address_frame: Vec<u8>,
    headers: Value,
    started: Instant,
}

impl Responder {
    /// Sends the handler's outcome. Callable from any thread.
    pub fn send(mut self, result: HandlerResult) {
        if let Some(inner) = self.inner.take() {
            inner.finish(result);
        }
    }
}

impl Responder {
    /// Drops a request that was never started, without answering: for the end of a worker,
    /// whose broker answers what was in flight on it (503) once it is gone.
    fn abandon(mut self) {
        self.inner.take();
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            if !std::thread::panicking() {
                log::error!("handler for {} returned without replying; answering 500", inner.tag());
            }
            inner.finish(Err(ServiceError::new(status::INTERNAL)));
        }
    }
}

impl ResponderInner {
    /// `rid=… x-request-id=…` for log lines.
    fn tag(&self) -> RequestTag<'_> {
        RequestTag { rid: self.rid.as_bytes(), request_id: protocol::request_id(&self.headers) }
    }

    fn finish(self, result: HandlerResult) {
        let (status, payload, extra_headers) = match result {
            Ok(r) => match r.status {
                Some(s) if !status::is_success(s) => {
                    log::warn!("handler for {} returned non-2xx success status {s}; answering 500", self.tag());
                    self.stats.handler_errors.fetch_add(1, Ordering::Relaxed);
                    (status::INTERNAL, ServiceError::new(status::INTERNAL).to_payload(), Vec::new())
                }
                s => {
                    let s = s.unwrap_or(if r.payload.is_nil() { status::NO_CONTENT } else { status::OK });
                    (s, r.payload, r.headers)
                }
            },
            Err(e) => {
                self.stats.handler_errors.fetch_add(1, Ordering::Relaxed);
                (e.code, e.to_payload(), Vec::new())
            }
        };
        let mut headers = match self.headers {
            Value::Map(_) => self.headers.clone(),
            _ => Value::Map(Vec::new()),
        };
        for (k, v) in extra_headers {
            headers.insert(&k, v);
        }
        let elapsed_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        headers.insert("response-time", Value::Float(elapsed_ms));
        // Headers and payload are encoded apart so that one that cannot be sent (binary from a
        // hostile or modern peer) degrades alone: headers to our own, the payload to a 500.
        let headers = msgpack::encode(&headers).unwrap_or_else(|e| {
            log::warn!("headers of {} cannot be echoed ({e}); replying with response-time only", self.tag());
            msgpack::encode(&Value::map([("response-time", Value::Float(elapsed_ms))])).expect("a float encodes")
        });
        let (status, payload) = match msgpack::encode(&payload) {
            Ok(p) => (status, p),
            Err(e) => {
                log::error!("reply to {} cannot be encoded ({e}); answering 500", self.tag());
                let err = ServiceError::new(status::INTERNAL).to_payload();
                (status::INTERNAL, msgpack::encode(&err).expect("standard error payload encodes"))
            }
        };
        let frames = reply_frames(self.client.as_bytes(), self.rid.as_bytes(), &self.address_frame, headers, status, payload);
        self.stats.replies.fetch_add(1, Ordering::Relaxed);
        let sent = match self.link.upgrade() {
            Some(link) => link.submit(Command::Reply { frames, counted: self.counted, broker: self.broker }),
            None => false,
        };
        if !sent {
            log::warn!("worker stopped before the reply to {} could be sent", self.tag());
        }
    }
}

/// The 8 frames of a reply from already-encoded parts.
fn reply_frames(client: &[u8], rid: &[u8], address_frame: &[u8], headers: Vec<u8>, status: u16, payload: Vec<u8>) -> Vec<Vec<u8>> {
    vec![
        client.to_vec(),
        PROTOCOL.as_bytes().to_vec(),
        MessageType::Rep.as_bytes().to_vec(),
        rid.to_vec(),
        address_frame.to_vec(),
        headers,
        status.to_string().into_bytes(),
        payload,
    ]
}

/// A service definition: its settings and a handler per verb. Start it with [`Worker::start`].
pub struct Worker {
    config: WorkerConfig,
    handlers: HashMap<String, HandlerFn>,
}

impl Worker {
    pub fn new(config: WorkerConfig) -> Worker {
        Worker { config, handlers: HashMap::new() }
    }

    /// Registers a handler for `verb` (case-insensitive). It runs on a worker thread and its
    /// result becomes the reply: `Ok(Response)` → 2xx, `Err(ServiceError)` → its code and
    /// error payload, a panic → 500 with a generic message (the detail goes to the log).
    pub fn verb<F>(&mut self, verb: &str, handler: F) -> &mut Self
    where
        F: Fn(&Request) -> HandlerResult + Send + Sync + 'static,
    {
        self.verb_with_responder(verb, move |req, responder| responder.send(handler(&req)))
    }

    /// Registers a handler that answers through a [`Responder`], possibly later and from
    /// another thread (the bindings use this to run handlers on their own runtimes).
    pub fn verb_with_responder<F>(&mut self, verb: &str, handler: F) -> &mut Self
    where
        F: Fn(Request, Responder) + Send + Sync + 'static,
    {
        self.handlers.insert(verb.to_uppercase(), Arc::new(handler));
        self
    }

    pub fn verbs(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }

    /// Connects, registers with the broker (SMI UP) and serves in the background.
    pub fn start(self) -> Result<RunningWorker> {
        let config = self.config;
        if config.sid.is_empty() || config.sid.eq_ignore_ascii_case(SMI_SID) {
            return Err(Error::InvalidArgument(format!("invalid service id {:?}", config.sid)));
        }
        if config.concurrency == 0 || config.heartbeat.is_zero() {
            return Err(Error::InvalidArgument("concurrency and heartbeat must be positive".into()));
        }
        let follower = config.registry.as_deref().map(|url| Follower::start(url, Side::Backend)).transpose()?;
        let brokers = discovery::initial_brokers(&config.brokers, follower.as_ref())?;
        let sid = config.sid.to_uppercase();
        let identity = protocol::new_identity(&sid);
        let mailbox = Arc::new(Mailbox::new()?);
        let now = Instant::now();
        let mut core = Core {
            brokers: Vec::new(),
            next_broker_id: 0,
            identity: identity.clone(),
            sid: sid.clone(),
            mailbox: mailbox.clone(),
            next_beat: now + config.heartbeat,
            stopping: Stopping::Running,
            finished: false,
            handlers: self
                .handlers
                .into_iter()
                .map(|(name, handler)| (name, Arc::new(Verb { handler, fast_streak: Default::default() })))
                .collect(),
        };
        // Register before anyone serves.
        for endpoint in &brokers {
            core.add_broker(endpoint, identity.clone(), &config.socket)?;
        }
        log::info!("worker {identity} serving {sid} via {}", brokers.join(","));
        let listing = match &config.registry {
            Some(url) => Some(discovery::list_instance(url, &sid, &identity, &brokers)?),
            None => None,
        };
        let io_waiter: Arc<WorkerWaiter> = Waiter::new();
        let pool_size = if config.inline_handlers { 0 } else { config.concurrency };
        let link = Arc::new_cyclic(|me| Link {
            me: me.clone(),
            baton: Baton::new(core, io_waiter.clone()),
            mailbox,
            sched: Mutex::new(Sched { backlog: VecDeque::new(), running: 0 }),
            stats: Arc::new(WorkerStats::default()),
            stopped: Oneshot::new(),
            handler_threads: Mutex::new(pool_size),
            handler_threads_gone: Default::default(),
            failure: Mutex::new(None),
            config,
        });
        let mut handler_threads = Vec::with_capacity(pool_size);
        for i in 0..pool_size {
            let link = link.clone();
            // Handler threads exit on their own once the baton closes; `join` joins them only
            // once all have left (a handler may itself be waiting for this worker to stop).
            let spawned = std::thread::Builder::new()
                .name(format!("zss-handler {sid} {i}"))
                .spawn(move || handler_thread(&link))
                .map_err(|e| Error::Socket { context: "spawn handler thread".into(), message: e.to_string() })?;
            handler_threads.push(spawned);
        }
        let io_link = link.clone();
        let thread = std::thread::Builder::new()
            .name(format!("zss-worker {identity}"))
            .spawn(move || io_thread(&io_link, &io_waiter))
            .map_err(|e| Error::Socket { context: "spawn worker I/O thread".into(), message: e.to_string() })?;
        // Nobody has the socket yet: hand it out (to a handler thread in line, or the I/O thread).
        if let Some(core) = link.baton.try_take() {
            link.put(core);
        }
        if let Some(follower) = &follower {
            let link = Arc::downgrade(&link);
            follower.attach(move |endpoints| {
                if let Some(link) = link.upgrade().filter(|_| !endpoints.is_empty()) {
                    link.submit(Command::SetBrokers(endpoints));
                }
            });
        }
        let registry = Mutex::new(follower.map(|f| (f, listing)));
        let handler_threads = Mutex::new(handler_threads);
        Ok(RunningWorker { link, thread: Mutex::new(Some(thread)), handler_threads, identity, registry })
    }

    /// Starts and blocks until [`RunningWorker::stop`] is called from a handler or another
    /// handle (signal handling belongs to the program: see `zss echo`).
    pub fn run(self) -> Result<()> {
        let running = self.start()?;
        running.wait(None);
        Ok(())
    }
}

/// A worker serving in the background. Dropping it stops it.
pub struct RunningWorker {
    link: Arc<Link>,
    thread: Mutex<Option<JoinHandle<()>>>,
    handler_threads: Mutex<Vec<JoinHandle<()>>>,
    identity: String,
    /// With a registry: the watch that follows its brokers, and this worker's listing there
    /// (both dropped at stop: the listing goes first).
    registry: Mutex<Option<(Follower, Option<discovery::Listing>)>>,
}

impl RunningWorker {
    /// The socket identity, `<SID>#<uuid>` (a new one after a reconnect is not reflected).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    pub fn stats(&self) -> &WorkerStats {
        &self.link.stats
    }

    /// Why the worker stopped by itself: the broker refused its handshake or its registration
    /// (403); it does not retry. `None` while it runs or after a normal stop.
    pub fn error(&self) -> Option<Error> {
        lock(&self.link.failure).clone()
    }

    /// Replaces the brokers this worker serves through: it registers with new ones and drops
    /// the ones no longer listed (for discovery; an empty list is ignored).
    pub fn set_brokers(&self, endpoints: Vec<String>) {
        if !endpoints.is_empty() {
            self.link.submit(Command::SetBrokers(endpoints));
        }
    }

    /// Asks the worker to stop: it finishes the handlers in flight (bounded by
    /// `stop_timeout`), sends SMI DOWN and waits (bounded) for the broker's reply.
    /// Returns at once; use [`RunningWorker::wait`] or [`RunningWorker::join`] to wait.
    pub fn stop(&self) {
        if let Some((follower, listing)) = lock(&self.registry).take() {
            drop(listing);
            drop(follower);
        }
        self.link.submit(Command::Stop);
    }

    /// Waits until the worker has stopped, at most `timeout`; true if it has.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let stopped = &self.link.stopped;
        if stopped.is_set() {
            return true;
        }
        match stopped.take(timeout) {
            Some(()) => {
                stopped.set(());
                true
            }
            None => false,
        }
    }

    /// Stops and waits for the I/O thread to finish.
    pub fn join(&self) {
        self.stop();
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
        // The handler threads end once the worker has (a handler that never returns aside):
        // give them a moment, unless this is one of them.
        if !IN_HANDLER_THREAD.with(|h| h.get()) {
            let alive = lock(&self.link.handler_threads);
            let (alive, _) = self.link.handler_threads_gone.wait_timeout_while(alive, HANDLER_EXIT_WAIT, |n| *n > 0).unwrap_or_else(|p| p.into_inner());
            if *alive == 0 {
                drop(alive);
                // All have left their loop: joining only waits for them to finish exiting.
                for t in lock(&self.handler_threads).drain(..) {
                    let _ = t.join();
                }
            }
        }
    }
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        self.join();
    }
}

type Job = (Arc<Verb>, Request, Responder);

/// How long [`RunningWorker::join`] waits for the handler threads to end.
const HANDLER_EXIT_WAIT: Duration = Duration::from_secs(1);

thread_local! {
    static IN_HANDLER_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A handler that returned within this long, [`FAST_STREAK`] times in a row, runs while its
/// thread keeps the socket parked (see [`lead`]).
const FAST_HANDLER: Duration = Duration::from_micros(100);
const FAST_STREAK: u32 = 4;

/// A verb's handler and how fast it has been lately.
struct Verb {
    handler: HandlerFn,
    fast_streak: std::sync::atomic::AtomicU32,
}

impl Verb {
    fn is_fast(&self) -> bool {
        self.fast_streak.load(Ordering::Relaxed) >= FAST_STREAK
    }

    /// Runs the handler (see [`run_handler`]) and records how long it took.
    fn call(&self, request: Request, responder: Responder) {
        let started = Instant::now();
        run_handler(&self.handler, request, responder);
        if started.elapsed() < FAST_HANDLER {
            let _ = self.fast_streak.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_add(1)));
        } else {
            self.fast_streak.store(0, Ordering::Relaxed);
        }
    }
}
type WorkerWaiter = Waiter<Core, Job>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Requests accepted and not yet answered.
struct Sched {
    /// Accepted, waiting for one of the `concurrency` slots.
    backlog: VecDeque<Job>,
    /// Started (handed to a handler) and not yet answered.
    running: usize,
}

/// What the worker's threads share: the socket's baton, the mailbox its owner polls, and the
/// requests in flight.
struct Link {
    /// For the responders (see [`ResponderInner::link`]).
    me: Weak<Link>,
    baton: Baton<Core, Job>,
    mailbox: Arc<Mailbox<Command>>,
    /// Locked before the baton's own lock wherever both are held.
    sched: Mutex<Sched>,
    config: WorkerConfig,
    stats: Arc<WorkerStats>,
    stopped: Oneshot<()>,
    /// Handler threads still running: [`RunningWorker::join`] waits (bounded) for them, so a
    /// program that exits right after it does not cut them off mid-way.
    handler_threads: Mutex<usize>,
    handler_threads_gone: std::sync::Condvar,
    /// Why the worker stopped by itself (see [`RunningWorker::error`]).
    failure: Mutex<Option<Error>>,
}

impl Link {
    /// Hands `cmd` to the socket's owner: at once when the socket is free, else through the
    /// mailbox (then takes the socket if the owner let go meanwhile, see [`baton`]).
    fn submit(&self, cmd: Command) -> bool {
        if let Some(mut core) = self.baton.try_take() {
            core.execute(self, cmd);
            self.put(core);
            return true;
        }
        if self.mailbox.send(cmd).is_err() {
            return false;
        }
        if let Some(mut core) = self.baton.try_take() {
            core.take_commands(self, false);
            self.put(core);
        }
        true
    }

    /// Lets go of the socket (to the next idle thread, else the I/O thread), or ends the worker
    /// when the core has finished.
    fn put(&self, core: Core) {
        if core.finished {
            self.finish(core);
        } else {
            self.baton.put(core);
        }
    }

    /// A slot is free again: starts what waits in the backlog on idle handler threads.
    fn answered(&self) {
        let mut sched = lock(&self.sched);
        sched.running -= 1;
        self.schedule(&mut sched);
    }

    /// Hands runnable backlog jobs to handler threads waiting in line.
    fn schedule(&self, sched: &mut Sched) {
        while sched.running < self.config.concurrency {
            let Some(job) = sched.backlog.pop_front() else { break };
            match self.baton.give_to_next(job) {
                Ok(()) => sched.running += 1,
                Err(job) => {
                    sched.backlog.push_front(job);
                    break;
                }
            }
        }
    }

    /// Whether a request waits for a free slot that is there (then a turn must not block).
    fn has_runnable(&self) -> bool {
        let sched = lock(&self.sched);
        sched.running < self.config.concurrency && !sched.backlog.is_empty()
    }

    /// Takes a job from the backlog if a slot is free.
    fn next_job(&self, sched: &mut Sched) -> Option<Job> {
        if sched.running >= self.config.concurrency {
            return None;
        }
        let job = sched.backlog.pop_front()?;
        sched.running += 1;
        Some(job)
    }

    /// The end: no thread gets the socket any more; requests never started are dropped (the
    /// broker answers them 503 when this worker is gone); `stop`'s waiters are released.
    fn finish(&self, core: Core) {
        self.baton.close();
        let _ = self.mailbox.close();
        let unstarted: Vec<Job> = lock(&self.sched).backlog.drain(..).collect();
        if !unstarted.is_empty() {
            log::warn!("worker {}: {} requests not started at stop; the broker answers them", core.identity, unstarted.len());
        }
        drop(core);
        for (_, _, responder) in unstarted {
            responder.abandon();
        }
        self.stopped.set(());
    }
}

/// A handler thread: runs a job when there is one, else leads (polls the socket) until it
/// reads a request, which it runs after handing the socket on.
fn handler_thread(link: &Link) {
    /// Counts the thread out however it ends.
    struct Leaving<'a>(&'a Link);
    impl Drop for Leaving<'_> {
        fn drop(&mut self) {
            *lock(&self.0.handler_threads) -= 1;
            self.0.handler_threads_gone.notify_all();
        }
    }
    let _leaving = Leaving(link);
    IN_HANDLER_THREAD.with(|h| h.set(true));
    let me: Arc<WorkerWaiter> = Waiter::new();
    loop {
        let job = {
            let mut sched = lock(&link.sched);
            match link.next_job(&mut sched) {
                Some(job) => job,
                None => match link.baton.enqueue(&me) {
                    Place::Closed => return,
                    Place::Took(core) => {
                        drop(sched);
                        match lead(link, &me, core) {
                            Some(job) => job,
                            None => return,
                        }
                    }
                    Place::InLine => {
                        drop(sched);
                        match me.wait(None) {
                            Turn::Value(job) => job,
                            Turn::Core(core) => match lead(link, &me, core) {
                                Some(job) => job,
                                None => return,
                            },
                            Turn::Closed => return,
                            Turn::TimedOut => continue,
                        }
                    }
                },
            }
        };
        let (verb, request, responder) = job;
        verb.call(request, responder);
    }
}

/// A handler thread's turns as the leader: returns the first request it may run, having
/// handed the socket on; `None` when the worker has finished.
///
/// A request for a verb that has been answering within microseconds is run here instead,
/// with the socket parked rather than handed on: no other thread is woken, the reply goes out
/// on the parked socket from this thread, and this thread takes the socket back and leads on.
/// Should the handler take longer than the baton's grace, the I/O thread takes over meanwhile.
fn lead(link: &Link, me: &Arc<WorkerWaiter>, mut core: Core) -> Option<Job> {
    loop {
        core.turn(link);
        if core.finished {
            link.finish(core);
            return None;
        }
        let mine = {
            let mut sched = lock(&link.sched);
            let mine = link.next_job(&mut sched);
            // A fast request is run here and the leader comes back for the next one: waking
            // other threads for the rest would cost more than running them one after another.
            if !mine.as_ref().is_some_and(|job| job.0.is_fast()) {
                link.schedule(&mut sched);
            }
            mine
        };
        let Some(job) = mine else { continue };
        if !job.0.is_fast() {
            link.put(core);
            return Some(job);
        }
        link.baton.park(core);
        let (verb, request, responder) = job;
        verb.call(request, responder);
        core = match link.baton.unpark(me) {
            Place::Took(core) => core,
            Place::Closed => return None,
            Place::InLine => loop {
                match me.wait(None) {
                    Turn::Core(core) => break core,
                    Turn::Value(job) => return Some(job),
                    Turn::Closed => return None,
                    Turn::TimedOut => continue,
                }
            },
        };
    }
}

/// The I/O thread: leads whenever no handler thread can (all busy, or none: inline handlers),
/// and gives way as soon as one is idle.
fn io_thread(link: &Link, me: &Arc<WorkerWaiter>) {
    loop {
        // While handler threads park the socket, wake every grace period to take over a park
        // that went stale (a handler that turned slow).
        let watch = link.baton.watching().then(|| Instant::now() + baton::PARK_GRACE);
        let mut core = match me.wait(watch) {
            Turn::Core(core) => core,
            Turn::Closed => return,
            Turn::Value(_) | Turn::TimedOut => match link.baton.take_stale_park() {
                Some(core) => core,
                None => continue,
            },
        };
        loop {
            core.turn(link);
            if core.finished {
                link.finish(core);
                return;
            }
            if link.config.inline_handlers {
                loop {
                    let job = link.next_job(&mut lock(&link.sched));
                    let Some((verb, request, responder)) = job else { break };
                    verb.call(request, responder);
                }
            } else {
                link.schedule(&mut lock(&link.sched));
                if link.baton.has_line() {
                    link.put(core);
                    break;
                }
            }
        }
    }
}

/// Runs one handler, catching a panic: the responder, dropped while unwinding, answers 500;
/// the detail goes to the log.
fn run_handler(handler: &HandlerFn, request: Request, responder: Responder) {
    let tag = RequestTag { rid: request.rid.as_bytes(), request_id: protocol::request_id(&request.headers) }.to_string();
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| handler(request, responder))) {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic".into());
        log::error!("handler for {tag} panicked: {detail}");
    }
}

/// Where a stopping worker is.
enum Stopping {
    Running,
    /// Waiting for handlers in flight until the deadline.
    Draining(Instant),
    /// DOWN sent; waiting for its reply until the deadline.
    Down(Instant),
}

/// The worker's link to one broker.
struct Upstream {
    /// Stable while the broker list changes (a reply names its broker by it).
    id: u32,
    conn: socket::Connection,
    last_reply: Instant,
    /// Answered our DOWN (stopping).
    down_acked: bool,
    /// The connection was up once: a later handshake is a broker come back.
    was_connected: bool,
}

/// The sockets and the protocol state: what the baton's owner drives.
struct Core {
    brokers: Vec<Upstream>,
    next_broker_id: u32,
    /// The first socket's identity (each reconnect takes a fresh one).
    identity: String,
    sid: String,
    mailbox: Arc<Mailbox<Command>>,
    next_beat: Instant,
    stopping: Stopping,
    /// Unregistered (or gave up on it, or refused): the owner ends the worker.
    finished: bool,
    /// Here rather than in the [`Link`]: they go when the worker ends, and with them whatever
    /// they hold (a binding's handle on its runtime that keeps a process alive, say).
    handlers: HashMap<String, Arc<Verb>>,
}

impl baton::Core for Core {
    /// Always: heartbeats and the broker's liveness need polling even with nothing in flight.
    fn needs_driver(&self) -> bool {
        true
    }
}

impl Core {
    /// One turn: waits (at most until the next heartbeat or stop deadline) for the socket or
    /// the mailbox; reads every message (requests go to the backlog), sends queued replies,
    /// heartbeats, notices a lost broker, and moves a stop along.
    fn turn(&mut self, link: &Link) {
        let wake_at = match self.stopping {
            _ if self.mailbox.has_queued() || link.has_runnable() => Instant::now(),
            Stopping::Running => self.next_beat,
            Stopping::Draining(d) | Stopping::Down(d) => d.min(self.next_beat),
        };
        let n = self.brokers.len();
        let conns: Vec<&socket::Connection> = self.brokers.iter().map(|b| &b.conn).collect();
        let ready = match socket::wait(&conns, self.mailbox.poll_item(), Some(wake_at)) {
            Ok(ready) => ready,
            Err(e) => {
                log::error!("worker poll failed: {e}; stopping");
                self.finished = true;
                return;
            }
        };
        for i in 0..n {
            if ready.monitor(i) {
                self.check_link(link, i);
            }
        }
        for i in 0..n {
            if ready.socket(i) && self.receive_all(link, i) && matches!(self.stopping, Stopping::Down(_)) {
                self.brokers[i].down_acked = true;
            }
        }
        if matches!(self.stopping, Stopping::Down(_)) && self.brokers.iter().all(|b| b.down_acked) {
            log::info!("worker {} unregistered", self.identity);
            self.finished = true;
            return;
        }
        if self.finished {
            return; // refused (403, or the handshake)
        }
        self.take_commands(link, ready.mailbox());
        let now = Instant::now();
        let heartbeat = link.config.heartbeat;
        if now >= self.next_beat {
            if matches!(self.stopping, Stopping::Running | Stopping::Draining(_)) {
                self.smi_all("HEARTBEAT");
            }
            self.next_beat = now + heartbeat;
            for i in 0..n {
                let silent = now.duration_since(self.brokers[i].last_reply);
                if silent > heartbeat * link.config.lost_after_beats.max(1) {
                    log::warn!("worker {}: no reply from the broker at {} for {silent:?}; reconnecting", self.identity, self.brokers[i].conn.endpoint);
                    self.reconnect(link, i);
                    self.brokers[i].last_reply = now;
                }
            }
        }
        match self.stopping {
            Stopping::Draining(deadline) => {
                let in_flight = {
                    let sched = lock(&link.sched);
                    sched.running + sched.backlog.len()
                };
                if in_flight == 0 || now >= deadline {
                    if in_flight > 0 {
                        log::warn!("worker {}: {in_flight} requests still in flight at stop", self.identity);
                    }
                    self.smi_all("DOWN");
                    self.stopping = Stopping::Down(now + link.config.stop_timeout);
                }
            }
            Stopping::Down(deadline) if now >= deadline => {
                log::warn!("worker {}: no reply to DOWN; stopping anyway", self.identity);
                self.finished = true;
            }
            _ => {}
        }
    }

    /// A fatal error: the worker ends and does not retry.
    fn fail(&mut self, link: &Link, error: Error) {
        log::error!("worker {} stops: {error}", self.identity);
        *lock(&link.failure) = Some(error);
        self.finished = true;
    }

    fn take_commands(&mut self, link: &Link, pipe_readable: bool) {
        for cmd in self.mailbox.take(pipe_readable) {
            self.execute(link, cmd);
        }
    }

    fn execute(&mut self, link: &Link, cmd: Command) {
        match cmd {
            Command::Reply { frames, counted, broker } => {
                match self.brokers.iter().find(|b| b.id == broker) {
                    Some(b) => {
                        if let Err(e) = b.conn.socket.send_multipart(frames, 0) {
                            log::error!("worker failed to send a reply to {}: {e}", b.conn.endpoint);
                        }
                    }
                    None => log::warn!("worker {}: a reply's broker is no longer listed; reply dropped", self.identity),
                }
                if counted {
                    link.answered();
                }
            }
            Command::SetBrokers(endpoints) => self.set_brokers(link, endpoints),
            Command::Stop => {
                if matches!(self.stopping, Stopping::Running) {
                    self.stopping = Stopping::Draining(Instant::now() + link.config.stop_timeout);
                }
            }
        }
    }

    /// Connects to one more broker and registers there.
    fn add_broker(&mut self, endpoint: &str, identity: String, options: &SocketOptions) -> Result<()> {
        let conn = socket::Connection::open(Role::Worker, endpoint, identity, options)?;
        self.next_broker_id += 1;
        self.brokers.push(Upstream { id: self.next_broker_id, conn, last_reply: Instant::now(), down_acked: false, was_connected: false });
        self.smi(self.brokers.len() - 1, "UP");
        Ok(())
    }

    fn set_brokers(&mut self, link: &Link, endpoints: Vec<String>) {
        for i in (0..self.brokers.len()).rev() {
            if !endpoints.contains(&self.brokers[i].conn.endpoint) {
                let b = &self.brokers[i];
                log::info!("worker {}: broker {} no longer listed; leaving it", b.conn.identity, b.conn.endpoint);
                // DOWN, given a moment to leave (sockets close with linger 0), so the broker
                // forgets this worker now rather than after its TTL.
                self.smi(i, "DOWN");
                let _ = self.brokers[i].conn.socket.set_linger(200);
                self.brokers.remove(i);
            }
        }
        for endpoint in endpoints {
            if !self.brokers.iter().any(|b| b.conn.endpoint == endpoint) {
                let identity = protocol::new_identity(&self.sid);
                match self.add_broker(&endpoint, identity, &link.config.socket) {
                    Ok(()) => log::info!("worker {}: registering with broker {endpoint}", self.identity),
                    Err(e) => log::error!("worker {}: cannot connect to broker {endpoint}: {e}", self.identity),
                }
            }
        }
    }

    /// Reads broker `i`'s monitor: a refused handshake ends the worker; a connection made
    /// again after a loss (a broker restarted) heartbeats at once, which registers the worker
    /// with a broker that does not know it (UP would be refused by one that still does).
    fn check_link(&mut self, link: &Link, i: usize) {
        let events = self.brokers[i].conn.monitor.check();
        if let Some(reason) = events.refused {
            self.fail(link, Error::AuthenticationFailed(reason));
            return;
        }
        if events.lost {
            log::warn!("worker {}: connection to the broker at {} dropped", self.identity, self.brokers[i].conn.endpoint);
        }
        if events.connected {
            let again = std::mem::replace(&mut self.brokers[i].was_connected, true);
            if again && matches!(self.stopping, Stopping::Running) {
                self.brokers[i].last_reply = Instant::now();
                self.smi(i, "HEARTBEAT");
            }
        }
    }

    /// Sends an SMI request to broker `i`, as the Node workers do (8 frames, field 0 = the
    /// socket's identity).
    fn smi(&self, i: usize, verb: &str) {
        let conn = &self.brokers[i].conn;
        let msg = Message {
            identity: Some(conn.identity.clone()),
            kind: MessageType::Req,
            rid: protocol::new_rid(),
            address: Address::new(SMI_SID, verb),
            headers: Value::Nil,
            status: None,
            payload: Value::from(self.sid.as_str()),
        };
        let frames = msg.to_frames().expect("SMI message encodes");
        if let Err(e) = conn.socket.send_multipart(frames, zmq::DONTWAIT) {
            log::warn!("worker {}: SMI {verb} to {} not sent: {e}", conn.identity, conn.endpoint);
        }
    }

    fn smi_all(&self, verb: &str) {
        for i in 0..self.brokers.len() {
            self.smi(i, verb);
        }
    }

    /// Replaces broker `i`'s socket (a fresh identity) and registers again.
    fn reconnect(&mut self, link: &Link, i: usize) {
        match self.brokers[i].conn.reopen(Role::Worker, &self.sid, &link.config.socket) {
            Ok(()) => {
                self.brokers[i].was_connected = false;
                link.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                self.smi(i, "UP");
            }
            Err(e) => log::error!("worker reconnect to {} failed: {e}", self.brokers[i].conn.endpoint),
        }
    }

    /// Reads everything broker `i` sent. Returns true when a DOWN reply arrived.
    fn receive_all(&mut self, link: &Link, i: usize) -> bool {
        let mut down_acked = false;
        loop {
            let frames = match self.brokers[i].conn.socket.recv_multipart(zmq::DONTWAIT) {
                Ok(f) => f,
                Err(zmq::Error::EAGAIN) => return down_acked,
                Err(e) => {
                    log::error!("worker receive failed: {e}");
                    return down_acked;
                }
            };
            self.brokers[i].last_reply = Instant::now();
            match Message::from_frames(&frames) {
                Ok(msg) if msg.kind == MessageType::Rep => {
                    if msg.address.sid == SMI_SID {
                        log::trace!("SMI {} answered {:?}", msg.address.verb, msg.status);
                        if msg.status == Some(status::FORBIDDEN) {
                            // The broker's allow list does not let our key serve this sid.
                            let sid = self.sid.clone();
                            self.fail(
                                link,
                                Error::AuthenticationFailed(format!(
                                    "the broker refused to register this worker for {sid} (403: its key may not serve it)"
                                )),
                            );
                            return down_acked;
                        }
                        down_acked |= msg.address.verb == "DOWN";
                    }
                }
                Ok(mut msg) => match msg.identity.take() {
                    Some(client) => self.accept(link, i, client, msg, frames),
                    None => {
                        link.stats.malformed.fetch_add(1, Ordering::Relaxed);
                        log::warn!("worker dropped a request without a client identity (rid {})", msg.rid);
                    }
                },
                Err(e) => self.reject_malformed(link, i, &frames, e),
            }
        }
    }

    /// Queues a request for a handler, or answers it at once (unknown verb, full queue).
    fn accept(&mut self, link: &Link, i: usize, client: String, msg: Message, mut frames: Vec<Vec<u8>>) {
        link.stats.requests.fetch_add(1, Ordering::Relaxed);
        let address_frame = std::mem::take(&mut frames[4]);
        let headers = if msg.headers.is_nil() { Value::Map(Vec::new()) } else { msg.headers };
        let handler = if msg.address.sid.eq_ignore_ascii_case(&self.sid) {
            self.handlers.get(&msg.address.verb.to_uppercase()).cloned()
        } else {
            None
        };
        let mut sched = lock(&link.sched);
        // The backlog also holds requests about to start (free slots): only the rest wait.
        let free_slots = link.config.concurrency.saturating_sub(sched.running);
        let overloaded = sched.backlog.len() >= link.config.max_queue + free_slots;
        let responder = Responder {
            inner: Some(ResponderInner {
                link: link.me.clone(),
                counted: handler.is_some() && !overloaded,
                broker: self.brokers[i].id,
                stats: link.stats.clone(),
                client: client.clone(),
                rid: msg.rid.clone(),
                address_frame,
                headers: headers.clone(),
                started: Instant::now(),
            }),
        };
        let Some(handler) = handler else {
            drop(sched);
            link.stats.not_found.fetch_add(1, Ordering::Relaxed);
            log::warn!(
                "worker {} has no verb {}:{} ({})",
                self.identity,
                msg.address.sid,
                msg.address.verb,
                RequestTag { rid: msg.rid.as_bytes(), request_id: protocol::request_id(&headers) }
            );
            responder.send(Err(ServiceError::new(status::NOT_FOUND)));
            return;
        };
        if overloaded {
            let queued = sched.backlog.len();
            drop(sched);
            link.stats.overloaded.fetch_add(1, Ordering::Relaxed);
            log::warn!("worker {} queue is full ({queued}); answering 503", self.identity);
            responder.send(Err(ServiceError::with_messages(
                status::SERVICE_UNAVAILABLE,
                status::messages(status::SERVICE_UNAVAILABLE).0,
                "The service is overloaded: its queue is full.",
            )));
            return;
        }
        let request = Request { client, rid: msg.rid, address: msg.address, headers, payload: msg.payload };
        sched.backlog.push_back((handler, request, responder));
    }

    /// A request we cannot parse still gets an answer (400) when it has a request's envelope:
    /// the client identity and rid are echoed as bytes, whatever they hold. Anything else is
    /// logged and counted.
    fn reject_malformed(&mut self, link: &Link, i: usize, frames: &[Vec<u8>], error: FrameError) {
        link.stats.malformed.fetch_add(1, Ordering::Relaxed);
        log::warn!("worker {} dropped a malformed message: {error}", self.identity);
        let answerable =
            frames.len() == 8 && protocol::envelope_offset(frames).is_ok() && frames[2] == MessageType::Req.as_bytes();
        if !answerable {
            return;
        }
        let address = match Address::decode(&frames[4]) {
            Ok(_) => frames[4].clone(),
            Err(_) => Address::new(&self.sid, "").encode(),
        };
        let err = ServiceError::new(status::BAD_REQUEST).with_field("detail", error.to_string());
        let reply = reply_frames(
            &frames[0],
            &frames[3],
            &address,
            vec![0x80], // an empty map
            status::BAD_REQUEST,
            msgpack::encode(&err.to_payload()).expect("error payload encodes"),
        );
        if let Err(e) = self.brokers[i].conn.socket.send_multipart(reply, zmq::DONTWAIT) {
            log::warn!("worker could not answer a malformed request: {e}");
        }
    }
}
