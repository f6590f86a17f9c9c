//! `Broker`: the core broker, bound at construction and served on its own thread.

use std::sync::Mutex;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::client::seconds;
use crate::errors::to_pyerr;

enum State {
    Bound(zss::Broker),
    Running(zss::RunningBroker),
    Stopped,
}

/// An in-process broker. Binding happens in the constructor (so a busy address raises at
/// once and `*` ports are resolved); `start` serves in the background, `stop` closes.
#[pyclass(module = "zss._native", frozen)]
pub struct Broker {
    state: Mutex<State>,
    frontend: String,
    backend: String,
}

#[pymethods]
impl Broker {
    #[new]
    #[pyo3(signature = (frontend, backend, heartbeat=None, max_ttl=None, curve_secret=None, allow=None))]
    fn new(
        py: Python<'_>,
        frontend: String,
        backend: String,
        heartbeat: Option<f64>,
        max_ttl: Option<f64>,
        curve_secret: Option<String>,
        allow: Option<String>,
    ) -> PyResult<Self> {
        let mut config = zss::BrokerConfig::new(frontend, backend);
        if let Some(secret) = curve_secret {
            config = config.curve(crate::security::server_pair(py, &secret)?);
        }
        if let Some(path) = allow {
            let list = zss::AllowList::load(&path).map_err(|e| to_pyerr(py, e))?;
            config = config.allow(zss::SharedAllowList::new(list));
        }
        if let Some(h) = heartbeat {
            config.heartbeat = seconds("heartbeat", h)?;
        }
        if let Some(t) = max_ttl {
            config.max_ttl = seconds("max_ttl", t)?;
        }
        let bound = py.detach(|| zss::Broker::bind(config)).map_err(|e| to_pyerr(py, e))?;
        Ok(Broker {
            frontend: bound.frontend_endpoint().to_owned(),
            backend: bound.backend_endpoint().to_owned(),
            state: Mutex::new(State::Bound(bound)),
        })
    }

    /// The frontend endpoint actually bound (wildcard port resolved).
    #[getter]
    fn frontend(&self) -> &str {
        &self.frontend
    }

    /// The backend endpoint actually bound (wildcard port resolved).
    #[getter]
    fn backend(&self) -> &str {
        &self.backend
    }

    #[getter]
    fn running(&self) -> bool {
        matches!(*self.lock(), State::Running(_))
    }

    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let mut state = self.lock();
        match std::mem::replace(&mut *state, State::Stopped) {
            State::Bound(bound) => {
                *state = State::Running(bound.start().map_err(|e| to_pyerr(py, e))?);
                Ok(())
            }
            running @ State::Running(_) => {
                *state = running;
                Ok(())
            }
            State::Stopped => Err(PyRuntimeError::new_err("the broker was stopped; create a new one")),
        }
    }

    /// Stops serving and closes the sockets (GIL released while the thread winds down).
    fn stop(&self, py: Python<'_>) {
        let previous = std::mem::replace(&mut *self.lock(), State::Stopped);
        py.detach(move || drop(previous));
    }

    /// The broker's counters.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        if let State::Running(running) = &*self.lock() {
            for (name, _help, value, _is_gauge) in running.stats().fields() {
                dict.set_item(name, value)?;
            }
        }
        Ok(dict)
    }
}

impl Broker {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let state = std::mem::replace(self.state.get_mut().unwrap_or_else(|p| p.into_inner()), State::Stopped);
        Python::attach(|py| py.detach(move || drop(state)));
    }
}
