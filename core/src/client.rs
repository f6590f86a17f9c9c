//! The ZSS client: one DEALER socket per client object, many calls in flight on it.
//!
//! The socket and the calls in flight (the [`Core`]) sit in a [`Baton`]: one owner at a time,
//! and the owner is whichever thread needs it. A blocking call that finds the socket free sends
//! its request and polls for its own reply itself, completing any other replies it reads on
//! the way; when it has its reply it lets go, to a thread waiting in line or, when calls are
//! still in flight, to the client's I/O thread. A call that finds the socket taken (another
//! thread is using it) is handed to the owner through the [`Mailbox`] that every owner polls.
//! Callbacks ([`Client::send`]), the pollable [`PendingReply`] and the bindings' futures all
//! sit on this one mechanism.

use crate::baton::{self, Baton, Place, Turn, Waiter};
use crate::error::{status, Error, Result, ServiceError};
use crate::mailbox::{self, Mailbox};
use crate::msgpack::Value;
use crate::protocol::{self, Address, Message, MessageType};
use crate::socket::{self, Role, SocketOptions};
use std::collections::{BinaryHeap, HashMap};
use std::cmp::Reverse;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// Encrypts with CURVE: the broker's public key and this client's own key pair.
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

/// Called exactly once with the outcome of a call, on whichever thread owns the client's socket
/// at that moment (its I/O thread, or a thread in a blocking call): keep it short (hand the
/// result to another thread or runtime) and never block in it.
pub type Completion = Box<dyn FnOnce(Result<Reply>) + Send + 'static>;

/// A request ready for the socket.
struct Outgoing {
    rid: String,
    frames: Vec<Vec<u8>>,
    deadline: Instant,
}

enum Command {
    Call(Outgoing, Completion),
    Close,
}

type ClientWaiter = Waiter<Core, Result<Reply>>;

/// What every thread that may drive the socket shares (the I/O thread holds this, not the
/// [`Client`], so dropping the last client closes the socket).
struct Link {
    baton: Baton<Core, Result<Reply>>,
    mailbox: Arc<Mailbox<Command>>,
    /// Calls in flight whose [`PendingReply`] will drive the socket itself when it waits: the
    /// I/O thread is needed only for the others.
    attended: Arc<AtomicUsize>,
}

impl Link {
    /// Hands `cmd` to the socket's owner: directly when the socket is free, else through the
    /// mailbox (then takes the socket if the owner let go meanwhile, see [`baton`]).
    fn submit(&self, cmd: Command) -> std::result::Result<(), Command> {
        if let Some(mut core) = self.baton.try_take() {
            core.execute(cmd);
            self.baton.put(core);
            return Ok(());
        }
        self.mailbox.send(cmd)?;
        if let Some(mut core) = self.baton.try_take() {
            core.take_commands(false);
            self.baton.put(core);
        }
        Ok(())
    }
}

struct Shared {
    link: Arc<Link>,
    closed: AtomicBool,
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
        let (socket, _, monitor) = socket::open_monitored(Role::Client, &config.broker, Some(&identity), &config.socket)?;
        let mailbox = Arc::new(Mailbox::new()?);
        let attended = Arc::new(AtomicUsize::new(0));
        let core = Core {
            socket,
            mailbox: mailbox.clone(),
            attended: attended.clone(),
            pending: HashMap::new(),
            deadlines: BinaryHeap::new(),
            closing: false,
            monitor,
            auth_failed: None,
        };
        let io_waiter: Arc<ClientWaiter> = Waiter::new();
        let link = Arc::new(Link { baton: Baton::new(core, io_waiter.clone()), mailbox, attended });
        let shared = Arc::new(Shared {
            link: link.clone(),
            identity: identity.clone(),
            config,
            closed: Default::default(),
            io_thread: std::sync::Mutex::new(None),
        });
        let handle = std::thread::Builder::new()
            .name(format!("zss-client {identity}"))
            .spawn(move || io_thread(&link, &io_waiter))
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

    /// Sends `call` and waits for its reply (or its timeout, as a 599 [`Error::Service`]). When
    /// no other thread is using the socket, this thread sends and reads it itself.
    pub fn request(&self, call: Call) -> Result<Reply> {
        let pending = self.start(call)?;
        pending.wait()
    }

    /// Sends `call` and returns at once with a handle to wait on; waiting on it drives the
    /// socket when it is free (see the module docs), so wait soon: until then its reply waits
    /// in the socket (its timeout still holds).
    pub fn start(&self, call: Call) -> Result<PendingReply> {
        let outgoing = self.prepare(call)?;
        let waiter: Arc<ClientWaiter> = Waiter::new();
        let ticket = Arc::new(AtomicBool::new(true));
        let link = &self.shared.link;
        link.attended.fetch_add(1, Ordering::SeqCst);
        let done: Completion = {
            let (waiter, ticket, attended) = (waiter.clone(), ticket.clone(), link.attended.clone());
            Box::new(move |result| {
                if ticket.swap(false, Ordering::SeqCst) {
                    attended.fetch_sub(1, Ordering::SeqCst);
                }
                waiter.give(result)
            })
        };
        let pending = PendingReply { link: link.clone(), waiter, ticket };
        link.submit(Command::Call(outgoing, done)).map_err(|_| Error::Closed)?;
        Ok(pending)
    }

