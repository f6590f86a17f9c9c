//! `Client`, `Reply` and the asyncio completion queue.
//!
//! Blocking calls use the core's [`zss::PendingReply`]: the GIL is released while waiting, in
//! slices, and `check_signals` runs between slices so Ctrl-C interrupts a call.
//!
//! Asynchronous calls use [`zss::Client::send`], whose completion runs on the client's I/O
//! thread. That thread must never wait for the GIL (a busy event loop could stall every other
//! reply behind it), so the completion only pushes the raw outcome onto a [`CompletionQueue`]
//! and, when the queue was empty, writes one byte to a socketpair. The event loop watches that
//! socket (`loop.add_reader`) and drains the queue in batches, turning outcomes into Python
//! objects on its own thread. No thread per call, no GIL on the I/O thread.

use std::io::{Read, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::convert;
use crate::errors::to_pyerr;

/// How long a blocking wait sleeps between checks for signals (Ctrl-C).
pub const WAIT_SLICE: Duration = Duration::from_millis(50);

/// Seconds (float) → Duration, rejecting what cannot be a timeout.
pub fn seconds(name: &str, secs: f64) -> PyResult<Duration> {
    if secs.is_finite() && secs > 0.0 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(PyValueError::new_err(format!("{name} must be a positive number of seconds, got {secs}")))
    }
}

/// A successful (2xx) reply.
#[pyclass(module = "zss._native", frozen, get_all)]
pub struct Reply {
    /// The 2xx status (204 when the service returned no payload).
    status: u16,
    /// The reply headers (request headers echoed, plus what broker and service added).
    headers: Py<PyAny>,
    /// The decoded payload.
    payload: Py<PyAny>,
    /// The request id.
    rid: String,
}

impl Reply {
    fn new(py: Python<'_>, reply: &zss::Reply) -> PyResult<Reply> {
        Ok(Reply {
            status: reply.status,
            headers: convert::to_py(py, &reply.headers)?.unbind(),
            payload: convert::to_py(py, &reply.payload)?.unbind(),
            rid: reply.rid.clone(),
        })
    }
}

#[pymethods]
impl Reply {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Reply(status={}, payload={})", self.status, self.payload.bind(py).repr()?))
    }
}

/// The outcome of a call as a Python object: a `Reply` or an exception.
fn outcome(py: Python<'_>, result: zss::Result<zss::Reply>) -> PyResult<Reply> {
    match result {
        Ok(reply) => Reply::new(py, &reply),
        Err(e) => Err(to_pyerr(py, e)),
    }
}

/// A connection to a broker's frontend, shareable between threads.
#[pyclass(module = "zss._native", frozen)]
pub struct Client {
    inner: zss::Client,
    /// The brokers as last set (the core's config keeps the list it was connected with).
    brokers: Mutex<Vec<String>>,
}

#[pymethods]
impl Client {
    #[new]
    #[pyo3(signature = (broker, sid, timeout, identity, headers, curve=None, heartbeat=None, lost_after=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        broker: &Bound<'_, PyAny>,
        sid: Option<String>,
        timeout: f64,
        identity: String,
        headers: Option<&Bound<'_, PyAny>>,
        curve: Option<crate::security::CurveArgs>,
        heartbeat: Option<f64>,
        lost_after: Option<u32>,
    ) -> PyResult<Self> {
        let mut config = zss::ClientConfig::default()
            .brokers(convert::endpoints(broker, "broker")?)
            .identity(identity)
            .timeout(seconds("timeout", timeout)?);
        if let Some(heartbeat) = heartbeat {
            config.heartbeat = seconds("heartbeat", heartbeat)?;
        }
        if let Some(beats) = lost_after {
            if beats == 0 {
                return Err(PyValueError::new_err("lost_after must be at least 1 heartbeat"));
            }
            config.lost_after_beats = beats;
        }
        if let Some(curve) = curve {
            let (server, pair) = crate::security::client_keys(py, curve)?;
            config = config.curve(server, pair);
        }
        config.sid = sid;
        config.headers = convert::to_headers(headers)?;
        let brokers = Mutex::new(config.brokers.clone());
        let inner = zss::Client::connect(config).map_err(|e| to_pyerr(py, e))?;
        Ok(Client { inner, brokers })
    }

    #[getter]
    fn identity(&self) -> &str {
        self.inner.identity()
    }

    /// The brokers' frontends, comma-separated.
    #[getter]
    fn broker(&self) -> String {
        self.brokers().join(",")
    }

    /// The brokers' frontends.
    #[getter]
    fn brokers(&self) -> Vec<String> {
        self.brokers.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The brokers' ping interval (seconds) and how many silent intervals count as lost.
    #[getter]
    fn liveness(&self) -> (f64, u32) {
        let config = self.inner.config();
        (config.heartbeat.as_secs_f64(), config.lost_after_beats)
    }

    /// Replaces the brokers: new ones are connected, ones no longer listed take no new calls.
    fn set_brokers(&self, py: Python<'_>, broker: &Bound<'_, PyAny>) -> PyResult<()> {
        let endpoints = convert::endpoints(broker, "broker")?;
        self.inner.set_brokers(endpoints.clone()).map_err(|e| to_pyerr(py, e))?;
        *self.brokers.lock().unwrap_or_else(|p| p.into_inner()) = endpoints;
        Ok(())
    }

    #[getter]
    fn sid(&self) -> Option<&str> {
        self.inner.config().sid.as_deref()
    }

    #[getter]
    fn timeout(&self) -> f64 {
        self.inner.config().timeout.as_secs_f64()
    }

    /// Blocking call: GIL released while waiting, interruptible by signals.
    #[pyo3(signature = (verb, payload, sid, headers, timeout, retries=0))]
    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        py: Python<'_>,
        verb: String,
        payload: &Bound<'_, PyAny>,
        sid: Option<String>,
        headers: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        retries: u32,
    ) -> PyResult<Reply> {
        let call = build_call(verb, payload, sid, headers, timeout, retries)?;
        let mut pending = self.inner.start(call).map_err(|e| to_pyerr(py, e))?;
        loop {
            match py.detach(move || pending.wait_timeout(WAIT_SLICE)) {
                Ok(result) => return outcome(py, result),
                Err(still_pending) => {
                    // A KeyboardInterrupt abandons the call; the core completes it into the void.
                    py.check_signals()?;
                    pending = still_pending;
                }
            }
        }
    }

    /// Sends a call whose outcome is pushed onto `queue` under `token`. Argument errors raise
    /// here; everything else (including timeouts) arrives through the queue.
    #[pyo3(signature = (queue, token, verb, payload, sid, headers, timeout, retries=0))]
    #[allow(clippy::too_many_arguments)]
    fn submit(
        &self,
        py: Python<'_>,
        queue: &Bound<'_, CompletionQueue>,
        token: u64,
        verb: String,
        payload: &Bound<'_, PyAny>,
        sid: Option<String>,
        headers: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        retries: u32,
    ) -> PyResult<()> {
        let call = build_call(verb, payload, sid, headers, timeout, retries)?;
        let shared = queue.get().shared.clone();
        self.inner
            .send(call, Box::new(move |result| shared.push(token, result)))
            .map_err(|e| to_pyerr(py, e))
    }

    /// Closes the socket (joins the I/O thread with the GIL released). Idempotent.
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.inner.close());
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // The last handle joins the I/O thread; never do that while holding the GIL.
        let inner = self.inner.clone();
        Python::attach(|py| py.detach(move || inner.close()));
    }
}

