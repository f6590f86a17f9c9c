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

/// [`open`], plus a handshake [`Monitor`] for a client or worker with CURVE on (attached
/// before connecting, so no event is missed): one more poll item for its I/O loop.
pub fn open_monitored(
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
    let monitor = match (&options.curve, role) {
        (Some(_), Role::Client | Role::Worker) => Some(Monitor::attach(&socket, true)?),
        _ => None,
    };
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
