//! The ZSS client: one DEALER socket per broker, many calls in flight on them.
//!
//! With several brokers a call goes to the one with the fewest calls in flight among those
//! that are up. A broker counts as lost when its connection drops or it leaves a ping
//! unanswered for the liveness window; its calls in flight then end at once with
//! [`Error::BrokerLost`] (or, when marked idempotent, are re-sent to another broker), and it
//! takes calls again as soon as it answers.
//!
//! The sockets and the calls in flight (the [`Core`]) sit in a [`Baton`]: one owner at a time,
//! and the owner is whichever thread needs it. A blocking call that finds the socket free sends
//! its request and polls for its own reply itself, completing any other replies it reads on
//! the way; when it has its reply it lets go, to a thread waiting in line or, when calls are
//! still in flight, to the client's I/O thread. A call that finds the socket taken (another
//! thread is using it) is handed to the owner through the [`Mailbox`] that every owner polls.
//! Callbacks ([`Client::send`]), the pollable [`PendingReply`] and the bindings' futures all
//! sit on this one mechanism.

use crate::baton::{self, Baton, Place, Turn, Waiter};
use crate::discovery::{self, Follower, Side};
use crate::error::{status, Error, Result, ServiceError};
use crate::mailbox::Mailbox;
use crate::msgpack::Value;
use crate::protocol::{self, Address, Message, MessageType};
use crate::socket::{self, Role, SocketOptions};
use std::collections::{BinaryHeap, HashMap};
use std::cmp::Reverse;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Client settings. Defaults follow the original Node client.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The brokers' frontends, e.g. `tcp://127.0.0.1:7777` (one or more).
    pub brokers: Vec<String>,
    /// A registry (`zk://host:2181/zss`) to take the brokers from instead, following them as
    /// they come and go (needs the `registry` feature).
    pub registry: Option<String>,
    /// The service calls go to when a call names none.
    pub sid: Option<String>,
    /// Identity prefix: the socket's identity is `<identity>#<uuid>`.
    pub identity: String,
    /// Per-call timeout unless a call sets its own (default 1000 ms, as the Node client).
    pub timeout: Duration,
    /// Headers sent with every call (a call's own headers are merged over them).
    pub headers: Vec<(String, Value)>,
    /// With several brokers, each is pinged (SMI PING) this often (default 1000 ms)...
    pub heartbeat: Duration,
    /// ...and counts as lost after this many intervals without a word from it (default 3).
    pub lost_after_beats: u32,
    pub socket: SocketOptions,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            brokers: vec!["tcp://127.0.0.1:7777".into()],
            registry: None,
            sid: None,
            identity: "client".into(),
            timeout: Duration::from_millis(1000),
            headers: Vec::new(),
            heartbeat: Duration::from_millis(1000),
            lost_after_beats: 3,
            socket: SocketOptions::default(),
        }
    }
}

