//! `NativeBroker`: a core [`zss::Broker`] running in-process on its own thread.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::{Arc, Mutex};

use crate::client::millis;
use crate::UnitTask;

#[napi]
pub struct NativeBroker {
    running: Arc<Mutex<Option<zss::RunningBroker>>>,
    frontend: String,
    backend: String,
}

#[napi]
impl NativeBroker {
    /// Binds both sockets (errors for a bad or busy address are thrown here) and serves.
    #[napi(constructor)]
    pub fn new(
        frontend: String,
        backend: String,
        heartbeat_ms: f64,
        max_ttl_ms: f64,
        update_interval_ms: f64,
        curve_secret: Option<String>,
        allow: Option<String>,
    ) -> Result<Self> {
        let mut config = zss::BrokerConfig::new(frontend, backend);
        if let Some(secret) = curve_secret {
            config = config.curve(crate::security::server_pair(&secret)?);
        }
        if let Some(path) = allow {
            let list = zss::AllowList::load(&path).map_err(crate::core_error)?;
            config = config.allow(zss::SharedAllowList::new(list));
        }
        config.heartbeat = millis("heartbeat", heartbeat_ms)?;
        config.max_ttl = millis("maxTTL", max_ttl_ms)?;
        config.sweep_interval = millis("updateInterval", update_interval_ms)?;
        let running = zss::Broker::bind(config)
            .and_then(|b| b.start())
            .map_err(crate::core_error)?;
        Ok(NativeBroker {
            frontend: running.frontend_endpoint().to_owned(),
            backend: running.backend_endpoint().to_owned(),
            running: Arc::new(Mutex::new(Some(running))),
        })
    }

    /// The frontend endpoint actually bound (`tcp://127.0.0.1:*` resolved to a port).
    #[napi(getter)]
    pub fn frontend(&self) -> String {
        self.frontend.clone()
    }

    #[napi(getter)]
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// The core's counters and gauges (`BrokerStats::fields`, the list SMI STATS and the
    /// metrics endpoint use), with camelCase names: requests, replies, notFound, workers, ...
    #[napi(ts_return_type = "Record<string, number>")]
    pub fn stats(&self) -> std::collections::HashMap<String, f64> {
        let guard = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = std::collections::HashMap::new();
        if let Some(b) = guard.as_ref() {
            for (name, _help, value, _gauge) in b.stats().fields() {
                out.insert(camel_case(name), value as f64);
            }
        }
        out
    }

    /// Stops serving and closes the sockets, off the JS thread. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop(&self) -> AsyncTask<UnitTask> {
        let running = self.running.clone();
        AsyncTask::new(UnitTask::new(move || {
            let taken = running.lock().unwrap_or_else(|p| p.into_inner()).take();
            drop(taken); // RunningBroker::drop stops and joins
        }))
    }
}

impl Drop for NativeBroker {
    fn drop(&mut self) {
        let taken = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(b) = taken {
            std::thread::spawn(move || drop(b));
        }
    }
}

/// `not_found` → `notFound`: JavaScript's spelling of the core's names.
fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}
