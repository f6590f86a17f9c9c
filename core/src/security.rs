//! Transport security: CURVE keys, the broker's allow list (ZAP) and the handshake monitor.
//!
//! Keys are Z85 text (40 characters for 32 bytes), as libzmq writes them. A key that does not
//! parse is an error where it is loaded: there is no silent fallback to plaintext.
//!
//! Authentication is ZeroMQ's own: a ZAP handler (one per process, on its own thread, bound to
//! `inproc://zeromq.zap.01`) answers the handshakes of every CURVE socket that names a ZAP
//! domain. Each broker registers its allow list under its own domains (one per socket), so
//! several brokers in one process each keep their own list. An accepted handshake gets the
//! peer's Z85 public key as its ZAP User-Id; the broker reads it from every message
//! ([`user_id`]) to apply the per-service permissions.

use crate::error::{Error, Result};
use once_cell::sync::Lazy;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// A 32-byte CURVE key.
pub type Key = [u8; 32];

/// Parses a Z85 key (surrounding whitespace ignored).
pub fn parse_key(text: &str) -> Result<Key> {
    let t = text.trim();
    if t.len() != 40 {
        return Err(Error::InvalidArgument(format!(
            "a CURVE key is 40 Z85 characters, this one has {} ({})",
            t.len(),
            preview(t)
        )));
    }
    // Not `zmq::z85_decode`: it leaks its C string (found by the C tests under valgrind).
    let text = std::ffi::CString::new(t).map_err(|_| Error::InvalidArgument("a key must not contain NUL".into()))?;
    let mut key = [0u8; 32];
    // SAFETY: `text` is 40 characters and NUL-terminated; 40 Z85 characters decode to 32 bytes.
    let ok = unsafe { !zmq_sys::zmq_z85_decode(key.as_mut_ptr(), text.as_ptr() as *mut _).is_null() };
    if !ok {
        return Err(Error::InvalidArgument(format!("not a Z85 key: {}", preview(t))));
    }
    Ok(key)
}

fn preview(t: &str) -> String {
    // Never echo a whole (possibly secret) key into a log.
    let head: String = t.chars().take(6).collect();
    format!("starting {head:?}")
}

/// Z85 text of a key.
pub fn z85(key: &Key) -> String {
    let mut out = [0u8; 41];
    // SAFETY: 32 bytes encode to 40 characters plus a NUL, which `out` holds.
    unsafe { zmq_sys::zmq_z85_encode(out.as_mut_ptr() as *mut _, key.as_ptr(), 32) };
    String::from_utf8_lossy(&out[..40]).into_owned()
}

/// Reads a key from `spec`: `env:NAME` (an environment variable), a file that exists (its
/// first non-comment line), or the Z85 text itself.
pub fn load_key(spec: &str) -> Result<Key> {
    if let Some(var) = spec.strip_prefix("env:") {
        let v = std::env::var(var).map_err(|_| Error::InvalidArgument(format!("environment variable {var} is not set")))?;
        return parse_key(&v).map_err(|e| Error::InvalidArgument(format!("${var}: {e}")));
    }
    let path = std::path::Path::new(spec);
    if path.is_file() {
        return key_from_file(path);
    }
    // `e` shows only the start of `spec`: a mistyped secret key must not land in a log whole.
    parse_key(spec).map_err(|e| Error::InvalidArgument(format!("neither a key file nor a key: {e}")))
}

/// The first line of `path` that is not empty or a `#` comment, as a key.
pub fn key_from_file(path: &std::path::Path) -> Result<Key> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::InvalidArgument(format!("cannot read key file {}: {e}", path.display())))?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !is_comment(l))
        .ok_or_else(|| Error::InvalidArgument(format!("key file {} holds no key", path.display())))?;
    parse_key(line).map_err(|e| Error::InvalidArgument(format!("key file {}: {e}", path.display())))
}

extern "C" {
    // libzmq ≥ 4.2 (zmq-sys 0.11 does not declare it); linked through zmq-sys.
    fn zmq_curve_public(z85_public_key: *mut std::os::raw::c_char, z85_secret_key: *const std::os::raw::c_char) -> std::os::raw::c_int;
}

/// Whether a line is a `#` comment. Z85 uses `#` too, so a line that starts with a valid key
/// is never one; a comment after a key needs whitespace before its `#`.
fn is_comment(line: &str) -> bool {
    line.starts_with('#') && parse_key(line.split_whitespace().next().unwrap_or("")).is_err()
}

