//! The broker registry in ZooKeeper: brokers announce themselves, clients and workers watch the
//! list.
//!
//! Layout under the registry path (`zk://host:2181/zss` → `/zss`):
//!
//! ```text
//! /zss/brokers/<name>-0000000007    ephemeral sequential, one per running broker
//!     name=host1:7777
//!     frontend=tcp://host1:7777
//!     backend=tcp://host1:7776
//! ```
//!
//! The data is `key=value` lines, readable with `zkCli.sh get`; unknown keys are ignored, so
//! fields can be added later. A broker's node lives as long as its ZooKeeper session: a broker
//! that dies disappears after the session timeout (6 s by default), one that stops deletes its
//! node at once.
//!
//! zookeeper-client is async. Each [`Registration`] and [`BrokerWatch`] owns a thread running
//! a current-thread tokio runtime that drives its session; the API here is synchronous like
//! the rest of zss.

use crate::error::{Error, Result};
use futures::channel::oneshot;
use futures::future::Either;
use std::fmt;
use std::future::Future;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use zookeeper_client as zk;

const DEFAULT_PATH: &str = "/zss";
const DEFAULT_PORT: u16 = 2181;
const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(6);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long stopping waits for ZooKeeper (deleting our node, closing the session).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(2);

/// Where the registry lives: `zk://host1:2181,host2:2181/zss` (the path defaults to `/zss`, a
/// host's port to 2181).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryUrl {
    hosts: Vec<String>,
    path: String,
    session_timeout: Duration,
    connect_timeout: Duration,
}

impl RegistryUrl {
    pub fn parse(url: &str) -> Result<RegistryUrl> {
        let bad = |why: &str| {
            Error::InvalidArgument(format!(
                "registry URL {url:?}: {why} (expected zk://HOST[:PORT][,HOST[:PORT]...][/PATH])"
            ))
        };
        let rest = url.strip_prefix("zk://").ok_or_else(|| bad("not a zk:// URL"))?;
        let (hosts, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let hosts = hosts.split(',').map(parse_host).collect::<std::result::Result<Vec<_>, _>>().map_err(|why| bad(&why))?;
        let path = path.trim_end_matches('/');
        let path = if path.is_empty() { DEFAULT_PATH } else { path };
        for part in path[1..].split('/') {
            if part.is_empty() || part == "." || part == ".." || part.chars().any(|c| c.is_control() || "?#".contains(c)) {
                return Err(bad(&format!("bad path component {part:?}")));
            }
        }
        Ok(RegistryUrl {
            hosts,
            path: path.to_owned(),
            session_timeout: DEFAULT_SESSION_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        })
    }

    /// The ZooKeeper servers, `host:port` each.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The registry's root node, e.g. `/zss`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The ZooKeeper session timeout to ask for (default 6 s; the server bounds it to 2–20
    /// ticks). A registered broker that dies without stopping is listed this long.
    pub fn session_timeout(mut self, timeout: Duration) -> RegistryUrl {
        self.session_timeout = timeout;
        self
    }

    /// How long [`register_broker`] and [`watch_brokers`] wait for ZooKeeper before failing
    /// (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> RegistryUrl {
        self.connect_timeout = timeout;
        self
    }

    /// The node the brokers register under: `<path>/brokers`.
    pub fn brokers_path(&self) -> String {
        format!("{}/brokers", self.path)
    }

    /// The node service instances register under: `<path>/services` (then `<sid>/`).
    pub fn services_path(&self) -> String {
        format!("{}/services", self.path)
    }

    fn connect_string(&self) -> String {
        self.hosts.join(",")
    }
}

impl fmt::Display for RegistryUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "zk://{}{}", self.connect_string(), self.path)
    }
}

