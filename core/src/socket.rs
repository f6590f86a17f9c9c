//! The one place ZeroMQ sockets are created and configured.
//!
//! Every socket zss opens goes through [`open`], so transport security (CURVE) and other
//! per-socket settings slot in here once instead of in the broker, client and worker.

use crate::error::{Error, Result};
use crate::security::{Curve, Monitor};
use once_cell::sync::Lazy;

/// The process-wide ZeroMQ context. One context lets `inproc://` endpoints connect a broker,
/// clients and workers living in the same process.
static CONTEXT: Lazy<zmq::Context> = Lazy::new(zmq::Context::new);

pub fn context() -> &'static zmq::Context {
    &CONTEXT
}

/// Limits applied to every socket zss opens.
#[derive(Clone, Debug, PartialEq)]
pub struct SocketOptions {
    /// Messages queued per peer before sends fail (broker) or are refused (client, worker).
    pub send_hwm: i32,
    pub recv_hwm: i32,
    /// Largest accepted frame in bytes; a peer sending more is disconnected. `-1`: no limit.
    pub max_message_size: i64,
    /// CURVE encryption (`None`: plaintext). Servers (the broker's ROUTERs) take their secret
    /// key, clients and workers the broker's public key and their own pair; see
    /// [`crate::security::Curve`]. Asking for it from a libzmq without CURVE is an error.
    pub curve: Option<Curve>,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions { send_hwm: 100_000, recv_hwm: 100_000, max_message_size: 64 * 1024 * 1024, curve: None }
    }
}

/// What a socket is for; decides its ZeroMQ type and role-specific options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Broker side facing clients (ROUTER, binds).
    Frontend,
    /// Broker side facing workers (ROUTER, binds).
    Backend,
    /// A client (DEALER, connects).
    Client,
    /// A worker (DEALER, connects).
    Worker,
}

/// Opens a socket for `role`, applies `options`, and binds or connects it to `endpoint`.
/// Returns the socket and the endpoint actually bound (wildcard ports resolved).
pub fn open(
    role: Role,
    endpoint: &str,
    identity: Option<&str>,
    options: &SocketOptions,
) -> Result<(zmq::Socket, String)> {
    open_monitored(role, endpoint, identity, options).map(|(s, e, _)| (s, e))
}

/// [`open`], plus a [`Monitor`] for a client or worker (attached before connecting, so no
/// event is missed): one more poll item for its I/O loop.
fn open_monitored(
    role: Role,
    endpoint: &str,
    identity: Option<&str>,
    options: &SocketOptions,
) -> Result<(zmq::Socket, String, Option<Monitor>)> {
    let what = |op: &str| format!("{op} {role:?} socket on {endpoint}");
    let kind = match role {
        Role::Frontend | Role::Backend => zmq::ROUTER,
        Role::Client | Role::Worker => zmq::DEALER,
    };
    let socket = context().socket(kind).map_err(|e| Error::socket(what("create"), e))?;
    let configure = |r: std::result::Result<(), zmq::Error>| r.map_err(|e| Error::socket(what("configure"), e));
    configure(socket.set_linger(0))?;
    configure(socket.set_sndhwm(options.send_hwm))?;
    configure(socket.set_rcvhwm(options.recv_hwm))?;
    configure(socket.set_maxmsgsize(options.max_message_size))?;
    if let Some(id) = identity {
        configure(socket.set_identity(id.as_bytes()))?;
    }
    let mut plain = None;
    match (&options.curve, role) {
        (None, _) => {}
        (Some(Curve::Server { secret, zap_domain, plain: also_plain }), Role::Frontend | Role::Backend) => {
            crate::security::require_curve()?;
            configure(socket.set_curve_server(true))?;
            configure(socket.set_curve_secretkey(&secret.secret))?;
            if let Some(domain) = zap_domain {
                configure(socket.set_zap_domain(domain))?;
            }
            plain = also_plain.as_deref();
        }
        (Some(Curve::Client { server_public, keypair }), Role::Client | Role::Worker) => {
            crate::security::require_curve()?;
            configure(socket.set_curve_serverkey(server_public))?;
            configure(socket.set_curve_publickey(&keypair.public))?;
            configure(socket.set_curve_secretkey(&keypair.secret))?;
        }
        (Some(_), _) => {
            return Err(Error::InvalidArgument(format!("{role:?} socket: CURVE server settings are for the broker, client settings for clients and workers")))
        }
    }
    let monitor = match role {
        Role::Client | Role::Worker => Some(Monitor::attach(&socket, options.curve.is_some())?),
        Role::Frontend | Role::Backend => None,
    };
    if role == Role::Client && !is_inproc(endpoint) {
        // Requests are queued only on a completed connection: one never waits in the queue of
        // a broker that is not there (the client keeps it, and can send it to another).
        configure(socket.set_immediate(true))?;
    }
    match role {
        Role::Frontend | Role::Backend => {
            // Sends to a peer that is gone fail (EHOSTUNREACH) instead of vanishing, so the
            // broker can count dropped replies and notice dead workers.
            configure(socket.set_router_mandatory(true))?;
            socket.bind(endpoint).map_err(|e| Error::socket(what("bind"), e))?;
            let bound = socket
                .get_last_endpoint()
                .map_err(|e| Error::socket(what("bind"), e))?
                .unwrap_or_else(|_| endpoint.to_owned());
            if let Some(plain) = plain {
                // libzmq copies a socket's options into each endpoint when it is bound: turning
                // CURVE off now leaves the endpoint above encrypted and this one plaintext.
                configure(socket.set_curve_server(false))?;
                // A domain no allow list is registered under: the ZAP handler lets these in.
                configure(socket.set_zap_domain(crate::security::PLAIN_ZAP_DOMAIN))?;
                socket.bind(plain).map_err(|e| Error::socket(format!("bind plaintext {role:?} socket on {plain}"), e))?;
                log::warn!("{role:?}: plaintext endpoint {plain} next to CURVE on {bound} (unauthenticated peers)");
            }
            Ok((socket, bound, None))
        }
        Role::Client | Role::Worker => {
            socket.connect(endpoint).map_err(|e| Error::socket(what("connect"), e))?;
            Ok((socket, endpoint.to_owned(), monitor))
        }
    }
}

