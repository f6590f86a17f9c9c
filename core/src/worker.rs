//! The ZSS worker ("service"): serves one sid through a broker's backend.
//!
//! The I/O thread owns the DEALER socket: it registers (SMI UP), heartbeats, detects a lost
//! broker and reconnects, and hands requests to handlers on a pool of threads, at most
//! `concurrency` at a time. A handler answers through a [`Responder`], from any thread and at
//! any time; the reply is encoded on the answering thread and sent by the I/O thread.

use crate::error::{status, Error, Result, ServiceError};
use crate::mailbox::{self, Mailbox, Oneshot};
use crate::msgpack::{self, Value};
use crate::protocol::{self, Address, FrameError, Message, MessageType, RequestTag, PROTOCOL, SMI_SID};
use crate::socket::{self, Role, SocketOptions};
use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Worker settings. Defaults follow the deployed services.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The broker's backend, e.g. `tcp://127.0.0.1:7776`.
    pub broker: String,
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
    /// Run handlers on the I/O thread instead of the pool (default false). Saves two thread
    /// hand-offs per request, for handlers that take microseconds; a handler that blocks
    /// delays everything else, heartbeats included, so keep them well under `heartbeat`.
    /// `concurrency` is then 1 for synchronous handlers.
    pub inline_handlers: bool,
    pub socket: SocketOptions,
}

