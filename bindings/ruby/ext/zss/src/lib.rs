//! The native half of the `zss` gem: `ZSS::Native`, a thin magnus binding of the Rust core.
//!
//! The Ruby half (lib/zss/*.rb) gives it the old gem's shape (`ZSS::Client`, `ZSS::Service`,
//! `ZSS::Error`); this crate only translates values and errors and makes every blocking wait
//! release the GVL (see [`gvl`]). No Ruby code ever runs on a thread Ruby did not create.

mod broker;
mod client;
mod convert;
mod errors;
mod gvl;
mod security;
mod worker;

use magnus::{function, method, prelude::*, Error, Ruby};

/// Broker endpoints from a comma-separated list, as the core reads one.
fn parse_endpoints(list: String) -> Vec<String> {
    zss::socket::parse_endpoints(&list)
}

#[magnus::init(name = "zss_native")]
fn init(ruby: &Ruby) -> Result<(), Error> {
    let zss = ruby.define_module("ZSS")?;
    let native = zss.define_module("Native")?;
    native.const_set("CORE_VERSION", zss::VERSION)?;
    // The broker's reserved management sid (SMI PING/INFO/SERVICES/STATS on the frontend).
    native.const_set("SMI_SID", zss::protocol::SMI_SID)?;
    native.define_singleton_method("has_curve?", function!(zss::socket::has_curve, 0))?;
    // The re-sends an idempotent call gets (the core's `Call::idempotent`).
    native.const_set("IDEMPOTENT_RETRIES", zss::Call::default().idempotent().retries)?;
    native.define_singleton_method("parse_endpoints", function!(parse_endpoints, 1))?;
    native.define_singleton_method("generate_keypair", function!(security::generate_keypair, 0))?;

    let client = native.define_class("Client", ruby.class_object())?;
    client.define_singleton_method("new", function!(client::Client::new, 7))?;
    client.define_method("identity", method!(client::Client::identity, 0))?;
    client.define_method("brokers", method!(client::Client::brokers, 0))?;
    client.define_method("liveness", method!(client::Client::liveness, 0))?;
    client.define_method("set_brokers", method!(client::Client::set_brokers, 1))?;
    client.define_method("call", method!(client::Client::call, 5))?;
    client.define_method("close", method!(client::Client::close, 0))?;

    let worker = native.define_class("Worker", ruby.class_object())?;
    worker.define_singleton_method("new", function!(worker::Worker::new, 6))?;
    worker.define_method("identity", method!(worker::Worker::identity, 0))?;
    worker.define_method("next_request", method!(worker::Worker::next_request, 1))?;
    worker.define_method("set_brokers", method!(worker::Worker::set_brokers, 1))?;
    worker.define_method("stop", method!(worker::Worker::stop, 0))?;
    worker.define_method("wait", method!(worker::Worker::wait, 1))?;
    worker.define_method("stopped?", method!(worker::Worker::is_stopped, 0))?;
    worker.define_method("stats", method!(worker::Worker::stats, 0))?;
    worker.define_method("error", method!(worker::Worker::error, 0))?;

    let responder = native.define_class("Responder", ruby.class_object())?;
    responder.define_method("reply", method!(worker::Responder::reply, 3))?;
    responder.define_method("fail", method!(worker::Responder::fail, 4))?;
    responder.define_method("answered?", method!(worker::Responder::is_answered, 0))?;

    let broker = native.define_class("Broker", ruby.class_object())?;
    broker.define_singleton_method("new", function!(broker::Broker::new, 5))?;
    broker.define_method("frontend", method!(broker::Broker::frontend, 0))?;
    broker.define_method("backend", method!(broker::Broker::backend, 0))?;
    broker.define_method("running?", method!(broker::Broker::is_running, 0))?;
    broker.define_method("stop", method!(broker::Broker::stop, 0))?;
    Ok(())
}