/// Splits a broker list, `tcp://a:7777,tcp://b:7777` (spaces allowed): wherever zss takes one
/// broker endpoint it takes a list.
pub fn parse_endpoints(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|e| !e.is_empty()).map(str::to_owned).collect()
}

/// `inproc://` connections have no handshake: no monitor event says they are up, and their
/// peer lives in this process.
pub fn is_inproc(endpoint: &str) -> bool {
    endpoint.starts_with("inproc://")
}

/// A client's or worker's connection to one broker: its DEALER and the [`Monitor`] that reports
/// refused handshakes and connections made and lost.
pub struct Connection {
    pub endpoint: String,
    /// `<prefix>#<uuid>`; a new one after [`Connection::reopen`].
    pub identity: String,
    pub socket: zmq::Socket,
    pub monitor: Monitor,
}

impl Connection {
    /// Opens a `role` socket (client or worker) to `endpoint` with this identity.
    pub fn open(role: Role, endpoint: &str, identity: String, options: &SocketOptions) -> Result<Connection> {
        debug_assert!(matches!(role, Role::Client | Role::Worker));
        let (socket, _, monitor) = open_monitored(role, endpoint, Some(&identity), options)?;
        let monitor = monitor.expect("clients and workers are always monitored");
        Ok(Connection { endpoint: endpoint.to_owned(), identity, socket, monitor })
    }

    /// Replaces the socket with a fresh one (a new identity with the same prefix) to the same
    /// broker: whatever the old one still queued is dropped, not delivered late.
    pub fn reopen(&mut self, role: Role, prefix: &str, options: &SocketOptions) -> Result<()> {
        *self = Connection::open(role, &self.endpoint, crate::protocol::new_identity(prefix), options)?;
        Ok(())
    }
}

/// What a [`wait`] found readable: each connection's socket and monitor, and the mailbox.
pub struct Ready {
    /// Sockets, then the mailbox, then monitors.
    flags: Vec<bool>,
}

impl Ready {
    pub fn socket(&self, i: usize) -> bool {
        self.flags[i]
    }
    pub fn mailbox(&self) -> bool {
        self.flags[self.flags.len() / 2]
    }
    pub fn monitor(&self, i: usize) -> bool {
        self.flags[self.flags.len() / 2 + 1 + i]
    }
}

/// Waits until one of `connections` (socket or monitor) or the `mailbox` is readable, or the
/// deadline: the poll of every client's and worker's turn.
pub fn wait<'a>(connections: &[&'a Connection], mailbox: zmq::PollItem<'a>, deadline: Option<std::time::Instant>) -> std::result::Result<Ready, zmq::Error> {
    let mut items = Vec::with_capacity(2 * connections.len() + 1);
    items.extend(connections.iter().map(|c| c.socket.as_poll_item(zmq::POLLIN)));
    items.push(mailbox);
    items.extend(connections.iter().map(|c| c.monitor.poll_item()));
    crate::mailbox::wait(&mut items, deadline)?;
    Ok(Ready { flags: items.iter().map(|i| i.is_readable()).collect() })
}

impl Drop for Connection {
    /// Stops the monitor before either socket closes: an event libzmq's I/O thread emitted
    /// after our end of the monitor pipe is gone would block that thread (its send has no
    /// timeout), and with it every socket in the process.
    fn drop(&mut self) {
        // SAFETY: the socket is open and owned by this connection; a null endpoint stops
        // monitoring (zmq_socket_monitor(3)).
        unsafe { zmq_sys::zmq_socket_monitor(self.socket.as_mut_ptr(), std::ptr::null(), 0) };
    }
}

/// Whether the linked libzmq supports CURVE (the bundled build does not).
pub fn has_curve() -> bool {
    zmq::has("curve").unwrap_or(false)
}

/// Which libzmq this build links, for error messages.
pub fn build_name() -> &'static str {
    if cfg!(feature = "vendored") {
        "the bundled libzmq of `--features vendored`"
    } else {
        "the system libzmq"
    }
}