fn strip_comment(line: &str) -> &str {
    let line = line.trim();
    if is_comment(line) {
        return "";
    }
    let cut = line.char_indices().find(|&(i, c)| c == '#' && i > 0 && line[..i].ends_with(char::is_whitespace));
    cut.map_or(line, |(i, _)| &line[..i]).trim()
}

/// A CURVE key pair. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub public: Key,
    pub secret: Key,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair {{ public: {}, secret: <hidden> }}", z85(&self.public))
    }
}

impl KeyPair {
    /// A fresh key pair from libzmq (needs a libzmq with CURVE).
    pub fn generate() -> Result<KeyPair> {
        require_curve()?;
        let pair = zmq::CurveKeyPair::new().map_err(|e| Error::socket("generate a CURVE key pair", e))?;
        Ok(KeyPair { public: pair.public_key, secret: pair.secret_key })
    }

    /// The pair of a secret key (the public key is derived from it).
    pub fn from_secret(secret: Key) -> Result<KeyPair> {
        require_curve()?;
        let secret_z85 = std::ffi::CString::new(z85(&secret)).expect("Z85 has no NUL");
        let mut public_z85 = [0u8; 41];
        // SAFETY: both buffers are 41 bytes (40 Z85 characters and a NUL), as the call requires.
        let rc = unsafe { zmq_curve_public(public_z85.as_mut_ptr() as *mut _, secret_z85.as_ptr()) };
        if rc != 0 {
            return Err(Error::InvalidArgument("cannot derive the public key from this secret key".into()));
        }
        let public = parse_key(std::str::from_utf8(&public_z85[..40]).expect("Z85 is ASCII"))?;
        Ok(KeyPair { public, secret })
    }

    /// Loads a secret key as [`load_key`] does and derives its public key.
    pub fn load(spec: &str) -> Result<KeyPair> {
        KeyPair::from_secret(load_key(spec)?)
    }

    /// Loads a secret key as [`load_key`] does; `public`, when given (a binding's
    /// `{public_key, secret_key}` pair), must be that secret's public key: a pair that does not
    /// match is an error, never silently replaced by the secret's own public key.
    pub fn load_checked(secret: &str, public: Option<&str>) -> Result<KeyPair> {
        let pair = KeyPair::load(secret)?;
        if let Some(public) = public {
            if load_key(public)? != pair.public {
                return Err(Error::InvalidArgument("the public key does not belong to the secret key".into()));
            }
        }
        Ok(pair)
    }

    pub fn public_z85(&self) -> String {
        z85(&self.public)
    }
    pub fn secret_z85(&self) -> String {
        z85(&self.secret)
    }

    /// Writes `NAME.key` (the secret, mode 0600) and `NAME.pub` (the public key).
    pub fn write(&self, name: &str) -> Result<()> {
        use std::io::Write;
        let io = |what: String| move |e: std::io::Error| Error::InvalidArgument(format!("{what}: {e}"));
        let key_path = format!("{name}.key");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&key_path).map_err(io(format!("create {key_path}")))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io(format!("chmod {key_path}")))?;
        }
        writeln!(f, "# zss CURVE secret key: keep it private\n{}", self.secret_z85()).map_err(io(format!("write {key_path}")))?;
        let pub_path = format!("{name}.pub");
        std::fs::write(&pub_path, format!("{}\n", self.public_z85())).map_err(io(format!("write {pub_path}")))?;
        Ok(())
    }
}

/// CURVE settings of one socket (see [`crate::SocketOptions::curve`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Curve {
    /// A broker ROUTER: serves CURVE with this secret key.
    Server {
        secret: KeyPair,
        /// ZAP domain: set (by the broker) when an allow list decides who may connect.
        zap_domain: Option<String>,
        /// An extra plaintext endpoint bound on the same socket (migration; off by default).
        plain: Option<String>,
    },
    /// A client or worker: the broker's public key and our own key pair.
    Client { server_public: Key, keypair: KeyPair },
}

/// The error for asking CURVE of a libzmq built without it.
pub fn require_curve() -> Result<()> {
    if crate::socket::has_curve() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "CURVE is not available: this zss is built against a libzmq without CURVE ({}); \
             build without --features vendored to link the system libzmq (Debian's libzmq3-dev has CURVE)",
            crate::socket::build_name()
        )))
    }
}

// ---------------------------------------------------------------------------------- allow list

/// Which sids a key may call or serve.
#[derive(Clone, Debug, PartialEq)]
pub enum Perm {
    All,
    /// Upper-case sids.
    Only(Vec<String>),
}

