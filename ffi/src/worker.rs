//! `zss_worker`: serves a service with C callbacks as verb handlers.
//!
//! A handler is a C function plus a `void *userdata`. It runs on one of the worker's handler
//! threads and sees two borrowed handles: the `zss_request` to read and the `zss_response` to
//! fill. When it returns, the response becomes the reply through the core's `Responder`.

use crate::handle::{borrow, borrow_mut, endpoints_arg, free_raw, into_raw, opt_str_arg, out_param, str_arg};
use crate::value::{c_string, json_arg, msgpack_arg, write_bytes, CachedValue};
use crate::{guard, guard_void, zss_result, FfiResult, Failure};
use std::cell::Cell;
use std::ffi::{c_char, c_void, CString};
use std::sync::{Arc, Mutex};
use zss::{status, Request, Responder, Response, RunningWorker, ServiceError, Value, Worker, WorkerConfig};

/// A verb handler. Called on a worker thread, possibly on several threads at once (up to the
/// worker's concurrency), with the `userdata` given to `zss_worker_add_verb`.
///
/// `request` and `response` are borrowed for the duration of the call only: do not keep them.
/// Fill `response` with one of `zss_response_set_json`, `zss_response_set_msgpack` or
/// `zss_response_set_error` (the last call wins); left unset, the reply is 204 No Content.
/// The handler must return normally (no `longjmp` or C++ exception across it).
pub type zss_handler =
    Option<unsafe extern "C" fn(userdata: *mut c_void, request: *const zss_request, response: *mut zss_response)>;

/// The C caller promises (in `zss_worker_add_verb`'s contract) that `userdata` may be used
/// from the worker's threads.
#[derive(Clone, Copy)]
struct Userdata(*mut c_void);
unsafe impl Send for Userdata {}
unsafe impl Sync for Userdata {}

thread_local! {
    /// The address of the `zss_worker` whose C handler runs on this thread (0: none), so that
    /// stopping or freeing a worker from inside its own handler is caught instead of
    /// deadlocking (a stopping worker waits for its handlers to finish).
    static IN_HANDLER: Cell<usize> = const { Cell::new(0) };
}

fn in_own_handler(worker: &zss_worker) -> bool {
    IN_HANDLER.with(Cell::get) == worker as *const zss_worker as usize
}

/// A request as a handler sees it. Borrowed: valid only during the handler call.
pub struct zss_request {
    payload: CachedValue,
    headers: CachedValue,
    rid: CString,
    client: CString,
    sid: CString,
    verb: CString,
}

/// The answer a handler is building. Borrowed: valid only during the handler call.
pub struct zss_response {
    outcome: Option<Result<(Option<u16>, Value), ServiceError>>,
    headers: Vec<(String, Value)>,
}

impl zss_response {
    /// What the core sends: the set outcome, or 204 when the handler set nothing (the Node
    /// service's answer to a handler returning nothing).
    fn into_result(self) -> Result<Response, ServiceError> {
        match self.outcome {
            None => Ok(Response { status: None, payload: Value::Nil, headers: self.headers }),
            Some(Ok((status, payload))) => Ok(Response { status, payload, headers: self.headers }),
            Some(Err(e)) => Err(e),
        }
    }
}

/// Runs the C handler for one request and answers through the core's responder.
fn run_handler(verb: &Verb, req: Request, responder: Responder) {
    let request = zss_request {
        rid: c_string(&req.rid),
        client: c_string(&req.client),
        sid: c_string(&req.address.sid),
        verb: c_string(&req.address.verb),
        payload: CachedValue::new(req.payload),
        headers: CachedValue::new(req.headers),
    };
    let mut response = zss_response { outcome: None, headers: Vec::new() };
    IN_HANDLER.with(|h| h.set(verb.owner));
    // SAFETY: the pointers are to locals that outlive the call; the handler's own contract
    // (documented on zss_handler) covers what it does with them.
    unsafe { (verb.handler)(verb.userdata.0, &request, &mut response) };
    IN_HANDLER.with(|h| h.set(0));
    responder.send(response.into_result());
}

/// A worker (service). Opaque; thread-safe. Made by `zss_worker_new`, configured with
/// `zss_worker_add_verb`, run by `zss_worker_start`, stopped by `zss_worker_stop` or
/// `zss_worker_free`.
pub struct zss_worker {
    state: Mutex<WorkerState>,
}

