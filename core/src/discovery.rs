//! Clients and workers given a registry instead of a broker list: one [`Follower`] keeps the
//! client's or worker's broker list equal to the registry's (frontends for a client, backends
//! for a worker). Compiled without the `registry` feature, asking for one is a clear error.

use crate::error::{Error, Result};
use std::sync::{Arc, Mutex};

/// Which endpoint of each registered broker a follower wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Frontend,
    Backend,
}

type Apply = Box<dyn FnMut(Vec<String>) + Send>;

#[derive(Default)]
struct State {
    latest: Vec<String>,
    apply: Option<Apply>,
}

/// A registry watch feeding a broker list. Dropping it stops the watch.
pub struct Follower {
    state: Arc<Mutex<State>>,
    #[cfg(feature = "registry")]
    _watch: crate::registry::BrokerWatch,
}

impl Follower {
    /// Watches `url` (`zk://host:2181/zss`); the first list is in when this returns.
    #[cfg(feature = "registry")]
    pub fn start(url: &str, side: Side) -> Result<Follower> {
        let url = crate::registry::RegistryUrl::parse(url)?;
        let state: Arc<Mutex<State>> = Arc::default();
        let feed = state.clone();
        let watch = crate::registry::watch_brokers(
            &url,
            Box::new(move |entries| {
                let endpoints: Vec<String> = entries
                    .into_iter()
                    .map(|e| match side {
                        Side::Frontend => e.frontend,
                        Side::Backend => e.backend,
                    })
                    .collect();
                let mut state = feed.lock().unwrap_or_else(|p| p.into_inner());
                state.latest = endpoints.clone();
                if let Some(apply) = state.apply.as_mut() {
                    apply(endpoints);
                }
            }),
        )?;
        Ok(Follower { state, _watch: watch })
    }

    #[cfg(not(feature = "registry"))]
    pub fn start(_url: &str, _side: Side) -> Result<Follower> {
        Err(Error::InvalidArgument("a registry needs zss built with the `registry` feature".into()))
    }

    /// The brokers registered now.
    pub fn brokers(&self) -> Vec<String> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).latest.clone()
    }

    /// From now on every change is handed to `apply` (on the watch's thread), starting with
    /// the list as it is now (it may have changed since [`Follower::brokers`]).
    pub fn attach(&self, mut apply: impl FnMut(Vec<String>) + Send + 'static) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        apply(state.latest.clone());
        state.apply = Some(Box::new(apply));
    }
}

/// The brokers to start with: the registry's when there is one (then an empty list is fine:
/// calls wait for a broker to register), else the configured list, which must not be empty.
pub(crate) fn initial_brokers(configured: &[String], follower: Option<&Follower>) -> Result<Vec<String>> {
    match follower {
        Some(f) => Ok(f.brokers()),
        None if configured.is_empty() => Err(Error::InvalidArgument("no broker endpoint given".into())),
        None => Ok(configured.to_vec()),
    }
}

/// A worker's entry in the registry (`<path>/services/<SID>/…`), so `zss services --registry`
/// lists the whole cluster. Dropping it removes the entry.
pub struct Listing {
    #[cfg(feature = "registry")]
    _registration: crate::registry::Registration,
}

#[cfg(feature = "registry")]
pub(crate) fn list_instance(url: &str, sid: &str, identity: &str, brokers: &[String]) -> Result<Listing> {
    let url = crate::registry::RegistryUrl::parse(url)?;
    let registration = crate::registry::register_service(&url, sid, identity, &brokers.join(","))?;
    Ok(Listing { _registration: registration })
}

#[cfg(not(feature = "registry"))]
pub(crate) fn list_instance(_url: &str, _sid: &str, _identity: &str, _brokers: &[String]) -> Result<Listing> {
    Err(Error::InvalidArgument("a registry needs zss built with the `registry` feature".into()))
}