impl Perm {
    /// `sid` must already be upper case (as the broker routes). No allocation.
    pub fn allows(&self, sid: &str) -> bool {
        match self {
            Perm::All => true,
            Perm::Only(list) => list.iter().any(|s| s == sid),
        }
    }

    fn parse(value: &str) -> Perm {
        if value.split(',').any(|s| s.trim() == "*") {
            return Perm::All;
        }
        Perm::Only(value.split(',').map(|s| s.trim().to_uppercase()).filter(|s| !s.is_empty()).collect())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct AllowEntry {
    pub key: Key,
    pub name: String,
    pub call: Perm,
    pub serve: Perm,
}

/// The keys a broker accepts and what each may do. File format, one key a line:
/// `<Z85 public key> [name=NAME] [call=A,B|*] [serve=C|*]`; `#` starts a comment. A key with no
/// `call=` or `serve=` may do all of it (`*`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AllowList {
    entries: Vec<AllowEntry>,
    /// Z85 text → entry index (what the broker looks up by User-Id).
    by_z85: HashMap<String, usize>,
}

impl AllowList {
    pub fn parse(text: &str) -> Result<AllowList> {
        let mut list = AllowList::default();
        for (n, raw) in text.lines().enumerate() {
            let line = strip_comment(raw);
            if line.is_empty() {
                continue;
            }
            let bad = |m: String| Error::InvalidArgument(format!("allow list line {}: {m}", n + 1));
            let mut words = line.split_whitespace();
            let key = parse_key(words.next().unwrap_or("")).map_err(|e| bad(e.to_string()))?;
            let mut entry = AllowEntry { key, name: String::new(), call: Perm::All, serve: Perm::All };
            for w in words {
                match w.split_once('=') {
                    Some(("name", v)) => entry.name = v.to_owned(),
                    Some(("call", v)) => entry.call = Perm::parse(v),
                    Some(("serve", v)) => entry.serve = Perm::parse(v),
                    _ => return Err(bad(format!("unknown field {w:?} (expected name=, call= or serve=)"))),
                }
            }
            if entry.name.is_empty() {
                entry.name = z85(&key)[..8].to_owned();
            }
            list.by_z85.insert(z85(&key), list.entries.len());
            list.entries.push(entry);
        }
        Ok(list)
    }

    pub fn load(path: &str) -> Result<AllowList> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::InvalidArgument(format!("cannot read allow list {path}: {e}")))?;
        AllowList::parse(&text).map_err(|e| Error::InvalidArgument(format!("{path}: {e}")))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of a Z85 public key (a ZAP User-Id). No allocation.
    pub fn get(&self, z85_key: &str) -> Option<&AllowEntry> {
        self.by_z85.get(z85_key).map(|&i| &self.entries[i])
    }
}

/// An allow list shared between the ZAP handler and the broker thread; [`SharedAllowList::replace`]
/// is the reload (SIGHUP): new handshakes and new messages see the new list at once, existing
/// connections stay up (a removed key's messages are refused from then on).
#[derive(Clone, Debug, Default)]
pub struct SharedAllowList(Arc<RwLock<AllowList>>);

impl SharedAllowList {
    pub fn new(list: AllowList) -> SharedAllowList {
        SharedAllowList(Arc::new(RwLock::new(list)))
    }
    pub fn replace(&self, list: AllowList) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = list;
    }
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, AllowList> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }
}

// ------------------------------------------------------------------------------- ZAP handler

struct Domain {
    /// `None`: any key may connect (CURVE without an allow list).
    list: Option<SharedAllowList>,
    on_refused: Arc<dyn Fn() + Send + Sync>,
}

/// The ZAP domain of a broker's plaintext extra endpoints: never registered, so accepted.
pub const PLAIN_ZAP_DOMAIN: &str = "zss-plaintext";

static DOMAINS: Lazy<Mutex<HashMap<String, Domain>>> = Lazy::new(Default::default);
static ZAP_STARTED: Lazy<Result<()>> = Lazy::new(start_zap_handler);
static NEXT_DOMAIN: AtomicU64 = AtomicU64::new(0);

/// A ZAP domain registered with the process's ZAP handler; unregistered on drop.
#[derive(Debug)]
pub struct ZapDomain {
    pub name: String,
}

impl Drop for ZapDomain {
    fn drop(&mut self) {
        DOMAINS.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.name);
    }
}