    /// Sends `call`; `done` is called exactly once with the outcome (see [`Completion`]).
    /// Errors in the arguments are returned here and `done` is not called.
    pub fn send(&self, call: Call, done: Completion) -> Result<()> {
        let outgoing = self.prepare(call)?;
        self.shared.link.submit(Command::Call(outgoing, done)).map_err(|_| Error::Closed)
    }

    /// Checks and encodes a call on the caller's thread.
    fn prepare(&self, call: Call) -> Result<Outgoing> {
        if self.shared.closed.load(Ordering::SeqCst) {
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
        Ok(Outgoing { rid, frames, deadline: Instant::now() + timeout })
    }

    /// Closes the socket; calls still waiting fail with [`Error::Closed`]. Idempotent.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.shutdown();
    }
}

impl Shared {
    fn shutdown(&self) {
        let _ = self.link.submit(Command::Close);
        let handle = self.io_thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Runs when the last Client is dropped (the I/O thread holds only the link).
        self.shutdown();
    }
}

/// A call in flight: wait for it, or poll it. Waiting drives the client's socket when no other
/// thread is (so an uncontended call costs no thread hand-off).
pub struct PendingReply {
    link: Arc<Link>,
    waiter: Arc<ClientWaiter>,
    /// Set while the call counts as attended (see [`Link::attended`]).
    ticket: Arc<AtomicBool>,
}

impl PendingReply {
    /// Blocks until the reply (or the call's timeout).
    pub fn wait(self) -> Result<Reply> {
        loop {
            if let Some(result) = self.wait_until(None) {
                return result;
            }
        }
    }

    /// Waits at most `timeout`; `Err(self)` if the call is still in flight. Lets bindings wait
    /// in slices and check for interrupts (Ctrl-C) in between.
    pub fn wait_timeout(self, timeout: Duration) -> std::result::Result<Result<Reply>, PendingReply> {
        match self.wait_until(Some(Instant::now() + timeout)) {
            Some(r) => Ok(r),
            None => Err(self),
        }
    }

    /// Waits until `until` (`None`: no limit) for the outcome; `None` if it has not come by
    /// then or [`PendingReply::wake`] was called. Drives the socket while it is free.
    pub fn wait_until(&self, until: Option<Instant>) -> Option<Result<Reply>> {
        let link = &*self.link;
        loop {
            if let Some(result) = self.waiter.take_value() {
                return Some(result);
            }
            let core = match link.baton.enqueue(&self.waiter) {
                Place::Closed => return Some(self.waiter.take_value().unwrap_or(Err(Error::Closed))),
                Place::Took(core) => core,
                Place::InLine => match self.waiter.wait(until) {
                    Turn::Core(core) => core,
                    Turn::Value(result) => {
                        if let Some(core) = link.baton.leave(&self.waiter) {
                            link.baton.put(core);
                        }
                        return Some(result);
                    }
                    Turn::TimedOut => {
                        if let Some(core) = link.baton.leave(&self.waiter) {
                            link.baton.put(core);
                        }
                        return self.waiter.take_value();
                    }
                    Turn::Closed => return Some(self.waiter.take_value().unwrap_or(Err(Error::Closed))),
                },
            };
            let woken = self.drive(core, until);
            if woken || until.is_some_and(|u| Instant::now() >= u) {
                return self.waiter.take_value();
            }
        }
    }

    /// Owns the socket until this call's outcome is in, `until` passes, or a wake; then lets go.
    /// Returns whether it was woken.
    fn drive(&self, mut core: Core, until: Option<Instant>) -> bool {
        let mut woken = false;
        while !self.waiter.has_value() && !core.closing {
            core.turn(until);
            if self.waiter.take_woken() {
                woken = true;
                break;
            }
            if until.is_some_and(|u| Instant::now() >= u) {
                break;
            }
        }
        self.link.baton.put(core);
        woken
    }

    /// Ends a [`PendingReply::wait_until`] in progress on another thread early (it returns
    /// `None`): for an interrupt (Ruby's unblock function, a signal handler thread).
    pub fn wake(&self) {
        self.waiter.wake();
        self.link.mailbox.wake(); // in case that thread is polling the socket
    }

    /// Whether the outcome is in; reads the socket once, without blocking, if it is free.
    pub fn is_ready(&self) -> bool {
        if self.waiter.has_value() {
            return true;
        }
        if let Some(mut core) = self.link.baton.try_take() {
            core.turn(Some(Instant::now()));
            self.link.baton.put(core);
        }
        self.waiter.has_value()
    }
}