impl WorkerConfig {
    pub fn new(sid: impl Into<String>) -> Self {
        WorkerConfig {
            broker: "tcp://127.0.0.1:7776".into(),
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
    pub fn broker(mut self, endpoint: impl Into<String>) -> Self {
        self.broker = endpoint.into();
        self
    }
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }
    /// Encrypts with CURVE: the broker's public key and this worker's own key pair. [security]
    pub fn curve(mut self, server_public: crate::security::Key, keypair: crate::security::KeyPair) -> Self {
        self.socket.curve = Some(crate::security::Curve::Client { server_public, keypair });
        self
    }
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
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
    Reply(Vec<Vec<u8>>),
    Stop,
}

/// Answers one request, exactly once. Dropping it unanswered answers 500 (a handler that
/// panicked, or forgot to reply): a caller never waits for a reply that cannot come.
pub struct Responder {
    inner: Option<ResponderInner>,
}

struct ResponderInner {
    mailbox: Arc<Mailbox<Command>>,
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
        if self.mailbox.send(Command::Reply(frames)).is_err() {
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
        let sid = config.sid.to_uppercase();
        let identity = protocol::new_identity(&sid);
        let (sock, _, monitor) = socket::open_monitored(Role::Worker, &config.broker, Some(&identity), &config.socket)?;
        let failure: Arc<Mutex<Option<Error>>> = Arc::default();
        let mailbox = Arc::new(Mailbox::new()?);
        let stats = Arc::new(WorkerStats::default());
        let stopped = Arc::new(Oneshot::new());
        let pool = Pool::new(if config.inline_handlers { 0 } else { config.concurrency }, &sid)?;
        let io = IoLoop {
            socket: sock,
            identity: identity.clone(),
            sid,
            config,
            handlers: Arc::new(self.handlers),
            mailbox: mailbox.clone(),
            stats: stats.clone(),
            pool,
            in_flight: 0,
            backlog: VecDeque::new(),
            monitor,
            failure: failure.clone(),
        };
        let done = stopped.clone();
        let thread = std::thread::Builder::new()
            .name(format!("zss-worker {identity}"))
            .spawn(move || {
                io.run();
                done.set(());
            })
            .map_err(|e| Error::Socket { context: "spawn worker I/O thread".into(), message: e.to_string() })?;
        Ok(RunningWorker { mailbox, thread: Mutex::new(Some(thread)), identity, stats, stopped, failure })
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
    mailbox: Arc<Mailbox<Command>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    identity: String,
    stats: Arc<WorkerStats>,
    stopped: Arc<Oneshot<()>>,
    failure: Arc<Mutex<Option<Error>>>,
}

impl RunningWorker {
    /// [security] Why the worker stopped by itself: the broker refused its handshake or its
    /// registration (403); it does not retry. `None` while it runs or after a normal stop.
    pub fn error(&self) -> Option<Error> {
        self.failure.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The socket identity, `<SID>#<uuid>` (a new one after a reconnect is not reflected).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    pub fn stats(&self) -> &WorkerStats {
        &self.stats
    }

    /// Asks the worker to stop: it finishes the handlers in flight (bounded by
    /// `stop_timeout`), sends SMI DOWN and waits (bounded) for the broker's reply.
    /// Returns at once; use [`RunningWorker::wait`] or [`RunningWorker::join`] to wait.
    pub fn stop(&self) {
        let _ = self.mailbox.send(Command::Stop);
    }

    /// Waits until the worker has stopped, at most `timeout`; true if it has.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        if self.stopped.is_set() {
            return true;
        }
        match self.stopped.take(timeout) {
            Some(()) => {
                self.stopped.set(());
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
    }
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        self.join();
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

/// Threads that run handlers. Each job is one request.
struct Pool {
    queue: Arc<(Mutex<PoolQueue>, Condvar)>,
}

struct PoolQueue {
    jobs: VecDeque<(HandlerFn, Request, Responder)>,
    closed: bool,
}

impl Pool {
    fn new(size: usize, sid: &str) -> Result<Pool> {
        let queue = Arc::new((Mutex::new(PoolQueue { jobs: VecDeque::new(), closed: false }), Condvar::new()));
        for i in 0..size {
            let q = queue.clone();
            // Detached: handler threads exit on their own once the queue closes (see Drop).
            std::thread::Builder::new()
                .name(format!("zss-handler {sid} {i}"))
                .spawn(move || Pool::work(&q))
                .map_err(|e| Error::Socket { context: "spawn handler thread".into(), message: e.to_string() })?;
        }
        Ok(Pool { queue })
    }

    fn work(queue: &(Mutex<PoolQueue>, Condvar)) {
        loop {
            let job = {
                let mut q = queue.0.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    if let Some(job) = q.jobs.pop_front() {
                        break job;
                    }
                    if q.closed {
                        return;
                    }
                    q = queue.1.wait(q).unwrap_or_else(|p| p.into_inner());
                }
            };
            let (handler, request, responder) = job;
            run_handler(&handler, request, responder);
        }
    }

    fn submit(&self, handler: HandlerFn, request: Request, responder: Responder) {
        let mut q = self.queue.0.lock().unwrap_or_else(|p| p.into_inner());
        q.jobs.push_back((handler, request, responder));
        self.queue.1.notify_one();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Handler threads finish their current job and exit on their own. They are not joined:
        // a handler may itself be waiting for this worker to stop (stop from inside a handler),
        // and joining it here, on the I/O thread it waits for, would deadlock.
        self.queue.0.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
        self.queue.1.notify_all();
    }
}

struct IoLoop {
    socket: zmq::Socket,
    identity: String,
    sid: String,
    config: WorkerConfig,
    handlers: Arc<HashMap<String, HandlerFn>>,
    mailbox: Arc<Mailbox<Command>>,
    stats: Arc<WorkerStats>,
    pool: Pool,
    in_flight: usize,
    backlog: VecDeque<(HandlerFn, Request, Responder)>,
    /// [security] Handshake monitor (CURVE only), and the fatal error that stops the worker.
    monitor: Option<crate::security::Monitor>,
    failure: Arc<Mutex<Option<Error>>>,
}

/// Where a stopping worker is.
enum Stopping {
    Running,
    /// Waiting for handlers in flight until the deadline.
    Draining(Instant),
    /// DOWN sent; waiting for its reply until the deadline.
    Down(Instant),
}

impl IoLoop {
    fn run(mut self) {
        self.serve();
        // Replies from handlers still running are refused from here on (and logged by them).
        let _ = self.mailbox.close();
    }