/// Registers `list` under a new ZAP domain (`zss-<n>-<label>`); refused handshakes add one to
/// `on_refused` is called. Starts the process's ZAP handler thread on first use.
pub fn register_zap_domain(label: &str, list: Option<SharedAllowList>, on_refused: Arc<dyn Fn() + Send + Sync>) -> Result<ZapDomain> {
    require_curve()?;
    if let Err(e) = &*ZAP_STARTED {
        return Err(e.clone());
    }
    let name = format!("zss-{}-{label}", NEXT_DOMAIN.fetch_add(1, Ordering::Relaxed));
    DOMAINS.lock().unwrap_or_else(|p| p.into_inner()).insert(name.clone(), Domain { list, on_refused });
    Ok(ZapDomain { name })
}

fn start_zap_handler() -> Result<()> {
    let sock = crate::socket::context().socket(zmq::REP).map_err(|e| Error::socket("create the ZAP socket", e))?;
    sock.set_linger(0).map_err(|e| Error::socket("configure the ZAP socket", e))?;
    sock.bind("inproc://zeromq.zap.01").map_err(|e| Error::socket("bind inproc://zeromq.zap.01", e))?;
    std::thread::Builder::new()
        .name("zss-zap".into())
        .spawn(move || loop {
            match sock.recv_multipart(0) {
                Ok(request) => {
                    let reply = zap_reply(&request);
                    if let Err(e) = sock.send_multipart(reply, 0) {
                        log::error!("ZAP reply failed: {e}");
                    }
                }
                Err(zmq::Error::ETERM) => return,
                Err(e) => log::error!("ZAP receive failed: {e}"),
            }
        })
        .map_err(|e| Error::Socket { context: "spawn the ZAP thread".into(), message: e.to_string() })?;
    Ok(())
}

/// ZAP/1.0: `[version, request id, domain, address, identity, mechanism, credentials…]` →
/// `[version, request id, status code, status text, user id, metadata]`.
fn zap_reply(req: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let answer = |code: &str, text: &str, user: &str| {
        vec![b"1.0".to_vec(), req.get(1).cloned().unwrap_or_default(), code.into(), text.into(), user.into(), Vec::new()]
    };
    if req.len() < 6 || req[0] != b"1.0" {
        log::warn!("malformed ZAP request ({} frames)", req.len());
        return answer("500", "malformed ZAP request", "");
    }
    let domain = String::from_utf8_lossy(&req[2]);
    let address = String::from_utf8_lossy(&req[3]);
    let domains = DOMAINS.lock().unwrap_or_else(|p| p.into_inner());
    let Some(d) = domains.get(domain.as_ref()) else {
        // A CURVE socket without an allow list (libzmq asks the process's ZAP handler about
        // every handshake once one exists): any key may connect, as without a handler.
        return answer("200", "OK", "");
    };
    let refuse = |why: &str| {
        (d.on_refused)();
        log::warn!("refused a handshake from {address} on {domain}: {why}");
        answer("400", why, "")
    };
    if req[5] != b"CURVE" || req.len() < 7 || req[6].len() != 32 {
        return refuse("not a CURVE handshake");
    }
    let key: Key = req[6][..].try_into().expect("32 bytes");
    let text = z85(&key);
    let Some(list) = &d.list else { return answer("200", "OK", "") };
    let list = list.read();
    match list.get(&text) {
        Some(entry) => {
            log::debug!("accepted {} ({}) from {address} on {domain}", entry.name, &text[..8]);
            answer("200", "OK", &text)
        }
        None => refuse(&format!("key {} is not on the allow list", &text[..8])),
    }
}

/// The ZAP User-Id of a received message (the peer's Z85 public key when an allow list
/// accepted it), read without allocating.
pub fn user_id(msg: &zmq::Message) -> Option<&str> {
    const _: () = assert!(std::mem::size_of::<zmq::Message>() == std::mem::size_of::<zmq_sys::zmq_msg_t>());
    // SAFETY: `zmq::Message` is a struct whose only field is a `zmq_msg_t` (checked in size
    // above); zmq_msg_gets reads the message's metadata and returns a NUL-terminated string
    // owned by that metadata, which lives as long as the message.
    unsafe {
        let raw = msg as *const zmq::Message as *const zmq_sys::zmq_msg_t;
        let value = zmq_sys::zmq_msg_gets(raw, c"User-Id".as_ptr());
        if value.is_null() {
            return None;
        }
        let s = std::ffi::CStr::from_ptr(value).to_str().ok()?;
        (!s.is_empty()).then_some(s)
    }
}

// ------------------------------------------------------------------------ handshake monitor

/// Watches a client's or worker's socket: refused handshakes, and connections made and lost.
/// One more poll item for the I/O loop ([`Monitor::poll_item`]); when it is readable,
/// [`Monitor::check`] says what happened.
pub struct Monitor {
    pair: zmq::Socket,
    curve: bool,
    /// Connections lost before any handshake succeeded (a CURVE server that cannot open our
    /// HELLO — a wrong server key — closes without a word).
    silent_drops: u32,
    succeeded: bool,
}

