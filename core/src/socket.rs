//! The one place ZeroMQ sockets are created and configured.
//!
//! Every socket zss opens goes through [`open`], so transport security (CURVE) and other
//! per-socket settings slot in here once instead of in the broker, client and worker.

use crate::error::{Error, Result};
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
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions { send_hwm: 100_000, recv_hwm: 100_000, max_message_size: 64 * 1024 * 1024 }
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
            Ok((socket, bound))
        }
        Role::Client | Role::Worker => {
            socket.connect(endpoint).map_err(|e| Error::socket(what("connect"), e))?;
            Ok((socket, endpoint.to_owned()))
        }
    }
}

/// Whether the linked libzmq supports CURVE (the bundled build does not).
pub fn has_curve() -> bool {
    zmq::has("curve").unwrap_or(false)
}