    fn serve(&mut self) {
        self.mailbox.bind_to_current_thread();
        let heartbeat = self.config.heartbeat;
        let lost_after = heartbeat * self.config.lost_after_beats.max(1);
        self.smi("UP");
        log::info!("worker {} serving {} via {}", self.identity, self.sid, self.config.broker);
        let mut next_beat = Instant::now() + heartbeat;
        let mut last_broker_reply = Instant::now();
        let mut stopping = Stopping::Running;
        loop {
            let wake_at = match stopping {
                _ if self.mailbox.take_self_queued() => Instant::now(), // replies queued by us
                Stopping::Running => next_beat,
                Stopping::Draining(d) | Stopping::Down(d) => d.min(next_beat),
            };
            // [security] Third item: the handshake monitor (the mailbox again when there is none).
            let third = self.monitor.as_ref().map_or_else(|| self.mailbox.poll_item(), |m| m.poll_item());
            let mut items = [self.socket.as_poll_item(zmq::POLLIN), self.mailbox.poll_item(), third];
            if let Err(e) = mailbox::wait(&mut items, Some(wake_at)) {
                log::error!("worker poll failed: {e}");
                break;
            }
            let (socket_ready, mailbox_ready) = (items[0].is_readable(), items[1].is_readable());
            if items[2].is_readable() {
                if let Some(reason) = self.monitor.as_mut().and_then(|m| m.check()) {
                    self.fail(Error::AuthenticationFailed(reason));
                }
            }
            if self.failed() {
                break;
            }
            if socket_ready && self.receive_all(&mut last_broker_reply) {
                if let Stopping::Down(_) = stopping {
                    log::info!("worker {} unregistered", self.identity);
                    break;
                }
            }
            if self.failed() {
                break; // [security] registration refused (403)
            }
            self.process_mailbox(mailbox_ready, &mut stopping);
            let now = Instant::now();
            if now >= next_beat {
                if matches!(stopping, Stopping::Running | Stopping::Draining(_)) {
                    self.smi("HEARTBEAT");
                }
                next_beat = now + heartbeat;
                if now.duration_since(last_broker_reply) > lost_after {
                    log::warn!(
                        "worker {}: no reply from the broker for {:?}; reconnecting",
                        self.identity,
                        now.duration_since(last_broker_reply)
                    );
                    self.reconnect();
                    last_broker_reply = now;
                }
            }
            match stopping {
                Stopping::Draining(deadline) if (self.in_flight == 0 && self.backlog.is_empty()) || now >= deadline => {
                    if self.in_flight > 0 {
                        log::warn!("worker {}: {} requests still in flight at stop", self.identity, self.in_flight);
                    }
                    self.smi("DOWN");
                    stopping = Stopping::Down(now + self.config.stop_timeout);
                }
                Stopping::Down(deadline) if now >= deadline => {
                    log::warn!("worker {}: no reply to DOWN; stopping anyway", self.identity);
                    break;
                }
                _ => {}
            }
        }
    }

    /// Sends the replies handlers have queued and acts on commands. Loops until the mailbox is
    /// empty: a reply frees a slot, which may run an inline handler, which queues a reply.
    fn process_mailbox(&mut self, pipe_readable: bool, stopping: &mut Stopping) {
        let mut cmds = self.mailbox.take(pipe_readable);
        while !cmds.is_empty() {
            self.mailbox.take_self_queued();
            for cmd in cmds {
                match cmd {
                    Command::Reply(frames) => {
                        if let Err(e) = self.socket.send_multipart(frames, 0) {
                            log::error!("worker failed to send a reply: {e}");
                        }
                        self.in_flight -= 1;
                        self.dispatch_backlog();
                    }
                    Command::Stop => {
                        if matches!(stopping, Stopping::Running) {
                            *stopping = Stopping::Draining(Instant::now() + self.config.stop_timeout);
                        }
                    }
                }
            }
            cmds = self.mailbox.drain_queued();
        }
    }

    /// [security] Records a fatal error: the worker stops and does not retry.
    fn fail(&self, error: Error) {
        log::error!("worker {} stops: {error}", self.identity);
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
    }

