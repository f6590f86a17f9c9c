//! `zss._native`: the compiled half of the `zss` Python package.
//!
//! A translation layer only: calls, replies, errors and the worker all come from the Rust core
//! (`zss` crate); this crate converts values, releases the GIL around every wait, and adapts the
//! core's completion hooks to threads and asyncio. The public, documented API is the Python
//! package (`python/zss`), which wraps these classes.

use pyo3::prelude::*;

mod broker;
mod client;
mod convert;
mod errors;
mod security;
mod worker;

/// `(user_message, developer_message)` the core uses for a status code.
#[pyfunction]
fn status_messages(code: u16) -> (&'static str, &'static str) {
    zss::status::messages(code)
}

/// Whether the linked libzmq supports CURVE.
#[pyfunction]
fn has_curve() -> bool {
    zss::socket::has_curve()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", zss::VERSION)?;
    // The broker's reserved management sid (SMI PING/INFO/SERVICES/STATS on the frontend).
    m.add("SMI_SID", zss::protocol::SMI_SID)?;
    // The re-sends an idempotent call gets (the core's `Call::idempotent`).
    m.add("IDEMPOTENT_RETRIES", zss::Call::default().idempotent().retries)?;
    m.add_class::<client::Client>()?;
    m.add_class::<client::Reply>()?;
    m.add_class::<client::CompletionQueue>()?;
    m.add_class::<broker::Broker>()?;
    m.add_class::<worker::Request>()?;
    m.add_class::<worker::Response>()?;
    m.add_class::<worker::Responder>()?;
    m.add_class::<worker::RunningWorker>()?;
    m.add_function(wrap_pyfunction!(worker::start_worker, m)?)?;
    m.add_function(wrap_pyfunction!(status_messages, m)?)?;
    m.add_function(wrap_pyfunction!(convert::endpoints, m)?)?;
    m.add_function(wrap_pyfunction!(has_curve, m)?)?;
    m.add_function(wrap_pyfunction!(security::generate_keypair, m)?)?;
    Ok(())
}
