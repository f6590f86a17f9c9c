//! `ZSS::Native::Broker`: the core broker, bound and serving on its own thread.

use std::sync::Mutex;
use std::time::Duration;

use magnus::{Error, Ruby};

use crate::errors::to_rb;

#[magnus::wrap(class = "ZSS::Native::Broker", free_immediately, size)]
pub struct Broker {
    running: Mutex<Option<zss::RunningBroker>>,
    frontend: String,
    backend: String,
}

impl Broker {
    /// `new(frontend, backend, max_ttl_ms, curve_secret, allow_path)`. Binding happens here,
    /// so a busy or bad address raises at once; `*` ports are resolved (see
    /// `frontend`/`backend`). `curve_secret` (a key) serves CURVE; `allow_path` names an allow list.
    pub fn new(
        ruby: &Ruby,
        frontend: String,
        backend: String,
        max_ttl_ms: Option<u64>,
        curve_secret: Option<String>,
        allow: Option<String>,
    ) -> Result<Broker, Error> {
        let mut config = zss::BrokerConfig::new(frontend, backend);
        if let Some(secret) = curve_secret {
            config = config.curve(crate::security::server_pair(ruby, &secret)?);
        }
        if let Some(path) = allow {
            let list = zss::AllowList::load(&path).map_err(|e| to_rb(ruby, e))?;
            config = config.allow(zss::SharedAllowList::new(list));
        }
        if let Some(ms) = max_ttl_ms {
            config.max_ttl = Duration::from_millis(ms);
        }
        let running = zss::Broker::bind(config).and_then(zss::Broker::start).map_err(|e| to_rb(ruby, e))?;
        Ok(Broker {
            frontend: running.frontend_endpoint().to_owned(),
            backend: running.backend_endpoint().to_owned(),
            running: Mutex::new(Some(running)),
        })
    }

    pub fn frontend(&self) -> String {
        self.frontend.clone()
    }

    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    pub fn is_running(&self) -> bool {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Stops serving and closes the sockets. Idempotent. The broker thread exits within one
    /// poll, so this short join holds the GVL (it is also safe from a trap handler).
    pub fn stop(&self) {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(running);
    }
}