    fn failed(&self) -> bool {
        self.failure.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Sends an SMI request, as the Node workers do (8 frames, field 0 = our identity).
    fn smi(&self, verb: &str) {
        let msg = Message {
            identity: Some(self.identity.clone()),
            kind: MessageType::Req,
            rid: protocol::new_rid(),
            address: Address::new(SMI_SID, verb),
            headers: Value::Nil,
            status: None,
            payload: Value::from(self.sid.as_str()),
        };
        let frames = msg.to_frames().expect("SMI message encodes");
        if let Err(e) = self.socket.send_multipart(frames, zmq::DONTWAIT) {
            log::warn!("worker {}: SMI {verb} not sent: {e}", self.identity);
        }
    }

    fn reconnect(&mut self) {
        let identity = protocol::new_identity(&self.sid);
        match socket::open_monitored(Role::Worker, &self.config.broker, Some(&identity), &self.config.socket) {
            Ok((sock, _, monitor)) => {
                self.socket = sock;
                self.monitor = monitor;
                self.identity = identity;
                self.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                self.smi("UP");
            }
            Err(e) => log::error!("worker reconnect failed: {e}"),
        }
    }

    /// Reads everything available. Returns true when a DOWN reply arrived.
    fn receive_all(&mut self, last_broker_reply: &mut Instant) -> bool {
        let mut down_acked = false;
        loop {
            let frames = match self.socket.recv_multipart(zmq::DONTWAIT) {
                Ok(f) => f,
                Err(zmq::Error::EAGAIN) => return down_acked,
                Err(e) => {
                    log::error!("worker receive failed: {e}");
                    return down_acked;
                }
            };
            *last_broker_reply = Instant::now();
            match Message::from_frames(&frames) {
                Ok(msg) if msg.kind == MessageType::Rep => {
                    if msg.address.sid == SMI_SID {
                        log::trace!("SMI {} answered {:?}", msg.address.verb, msg.status);
                        if msg.status == Some(status::FORBIDDEN) {
                            // [security] The broker's allow list does not let our key serve this sid.
                            self.fail(Error::AuthenticationFailed(format!(
                                "the broker refused to register this worker for {} (403: its key may not serve it)",
                                self.sid
                            )));
                        }
                        down_acked |= msg.address.verb == "DOWN";
                    }
                }
                Ok(mut msg) => match msg.identity.take() {
                    Some(client) => self.accept(client, msg, frames),
                    None => {
                        self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                        log::warn!("worker dropped a request without a client identity (rid {})", msg.rid);
                    }
                },
                Err(e) => self.reject_malformed(&frames, e),
            }
        }
    }

    fn accept(&mut self, client: String, msg: Message, mut frames: Vec<Vec<u8>>) {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let address_frame = std::mem::take(&mut frames[4]);
        let headers = if msg.headers.is_nil() { Value::Map(Vec::new()) } else { msg.headers };
        let responder = Responder {
            inner: Some(ResponderInner {
                mailbox: self.mailbox.clone(),
                stats: self.stats.clone(),
                client: client.clone(),
                rid: msg.rid.clone(),
                address_frame,
                headers: headers.clone(),
                started: Instant::now(),
            }),
        };
        self.in_flight += 1;
        let handler = if msg.address.sid.eq_ignore_ascii_case(&self.sid) {
            self.handlers.get(&msg.address.verb.to_uppercase()).cloned()
        } else {
            None
        };
        let Some(handler) = handler else {
            self.stats.not_found.fetch_add(1, Ordering::Relaxed);
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
        if self.backlog.len() >= self.config.max_queue {
            self.stats.overloaded.fetch_add(1, Ordering::Relaxed);
            log::warn!("worker {} queue is full ({}); answering 503", self.identity, self.backlog.len());
            responder.send(Err(ServiceError::with_messages(
                status::SERVICE_UNAVAILABLE,
                status::messages(status::SERVICE_UNAVAILABLE).0,
                "The service is overloaded: its queue is full.",
            )));
            return;
        }
        let request = Request { client, rid: msg.rid, address: msg.address, headers, payload: msg.payload };
        self.backlog.push_back((handler, request, responder));
        self.dispatch_backlog();
    }

    fn dispatch_backlog(&mut self) {
        // `in_flight` counts every accepted request; the ones in the backlog are not running yet.
        let running = self.in_flight - self.backlog.len();
        let free = self.config.concurrency.saturating_sub(running);
        for _ in 0..free {
            match self.backlog.pop_front() {
                Some((h, req, resp)) if self.config.inline_handlers => run_handler(&h, req, resp),
                Some((h, req, resp)) => self.pool.submit(h, req, resp),
                None => break,
            }
        }
    }

    /// A request we cannot parse still gets an answer (400) when it has a request's envelope:
    /// the client identity and rid are echoed as bytes, whatever they hold. Anything else is
    /// logged and counted.
    fn reject_malformed(&mut self, frames: &[Vec<u8>], error: FrameError) {
        self.stats.malformed.fetch_add(1, Ordering::Relaxed);
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
        if let Err(e) = self.socket.send_multipart(reply, zmq::DONTWAIT) {
            log::warn!("worker could not answer a malformed request: {e}");
        }
    }
}
