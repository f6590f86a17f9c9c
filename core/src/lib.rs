//! # zss — the ZeroMQ Service Suite in Rust
//!
//! A broker, clients and workers speaking the ZSS/0.0 request/reply protocol, wire-compatible
//! with the original Node.js packages (`zmq-service-suite-*`) and the Ruby `zss` gem.
//!
//! ```no_run
//! use zss::{Broker, BrokerConfig, Client, ClientConfig, Response, Worker, WorkerConfig};
//!
//! let broker = Broker::bind(BrokerConfig::new("tcp://127.0.0.1:7777", "tcp://127.0.0.1:7776"))?.start()?;
//!
//! let mut worker = Worker::new(WorkerConfig::new("pong").broker("tcp://127.0.0.1:7776"));
//! worker.verb("ping", |req| Ok(Response::ok(req.payload.clone())));
//! let worker = worker.start()?;
//!
//! let client = Client::connect(ClientConfig::new("tcp://127.0.0.1:7777").sid("pong"))?;
//! let reply = client.call("ping", "hello")?;
//! assert_eq!(reply.payload.as_str(), Some("hello"));
//! # Ok::<(), zss::Error>(())
//! ```
//!
//! Layout: [`msgpack`] (the peers' dialect) and [`protocol`] (frames ↔ messages) are the codec;
//! [`broker`], [`client`] and [`worker`] each keep one owner per socket at a time: the broker's
//! I/O thread, and for clients and workers whichever thread holds the [`baton`] (a caller in a
//! blocking call, a handler thread, or their I/O thread), reached through a [`mailbox`];
//! [`socket`] is the single place sockets are created and configured.

pub mod baton;
pub mod broker;
pub mod client;
pub mod error;
pub mod mailbox;
pub mod msgpack;
pub mod protocol;
#[cfg(feature = "registry")]
pub mod registry;
pub mod discovery;
pub mod security;
pub mod socket;
pub mod worker;

pub use broker::{Broker, BrokerConfig, BrokerStats, MetricsServer, RunningBroker, Snapshot};
pub use client::{Call, Client, ClientConfig, ClientStats, Completion, PendingReply, Reply};
pub use error::{status, Error, Result, ServiceError};
pub use msgpack::Value;
pub use protocol::{Address, Message, MessageType};
pub use security::{AllowList, Curve, KeyPair, SharedAllowList};
pub use socket::SocketOptions;
pub use worker::{HandlerResult, Request, Responder, Response, RunningWorker, Worker, WorkerConfig, WorkerStats};

/// The crate version, reported by `zss --version` and the bindings.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
