//! The ZSS client: one DEALER socket per client object, many calls in flight on it.
//!
//! Callers encode their request on their own thread and hand it to the client's I/O thread
//! through a [`Mailbox`]; the I/O thread sends it, matches replies by rid, fires timeouts, and
//! completes each call through its completion callback. The blocking [`Client::call`], the
//! pollable [`PendingReply`] and the bindings' futures are all built on [`Client::send`].

use crate::error::{status, Error, Result, ServiceError};
use crate::mailbox::{self, Mailbox, Oneshot};
use crate::msgpack::Value;
use crate::protocol::{self, Address, Message, MessageType};
use crate::socket::{self, Role, SocketOptions};
use std::collections::{BinaryHeap, HashMap};
use std::cmp::Reverse;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Client settings. Defaults follow the original Node client.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The broker's frontend, e.g. `tcp://127.0.0.1:7777`.
    pub broker: String,
    /// The service calls go to when a call names none.
    pub sid: Option<String>,
    /// Identity prefix: the socket's identity is `<identity>#<uuid>`.
    pub identity: String,
    /// Per-call timeout unless a call sets its own (default 1000 ms, as the Node client).
    pub timeout: Duration,
    /// Headers sent with every call (a call's own headers are merged over them).
    pub headers: Vec<(String, Value)>,
    pub socket: SocketOptions,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            broker: "tcp://127.0.0.1:7777".into(),
            sid: None,
            identity: "client".into(),
            timeout: Duration::from_millis(1000),
            headers: Vec::new(),
            socket: SocketOptions::default(),
        }
    }
}

impl ClientConfig {
    pub fn new(broker: impl Into<String>) -> Self {
        ClientConfig { broker: broker.into(), ..Default::default() }
    }
    pub fn sid(mut self, sid: impl Into<String>) -> Self {
        self.sid = Some(sid.into());
        self
    }
    pub fn identity(mut self, prefix: impl Into<String>) -> Self {
        self.identity = prefix.into();
        self
    }
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.headers.push((key.into(), value.into()));
        self
    }
    /// Encrypts with CURVE: the broker's public key and this client's own key pair. [security]
    pub fn curve(mut self, server_public: crate::security::Key, keypair: crate::security::KeyPair) -> Self {
        self.socket.curve = Some(crate::security::Curve::Client { server_public, keypair });
        self
    }
}

/// One call: everything but the payload is optional.
#[derive(Clone, Debug, Default)]
pub struct Call {
    pub verb: String,
    pub payload: Value,
    /// Overrides the client's default service.
    pub sid: Option<String>,
    /// Merged over the client's default headers.
    pub headers: Vec<(String, Value)>,
    /// Overrides the client's default timeout.
    pub timeout: Option<Duration>,
}

impl Call {
    pub fn new(verb: impl Into<String>, payload: impl Into<Value>) -> Call {
        Call { verb: verb.into(), payload: payload.into(), ..Default::default() }
    }
    pub fn sid(mut self, sid: impl Into<String>) -> Call {
        self.sid = Some(sid.into());
        self
    }
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Value>) -> Call {
        self.headers.push((key.into(), value.into()));
        self
    }
    pub fn timeout(mut self, timeout: Duration) -> Call {
        self.timeout = Some(timeout);
        self
    }
}

/// A successful (2xx) reply.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub headers: Value,
    pub payload: Value,
    pub rid: String,
}

/// Called exactly once with the outcome of a call, on the client's I/O thread: keep it short
/// (hand the result to another thread or runtime) and never block in it.
pub type Completion = Box<dyn FnOnce(Result<Reply>) + Send + 'static>;

enum Command {
    Call { rid: String, frames: Vec<Vec<u8>>, deadline: Instant, done: Completion },
    Close,
}

struct Shared {
    mailbox: Arc<Mailbox<Command>>,
    closed: std::sync::atomic::AtomicBool,
    identity: String,
    config: ClientConfig,
    io_thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

/// A connection to a broker's frontend. Cheap to clone; all clones share one socket, and the
/// socket closes when the last clone is dropped or [`Client::close`] is called.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl Client {
    /// Connects to `config.broker`. Connecting is asynchronous in ZeroMQ: calls made before the
    /// broker is reachable wait in the socket's queue until their timeout.
    pub fn connect(config: ClientConfig) -> Result<Client> {
        if config.identity.is_empty() {
            return Err(Error::InvalidArgument("identity prefix must not be empty".into()));
        }
        let identity = protocol::new_identity(&config.identity);
        let (sock, _, monitor) = socket::open_monitored(Role::Client, &config.broker, Some(&identity), &config.socket)?;
        let mailbox = Arc::new(Mailbox::new()?);
        let io = IoLoop {
            socket: sock,
            mailbox: mailbox.clone(),
            pending: HashMap::new(),
            deadlines: BinaryHeap::new(),
            monitor,
            auth_failed: None,
        };
        let shared = Arc::new(Shared {
            mailbox,
            identity: identity.clone(),
            config,
            closed: Default::default(),
            io_thread: std::sync::Mutex::new(None),
        });
        let handle = std::thread::Builder::new()
            .name(format!("zss-client {identity}"))
            .spawn(move || io.run())
            .map_err(|e| Error::Socket { context: "spawn client I/O thread".into(), message: e.to_string() })?;
        *shared.io_thread.lock().unwrap() = Some(handle);
        log::debug!("client {identity} connecting to {}", shared.config.broker);
        Ok(Client { shared })
    }