/// `host[:port]` or `[v6][:port]` → `host:port`.
fn parse_host(s: &str) -> std::result::Result<String, String> {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| format!("unclosed '[' in {s:?}"))?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or_else(|| format!("bad host {s:?}"))?)),
        }
    } else {
        match s.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control() || "/?#@[]".contains(c)) {
        return Err(format!("bad host {s:?}"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(|| format!("bad port in {s:?}"))?,
    };
    Ok(if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") })
}

/// A broker as the registry lists it: a name for people and logs, and the endpoints clients
/// (`frontend`) and workers (`backend`) connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerEntry {
    pub name: String,
    pub frontend: String,
    pub backend: String,
}

impl BrokerEntry {
    pub fn new(name: impl Into<String>, frontend: impl Into<String>, backend: impl Into<String>) -> BrokerEntry {
        BrokerEntry { name: name.into(), frontend: frontend.into(), backend: backend.into() }
    }

    /// The entry for a broker bound to `frontend` and `backend`, as other machines reach it: a
    /// wildcard host (`*`, `0.0.0.0`, `::`) is replaced by `host` (default: this machine's
    /// hostname). Named `host:frontend-port`.
    pub fn advertise(frontend: &str, backend: &str, host: Option<&str>) -> BrokerEntry {
        let host = host.map(str::to_owned).unwrap_or_else(hostname);
        let name = match frontend.rsplit_once(':') {
            Some((_, port)) if port.parse::<u16>().is_ok() => format!("{host}:{port}"),
            _ => host.clone(),
        };
        BrokerEntry::new(name, advertised_endpoint(frontend, &host), advertised_endpoint(backend, &host))
    }

    fn fields(&self) -> [(&'static str, &str); 3] {
        [("name", &self.name), ("frontend", &self.frontend), ("backend", &self.backend)]
    }

    /// Reads node data; `None` without a frontend and a backend. The name defaults to the
    /// node's.
    fn from_data(node: &str, data: &[u8]) -> Option<BrokerEntry> {
        let text = std::str::from_utf8(data).ok()?;
        let name = text_field(text, "name").unwrap_or(node);
        Some(BrokerEntry::new(name, text_field(text, "frontend")?, text_field(text, "backend")?))
    }
}

/// A service instance as the registry lists it: a worker (`identity`) serving `sid` through
/// the broker whose backend is `broker`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    pub sid: String,
    pub identity: String,
    pub broker: String,
}

impl ServiceEntry {
    fn fields(&self) -> [(&'static str, &str); 3] {
        [("sid", &self.sid), ("identity", &self.identity), ("broker", &self.broker)]
    }

    fn from_data(data: &[u8]) -> Option<ServiceEntry> {
        let text = std::str::from_utf8(data).ok()?;
        let field = |key| text_field(text, key).map(str::to_owned);
        Some(ServiceEntry { sid: field("sid")?, identity: field("identity")?, broker: field("broker")? })
    }
}

/// Node data: one `key=value` line per field (readable with `zkCli.sh get`). Checks the fields
/// first: no line breaks, none empty but those in `optional`.
fn to_text(what: &str, fields: &[(&str, &str)], optional: &[&str]) -> Result<Vec<u8>> {
    for (key, value) in fields {
        if value.contains(['\n', '\r']) {
            return Err(Error::InvalidArgument(format!("{what}: {key} {value:?} has a line break")));
        }
        if value.is_empty() && !optional.contains(key) {
            return Err(Error::InvalidArgument(format!("{what}: empty {key}")));
        }
    }
    Ok(fields.iter().map(|(k, v)| format!("{k}={v}\n")).collect::<String>().into_bytes())
}

/// The value of `key` in node data; `None` if missing or empty. Unknown keys are ignored, so
/// fields can be added.
fn text_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().filter_map(|line| line.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
}

/// `name` as a node name: what a node name cannot hold replaced (`fallback` if nothing is left).
fn node_name(name: &str, fallback: &str) -> String {
    let clean: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || ".:_".contains(c) { c } else { '_' }).collect();
    if clean.is_empty() || clean == "." || clean == ".." { fallback.into() } else { clean }
}

/// `endpoint` as other machines reach it: a `tcp://` endpoint on a wildcard host (`*`,
/// `0.0.0.0`, `::`) gets `host` instead; anything else is returned as it is.
pub fn advertised_endpoint(endpoint: &str, host: &str) -> String {
    let Some((bound, port)) = endpoint.strip_prefix("tcp://").and_then(|rest| rest.rsplit_once(':')) else {
        return endpoint.to_owned();
    };
    match bound {
        "*" | "0.0.0.0" | "::" | "[::]" | "[*]" => {
            let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_owned() };
            format!("tcp://{host}:{port}")
        }
        _ => endpoint.to_owned(),
    }
}