/// One registered verb: the C function, its userdata, and the handle it belongs to.
#[derive(Clone, Copy)]
struct Verb {
    handler: unsafe extern "C" fn(*mut c_void, *const zss_request, *mut zss_response),
    userdata: Userdata,
    owner: usize,
}

enum WorkerState {
    /// Kept as config + verbs (not a core `Worker`) so settings can change in any order
    /// before start: the core's `Worker` does not expose its config once built.
    Defining { config: WorkerConfig, verbs: Vec<(String, Verb)> },
    /// Shared so a handler can request a stop without holding the lock while the worker
    /// drains (see `zss_worker_stop`).
    Running(Arc<RunningWorker>),
    Stopped,
}

fn not_defining(state: &WorkerState) -> Failure {
    match state {
        WorkerState::Stopped => Failure::new(zss_result::Closed, "the worker was stopped"),
        _ => Failure::new(zss_result::InvalidState, "the worker is already running"),
    }
}

/// Creates a worker for service `sid` that will connect to a broker backend, e.g.
/// `"tcp://127.0.0.1:7776"`, or to several given as one comma-separated list, e.g.
/// `"tcp://a:7776,tcp://b:7776"`: the worker then registers with every broker in the list,
/// heartbeats each and re-registers with each one on its own when it comes back, so calls
/// through any of them reach it. Nothing connects until `zss_worker_start`.
///
/// Ownership: on success `*worker_out` is a new worker to free with `zss_worker_free`; on
/// failure it is set to NULL. Errors: `ZSS_RESULT_NULL_PARAMETER`,
/// `ZSS_RESULT_INVALID_ARGUMENT` (not UTF-8, empty sid, or the reserved sid `SMI`).
#[no_mangle]
pub unsafe extern "C" fn zss_worker_new(
    endpoint: *const c_char,
    sid: *const c_char,
    worker_out: *mut *mut zss_worker,
) -> zss_result {
    guard("zss_worker_new", || {
        let worker_out = out_param(worker_out, "worker_out")?;
        *worker_out = std::ptr::null_mut();
        let endpoint = str_arg(endpoint, "endpoint")?;
        let sid = str_arg(sid, "sid")?;
        // Checked here too (the core checks at start) so the mistake surfaces where it is made.
        if sid.is_empty() || sid.eq_ignore_ascii_case("SMI") {
            return Err(Failure::new(zss_result::InvalidArgument, format!("invalid service id {sid:?}")));
        }
        let config = WorkerConfig::new(sid).broker(endpoint);
        *worker_out = into_raw(zss_worker { state: Mutex::new(WorkerState::Defining { config, verbs: Vec::new() }) });
        Ok(())
    })
}

/// Registers `handler` for `verb` (case-insensitive; a later registration of the same verb
/// replaces the earlier one). Only before `zss_worker_start`.
///
/// `userdata` is passed to every call of `handler`, from the worker's threads and possibly
/// concurrently: it must stay valid, and be safe to use from those threads, until
/// `zss_worker_stop` or `zss_worker_free` returns.
///
/// Errors: `ZSS_RESULT_NULL_PARAMETER` (worker, verb or handler NULL),
/// `ZSS_RESULT_INVALID_ARGUMENT` (empty verb), `ZSS_RESULT_INVALID_STATE` (already started),
/// `ZSS_RESULT_CLOSED` (stopped).
#[no_mangle]
pub unsafe extern "C" fn zss_worker_add_verb(
    worker: *const zss_worker,
    verb: *const c_char,
    handler: zss_handler,
    userdata: *mut c_void,
) -> zss_result {
    guard("zss_worker_add_verb", || {
        let worker = borrow(worker, "worker")?;
        let verb = str_arg(verb, "verb")?;
        let handler = handler.ok_or_else(|| Failure::new(zss_result::NullParameter, "handler is NULL"))?;
        if verb.is_empty() {
            return Err(Failure::new(zss_result::InvalidArgument, "verb must not be empty"));
        }
        let owner = worker as *const zss_worker as usize;
        let mut state = worker.state.lock().unwrap_or_else(|p| p.into_inner());
        let WorkerState::Defining { verbs, .. } = &mut *state else {
            return Err(not_defining(&state));
        };
        verbs.push((verb.to_owned(), Verb { handler, userdata: Userdata(userdata), owner }));
        Ok(())
    })
}

