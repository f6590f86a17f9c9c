//! The service side: core worker threads call into Python through one dispatcher.
//!
//! For every request the core hands us a [`zss::Responder`] on one of its handler threads. We
//! attach to the interpreter only to call the Python dispatcher (`zss.service._dispatch`-style
//! callable given at start) with `(handler, payload, request, responder)`. The dispatcher runs
//! sync handlers right there and schedules coroutines on an event loop; either way it answers
//! through the `Responder` object, from whichever thread finishes the work. A responder that is
//! garbage-collected unanswered makes the core answer 500, so no caller waits forever.

use std::sync::Mutex;
use std::time::Instant;

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyMapping, PyTuple};

use crate::client::{seconds, WAIT_SLICE};
use crate::convert;
use crate::errors::{from_service_error, to_pyerr, ServiceError};

/// What a handler learns about the request besides its payload.
#[pyclass(module = "zss._native", frozen, get_all)]
pub struct Request {
    /// The calling client's identity (`<prefix>#<uuid>`).
    client: String,
    /// The request id.
    rid: String,
    /// The service id as addressed (upper-case).
    sid: String,
    /// The verb as addressed (upper-case).
    verb: String,
    /// The request headers (a dict).
    headers: Py<PyAny>,
}

#[pymethods]
impl Request {
    fn __repr__(&self) -> String {
        format!("Request(sid={:?}, verb={:?}, rid={:?}, client={:?})", self.sid, self.verb, self.rid, self.client)
    }
}

/// A handler's answer with a chosen 2xx status and/or reply headers:
/// `return zss.Response({"id": 7}, status=201, headers={"location": "/items/7"})`.
///
/// `status` None means 200, or 204 when `payload` is None. `headers` are added to (or replace)
/// the request headers that the reply echoes. A status that is not a 2xx raises ValueError
/// here (raise `zss.ServiceError` for error replies); headers that are not a mapping raise
/// TypeError. Payload and header values are checked when sent: one that cannot be sent
/// answers 500 and is logged. (`Responder.reply` turns it into the core's `Response`.)
#[pyclass(module = "zss._native", frozen, get_all)]
pub struct Response {
    /// The reply payload.
    payload: Py<PyAny>,
    /// The 2xx status, or None: 200, or 204 when the payload is None.
    status: Option<u16>,
    /// Reply headers, added to (or replacing) the request headers the reply echoes.
    headers: Py<PyDict>,
}

#[pymethods]
impl Response {
    #[new]
    #[pyo3(signature = (payload=None, *, status=None, headers=None))]
    fn new(
        py: Python<'_>,
        payload: Option<Py<PyAny>>,
        status: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Response> {
        let status = match status.filter(|s| !s.is_none()) {
            None => None,
            Some(s) => {
                if !s.is_instance_of::<PyInt>() || s.is_instance_of::<PyBool>() {
                    let type_name = convert::type_name(s);
                    return Err(PyTypeError::new_err(format!("Response status must be an int, not {type_name}")));
                }
                match s.extract::<u16>() {
                    Ok(code) if zss::status::is_success(code) => Some(code),
                    _ => return Err(bad_status(s)),
                }
            }
        };
        // A copy, so later changes to the caller's dict do not change the answer.
        let copy = PyDict::new(py);
        if let Some(h) = headers.filter(|h| !h.is_none()) {
            let mapping = h.cast::<PyMapping>().map_err(|_| {
                PyTypeError::new_err(format!("Response headers must be a dict, not {}", convert::type_name(h)))
            })?;
            copy.update(mapping)?;
        }
        Ok(Response { payload: payload.unwrap_or_else(|| py.None()), status, headers: copy.unbind() })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let status = self.status.map_or_else(|| "None".to_owned(), |s| s.to_string());
        Ok(format!(
            "Response({}, status={status}, headers={})",
            self.payload.bind(py).repr()?,
            self.headers.bind(py).repr()?
        ))
    }
}

/// Answers one request exactly once, from any thread.
#[pyclass(module = "zss._native", frozen)]
pub struct Responder {
    inner: Mutex<Option<zss::Responder>>,
}

impl Responder {
    fn send(&self, py: Python<'_>, result: zss::worker::HandlerResult) -> PyResult<()> {
        let responder = self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this request was already answered"))?;
        // Encoding happens in `send`; large payloads should not hold the GIL.
        py.detach(move || responder.send(result));
        Ok(())
    }
}

#[pymethods]
impl Responder {
    /// Answers with a handler's return value: a payload, a `Response`, a `(status, payload)`
    /// tuple with a 2xx status, or None (→ 204). Raises TypeError/ValueError, without
    /// answering, when the value cannot be sent, so the caller can still answer with an error.
    fn reply(&self, py: Python<'_>, result: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Ok(r) = result.cast::<Response>() {
            let r = r.get();
            let payload = convert::to_value(r.payload.bind(py), "handler result")?;
            let mut response = match r.status {
                Some(status) => zss::Response::with_status(status, payload),
                None => zss::Response::ok(payload),
            };
            response.headers = convert::to_headers(Some(r.headers.bind(py).as_any()))?;
            return self.send(py, Ok(response));
        }
        let response = match result.cast::<PyTuple>() {
            Ok(t) if t.len() == 2 && t.get_item(0)?.is_exact_instance_of::<PyInt>() => {
                let status: u16 = t.get_item(0)?.extract().map_err(|_| bad_status(&t.get_item(0).unwrap()))?;
                if !zss::status::is_success(status) {
                    return Err(bad_status(&t.get_item(0)?));
                }
                zss::Response::with_status(status, convert::to_value(&t.get_item(1)?, "handler result")?)
            }
            _ => zss::Response::ok(convert::to_value(result, "handler result")?),
        };
        self.send(py, Ok(response))
    }