/// This machine's hostname (`localhost` if it has none).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its length; gethostname NUL-terminates within it or
    // truncates, and we stop at the first NUL or the end.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..len]) {
        Ok(name) if rc == 0 && !name.is_empty() => name.to_owned(),
        _ => "localhost".to_owned(),
    }
}

/// A node in the registry (a broker's, a service instance's), kept while this value lives
/// (re-created if its session expires or someone deletes it); dropping it deletes the node
/// before returning.
pub struct Registration {
    node: Arc<Mutex<Option<String>>>,
    _background: Background,
}

impl Registration {
    /// The node's path now, e.g. `/zss/brokers/host1:7777-0000000003` (`None` while it is
    /// being re-created after a lost session).
    pub fn node(&self) -> Option<String> {
        self.node.lock().unwrap().clone()
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration").field("node", &self.node()).finish()
    }
}

/// Registers a broker as an ephemeral sequential node under `<path>/brokers`. Returns once the
/// node exists; fails after the URL's connect timeout (5 s) if ZooKeeper cannot be reached.
pub fn register_broker(url: &RegistryUrl, entry: BrokerEntry) -> Result<Registration> {
    let data = to_text("broker entry", &entry.fields(), &["name"])?;
    let prefix = format!("{}/{}-", url.brokers_path(), node_name(&entry.name, "broker"));
    let registration = register(url, "register broker", prefix, data)?;
    log::info!(
        "broker {} ({} / {}) registered in {url}: {}",
        entry.name,
        entry.frontend,
        entry.backend,
        registration.node().unwrap_or_default()
    );
    Ok(registration)
}

/// Publishes a service instance: worker `identity` serves `sid` through the broker whose
/// backend is `broker`, as an ephemeral sequential node under `<path>/services/<sid>`. Kept
/// like a broker's (see [`register_broker`]); [`list_services`] reads them.
pub fn register_service(url: &RegistryUrl, sid: &str, identity: &str, broker: &str) -> Result<Registration> {
    let entry = ServiceEntry { sid: sid.into(), identity: identity.into(), broker: broker.into() };
    let data = to_text("service entry", &entry.fields(), &[])?;
    let prefix = format!("{}/{}/{}-", url.services_path(), node_name(sid, "_"), node_name(identity, "worker"));
    register(url, "register service", prefix, data)
}

/// Every service instance registered now, sorted by sid, identity and broker (one ZooKeeper
/// read, no watch). Fails after the URL's connect timeout if ZooKeeper cannot be reached.
pub fn list_services(url: &RegistryUrl) -> Result<Vec<ServiceEntry>> {
    let runtime = runtime("list services")?;
    runtime.block_on(async {
        // Nobody stops a one-shot read: the sender lives until it is done.
        let (_never, stop) = oneshot::channel();
        let deadline = Instant::now() + url.connect_timeout;
        let client = connect(url, Some(deadline), &mut Stop(Some(stop))).await.expect("never stopped")?;
        let read = tokio::time::timeout(url.connect_timeout, read_services(&client, &url.services_path())).await;
        close(client).await;
        match read {
            Ok(Ok(services)) => Ok(services),
            Ok(Err(e)) => Err(registry_error(format!("list services in {url}"), e)),
            Err(_) => Err(registry_error(format!("list services in {url}"), "no answer in time")),
        }
    })
}

async fn read_services(client: &zk::Client, dir: &str) -> std::result::Result<Vec<ServiceEntry>, zk::Error> {
    let sids = match client.list_children(dir).await {
        Err(zk::Error::NoNode) => return Ok(Vec::new()),
        listed => listed?,
    };
    let mut services = Vec::new();
    for sid in sids {
        let sid_dir = format!("{dir}/{sid}");
        let instances = match client.list_children(&sid_dir).await {
            Err(zk::Error::NoNode) => continue,
            listed => listed?,
        };
        for (node, data) in read_data(client, &sid_dir, instances).await? {
            match ServiceEntry::from_data(&data) {
                Some(entry) => services.push(entry),
                None => log::warn!("{sid_dir}/{node} is not a service entry; ignored"),
            }
        }
    }
    services.sort_by(|a, b| (&a.sid, &a.identity, &a.broker).cmp(&(&b.sid, &b.identity, &b.broker)));
    Ok(services)
}