impl Drop for PendingReply {
    fn drop(&mut self) {
        // Abandoned in flight: nobody will wait for it, so its reply or timeout now needs the
        // I/O thread. Taking and putting the baton lets it decide (see `Core::needs_driver`).
        if self.ticket.swap(false, Ordering::SeqCst) {
            self.link.attended.fetch_sub(1, Ordering::SeqCst);
            if let Some(core) = self.link.baton.try_take() {
                self.link.baton.put(core);
            }
        }
    }
}

/// The I/O thread: drives the socket whenever it is handed the baton (calls in flight that no
/// waiting thread will read, queued commands), gives way to any thread that lines up, and
/// closes the socket at the end.
fn io_thread(link: &Link, me: &Arc<ClientWaiter>) {
    loop {
        let mut core = match me.wait(None) {
            Turn::Core(core) => core,
            Turn::Closed => return,
            Turn::Value(_) | Turn::TimedOut => continue,
        };
        while baton::Core::needs_driver(&core) && !core.closing && !link.baton.has_line() {
            core.turn(None);
        }
        if core.closing {
            link.baton.close();
            // Calls that raced with close() are failed, never left waiting.
            for cmd in link.mailbox.close() {
                if let Command::Call(_, done) = cmd {
                    done(Err(Error::Closed));
                }
            }
            return; // dropping the core closes the socket
        }
        link.baton.put(core);
    }
}

struct Pending {
    done: Completion,
}

/// The socket and the calls in flight on it: what the baton's owner drives.
struct Core {
    socket: zmq::Socket,
    mailbox: Arc<Mailbox<Command>>,
    attended: Arc<AtomicUsize>,
    pending: HashMap<String, Pending>,
    deadlines: BinaryHeap<Reverse<(Instant, String)>>,
    closing: bool,
    /// Handshake monitor (CURVE only) and, once the broker refused us, why.
    monitor: Option<crate::security::Monitor>,
    auth_failed: Option<Error>,
}

impl baton::Core for Core {
    fn needs_driver(&self) -> bool {
        self.closing || self.mailbox.has_queued() || self.pending.len() > self.attended.load(Ordering::SeqCst)
    }
}

impl Core {
    /// One turn: waits (at most until `until` or the next call's timeout) for a reply or a
    /// command, reads every reply, fires timeouts, and sends what the mailbox holds.
    fn turn(&mut self, until: Option<Instant>) {
        let next_timeout = self.deadlines.peek().map(|Reverse((d, _))| *d);
        let deadline = if self.mailbox.has_queued() {
            Some(Instant::now())
        } else {
            match (until, next_timeout) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
        // Third item: the handshake monitor (the mailbox again when there is none).
        let third = self.monitor.as_ref().map_or_else(|| self.mailbox.poll_item(), |m| m.poll_item());
        let mut items = [self.socket.as_poll_item(zmq::POLLIN), self.mailbox.poll_item(), third];
        if let Err(e) = mailbox::wait(&mut items, deadline) {
            log::error!("client poll failed: {e}; closing");
            self.fail_all(Error::socket("poll", e));
            return;
        }
        let (socket_ready, mailbox_ready, monitor_ready) = (items[0].is_readable(), items[1].is_readable(), items[2].is_readable());
        if monitor_ready {
            self.check_handshake();
        }
        if socket_ready {
            self.receive_all();
        }
        self.expire(Instant::now());
        self.take_commands(mailbox_ready);
    }

    fn take_commands(&mut self, pipe_readable: bool) {
        for cmd in self.mailbox.take(pipe_readable) {
            self.execute(cmd);
        }
    }

    fn execute(&mut self, cmd: Command) {
        // Queued commands go first: a caller's own call never overtakes one queued earlier.
        if self.mailbox.has_queued() {
            self.take_commands(false);
        }
        match cmd {
            Command::Call(_, done) if self.closing => done(Err(Error::Closed)),
            Command::Call(outgoing, done) => self.send(outgoing, done),
            Command::Close => self.fail_all(Error::Closed),
        }
    }

    /// Fails every call in flight and marks the core for closing (the I/O thread closes it).
    fn fail_all(&mut self, error: Error) {
        self.closing = true;
        self.deadlines.clear();
        for (_, p) in self.pending.drain() {
            (p.done)(Err(error.clone()));
        }
    }

    /// Fails every call, now and from now on, once the broker refused our handshake.
    fn check_handshake(&mut self) {
        let Some(reason) = self.monitor.as_mut().and_then(|m| m.check()) else { return };
        log::error!("client: authentication failed: {reason}");
        let err = Error::AuthenticationFailed(reason);
        self.deadlines.clear();
        for (_, p) in self.pending.drain() {
            (p.done)(Err(err.clone()));
        }
        self.auth_failed = Some(err);
    }

    fn send(&mut self, outgoing: Outgoing, done: Completion) {
        if let Some(e) = &self.auth_failed {
            return done(Err(e.clone()));
        }
        let Outgoing { rid, frames, deadline } = outgoing;
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