fn build_call(
    verb: String,
    payload: &Bound<'_, PyAny>,
    sid: Option<String>,
    headers: Option<&Bound<'_, PyAny>>,
    timeout: Option<f64>,
    retries: u32,
) -> PyResult<zss::Call> {
    Ok(zss::Call {
        verb,
        payload: convert::to_value(payload, "payload")?,
        sid,
        headers: convert::to_headers(headers)?,
        timeout: timeout.map(|t| seconds("timeout", t)).transpose()?,
        retries,
    })
}

/// Outcomes of asynchronous calls, handed from client I/O threads to one event loop.
#[pyclass(module = "zss._native", frozen)]
pub struct CompletionQueue {
    shared: Arc<QueueShared>,
}

struct QueueShared {
    done: Mutex<Vec<(u64, zss::Result<zss::Reply>)>>,
    wake_tx: UnixStream,
    wake_rx: UnixStream,
    /// Set while a wake-up byte is unread: one write per batch, not per reply.
    wake_pending: AtomicBool,
}

impl QueueShared {
    /// Runs on a client I/O thread: no GIL, no blocking.
    fn push(&self, token: u64, result: zss::Result<zss::Reply>) {
        self.done.lock().unwrap_or_else(|p| p.into_inner()).push((token, result));
        if !self.wake_pending.swap(true, Ordering::SeqCst) {
            // Non-blocking: a full socket buffer already means a wake-up is pending.
            let _ = (&self.wake_tx).write(&[1]);
        }
    }
}

#[pymethods]
impl CompletionQueue {
    #[new]
    fn new() -> PyResult<Self> {
        let (wake_tx, wake_rx) = UnixStream::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        Ok(CompletionQueue {
            shared: Arc::new(QueueShared {
                done: Mutex::new(Vec::new()),
                wake_tx,
                wake_rx,
                wake_pending: AtomicBool::new(false),
            }),
        })
    }

    /// The descriptor that becomes readable when outcomes are waiting.
    fn fileno(&self) -> i32 {
        self.shared.wake_rx.as_raw_fd()
    }

    /// Takes every waiting outcome: `(token, ok, reply_or_exception)`.
    fn drain(&self, py: Python<'_>) -> Vec<(u64, bool, Py<PyAny>)> {
        let shared = &self.shared;
        // Order matters: empty the socket, then clear the flag, then take the items. Clearing
        // first could swallow a concurrent pusher's byte while its flag stays set, and every
        // later push would skip the wake-up. This way an item pushed after the flag is cleared
        // writes a byte that stays for the next wake-up, and one pushed before is taken below.
        let mut buf = [0u8; 256];
        while matches!((&shared.wake_rx).read(&mut buf), Ok(n) if n > 0) {}
        shared.wake_pending.store(false, Ordering::SeqCst);
        let done = std::mem::take(&mut *shared.done.lock().unwrap_or_else(|p| p.into_inner()));
        done.into_iter()
            .map(|(token, result)| match outcome(py, result).and_then(|reply| Py::new(py, reply)) {
                Ok(reply) => (token, true, reply.into_any()),
                Err(err) => (token, false, err.into_value(py).into_any()),
            })
            .collect()
    }
}