/// An ephemeral sequential node `prefix<sequence>` holding `data`, kept in the background.
fn register(url: &RegistryUrl, what: &str, prefix: String, data: Vec<u8>) -> Result<Registration> {
    let node = Arc::new(Mutex::new(None));
    let background = Background::start(url, what, Registrar { prefix, data, node: node.clone() })?;
    Ok(Registration { node, _background: background })
}

/// Watches the registered brokers: calls `on_change` (on the watch's own thread) with the full
/// list, in registration order, once before returning and then each time it changes
/// (ZooKeeper watches, no polling). If ZooKeeper becomes unreachable the watch keeps retrying
/// and reports nothing (the brokers known stay usable); once it is back it reports the list
/// then current. Fails after the URL's connect timeout (5 s) if ZooKeeper cannot be reached at
/// start. Dropping the watch stops it (and `on_change` is not called after that).
pub fn watch_brokers(url: &RegistryUrl, on_change: Box<dyn FnMut(Vec<BrokerEntry>) + Send>) -> Result<BrokerWatch> {
    let task = Watcher { dir: url.brokers_path(), on_change, last: None };
    let background = Background::start(url, "watch brokers", task)?;
    Ok(BrokerWatch { _background: background })
}

/// A running [`watch_brokers`]; dropping it stops the watch.
pub struct BrokerWatch {
    _background: Background,
}

impl fmt::Debug for BrokerWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BrokerWatch")
    }
}

/// Tells the starting caller how the start went: `Ok` once the task is established.
type Ready = Option<mpsc::Sender<Result<()>>>;

fn report(ready: &mut Ready, result: Result<()>) {
    if let Some(tx) = ready.take() {
        let _ = tx.send(result);
    }
}

/// A current-thread tokio runtime on a thread of its own, running one task until dropped.
struct Background {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Background {
    /// Starts running sessions for `work` and waits until it reports ready (or fails), at
    /// most the connect timeout and a little more.
    fn start(url: &RegistryUrl, what: &str, work: impl SessionWork + Send + 'static) -> Result<Background> {
        let runtime = runtime(what)?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let task_url = url.clone();
        let thread = thread::Builder::new()
            .name("zss-registry".into())
            .spawn(move || runtime.block_on(run_sessions(task_url, Some(ready_tx), Stop(Some(stop_rx)), work)))
            .map_err(|e| registry_error(format!("{what}: spawn a thread"), e))?;
        let background = Background { stop: Some(stop_tx), thread: Some(thread) };
        match ready_rx.recv_timeout(url.connect_timeout + Duration::from_secs(1)) {
            Ok(Ok(())) => Ok(background),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(registry_error(
                format!("{what} at {url}"),
                format!("ZooKeeper did not answer within {:?}", url.connect_timeout),
            )),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // Dropped from its own callback: it ends by itself once the callback returns.
            if thread.thread().id() != thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

/// The small runtime zookeeper-client runs on (its I/O is async-io's; tokio spawns and times).
fn runtime(what: &str) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| registry_error(format!("{what}: start a runtime"), e))
}

/// The stop signal, checked at every wait of a background task.
struct Stop(Option<oneshot::Receiver<()>>);

impl Stop {
    /// `fut`'s output, or `None` if stopping was asked for first (or before).
    async fn or<T>(&mut self, fut: impl Future<Output = T>) -> Option<T> {
        let rx = self.0.as_mut()?;
        let out = match futures::future::select(std::pin::pin!(fut), rx).await {
            Either::Left((out, _)) => Some(out),
            Either::Right(_) => None,
        };
        if out.is_none() {
            self.0 = None;
        }
        out
    }
}

/// Retry delays: 100 ms doubling up to a cap (2 s), back to 100 ms after a success.
struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff::up_to(MAX_RETRY)
    }
    fn up_to(cap: Duration) -> Backoff {
        Backoff { next: FIRST_RETRY.min(cap), cap }
    }
    fn reset(&mut self) {
        self.next = FIRST_RETRY.min(self.cap);
    }
    /// Waits the next delay; `false` if stopped meanwhile.
    async fn wait(&mut self, stop: &mut Stop) -> bool {
        let delay = self.next;
        self.next = (self.next * 2).min(self.cap);
        stop.or(tokio::time::sleep(delay)).await.is_some()
    }
}