/// How many requests the worker handles at once, i.e. how many handler threads it runs
/// (default 16). Only before `zss_worker_start`.
///
/// Errors: `ZSS_RESULT_NULL_PARAMETER`, `ZSS_RESULT_INVALID_ARGUMENT` (0),
/// `ZSS_RESULT_INVALID_STATE` (already started), `ZSS_RESULT_CLOSED` (stopped).
#[no_mangle]
pub unsafe extern "C" fn zss_worker_set_concurrency(worker: *const zss_worker, concurrency: u32) -> zss_result {
    guard("zss_worker_set_concurrency", || {
        let worker = borrow(worker, "worker")?;
        if concurrency == 0 {
            return Err(Failure::new(zss_result::InvalidArgument, "concurrency must be at least 1"));
        }
        let mut state = worker.state.lock().unwrap_or_else(|p| p.into_inner());
        let WorkerState::Defining { config, .. } = &mut *state else {
            return Err(not_defining(&state));
        };
        config.concurrency = concurrency as usize;
        Ok(())
    })
}

/// Encrypts the worker's connection with CURVE: `broker_public` is the broker's public key,
/// `secret` the worker's secret key (each Z85 text, a key file or `env:VAR`). Only before
/// `zss_worker_start`. A worker whose handshake or registration is refused stops by itself
/// (it does not retry); the reason is logged.
///
/// Errors: `ZSS_RESULT_NULL_PARAMETER`, `ZSS_RESULT_INVALID_ARGUMENT` (a malformed key, a
/// libzmq without CURVE), `ZSS_RESULT_INVALID_STATE` (already started), `ZSS_RESULT_CLOSED`.
#[no_mangle]
pub unsafe extern "C" fn zss_worker_set_curve(
    worker: *const zss_worker,
    broker_public: *const c_char,
    secret: *const c_char,
) -> zss_result {
    guard("zss_worker_set_curve", || {
        let worker = borrow(worker, "worker")?;
        let server = crate::security::key_arg(broker_public, "broker_public")?;
        let pair = crate::security::pair_arg(secret, "secret")?;
        let mut state = worker.state.lock().unwrap_or_else(|p| p.into_inner());
        let WorkerState::Defining { config, .. } = &mut *state else {
            return Err(not_defining(&state));
        };
        *config = std::mem::replace(config, WorkerConfig::new("")).curve(server, pair);
        Ok(())
    })
}

/// Replaces the brokers the worker serves through (`endpoints`: a comma-separated list of
/// backends). Before `zss_worker_start` it replaces the list given to `zss_worker_new`; on a
/// running worker it registers with the new brokers and disconnects from the ones no longer
/// listed (they forget it after their TTL), without stopping.
///
/// Ownership: the string is copied. Threading: thread-safe.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`, `ZSS_RESULT_INVALID_ARGUMENT` (not UTF-8, an empty
/// list), `ZSS_RESULT_CLOSED` (stopped).
#[no_mangle]
pub unsafe extern "C" fn zss_worker_set_brokers(worker: *const zss_worker, endpoints: *const c_char) -> zss_result {
    guard("zss_worker_set_brokers", || {
        let worker = borrow(worker, "worker")?;
        let endpoints = endpoints_arg(endpoints, "endpoints")?;
        let mut state = worker.state.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *state {
            WorkerState::Defining { config, .. } => config.brokers = endpoints,
            WorkerState::Running(running) => running.set_brokers(endpoints),
            WorkerState::Stopped => return Err(not_defining(&state)),
        }
        Ok(())
    })
}

/// Connects, registers with the broker (SMI UP) and serves in the background. Returns at once;
/// registration completes asynchronously (the broker answers 404 for the sid until it has).
///
/// Errors: `ZSS_RESULT_NULL_PARAMETER`, `ZSS_RESULT_INVALID_STATE` (already started),
/// `ZSS_RESULT_CLOSED` (stopped), `ZSS_RESULT_SOCKET` (malformed endpoint).
#[no_mangle]
pub unsafe extern "C" fn zss_worker_start(worker: *const zss_worker) -> zss_result {
    guard("zss_worker_start", || {
        let worker = borrow(worker, "worker")?;
        let mut state = worker.state.lock().unwrap_or_else(|p| p.into_inner());
        let WorkerState::Defining { config, verbs } = &*state else {
            return Err(not_defining(&state));
        };
        let mut definition = Worker::new(config.clone());
        for (name, verb) in verbs {
            let verb = *verb;
            definition.verb_with_responder(name, move |req, responder| run_handler(&verb, req, responder));
        }
        // On failure the worker stays defined and may be fixed or started again.
        *state = WorkerState::Running(Arc::new(definition.start()?));
        Ok(())
    })
}