    /// This client's socket identity, `<prefix>#<uuid>`.
    pub fn identity(&self) -> &str {
        &self.shared.identity
    }

    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// Calls `verb` on the default service and waits for the reply.
    pub fn call(&self, verb: &str, payload: impl Into<Value>) -> Result<Reply> {
        self.request(Call::new(verb, payload))
    }

    /// Calls the broker's management interface (the reserved sid `SMI` on the frontend):
    /// `PING`, `INFO`, `SERVICES` or `STATS`; returns the reply's payload. The original
    /// broker answers these with 404.
    pub fn management(&self, verb: &str) -> Result<Value> {
        self.request(Call::new(verb, Value::Nil).sid(protocol::SMI_SID)).map(|r| r.payload)
    }

    /// Sends `call` and waits for its reply (or its timeout, as a 599 [`Error::Service`]).
    pub fn request(&self, call: Call) -> Result<Reply> {
        let pending = self.start(call)?;
        pending.wait()
    }

    /// Sends `call` and returns at once with a handle to poll or wait on.
    pub fn start(&self, call: Call) -> Result<PendingReply> {
        let slot = Arc::new(Oneshot::new());
        let setter = slot.clone();
        self.send(call, Box::new(move |r| setter.set(r)))?;
        Ok(PendingReply { slot })
    }

    /// Sends `call`; `done` is called exactly once with the outcome, on the client's I/O thread
    /// (see [`Completion`]). Errors in the arguments are returned here and `done` is not called.
    pub fn send(&self, call: Call, done: Completion) -> Result<()> {
        if self.shared.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        let sid = call
            .sid
            .as_deref()
            .or(self.shared.config.sid.as_deref())
            .ok_or_else(|| Error::InvalidArgument("no service id: set one on the client or the call".into()))?;
        if sid.is_empty() || call.verb.is_empty() {
            return Err(Error::InvalidArgument("service id and verb must not be empty".into()));
        }
        let mut headers = Value::Map(Vec::new());
        for (k, v) in self.shared.config.headers.iter().chain(call.headers.iter()) {
            headers.insert(k, v.clone());
        }
        let rid = protocol::new_rid();
        let msg = Message::request(rid.clone(), Address::new(sid, &call.verb), headers, call.payload);
        let frames = msg.to_frames()?;
        let timeout = call.timeout.unwrap_or(self.shared.config.timeout);
        let deadline = Instant::now() + timeout;
        self.shared
            .mailbox
            .send(Command::Call { rid, frames, deadline, done })
            .map_err(|_| Error::Closed)
    }