/// How a session's work ended.
enum Ended {
    /// Stopped, or failed at start: clean up and end the task.
    Stop,
    /// The session is over (expired): start a new one.
    SessionLost,
}

fn registry_error(context: impl fmt::Display, e: impl fmt::Display) -> Error {
    Error::Socket { context: format!("registry: {context}"), message: e.to_string() }
}

/// After a failed request in a session: `None` to try again (once the backoff has passed),
/// else how the session's work ends: the session is over, stopped, or (at start) an error that
/// retrying will not cure, reported to the caller.
async fn after_failure(
    failure: zk::Error,
    what: impl Fn() -> String,
    client: &zk::Client,
    ready: &mut Ready,
    stop: &mut Stop,
    backoff: &mut Backoff,
) -> Option<Ended> {
    if client.state().is_terminated() {
        return Some(Ended::SessionLost);
    }
    if ready.is_some() && !transient(&failure) {
        report(ready, Err(registry_error(what(), &failure)));
        return Some(Ended::Stop);
    }
    log::debug!("{}: {failure}; retrying", what());
    if !backoff.wait(stop).await {
        return Some(Ended::Stop);
    }
    None
}

/// Errors worth retrying: ZooKeeper unreachable or busy, the session lost.
fn transient(e: &zk::Error) -> bool {
    use zk::Error::*;
    matches!(e, ConnectionLoss | SessionExpired | SessionMoved | Timeout | NoHosts | Throttled | ClientClosed)
}

const PERSISTENT: zk::CreateOptions<'static> = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
const EPHEMERAL_SEQUENTIAL: zk::CreateOptions<'static> =
    zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());

/// A new session. With `deadline`, gives up then (the error for the caller); without, retries
/// until it works or stop (`None`).
async fn connect(url: &RegistryUrl, deadline: Option<Instant>, stop: &mut Stop) -> Option<Result<zk::Client>> {
    let hosts = url.connect_string();
    // Several tries per session timeout: once ZooKeeper is back, a broker whose session was
    // lost registers again before ZooKeeper drops its old node, so watches never see it gone.
    let mut backoff = Backoff::up_to(MAX_RETRY.min(url.session_timeout / 4));
    let mut warned = false;
    loop {
        let attempt_bound = deadline.map_or(url.connect_timeout, |d| d.saturating_duration_since(Instant::now()));
        let connector = zk::Client::connector().with_session_timeout(url.session_timeout).with_fail_eagerly();
        let error = match stop.or(tokio::time::timeout(attempt_bound, connector.connect(&hosts))).await? {
            Ok(Ok(client)) => {
                log::debug!("session {} with {hosts}", client.session_id());
                return Some(Ok(client));
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no session within {attempt_bound:?}"),
        };
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Err(registry_error(format!("connect to ZooKeeper at {hosts}"), error)));
        }
        if deadline.is_none() && !warned {
            log::warn!("ZooKeeper at {hosts} unreachable ({error}); retrying");
            warned = true;
        }
        if !backoff.wait(stop).await {
            return None;
        }
    }
}

/// Closes a session (deleting its ephemeral nodes) and waits, bounded, for ZooKeeper to
/// confirm.
async fn close(client: zk::Client) {
    let mut state = client.state_watcher();
    drop(client);
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        while !state.peek_state().is_terminated() {
            state.changed().await;
        }
    })
    .await;
}

/// What a background task does with each ZooKeeper session it gets.
trait SessionWork {
    /// Works in `client`'s session until stopped or the session is lost; reports through
    /// `ready` once established (or failed at start).
    async fn work(&mut self, client: &zk::Client, ready: &mut Ready, stop: &mut Stop) -> Ended;
}

/// Runs sessions one after another until stopped: the first connects by the deadline or fails
/// the start; later ones retry for as long as it takes.
async fn run_sessions(url: RegistryUrl, mut ready: Ready, mut stop: Stop, mut work: impl SessionWork) {
    loop {
        let deadline = ready.is_some().then(|| Instant::now() + url.connect_timeout);
        let client = match connect(&url, deadline, &mut stop).await {
            None => return,
            Some(Ok(client)) => client,
            Some(Err(e)) => return report(&mut ready, Err(e)),
        };
        let ended = work.work(&client, &mut ready, &mut stop).await;
        close(client).await;
        if let Ended::Stop = ended {
            return;
        }
        log::warn!("ZooKeeper session lost; starting a new one");
    }
}