/// The worker's socket identity, `<SID>#<uuid>` (as the broker sees it).
///
/// Ownership: `*identity_out` is a new string the caller frees with `zss_string_free`.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`, `ZSS_RESULT_INVALID_STATE` (not running).
#[no_mangle]
pub unsafe extern "C" fn zss_worker_identity(worker: *const zss_worker, identity_out: *mut *mut c_char) -> zss_result {
    guard("zss_worker_identity", || {
        let worker = borrow(worker, "worker")?;
        let identity_out = out_param(identity_out, "identity_out")?;
        let state = worker.state.lock().unwrap_or_else(|p| p.into_inner());
        let WorkerState::Running(running) = &*state else {
            return Err(Failure::new(zss_result::InvalidState, "the worker is not running"));
        };
        *identity_out = c_string(running.identity()).into_raw();
        Ok(())
    })
}

/// Frees a string this library allocated (`zss_worker_identity`). NULL is a no-op.
///
/// Ownership: takes the string back. Errors: none.
#[no_mangle]
pub unsafe extern "C" fn zss_string_free(s: *mut c_char) {
    guard_void("zss_string_free", || {
        if !s.is_null() {
            drop(CString::from_raw(s));
        }
    });
}

/// Stops the worker: it finishes the requests in flight (at most 2 s), unregisters from the
/// broker (SMI DOWN, waiting at most 2 s for the answer), and returns when its threads have
/// exited. Idempotent; a stopped worker cannot be restarted. Stopping a worker that was never
/// started just marks it stopped.
///
/// From inside one of the worker's own handlers this only *requests* the stop and returns at
/// once (waiting there would deadlock); the stop then completes in `zss_worker_free` or a
/// `zss_worker_stop` from another thread.
///
/// Threading: thread-safe. Errors: `ZSS_RESULT_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn zss_worker_stop(worker: *const zss_worker) -> zss_result {
    guard("zss_worker_stop", || {
        let worker = borrow(worker, "worker")?;
        stop(worker);
        Ok(())
    })
}

fn stop(worker: &zss_worker) {
    let mut state = worker.state.lock().unwrap_or_else(|p| p.into_inner());
    if in_own_handler(worker) {
        if let WorkerState::Running(running) = &*state {
            running.stop();
        }
        return;
    }
    let old = std::mem::replace(&mut *state, WorkerState::Stopped);
    // Wait outside the lock: the handlers still running may call into this worker.
    drop(state);
    if let WorkerState::Running(running) = old {
        running.join();
    }
}

/// Stops (as `zss_worker_stop`) and frees a worker. NULL is a no-op.
///
/// Must not be called from one of the worker's own handlers: that is detected, the stop is
/// requested, and the handle is leaked rather than freed under the running handler.
/// Ownership: takes back the worker. Threading: no other thread may be using the worker.
/// Errors: none.
#[no_mangle]
pub unsafe extern "C" fn zss_worker_free(worker: *mut zss_worker) {
    guard_void("zss_worker_free", || {
        let Some(w) = worker.as_ref() else { return };
        if in_own_handler(w) {
            stop(w);
            return;
        }
        stop(w);
        free_raw(worker);
    });
}

// ---------------------------------------------------------------------------------------------
// zss_request: read-only, borrowed during a handler call

/// The request payload as compact JSON text.
///
/// Ownership: borrowed from the request, valid until the handler returns.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn zss_request_payload_json(request: *const zss_request, json_out: *mut *const c_char) -> zss_result {
    guard("zss_request_payload_json", || {
        let request = borrow(request, "request")?;
        *out_param(json_out, "json_out")? = request.payload.json();
        Ok(())
    })
}