    /// Closes the socket; calls still waiting fail with [`Error::Closed`]. Idempotent.
    pub fn close(&self) {
        self.shared.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.shared.mailbox.send(Command::Close);
        let handle = self.shared.io_thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Runs when the last Client is dropped (the I/O thread holds only the mailbox).
        let _ = self.mailbox.send(Command::Close);
        if let Some(h) = self.io_thread.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

/// A call in flight: wait for it, or poll it.
pub struct PendingReply {
    slot: Arc<Oneshot<Result<Reply>>>,
}

impl PendingReply {
    /// Blocks until the reply (or the call's timeout).
    pub fn wait(self) -> Result<Reply> {
        self.slot.take(None).expect("completion always fires")
    }

    /// Waits at most `timeout`; `Err(self)` if the call is still in flight. Lets bindings wait
    /// in slices and check for interrupts (Ctrl-C) in between.
    pub fn wait_timeout(self, timeout: Duration) -> std::result::Result<Result<Reply>, PendingReply> {
        match self.slot.take(Some(timeout)) {
            Some(r) => Ok(r),
            None => Err(self),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.slot.is_set()
    }
}

struct Pending {
    done: Completion,
}

struct IoLoop {
    socket: zmq::Socket,
    mailbox: Arc<Mailbox<Command>>,
    pending: HashMap<String, Pending>,
    deadlines: BinaryHeap<Reverse<(Instant, String)>>,
    /// [security] Handshake monitor (CURVE only) and, once the broker refused us, why.
    monitor: Option<crate::security::Monitor>,
    auth_failed: Option<Error>,
}

impl IoLoop {
    fn run(mut self) {
        self.mailbox.bind_to_current_thread();
        let mut closing = false;
        while !closing {
            let deadline = if self.mailbox.take_self_queued() {
                Some(Instant::now()) // a callback queued a call while we were draining
            } else {
                self.deadlines.peek().map(|Reverse((d, _))| *d)
            };
            // [security] Third item: the handshake monitor (the mailbox again when there is none).
            let third = self.monitor.as_ref().map_or_else(|| self.mailbox.poll_item(), |m| m.poll_item());
            let mut items = [self.socket.as_poll_item(zmq::POLLIN), self.mailbox.poll_item(), third];
            if let Err(e) = mailbox::wait(&mut items, deadline) {
                log::error!("client poll failed: {e}");
                break;
            }
            let (socket_ready, mailbox_ready) = (items[0].is_readable(), items[1].is_readable());
            if items[2].is_readable() {
                self.check_handshake();
            }
            if socket_ready {
                self.receive_all();
            }
            self.expire(Instant::now());
            // Every turn: callbacks run above may have queued calls (no pipe byte for those).
            self.mailbox.take_self_queued();
            for cmd in self.mailbox.take(mailbox_ready) {
                match cmd {
                    Command::Call { rid, frames, deadline, done } => self.send(rid, frames, deadline, done),
                    Command::Close => closing = true,
                }
            }
        }
        // Calls that raced with close() are failed, never left waiting.
        for cmd in self.mailbox.close() {
            if let Command::Call { done, .. } = cmd {
                done(Err(Error::Closed));
            }
        }
        for (_, p) in self.pending.drain() {
            (p.done)(Err(Error::Closed));
        }
    }

    /// [security] Fails every call, now and from now on, once the broker refused our handshake.
    fn check_handshake(&mut self) {
        let Some(reason) = self.monitor.as_mut().and_then(|m| m.check()) else { return };
        log::error!("client: authentication failed: {reason}");
        let err = Error::AuthenticationFailed(reason);
        for (_, p) in self.pending.drain() {
            (p.done)(Err(err.clone()));
        }
        self.auth_failed = Some(err);
    }

    fn send(&mut self, rid: String, frames: Vec<Vec<u8>>, deadline: Instant, done: Completion) {
        if let Some(e) = &self.auth_failed {
            return done(Err(e.clone()));
        }
        match self.socket.send_multipart(frames, zmq::DONTWAIT) {
            Ok(()) => {
                self.deadlines.push(Reverse((deadline, rid.clone())));
                self.pending.insert(rid, Pending { done });
            }
            Err(zmq::Error::EAGAIN) => done(Err(Error::Service(ServiceError::with_messages(
                status::SERVICE_UNAVAILABLE,
                status::messages(status::SERVICE_UNAVAILABLE).0,
                "The client's send queue is full (high-water mark reached).",
            )))),
            Err(e) => done(Err(Error::socket("send request", e))),
        }
    }

    fn receive_all(&mut self) {
        loop {
            let frames = match self.socket.recv_multipart(zmq::DONTWAIT) {
                Ok(f) => f,
                Err(zmq::Error::EAGAIN) => return,
                Err(e) => {
                    log::error!("client receive failed: {e}");
                    return;
                }
            };
            match Message::from_frames(&frames) {
                Ok(msg) if msg.kind == MessageType::Rep => self.complete(msg),
                Ok(msg) => log::warn!("client dropped a {:?} message (rid {})", msg.kind, msg.rid),
                Err(e) => {
                    // Without a decodable reply the call cannot be completed with its data; fail
                    // it now if the rid is readable rather than let it time out.
                    log::warn!("client dropped a malformed reply: {e}");
                    let rid = protocol::envelope_offset(&frames)
                        .ok()
                        .and_then(|b| std::str::from_utf8(&frames[b + 2]).ok().map(str::to_owned));
                    if let Some(p) = rid.and_then(|r| self.pending.remove(&r)) {
                        (p.done)(Err(Error::Service(
                            ServiceError::new(status::INTERNAL)
                                .with_field("detail", format!("malformed reply: {e}")),
                        )));
                    }
                }
            }
        }
    }

    fn complete(&mut self, msg: Message) {
        let Some(p) = self.pending.remove(&msg.rid) else {
            log::debug!("client ignored a reply for unknown or expired rid {}", msg.rid);
            return;
        };
        let status = msg.status.unwrap_or(status::INTERNAL);
        let result = if status::is_success(status) {
            Ok(Reply { status, headers: msg.headers, payload: msg.payload, rid: msg.rid })
        } else {
            Err(Error::Service(ServiceError::from_reply(Some(status), msg.payload)))
        };
        (p.done)(result);
    }

    fn expire(&mut self, now: Instant) {
        while let Some(Reverse((deadline, _))) = self.deadlines.peek() {
            if *deadline > now {
                break;
            }
            let Reverse((_, rid)) = self.deadlines.pop().expect("peeked");
            if let Some(p) = self.pending.remove(&rid) {
                (p.done)(Err(Error::Service(ServiceError::timeout())));
            }
        }
        // Lazy deletion keeps answered calls in the heap until their deadline; compact it when
        // it is mostly stale so memory stays proportional to the calls in flight.
        if self.deadlines.len() > 1024 && self.deadlines.len() > 4 * self.pending.len() {
            let pending = &self.pending;
            self.deadlines.retain(|Reverse((_, rid))| pending.contains_key(rid));
        }
    }
}