/// The background side of a [`Registration`].
struct Registrar {
    /// `<path>/brokers/<name>-`: ZooKeeper appends the sequence number.
    prefix: String,
    data: Vec<u8>,
    node: Arc<Mutex<Option<String>>>,
}

impl SessionWork for Registrar {
    /// Keeps our node in this session: creates it, watches it, re-creates it if deleted; on
    /// stop deletes it.
    async fn work(&mut self, client: &zk::Client, ready: &mut Ready, stop: &mut Stop) -> Ended {
        let ended = self.hold_node(client, ready, stop).await;
        let node = self.node.lock().unwrap().take();
        if let (Ended::Stop, Some(node)) = (&ended, node) {
            match tokio::time::timeout(CLOSE_TIMEOUT, client.delete(&node, None)).await {
                Ok(Ok(())) | Ok(Err(zk::Error::NoNode)) => log::info!("removed {node}"),
                Ok(Err(e)) => log::warn!("could not remove {node}: {e} (its session's end will)"),
                Err(_) => log::warn!("ZooKeeper did not confirm removing {node} (its session's end will)"),
            }
        }
        ended
    }
}

impl Registrar {
    async fn hold_node(&self, client: &zk::Client, ready: &mut Ready, stop: &mut Stop) -> Ended {
        let mut backoff = Backoff::new();
        // After a failed create, look for the node it may have made before creating another.
        let mut created_maybe = false;
        loop {
            let current = self.node.lock().unwrap().clone();
            let failure = match current {
                None => match stop.or(self.create(client, created_maybe)).await {
                    None => return Ended::Stop,
                    Some(Ok(path)) => {
                        if ready.is_none() {
                            log::info!("registered again as {path}");
                        }
                        *self.node.lock().unwrap() = Some(path);
                        report(ready, Ok(()));
                        backoff.reset();
                        continue;
                    }
                    Some(Err(e)) => {
                        created_maybe = true;
                        e
                    }
                },
                Some(path) => match stop.or(client.check_and_watch_stat(&path)).await {
                    None => return Ended::Stop,
                    Some(Ok((Some(_), watcher))) => match stop.or(watcher.changed()).await {
                        None => return Ended::Stop,
                        Some(event) => {
                            if event.event_type == zk::EventType::NodeDeleted {
                                log::warn!("{path} was deleted; registering again");
                                *self.node.lock().unwrap() = None;
                                created_maybe = false;
                            }
                            continue;
                        }
                    },
                    Some(Ok((None, _))) => {
                        log::warn!("{path} is gone; registering again");
                        *self.node.lock().unwrap() = None;
                        continue;
                    }
                    Some(Err(e)) => e,
                },
            };
            let what = || format!("create {}…", self.prefix);
            if let Some(ended) = after_failure(failure, what, client, ready, stop, &mut backoff).await {
                return ended;
            }
        }
    }

    /// Creates our node (the parents too), or finds the one an earlier attempt in this session
    /// created before its answer was lost.
    async fn create(&self, client: &zk::Client, created_maybe: bool) -> std::result::Result<String, zk::Error> {
        let (dir, name) = self.prefix.rsplit_once('/').expect("the prefix is a path");
        if created_maybe {
            let own = client.session_id().0;
            for child in client.list_children(dir).await? {
                let path = format!("{dir}/{child}");
                if child.starts_with(name) {
                    if let Some(stat) = client.check_stat(&path).await? {
                        if stat.ephemeral_owner == own {
                            return Ok(path);
                        }
                    }
                }
            }
        }
        let created = match client.create(&self.prefix, &self.data, &EPHEMERAL_SEQUENTIAL).await {
            Err(zk::Error::NoNode) => {
                client.mkdir(dir, &PERSISTENT).await?;
                client.create(&self.prefix, &self.data, &EPHEMERAL_SEQUENTIAL).await
            }
            created => created,
        };
        created.map(|(_, sequence)| format!("{}{sequence}", self.prefix))
    }
}