/// The request payload as msgpack bytes.
///
/// Ownership: borrowed from the request, valid until the handler returns.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`; `ZSS_RESULT_INVALID_ARGUMENT` for binary data (read it
/// as JSON instead).
#[no_mangle]
pub unsafe extern "C" fn zss_request_payload_msgpack(
    request: *const zss_request,
    data_out: *mut *const u8,
    len_out: *mut usize,
) -> zss_result {
    guard("zss_request_payload_msgpack", || {
        let request = borrow(request, "request")?;
        let (data_out, len_out) = (out_param(data_out, "data_out")?, out_param(len_out, "len_out")?);
        write_bytes(request.payload.msgpack()?, data_out, len_out);
        Ok(())
    })
}

/// The request headers as a JSON object text (`{}` when the caller sent none).
///
/// Ownership: borrowed from the request, valid until the handler returns.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn zss_request_headers_json(request: *const zss_request, json_out: *mut *const c_char) -> zss_result {
    guard("zss_request_headers_json", || {
        let request = borrow(request, "request")?;
        *out_param(json_out, "json_out")? = request.headers.json();
        Ok(())
    })
}

/// The request headers as a msgpack map.
///
/// Ownership: borrowed from the request, valid until the handler returns.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`; `ZSS_RESULT_INVALID_ARGUMENT` for binary values.
#[no_mangle]
pub unsafe extern "C" fn zss_request_headers_msgpack(
    request: *const zss_request,
    data_out: *mut *const u8,
    len_out: *mut usize,
) -> zss_result {
    guard("zss_request_headers_msgpack", || {
        let request = borrow(request, "request")?;
        let (data_out, len_out) = (out_param(data_out, "data_out")?, out_param(len_out, "len_out")?);
        write_bytes(request.headers.msgpack()?, data_out, len_out);
        Ok(())
    })
}

/// Which text field of a request `zss_request_text` reads.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum zss_request_field {
    /// The request id (echoed in the reply).
    Rid = 0,
    /// The calling client's identity, `<prefix>#<uuid>`.
    Client = 1,
    /// The service id as the client sent it.
    Sid = 2,
    /// The verb as the client sent it.
    Verb = 3,
}

