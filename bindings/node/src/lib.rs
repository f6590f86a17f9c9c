//! The native half of the `zss` npm package (napi-rs).
//!
//! A translation layer only: sockets, the protocol, timeouts and the error contract are the
//! Rust core's (`zss` crate). This crate converts values, runs waits off the JS thread and
//! hands completions back through thread-safe functions. The public, documented API is the
//! JavaScript in `lib/` (the original packages' shapes), which wraps these classes.

use napi::bindgen_prelude::*;
use napi_derive::napi;

mod broker;
mod client;
mod convert;
mod security;
mod service;
mod util;

/// The broker's reserved management sid (SMI PING/INFO/SERVICES/STATS on the frontend), from
/// the core so no binding spells the protocol itself.
#[napi]
pub fn smi_sid() -> &'static str {
    zss::protocol::SMI_SID
}

/// Broker endpoints from a comma-separated list, as the core reads one.
#[napi]
pub fn parse_endpoints(list: String) -> Vec<String> {
    zss::socket::parse_endpoints(&list)
}

/// The re-sends an idempotent call gets (the core's `Call::idempotent`).
#[napi]
pub fn idempotent_retries() -> u32 {
    zss::Call::default().idempotent().retries
}

/// A core error thrown into JS: argument errors as `InvalidArg` (JS makes them TypeErrors),
/// the rest as generic failures carrying the core's message.
pub(crate) fn core_error(e: zss::Error) -> Error {
    match e {
        zss::Error::InvalidArgument(m) => Error::new(Status::InvalidArg, m),
        other => Error::new(Status::GenericFailure, other.to_string()),
    }
}

/// Runs a blocking closure (a join) on libuv's thread pool and resolves with undefined.
pub struct UnitTask(Option<Box<dyn FnOnce() + Send>>);

impl UnitTask {
    pub fn new(f: impl FnOnce() + Send + 'static) -> Self {
        UnitTask(Some(Box::new(f)))
    }
}

impl Task for UnitTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        if let Some(f) = self.0.take() {
            f();
        }
        Ok(())
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

/// `[userMessage, developerMessage]` the core uses for a status code.
#[napi]
pub fn status_messages(code: u32) -> Vec<&'static str> {
    let (user, developer) = zss::status::messages(u16::try_from(code).unwrap_or(500));
    vec![user, developer]
}

/// The core's version.
#[napi]
pub fn core_version() -> &'static str {
    zss::VERSION
}

/// Whether the linked libzmq supports CURVE.
#[napi]
pub fn has_curve() -> bool {
    zss::socket::has_curve()
}