/// The background side of a [`BrokerWatch`].
struct Watcher {
    dir: String,
    on_change: Box<dyn FnMut(Vec<BrokerEntry>) + Send>,
    /// The list last reported.
    last: Option<Vec<BrokerEntry>>,
}

impl SessionWork for Watcher {
    /// Lists the brokers with a watch, reports, waits for the watch to fire, again; in a new
    /// session the first list is reported even if unchanged.
    async fn work(&mut self, client: &zk::Client, ready: &mut Ready, stop: &mut Stop) -> Ended {
        let mut backoff = Backoff::new();
        let mut fresh = true;
        loop {
            let failure = match stop.or(list_brokers(client, &self.dir)).await {
                None => return Ended::Stop,
                Some(Ok((entries, watcher))) => {
                    if fresh || self.last.as_ref() != Some(&entries) {
                        self.report(entries);
                    }
                    fresh = false;
                    report(ready, Ok(()));
                    backoff.reset();
                    match stop.or(watcher.changed()).await {
                        None => return Ended::Stop,
                        Some(event) if event.event_type == zk::EventType::Session && event.session_state.is_terminated() => {
                            return Ended::SessionLost;
                        }
                        Some(_) => continue,
                    }
                }
                Some(Err(e)) => e,
            };
            let what = || format!("list {}", self.dir);
            if let Some(ended) = after_failure(failure, what, client, ready, stop, &mut backoff).await {
                return ended;
            }
        }
    }
}

impl Watcher {
    fn report(&mut self, entries: Vec<BrokerEntry>) {
        self.last = Some(entries.clone());
        let on_change = &mut self.on_change;
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| on_change(entries))).is_err() {
            log::error!("the broker watch's callback panicked");
        }
    }
}

/// The brokers under `dir` in registration order (one entry per frontend/backend pair), and a
/// watch on the list. Creates `dir` if missing.
async fn list_brokers(client: &zk::Client, dir: &str) -> std::result::Result<(Vec<BrokerEntry>, zk::OneshotWatcher), zk::Error> {
    let (children, watcher) = match client.list_and_watch_children(dir).await {
        Err(zk::Error::NoNode) => {
            client.mkdir(dir, &PERSISTENT).await?;
            client.list_and_watch_children(dir).await?
        }
        listed => listed?,
    };
    let mut found = Vec::new();
    for (child, data) in read_data(client, dir, children).await? {
        match BrokerEntry::from_data(&child, &data) {
            Some(entry) => found.push((sequence(&child), entry)),
            None => log::warn!("{dir}/{child} is not a broker entry; ignored"),
        }
    }
    found.sort_by_key(|(seq, _)| *seq);
    let mut entries: Vec<BrokerEntry> = Vec::with_capacity(found.len());
    for (_, entry) in found {
        // A broker re-registered after a lost session can be listed twice until the old
        // session expires.
        if !entries.iter().any(|e| e.frontend == entry.frontend && e.backend == entry.backend) {
            entries.push(entry);
        }
    }
    Ok((entries, watcher))
}