/// A text field of the request: rid, client identity, sid or verb.
///
/// Ownership: borrowed from the request, valid until the handler returns.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn zss_request_text(
    request: *const zss_request,
    field: zss_request_field,
    text_out: *mut *const c_char,
) -> zss_result {
    guard("zss_request_text", || {
        let request = borrow(request, "request")?;
        let text = match field {
            zss_request_field::Rid => &request.rid,
            zss_request_field::Client => &request.client,
            zss_request_field::Sid => &request.sid,
            zss_request_field::Verb => &request.verb,
        };
        *out_param(text_out, "text_out")? = text.as_ptr();
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// zss_response: filled by a handler

/// A success status: 0 picks the default (200, or 204 for a nil payload); otherwise 2xx.
fn success_status(status: u16) -> FfiResult<Option<u16>> {
    match status {
        0 => Ok(None),
        s if status::is_success(s) => Ok(Some(s)),
        s => Err(Failure::new(
            zss_result::InvalidArgument,
            format!("status {s} is not a 2xx success status; use zss_response_set_error for errors"),
        )),
    }
}

/// An error reply's status: 400–599.
fn error_code(code: u16) -> FfiResult<u16> {
    if (400..=599).contains(&code) {
        Ok(code)
    } else {
        Err(Failure::new(zss_result::InvalidArgument, format!("error code {code} is not in 400-599")))
    }
}

/// Answers with a JSON payload and a 2xx `status` (0: 200, or 204 when the payload is `null`).
///
/// On failure the response is left as it was. Errors: `ZSS_RESULT_NULL_PARAMETER`,
/// `ZSS_RESULT_INVALID_JSON`, `ZSS_RESULT_INVALID_ARGUMENT` (status not 0 or 2xx).
#[no_mangle]
pub unsafe extern "C" fn zss_response_set_json(response: *mut zss_response, status: u16, json: *const c_char) -> zss_result {
    guard("zss_response_set_json", || {
        let response = borrow_mut(response, "response")?;
        let status = success_status(status)?;
        let payload = json_arg(json, "json")?;
        response.outcome = Some(Ok((status, payload)));
        Ok(())
    })
}

/// Answers with a msgpack payload (`len` bytes; 0 bytes = nil) and a 2xx `status` (0: 200, or
/// 204 for nil).
///
/// On failure the response is left as it was. Errors: `ZSS_RESULT_NULL_PARAMETER`,
/// `ZSS_RESULT_INVALID_MSGPACK`, `ZSS_RESULT_INVALID_ARGUMENT` (status not 0 or 2xx).
#[no_mangle]
pub unsafe extern "C" fn zss_response_set_msgpack(
    response: *mut zss_response,
    status: u16,
    data: *const u8,
    len: usize,
) -> zss_result {
    guard("zss_response_set_msgpack", || {
        let response = borrow_mut(response, "response")?;
        let status = success_status(status)?;
        // Decoded now: a bad buffer is the handler's error to see, not a silent 500 later.
        let payload = msgpack_arg(data, len, "data")?;
        response.outcome = Some(Ok((status, payload)));
        Ok(())
    })
}

/// Answers with an error: status `code` (400–599; e.g. 404, 422, 500) and the ZSS error
/// payload `{code, userMessage, developerMessage, errorCode}`. NULL messages take the standard
/// text for the code. The caller receives `ZSS_RESULT_SERVICE_ERROR` with this code and these
/// messages.
///
/// On failure the response is left as it was. Errors: `ZSS_RESULT_NULL_PARAMETER`,
/// `ZSS_RESULT_INVALID_ARGUMENT` (code outside 400–599, messages not UTF-8).
#[no_mangle]
pub unsafe extern "C" fn zss_response_set_error(
    response: *mut zss_response,
    code: u16,
    user_message: *const c_char,
    developer_message: *const c_char,
) -> zss_result {
    guard("zss_response_set_error", || {
        let response = borrow_mut(response, "response")?;
        let mut error = ServiceError::new(error_code(code)?);
        if let Some(m) = opt_str_arg(user_message, "user_message")? {
            error.user_message = m.to_owned();
        }
        if let Some(m) = opt_str_arg(developer_message, "developer_message")? {
            error.developer_message = m.to_owned();
        }
        response.outcome = Some(Err(error));
        Ok(())
    })
}

/// Answers with an error whose payload is given as a JSON object: status `code` (400–599) and
/// the ZSS error payload `{code, userMessage, developerMessage, errorCode, ...}`, where
/// `userMessage` and `developerMessage` come from `error_json` when it has them as strings (the
/// standard text for the code otherwise) and every other field of `error_json` (e.g.
/// `"validationErrors"`) is kept as an extra field. A `code`/`errorCode` in `error_json` is
/// ignored: `code` wins. NULL `error_json` is the same as `zss_response_set_error(response,
/// code, NULL, NULL)`.
///
/// On failure the response is left as it was. Errors: `ZSS_RESULT_NULL_PARAMETER`,
/// `ZSS_RESULT_INVALID_JSON`, `ZSS_RESULT_INVALID_ARGUMENT` (code outside 400–599, JSON not an
/// object).
#[no_mangle]
pub unsafe extern "C" fn zss_response_set_error_json(
    response: *mut zss_response,
    code: u16,
    error_json: *const c_char,
) -> zss_result {
    guard("zss_response_set_error_json", || {
        let response = borrow_mut(response, "response")?;
        let code = error_code(code)?;
        let fields = if error_json.is_null() { Value::Map(Vec::new()) } else { json_arg(error_json, "error_json")? };
        if !matches!(fields, Value::Map(_)) {
            return Err(Failure::new(zss_result::InvalidArgument, "error_json is not a JSON object"));
        }
        response.outcome = Some(Err(ServiceError::from_reply(Some(code), fields)));
        Ok(())
    })
}

/// Adds (or replaces) a reply header, its value given as JSON text (e.g. `"\"abc\""`, `"42"`).
/// Headers are sent with success replies; the core sends error replies with the request's
/// headers only.
///
/// Errors: `ZSS_RESULT_NULL_PARAMETER`, `ZSS_RESULT_INVALID_JSON`.
#[no_mangle]
pub unsafe extern "C" fn zss_response_set_header_json(
    response: *mut zss_response,
    key: *const c_char,
    value_json: *const c_char,
) -> zss_result {
    guard("zss_response_set_header_json", || {
        let response = borrow_mut(response, "response")?;
        let key = str_arg(key, "key")?;
        let value = json_arg(value_json, "value_json")?;
        match response.headers.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => response.headers.push((key.to_owned(), value)),
        }
        Ok(())
    })
}
