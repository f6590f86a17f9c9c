//! `NativeWorker`: a core [`zss::Worker`] whose handlers run in JavaScript.
//!
//! Every verb is registered with [`zss::Worker::verb_with_responder`], as an inline handler:
//! the core calls it on the worker's I/O thread with the request and a [`zss::Responder`]; we
//! only queue both onto the JS thread through one thread-safe function (non-blocking, unbounded queue) and return,
//! so the I/O thread never waits for JavaScript. On the JS thread `lib/service.js` runs the
//! user's handler and answers through the `Responder` object whenever the handler settles. A
//! `Responder` collected unanswered (or a queue refused at shutdown) answers 500 in the core.
//!
//! The thread-safe function is owned by the core's handler closures, so it lives exactly as
//! long as the worker's I/O thread: while the service runs it keeps the event loop alive (as
//! the original's socket did), and once `stop()` has joined the worker it is released and the
//! process can exit.

use napi::bindgen_prelude::*;
use napi::sys;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use std::sync::Arc;

use crate::client::millis;
use crate::convert::{JsHeaders, JsValueIn};
use crate::util::set;
use crate::UnitTask;

/// What a handler learns about a request, built on the JS thread.
pub struct RequestOut(zss::Request);

impl ToNapiValue for RequestOut {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let r = val.0;
        let mut obj = std::ptr::null_mut();
        sys::napi_create_object(env, &mut obj);
        set(env, obj, "client", &zss::Value::Str(r.client))?;
        set(env, obj, "rid", &zss::Value::Str(r.rid))?;
        set(env, obj, "sid", &zss::Value::Str(r.address.sid))?;
        set(env, obj, "verb", &zss::Value::Str(r.address.verb))?;
        set(env, obj, "headers", &r.headers)?;
        set(env, obj, "payload", &r.payload)?;
        Ok(obj)
    }
}

/// Answers one request, once, from the JS thread.
#[napi]
pub struct Responder {
    inner: Option<zss::Responder>,
}

impl Responder {
    fn take(&mut self) -> Result<zss::Responder> {
        self.inner
            .take()
            .ok_or_else(|| Error::new(Status::GenericFailure, "this request was already answered"))
    }
}

#[napi]
impl Responder {
    /// Answers with a payload. `status` must be 2xx (the core answers 500 otherwise, as the
    /// original service does); default 200, or 204 for a null payload. `headers` are merged
    /// over the request's headers in the reply. A payload that cannot be sent throws a
    /// TypeError *without* answering, so the caller can still answer with an error.
    #[napi]
    pub fn reply(
        &mut self,
        payload: JsValueIn,
        status: Option<u32>,
        headers: Option<JsHeaders>,
    ) -> Result<()> {
        let responder = self.take()?;
        let response = zss::Response {
            status: status.map(|s| u16::try_from(s).unwrap_or(zss::status::INTERNAL)),
            payload: payload.0,
            headers: headers.map(|h| h.0).unwrap_or_default(),
        };
        responder.send(Ok(response));
        Ok(())
    }

    /// Answers with an error: `code` with the given messages (the standard ones for the code
    /// when omitted) and `extra` fields kept next to them in the error payload.
    #[napi]
    pub fn fail(
        &mut self,
        code: u32,
        user_message: Option<String>,
        developer_message: Option<String>,
        extra: Option<JsHeaders>,
    ) -> Result<()> {
        let code = u16::try_from(code)
            .ok()
            .filter(|c| (400..600).contains(c))
            .unwrap_or(zss::status::INTERNAL);
        let (user, developer) = zss::status::messages(code);
        let mut error = zss::ServiceError::with_messages(
            code,
            user_message.as_deref().unwrap_or(user),
            developer_message.as_deref().unwrap_or(developer),
        );
        for (k, v) in extra.map(|e| e.0).unwrap_or_default() {
            error = error.with_field(&k, v);
        }
        let responder = self.take()?;
        responder.send(Err(error));
        Ok(())
    }

    /// Whether `reply` or `fail` has been called.
    #[napi(getter)]
    pub fn answered(&self) -> bool {
        self.inner.is_none()
    }
}

#[napi]
pub struct NativeWorker {
    running: Option<Arc<zss::RunningWorker>>,
}