/// The data of `dir`'s `children`, read all at once; a child gone since its listing is left
/// out (a watch on the listing fires for it).
async fn read_data(
    client: &zk::Client,
    dir: &str,
    children: Vec<String>,
) -> std::result::Result<Vec<(String, Vec<u8>)>, zk::Error> {
    let reads: Vec<_> = children.iter().map(|child| client.get_data(&format!("{dir}/{child}"))).collect();
    let mut found = Vec::with_capacity(children.len());
    for (child, read) in children.into_iter().zip(futures::future::join_all(reads).await) {
        match read {
            Ok((data, _)) => found.push((child, data)),
            Err(zk::Error::NoNode) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

/// The sequence number ZooKeeper appended to a node name (`u64::MAX` if none).
fn sequence(node: &str) -> u64 {
    node.rsplit_once('-').and_then(|(_, seq)| seq.parse().ok()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let url = RegistryUrl::parse("zk://a:2181,b:2182/zss/prod").unwrap();
        assert_eq!(url.hosts(), ["a:2181", "b:2182"]);
        assert_eq!(url.path(), "/zss/prod");
        assert_eq!(url.brokers_path(), "/zss/prod/brokers");
        assert_eq!(url.to_string(), "zk://a:2181,b:2182/zss/prod");
        for (text, hosts, path) in [
            ("zk://a", &["a:2181"][..], "/zss"),
            ("zk://a:1/", &["a:1"][..], "/zss"),
            ("zk://[::1]:2000,[fe80::1]/x/", &["[::1]:2000", "[fe80::1]:2181"][..], "/x"),
        ] {
            let url = RegistryUrl::parse(text).unwrap();
            assert_eq!(url.hosts(), hosts, "{text}");
            assert_eq!(url.path(), path, "{text}");
        }
        for bad in ["", "a:2181", "http://a/zss", "zk://", "zk:///zss", "zk://a:x", "zk://a:0", "zk://a:99999", "zk://a,/z", "zk://a//z", "zk://a/z/../y", "zk://a b:1", "zk://[::1/z"] {
            match RegistryUrl::parse(bad) {
                Err(Error::InvalidArgument(msg)) => assert!(msg.contains("registry URL"), "{msg}"),
                other => panic!("{bad:?} parsed: {other:?}"),
            }
        }
    }

    #[test]
    fn entries_round_trip_through_node_data() {
        let entry = BrokerEntry::new("h:7777", "tcp://h:7777", "tcp://h:7776");
        let data = to_text("broker entry", &entry.fields(), &["name"]).unwrap();
        assert_eq!(std::str::from_utf8(&data).unwrap(), "name=h:7777\nfrontend=tcp://h:7777\nbackend=tcp://h:7776\n");
        assert_eq!(BrokerEntry::from_data("n-1", &data), Some(entry));
        let unnamed = BrokerEntry::from_data("n-1", b"backend=tcp://b:2\nextra=1\nfrontend=tcp://a:1").unwrap();
        assert_eq!(unnamed, BrokerEntry::new("n-1", "tcp://a:1", "tcp://b:2"));
        assert_eq!(BrokerEntry::from_data("n", b"frontend=tcp://a:1\n"), None);
        assert_eq!(BrokerEntry::from_data("n", &[0xff, 0xfe]), None);
        assert!(to_text("e", &BrokerEntry::new("x", "tcp://a:1\nbackend=evil", "tcp://b:2").fields(), &[]).is_err());
        assert!(to_text("e", &BrokerEntry::new("x", "", "tcp://b:2").fields(), &[]).is_err());
        assert!(to_text("e", &BrokerEntry::new("", "a", "b").fields(), &["name"]).is_ok());
        assert_eq!(node_name("a/b c", "broker"), "a_b_c");
        assert_eq!(node_name("", "broker"), "broker");
        let service = ServiceEntry { sid: "pong".into(), identity: "w-1".into(), broker: "tcp://h:7776".into() };
        let data = to_text("service entry", &service.fields(), &[]).unwrap();
        assert_eq!(ServiceEntry::from_data(&data), Some(service));
        assert_eq!(ServiceEntry::from_data(b"sid=pong\nbroker=tcp://h:1\n"), None);
        assert_eq!(sequence("h:7777-0000000042"), 42);
    }

    #[test]
    fn wildcards_are_advertised_as_the_host() {
        assert_eq!(advertised_endpoint("tcp://0.0.0.0:7777", "h1"), "tcp://h1:7777");
        assert_eq!(advertised_endpoint("tcp://*:7777", "h1"), "tcp://h1:7777");
        assert_eq!(advertised_endpoint("tcp://[::]:7777", "::1"), "tcp://[::1]:7777");
        assert_eq!(advertised_endpoint("tcp://10.0.0.5:7777", "h1"), "tcp://10.0.0.5:7777");
        assert_eq!(advertised_endpoint("ipc:///tmp/b", "h1"), "ipc:///tmp/b");
        let entry = BrokerEntry::advertise("tcp://0.0.0.0:7777", "tcp://0.0.0.0:7776", Some("h1"));
        assert_eq!(entry, BrokerEntry::new("h1:7777", "tcp://h1:7777", "tcp://h1:7776"));
        let here = BrokerEntry::advertise("tcp://*:1", "tcp://*:2", None);
        assert_eq!(here.frontend, format!("tcp://{}:1", hostname()));
    }
}