impl ClientConfig {
    /// `brokers`: one frontend endpoint, or several separated by commas.
    pub fn new(brokers: impl AsRef<str>) -> Self {
        ClientConfig { brokers: socket::parse_endpoints(brokers.as_ref()), ..Default::default() }
    }
    /// The brokers' frontends (replaces the list).
    pub fn brokers<S: Into<String>>(mut self, endpoints: impl IntoIterator<Item = S>) -> Self {
        self.brokers = endpoints.into_iter().map(Into::into).collect();
        self
    }
    /// Takes the brokers from a registry (`zk://host:2181/zss`) and follows it.
    pub fn registry(mut self, url: impl Into<String>) -> Self {
        self.registry = Some(url.into());
        self
    }
    /// How often each broker is pinged when there are several, and after how many silent
    /// intervals it counts as lost.
    pub fn liveness(mut self, heartbeat: Duration, lost_after_beats: u32) -> Self {
        self.heartbeat = heartbeat;
        self.lost_after_beats = lost_after_beats;
        self
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
    /// How many times the call may be re-sent to another broker when its broker is lost with
    /// it in flight (0, the default: it fails with [`Error::BrokerLost`]). Only for calls that
    /// are safe to run twice: the lost broker may have delivered it already.
    pub retries: u32,
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
    /// See [`Call::retries`].
    pub fn retries(mut self, n: u32) -> Call {
        self.retries = n;
        self
    }
    /// Safe to run twice: re-sent (up to twice) to another broker if its broker is lost.
    pub fn idempotent(self) -> Call {
        self.retries(2)
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

/// Counters a client keeps across its brokers (read with [`Client::stats`]).
#[derive(Debug, Default)]
pub struct ClientStats {
    /// Brokers lost: a dropped connection, or pings left unanswered for the liveness window.
    pub brokers_lost: AtomicU64,
    /// Calls ended with [`Error::BrokerLost`].
    pub calls_lost: AtomicU64,
    /// Calls re-sent to another broker after theirs was lost (idempotent ones, and calls that
    /// never left for a broker that was never reached).
    pub calls_resent: AtomicU64,
}

impl ClientStats {
    /// Every counter as `(name, value)`: the one list the bindings expose.
    pub fn fields(&self) -> [(&'static str, u64); 3] {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [("brokers_lost", g(&self.brokers_lost)), ("calls_lost", g(&self.calls_lost)), ("calls_resent", g(&self.calls_resent))]
    }
}

/// A request ready for the socket.
struct Outgoing {
    rid: String,
    frames: Vec<Vec<u8>>,
    deadline: Instant,
    retries: u32,
}

enum Command {
    Call(Outgoing, Completion),
    /// Replaces the broker list (see [`Client::set_brokers`]).
    SetBrokers(Vec<String>),
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
    /// Several brokers: they are pinged, so the I/O thread looks in while the client is idle.
    pinging: Arc<AtomicBool>,
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
    stats: Arc<ClientStats>,
    closed: AtomicBool,
    identity: String,
    config: ClientConfig,
    io_thread: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// Keeps the broker list following the registry, when there is one.
    follower: Option<Follower>,
}

/// A connection to a broker's frontend. Cheap to clone; all clones share one socket, and the
/// socket closes when the last clone is dropped or [`Client::close`] is called.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl Client {
    /// Connects to `config.brokers`. Connecting is asynchronous in ZeroMQ: calls made before
    /// any broker is reachable wait in a socket's queue until their timeout.
    pub fn connect(config: ClientConfig) -> Result<Client> {
        if config.identity.is_empty() {
            return Err(Error::InvalidArgument("identity prefix must not be empty".into()));
        }
        if config.heartbeat.is_zero() {
            return Err(Error::InvalidArgument("heartbeat must be positive".into()));
        }
        let follower = config.registry.as_deref().map(|url| Follower::start(url, Side::Frontend)).transpose()?;
        let brokers = discovery::initial_brokers(&config.brokers, follower.as_ref())?;
        let identity = protocol::new_identity(&config.identity);
        let mailbox = Arc::new(Mailbox::new()?);
        let attended = Arc::new(AtomicUsize::new(0));
        let mut core = Core {
            brokers: Vec::new(),
            next_broker_id: 0,
            cursor: 0,
            prefix: config.identity.clone(),
            options: config.socket.clone(),
            heartbeat: config.heartbeat,
            lost_after: config.heartbeat * config.lost_after_beats.max(1),
            pinging: Arc::default(),
            stats: Arc::default(),
            mailbox: mailbox.clone(),
            attended: attended.clone(),
            pending: HashMap::new(),
            waiting: Default::default(),
            deadlines: BinaryHeap::new(),
            closing: false,
            auth_failed: None,
        };
        for endpoint in &brokers {
            core.add_broker(endpoint, identity.clone())?;
        }
        let heartbeat = config.heartbeat;
        let io_waiter: Arc<ClientWaiter> = Waiter::new();
        let pinging = core.pinging.clone();
        let stats = core.stats.clone();
        pinging.store(core.brokers.len() > 1, Ordering::Relaxed);
        let link = Arc::new(Link { baton: Baton::new(core, io_waiter.clone()), mailbox, attended, pinging });
        let shared = Arc::new(Shared {
            link: link.clone(),
            stats,
            identity: identity.clone(),
            config,
            closed: Default::default(),
            io_thread: std::sync::Mutex::new(None),
            follower,
        });
        let handle = std::thread::Builder::new()
            .name(format!("zss-client {identity}"))
            .spawn(move || io_thread(&link, &io_waiter, heartbeat))
            .map_err(|e| Error::Socket { context: "spawn client I/O thread".into(), message: e.to_string() })?;
        *shared.io_thread.lock().unwrap() = Some(handle);
        if let Some(follower) = &shared.follower {
            let link = Arc::downgrade(&shared.link);
            follower.attach(move |endpoints| {
                if let Some(link) = link.upgrade().filter(|_| !endpoints.is_empty()) {
                    let _ = link.submit(Command::SetBrokers(endpoints));
                }
            });
        }
        log::debug!("client {identity} connecting to {}", brokers.join(","));
        Ok(Client { shared })
    }

    /// This client's socket identity, `<prefix>#<uuid>`.
    pub fn identity(&self) -> &str {
        &self.shared.identity
    }

    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    pub fn stats(&self) -> &ClientStats {
        &self.shared.stats
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
        Ok(Outgoing { rid, frames, deadline: Instant::now() + timeout, retries: call.retries })
    }

    /// Replaces the brokers this client uses: new ones are connected; one no longer listed
    /// takes no new calls, and goes once its calls in flight are answered. For discovery
    /// (a registry watch); an empty list is ignored.
    pub fn set_brokers(&self, endpoints: Vec<String>) -> Result<()> {
        if endpoints.is_empty() {
            return Ok(());
        }
        self.shared.link.submit(Command::SetBrokers(endpoints)).map_err(|_| Error::Closed)
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

/// The I/O thread: drives the sockets whenever it is handed the baton (calls in flight that no
/// waiting thread will read, queued commands), gives way to any thread that lines up, and
/// closes the sockets at the end. With several brokers it also looks in every half heartbeat,
/// so brokers are pinged while the client is idle.
fn io_thread(link: &Link, me: &Arc<ClientWaiter>, heartbeat: Duration) {
    loop {
        let look_in = link.pinging.load(Ordering::Relaxed).then(|| Instant::now() + heartbeat / 2);
        let mut core = match me.wait(look_in) {
            Turn::Core(core) => core,
            Turn::Closed => return,
            Turn::Value(_) => continue,
            Turn::TimedOut => match link.baton.try_take() {
                Some(core) => core,
                None => continue, // someone else drives it, pings included
            },
        };
        core.turn(Some(Instant::now()));
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
            return; // dropping the core closes the sockets
        }
        link.baton.put(core);
    }
}

struct Pending {
    done: Completion,
    /// The broker it went to; `None` while it waits for a connected broker.
    broker: Option<u32>,
    /// The frames and retries left, kept to re-send the call if its broker is lost (or to
    /// send it at all, while it waits).
    resend: Option<(Vec<Vec<u8>>, u32)>,
}

/// Where a broker stands, as far as this client can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Health {
    /// Answering: takes calls.
    Up,
    /// Connected but not heard from yet (a connection alone proves little), or back from a
    /// loss and warming up: takes calls only while no broker is up.
    Connecting,
    /// Lost: takes calls (once connected again) only while no broker is up or connecting.
    Down,
}

/// The client's link to one broker.
struct Upstream {
    /// Stable while the broker list changes (calls in flight name their broker by it).
    id: u32,
    conn: socket::Connection,
    health: Health,
    /// Back from a loss: it takes calls from then on, when its workers have had a heartbeat
    /// to register again (a restarted broker knows no service at first and would answer 404).
    warm_at: Instant,
    /// The socket completed a handshake. Client sockets queue only on completed connections
    /// (ZMQ_IMMEDIATE), so a call never waits in the queue of a broker that is not there:
    /// with none connected, calls wait in [`Core::waiting`]. (`inproc://` is always connected.)
    connected: bool,
    in_flight: usize,
    /// No longer listed: takes no new calls, goes once `in_flight` is 0.
    retired: bool,
    last_heard: Instant,
    next_ping: Instant,
    /// The rid of the SMI PING waiting for its answer.
    ping: Option<String>,
}

/// The sockets and the calls in flight on them: what the baton's owner drives.
struct Core {
    brokers: Vec<Upstream>,
    next_broker_id: u32,
    /// Round-robin start among equally loaded brokers.
    cursor: usize,
    /// Identity prefix and socket settings, for opening more sockets.
    prefix: String,
    options: SocketOptions,
    heartbeat: Duration,
    lost_after: Duration,
    /// Shared with the I/O thread (see [`Link::pinging`]).
    pinging: Arc<AtomicBool>,
    stats: Arc<ClientStats>,
    mailbox: Arc<Mailbox<Command>>,
    attended: Arc<AtomicUsize>,
    pending: HashMap<String, Pending>,
    /// Calls waiting for a connected broker, oldest first (stale entries, timed out since,
    /// are skipped).
    waiting: std::collections::VecDeque<String>,
    deadlines: BinaryHeap<Reverse<(Instant, String)>>,
    closing: bool,
    /// Once a broker refused our handshake, why: every call fails with it.
    auth_failed: Option<Error>,
}

impl baton::Core for Core {
    fn needs_driver(&self) -> bool {
        // Calls waiting for a connection are sent when one comes: someone must be watching.
        self.closing
            || self.mailbox.has_queued()
            || !self.waiting.is_empty()
            || self.pending.len() > self.attended.load(Ordering::SeqCst)
    }
}

impl Core {
    /// With one broker there is nowhere else to go: no pings (the loss of its connection still
    /// ends the calls on it at once).
    fn pinging(&self) -> bool {
        self.brokers.len() > 1
    }

    fn add_broker(&mut self, endpoint: &str, identity: String) -> Result<()> {
        let conn = socket::Connection::open(Role::Client, endpoint, identity, &self.options)?;
        let now = Instant::now();
        self.next_broker_id += 1;
        self.brokers.push(Upstream {
            id: self.next_broker_id,
            conn,
            health: Health::Connecting,
            warm_at: now,
            connected: socket::is_inproc(endpoint),
            in_flight: 0,
            retired: false,
            last_heard: now,
            next_ping: now,
            ping: None,
        });
        log::debug!("client: broker {endpoint} added");
        Ok(())
    }

    fn set_brokers(&mut self, endpoints: Vec<String>) {
        for b in &mut self.brokers {
            let listed = endpoints.contains(&b.conn.endpoint);
            if b.retired != !listed {
                log::info!("client: broker {} {}", b.conn.endpoint, if listed { "listed again" } else { "no longer listed" });
            }
            b.retired = !listed;
        }
        for endpoint in endpoints {
            if !self.brokers.iter().any(|b| b.conn.endpoint == endpoint) {
                if let Err(e) = self.add_broker(&endpoint, protocol::new_identity(&self.prefix)) {
                    log::error!("client: cannot connect to broker {endpoint}: {e}");
                }
            }
        }
        self.prune();
    }

    /// One turn: waits (at most until `until`, the next call's timeout or the next ping) for a
    /// reply or a command, reads every reply, fires timeouts, pings, and sends what the
    /// mailbox holds.
    fn turn(&mut self, until: Option<Instant>) {
        let mut deadline = self.deadlines.peek().map(|Reverse((d, _))| *d);
        if self.pinging() {
            let next_ping = self.brokers.iter().map(|b| b.next_ping).min();
            deadline = deadline.min(next_ping).or(deadline).or(next_ping);
        }
        if let Some(u) = until {
            deadline = Some(deadline.map_or(u, |d| d.min(u)));
        }
        if self.mailbox.has_queued() {
            deadline = Some(Instant::now());
        }
        let n = self.brokers.len();
        let conns: Vec<&socket::Connection> = self.brokers.iter().map(|b| &b.conn).collect();
        let ready = match socket::wait(&conns, self.mailbox.poll_item(), deadline) {
            Ok(ready) => ready,
            Err(e) => {
                log::error!("client poll failed: {e}; closing");
                self.fail_all(Error::socket("poll", e));
                return;
            }
        };
        for i in 0..n {
            if ready.monitor(i) {
                self.check_link(i);
            }
        }
        for i in 0..n {
            if ready.socket(i) {
                self.receive_all(i);
            }
        }
        let now = Instant::now();
        self.expire(now);
        if self.pinging() {
            self.check_liveness(now);
        }
        self.take_commands(ready.mailbox());
        self.prune();
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
            Command::SetBrokers(endpoints) => self.set_brokers(endpoints),
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

    /// Reads broker `i`'s monitor: a refused handshake fails every call, now and from now on;
    /// a dropped connection loses the broker; a handshake brings it (back) up.
    fn check_link(&mut self, i: usize) {
        let events = self.brokers[i].conn.monitor.check();
        if let Some(reason) = events.refused {
            log::error!("client: authentication failed: {reason}");
            let err = Error::AuthenticationFailed(reason);
            self.deadlines.clear();
            for (_, p) in self.pending.drain() {
                (p.done)(Err(err.clone()));
            }
            for b in &mut self.brokers {
                b.in_flight = 0;
            }
            self.auth_failed = Some(err);
            return;
        }
        if events.lost {
            self.lose(i, "its connection dropped");
        }
        if events.connected {
            // Ask at once whether it answers (a broker come back is up within a round trip).
            self.brokers[i].connected = true;
            self.brokers[i].next_ping = Instant::now();
            self.send_waiting();
        }
    }

    /// Sends the calls that waited for a connected broker.
    fn send_waiting(&mut self) {
        for rid in std::mem::take(&mut self.waiting) {
            let Some(p) = self.pending.remove(&rid) else { continue }; // timed out meanwhile
            match (p.broker, p.resend) {
                (None, Some((frames, retries))) => self.dispatch(rid, frames, retries, p.done, None),
                (broker, resend) => {
                    self.pending.insert(rid, Pending { done: p.done, broker, resend });
                }
            }
        }
    }

    /// A word from broker `i`: it is up.
    fn heard(&mut self, i: usize) {
        let b = &mut self.brokers[i];
        let now = Instant::now();
        b.last_heard = now;
        match b.health {
            Health::Up => {}
            Health::Connecting => b.health = Health::Up,
            Health::Down => {
                log::info!("client: broker {} is back", b.conn.endpoint);
                b.health = Health::Up;
                b.warm_at = now + self.heartbeat;
            }
        }
    }

    /// Pings every broker once per heartbeat; one that has not said a word for the liveness
    /// window while a ping waits is lost.
    fn check_liveness(&mut self, now: Instant) {
        let lost_after = self.lost_after;
        for i in 0..self.brokers.len() {
            let silent = |b: &Upstream| b.health != Health::Down && b.ping.is_some() && now.duration_since(b.last_heard) > lost_after;
            if silent(&self.brokers[i]) {
                // Its answer may have come since the poll (a stalled process, say): read first.
                self.receive_all(i);
                if silent(&self.brokers[i]) {
                    self.lose(i, "it left a ping unanswered");
                }
            }
            let b = &mut self.brokers[i];
            if now >= b.next_ping && b.connected {
                b.next_ping = now + self.heartbeat;
                // A lost broker gets one ping at a time: they would pile up in its queue.
                if b.health != Health::Down || b.ping.is_none() {
                    let rid = protocol::new_rid();
                    let msg = Message::request(rid.clone(), Address::new(protocol::SMI_SID, "PING"), Value::Map(Vec::new()), Value::Nil);
                    let frames = msg.to_frames().expect("SMI PING encodes");
                    match b.conn.socket.send_multipart(frames, zmq::DONTWAIT) {
                        Ok(()) => b.ping = Some(rid),
                        Err(e) => log::debug!("client: ping to {} not sent: {e}", b.conn.endpoint),
                    }
                }
            }
        }
    }

    /// Broker `i` is lost: its calls in flight are re-sent elsewhere (idempotent ones, while
    /// retries last) or end with [`Error::BrokerLost`]; a fresh socket drops whatever it still
    /// queued (never delivered late) and waits for the broker to come back.
    fn lose(&mut self, i: usize, why: &str) {
        let (id, endpoint) = (self.brokers[i].id, self.brokers[i].conn.endpoint.clone());
        if self.brokers[i].health != Health::Down {
            log::warn!("client: broker {endpoint} lost: {why}");
            self.stats.brokers_lost.fetch_add(1, Ordering::Relaxed);
        }
        self.brokers[i].health = Health::Down;
        self.brokers[i].connected = socket::is_inproc(&endpoint);
        self.brokers[i].in_flight = 0;
        self.brokers[i].ping = None;
        self.brokers[i].next_ping = Instant::now();
        if let Err(e) = self.brokers[i].conn.reopen(Role::Client, &self.prefix, &self.options) {
            log::error!("client: cannot reconnect to broker {endpoint}: {e}");
        }
        let lost: Vec<String> = self.pending.iter().filter(|(_, p)| p.broker == Some(id)).map(|(rid, _)| rid.clone()).collect();
        let elsewhere = self.brokers.iter().any(|b| b.id != id && !b.retired);
        for rid in lost {
            let p = self.pending.remove(&rid).expect("listed");
            match p.resend {
                Some((frames, retries)) if retries > 0 && elsewhere => {
                    log::debug!("client: re-sending call {rid} (broker {endpoint} lost)");
                    self.stats.calls_resent.fetch_add(1, Ordering::Relaxed);
                    self.dispatch(rid, frames, retries - 1, p.done, Some(id));
                }
                _ => {
                    self.stats.calls_lost.fetch_add(1, Ordering::Relaxed);
                    (p.done)(Err(Error::BrokerLost(endpoint.clone())))
                }
            }
        }
    }

    /// The broker for a new call: the least loaded connected broker of the best [`Health`]
    /// on offer (ties in turn), never `avoid`. `None` while none is connected.
    fn pick(&mut self, avoid: Option<u32>) -> Option<usize> {
        let n = self.brokers.len();
        if n == 1 {
            let b = &self.brokers[0];
            return (b.connected && !b.retired && avoid != Some(b.id)).then_some(0);
        }
        self.cursor = self.cursor.wrapping_add(1);
        let now = Instant::now();
        let mut best: Option<(usize, (Health, usize))> = None;
        for k in 0..n {
            let i = (self.cursor + k) % n;
            let b = &self.brokers[i];
            if !b.connected || b.retired || avoid == Some(b.id) {
                continue;
            }
            let health = if b.health == Health::Up && now < b.warm_at { Health::Connecting } else { b.health };
            let rank = (health, b.in_flight);
            if best.map_or(true, |(_, r)| rank < r) {
                best = Some((i, rank));
            }
        }
        best.map(|(i, _)| i)
    }

    fn send(&mut self, outgoing: Outgoing, done: Completion) {
        if let Some(e) = &self.auth_failed {
            return done(Err(e.clone()));
        }
        let Outgoing { rid, frames, deadline, retries } = outgoing;
        self.deadlines.push(Reverse((deadline, rid.clone())));
        self.dispatch(rid, frames, retries, done, None);
    }

    /// Sends a call (new, re-sent from a lost broker, or done waiting) and records it in
    /// flight; with no broker connected, it waits (its timeout still holds).
    fn dispatch(&mut self, rid: String, frames: Vec<Vec<u8>>, retries: u32, done: Completion, avoid: Option<u32>) {
        let Some(i) = self.pick(avoid) else {
            self.pending.insert(rid.clone(), Pending { done, broker: None, resend: Some((frames, retries)) });
            self.waiting.push_back(rid);
            return;
        };
        // Frames are kept only to re-send an idempotent call.
        let keep = retries > 0;
        let b = &mut self.brokers[i];
        let (sent, resend) = if keep {
            let sent = b.conn.socket.send_multipart(frames.iter().map(Vec::as_slice), zmq::DONTWAIT);
            (sent, Some((frames, retries)))
        } else {
            (b.conn.socket.send_multipart(frames, zmq::DONTWAIT), None)
        };
        match sent {
            Ok(()) => {
                b.in_flight += 1;
                self.pending.insert(rid, Pending { done, broker: Some(b.id), resend });
            }
            Err(zmq::Error::EAGAIN) => done(Err(Error::Service(ServiceError::with_messages(
                status::SERVICE_UNAVAILABLE,
                status::messages(status::SERVICE_UNAVAILABLE).0,
                "The client's send queue to the broker is full (high-water mark reached), or its connection just dropped.",
            )))),
            Err(e) => done(Err(Error::socket("send request", e))),
        }
    }

    /// Takes a call out of the table, and off its broker's count.
    fn remove(&mut self, rid: &str) -> Option<Pending> {
        let p = self.pending.remove(rid)?;
        if let Some(b) = self.brokers.iter_mut().find(|b| Some(b.id) == p.broker) {
            b.in_flight = b.in_flight.saturating_sub(1);
        }
        Some(p)
    }

    fn receive_all(&mut self, i: usize) {
        loop {
            let frames = match self.brokers[i].conn.socket.recv_multipart(zmq::DONTWAIT) {
                Ok(f) => f,
                Err(zmq::Error::EAGAIN) => break,
                Err(e) => {
                    log::error!("client receive failed: {e}");
                    break;
                }
            };
            self.heard(i);
            match Message::from_frames(&frames) {
                Ok(msg) if msg.kind == MessageType::Rep => {
                    if self.brokers[i].ping.as_deref() == Some(msg.rid.as_str()) {
                        self.brokers[i].ping = None;
                    } else {
                        self.complete(msg);
                    }
                }
                Ok(msg) => log::warn!("client dropped a {:?} message (rid {})", msg.kind, msg.rid),
                Err(e) => {
                    // Without a decodable reply the call cannot be completed with its data; fail
                    // it now if the rid is readable rather than let it time out.
                    log::warn!("client dropped a malformed reply: {e}");
                    let rid = protocol::envelope_offset(&frames)
                        .ok()
                        .and_then(|b| std::str::from_utf8(&frames[b + 2]).ok().map(str::to_owned));
                    if let Some(p) = rid.and_then(|r| self.remove(&r)) {
                        (p.done)(Err(Error::Service(
                            ServiceError::new(status::INTERNAL)
                                .with_field("detail", format!("malformed reply: {e}")),
                        )));
                    }
                }
            }
        }
    }

    /// Drops the brokers no longer listed whose calls are all answered.
    fn prune(&mut self) {
        self.brokers.retain(|b| {
            let gone = b.retired && b.in_flight == 0;
            if gone {
                log::info!("client: broker {} left", b.conn.endpoint);
            }
            !gone
        });
        self.pinging.store(self.pinging(), Ordering::Relaxed);
    }

    fn complete(&mut self, msg: Message) {
        let Some(p) = self.remove(&msg.rid) else {
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
            if let Some(p) = self.remove(&rid) {
                (p.done)(Err(Error::Service(ServiceError::timeout())));
            }
        }
        if !self.waiting.is_empty() {
            let pending = &self.pending;
            self.waiting.retain(|rid| pending.contains_key(rid));
        }
        // Lazy deletion keeps answered calls in the heap until their deadline; compact it when
        // it is mostly stale so memory stays proportional to the calls in flight.
        if self.deadlines.len() > 1024 && self.deadlines.len() > 4 * self.pending.len() {
            let pending = &self.pending;
            self.deadlines.retain(|Reverse((_, rid))| pending.contains_key(rid));
        }
    }
}