#[napi]
impl NativeWorker {
    /// Builds the worker and starts it (SMI UP, heartbeats). `dispatch(request, responder)` is
    /// called on the JS thread for every request to one of `verbs`.
    #[napi(
        constructor,
        ts_args_type = "sid: string, brokers: string[], heartbeatMs: number, concurrency: number, verbs: string[], dispatch: (request: unknown, responder: Responder) => void, curve?: CurveKeys | null"
    )]
    pub fn new(
        sid: String,
        brokers: Vec<String>,
        heartbeat_ms: f64,
        concurrency: u32,
        verbs: Vec<String>,
        dispatch: Function<'_, Unknown<'static>, Unknown<'static>>,
        curve: Option<crate::security::CurveKeys>,
    ) -> Result<Self> {
        // Keys first: a malformed key throws before anything is built.
        let curve = curve.as_ref().map(crate::security::client_keys).transpose()?;
        let tsfn = Arc::new(
            dispatch
                .build_threadsafe_function::<(zss::Request, zss::Responder)>()
                .callee_handled::<false>()
                .build_callback(|ctx| {
                    let (request, responder) = ctx.value;
                    Ok(FnArgs::from((
                        RequestOut(request),
                        Responder {
                            inner: Some(responder),
                        },
                    )))
                })?,
        );
        let mut config = zss::WorkerConfig::new(sid)
            .brokers(brokers)
            .heartbeat(millis("heartbeat", heartbeat_ms)?);
        config.concurrency = concurrency as usize;
        if let Some((server, pair)) = curve {
            config = config.curve(server, pair);
        }
        // Our handler only queues onto the JS thread (microseconds, never blocks): run it on
        // the worker's I/O thread, no pool threads. `concurrency` still bounds the requests
        // handed to JavaScript and not yet answered (it counts until the responder answers).
        config.inline_handlers = true;
        let mut worker = zss::Worker::new(config);
        for verb in verbs {
            let tsfn = tsfn.clone();
            worker.verb_with_responder(&verb, move |request, responder| {
                // Non-blocking into an unbounded queue: the I/O thread never waits for JS. If
                // the queue is closing (environment teardown) the data is dropped and the
                // dropped responder answers 500.
                let status = tsfn.call(
                    (request, responder),
                    ThreadsafeFunctionCallMode::NonBlocking,
                );
                if status != Status::Ok {
                    log::warn!("could not hand a request to JavaScript: {status}");
                }
            });
        }
        drop(tsfn);
        let running = worker.start().map_err(crate::core_error)?;
        Ok(NativeWorker {
            running: Some(Arc::new(running)),
        })
    }

    /// The socket identity, `<SID>#<uuid>`.
    #[napi(getter)]
    pub fn identity(&self) -> String {
        self.running
            .as_ref()
            .map(|r| r.identity().to_owned())
            .unwrap_or_default()
    }

    /// Replaces the brokers: registers with new ones, disconnects from ones no longer listed.
    #[napi]
    pub fn set_brokers(&self, brokers: Vec<String>) {
        if let Some(running) = &self.running {
            running.set_brokers(brokers);
        }
    }

    /// Why the worker stopped by itself (the broker refused its CURVE handshake or its
    /// registration), as a call outcome record; null otherwise.
    #[napi(getter, ts_return_type = "unknown")]
    pub fn error(&self) -> Option<crate::client::Outcome> {
        let error = self.running.as_ref()?.error()?;
        Some(crate::client::Outcome(Err(error)))
    }

    /// Stops: finishes handlers in flight (bounded), SMI DOWN, joins the I/O thread. The join
    /// runs on libuv's thread pool: the JS thread must stay free to answer the handlers still
    /// in flight. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop(&self) -> AsyncTask<UnitTask> {
        let running = self.running.clone();
        AsyncTask::new(UnitTask::new(move || {
            if let Some(r) = running {
                r.join();
            }
        }))
    }
}

impl Drop for NativeWorker {
    fn drop(&mut self) {
        // Collected without stop(): dropping the last handle joins the worker, which can take
        // its stop timeout; never do that on the JS thread (a finalizer).
        if let Some(running) = self.running.take() {
            std::thread::spawn(move || drop(running));
        }
    }
}