    /// Answers with an error: a `zss.ServiceError` keeps its code, messages and extra payload
    /// fields; any other exception becomes a generic 500 (its detail is for the log only).
    fn fail(&self, py: Python<'_>, error: &Bound<'_, PyAny>) -> PyResult<()> {
        let e = if error.is_instance_of::<ServiceError>() {
            from_service_error(error)?
        } else {
            zss::ServiceError::new(zss::status::INTERNAL)
        };
        self.send(py, Err(e))
    }

    /// Whether `reply` or `fail` has been called.
    #[getter]
    fn answered(&self) -> bool {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).is_none()
    }
}

fn bad_status(status: &Bound<'_, PyAny>) -> PyErr {
    PyValueError::new_err(format!(
        "a handler's status must be a 2xx, got {status}; raise zss.ServiceError for errors"
    ))
}

/// Builds the core worker and starts it. `handlers` maps verbs to Python callables; every
/// request calls `dispatch(handler, payload, request, responder)` on a core handler thread.
#[pyfunction]
#[pyo3(signature = (sid, broker, heartbeat, concurrency, handlers, dispatch, curve=None))]
#[allow(clippy::too_many_arguments)]
pub fn start_worker(
    py: Python<'_>,
    sid: String,
    broker: &Bound<'_, PyAny>,
    heartbeat: f64,
    concurrency: usize,
    handlers: Vec<(String, Py<PyAny>)>,
    dispatch: Py<PyAny>,
    curve: Option<crate::security::CurveArgs>,
) -> PyResult<RunningWorker> {
    let mut config = zss::WorkerConfig::new(sid)
        .brokers(convert::endpoints(broker, "broker")?)
        .heartbeat(seconds("heartbeat", heartbeat)?);
    config.concurrency = concurrency;
    if let Some(curve) = curve {
        let (server, pair) = crate::security::client_keys(py, curve)?;
        config = config.curve(server, pair);
    }
    let mut worker = zss::Worker::new(config);
    for (verb, handler) in handlers {
        let dispatch = dispatch.clone_ref(py);
        worker.verb_with_responder(&verb, move |request, responder| {
            // Attached only while Python runs; the core thread holds nothing else meanwhile.
            Python::attach(|py| {
                if let Err(err) = call_dispatch(py, &dispatch, &handler, request, responder) {
                    // The dispatcher handles handler errors itself; reaching here is a bug in
                    // it. The dropped responder has answered 500.
                    err.write_unraisable(py, Some(dispatch.bind(py)));
                }
            })
        });
    }
    let running = py.detach(move || worker.start()).map_err(|e| to_pyerr(py, e))?;
    Ok(RunningWorker { inner: Some(running) })
}

fn call_dispatch(
    py: Python<'_>,
    dispatch: &Py<PyAny>,
    handler: &Py<PyAny>,
    request: zss::Request,
    responder: zss::Responder,
) -> PyResult<()> {
    let payload = convert::to_py(py, &request.payload)?;
    let req = Request {
        client: request.client,
        rid: request.rid,
        sid: request.address.sid,
        verb: request.address.verb,
        headers: convert::to_py(py, &request.headers)?.unbind(),
    };
    let responder = Responder { inner: Mutex::new(Some(responder)) };
    dispatch.call1(py, (handler, payload, req, responder))?;
    Ok(())
}

/// A worker serving in the background.
#[pyclass(module = "zss._native", frozen)]
pub struct RunningWorker {
    /// Always `Some` until dropped (taken in `Drop` to join with the GIL released).
    inner: Option<zss::RunningWorker>,
}

impl RunningWorker {
    fn worker(&self) -> &zss::RunningWorker {
        self.inner.as_ref().expect("present until drop")
    }
}

#[pymethods]
impl RunningWorker {
    /// The worker's socket identity, `<SID>#<uuid>`.
    #[getter]
    fn identity(&self) -> &str {
        self.worker().identity()
    }

    /// Replaces the brokers: registers with new ones, disconnects from ones no longer listed.
    fn set_brokers(&self, brokers: Vec<String>) {
        self.worker().set_brokers(brokers);
    }

    /// Asks the worker to stop (finish handlers in flight, SMI DOWN). Returns at once.
    fn stop(&self) {
        self.worker().stop();
    }

    /// Waits until the worker has stopped, at most `timeout` seconds (None: no limit). The GIL
    /// is released and signals are checked between slices. True if it has stopped.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let deadline = match timeout {
            Some(t) if t <= 0.0 => Some(Instant::now()),
            Some(t) => Some(Instant::now() + seconds("timeout", t)?),
            None => None,
        };
        let worker = self.worker();
        loop {
            let slice = deadline.map_or(WAIT_SLICE, |d| d.saturating_duration_since(Instant::now()).min(WAIT_SLICE));
            if py.detach(|| worker.wait(Some(slice))) {
                return Ok(true);
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
        }
    }

    /// Stops and waits for the worker's thread (GIL released: handlers may still need it).
    fn join(&self, py: Python<'_>) {
        let worker = self.worker();
        py.detach(|| worker.join());
    }

    /// Why the worker stopped by itself (the broker refused its CURVE handshake or its
    /// registration: `zss.AuthenticationError`), or None.
    fn error(&self, py: Python<'_>) -> Option<PyErr> {
        self.worker().error().map(|e| to_pyerr(py, e))
    }

    /// The worker's counters.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, value) in self.worker().stats().fields() {
            dict.set_item(name, value)?;
        }
        Ok(dict)
    }
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        // Dropping the core worker joins it, and its handler threads may be waiting for the GIL.
        if let Some(worker) = self.inner.take() {
            Python::attach(|py| py.detach(move || drop(worker)));
        }
    }
}