/// What a [`Monitor::check`] read.
#[derive(Debug, Default)]
pub struct LinkEvents {
    /// The broker refused our handshake, and why: retrying will not help.
    pub refused: Option<String>,
    /// A handshake succeeded: the broker is there (again).
    pub connected: bool,
    /// An established connection dropped (the broker died or restarted, or the network).
    pub lost: bool,
}

static NEXT_MONITOR: AtomicU64 = AtomicU64::new(0);

impl Monitor {
    /// Starts monitoring `socket` (call before connecting it). `curve`: a connection that
    /// drops twice before its handshake counts as a refused handshake.
    pub fn attach(socket: &zmq::Socket, curve: bool) -> Result<Monitor> {
        let endpoint = format!("inproc://zss-monitor-{}", NEXT_MONITOR.fetch_add(1, Ordering::Relaxed));
        let events = zmq::SocketEvent::HANDSHAKE_FAILED_AUTH.to_raw()
            | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL.to_raw()
            | zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL.to_raw()
            | zmq::SocketEvent::HANDSHAKE_SUCCEEDED.to_raw()
            | zmq::SocketEvent::DISCONNECTED.to_raw();
        socket.monitor(&endpoint, events as i32).map_err(|e| Error::socket("monitor socket", e))?;
        let pair = crate::socket::context().socket(zmq::PAIR).map_err(|e| Error::socket("create monitor socket", e))?;
        pair.set_linger(0).map_err(|e| Error::socket("configure monitor socket", e))?;
        // libzmq's I/O thread sends the events with a blocking send: a full pipe would stall
        // every socket of the process. No limit on our side makes the pipe unbounded (events
        // are few; each turn of the owner reads them).
        pair.set_rcvhwm(0).map_err(|e| Error::socket("configure monitor socket", e))?;
        pair.connect(&endpoint).map_err(|e| Error::socket("connect monitor socket", e))?;
        Ok(Monitor { pair, curve, silent_drops: 0, succeeded: false })
    }

    pub fn poll_item(&self) -> zmq::PollItem<'_> {
        self.pair.as_poll_item(zmq::POLLIN)
    }

    /// Reads the events waiting.
    pub fn check(&mut self) -> LinkEvents {
        let mut seen = LinkEvents::default();
        while let Ok(frames) = self.pair.recv_multipart(zmq::DONTWAIT) {
            let Some(head) = frames.first().filter(|f| f.len() >= 6) else { continue };
            let event = zmq::SocketEvent::from_raw(u16::from_le_bytes([head[0], head[1]]));
            let value = u32::from_le_bytes([head[2], head[3], head[4], head[5]]);
            let endpoint = frames.get(1).map(|e| String::from_utf8_lossy(e).into_owned()).unwrap_or_default();
            match event {
                zmq::SocketEvent::HANDSHAKE_SUCCEEDED => {
                    self.succeeded = true;
                    self.silent_drops = 0;
                    seen.connected = true;
                }
                // Without CURVE a failed handshake is a broker dying mid-way: libzmq retries.
                zmq::SocketEvent::HANDSHAKE_FAILED_AUTH
                | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL
                | zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL
                    if !self.curve => {}
                zmq::SocketEvent::HANDSHAKE_FAILED_AUTH => {
                    seen.refused = Some(format!("the broker at {endpoint} refused our key (ZAP status {value})"))
                }
                zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL => {
                    seen.refused = Some(format!("handshake with {endpoint} failed (protocol error {value:#x}): wrong keys or a plaintext/CURVE mismatch"))
                }
                // A system error during the handshake (`value` is an errno, e.g. ECONNRESET from
                // a broker killed while we reconnect): a dropped connection, not a refusal. The
                // DISCONNECTED event that follows counts it like any other drop.
                zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL => {
                    log::debug!("handshake with {endpoint} failed: errno {value}");
                }
                zmq::SocketEvent::DISCONNECTED if self.succeeded => {
                    self.succeeded = false;
                    seen.lost = true;
                }
                zmq::SocketEvent::DISCONNECTED if self.curve => {
                    self.silent_drops += 1;
                    if self.silent_drops >= 2 {
                        seen.refused = Some(format!(
                            "the broker at {endpoint} closed the CURVE handshake: wrong broker public key, or it does not serve CURVE"
                        ));
                    }
                }
                _ => {}
            }
        }
        seen
    }
}
