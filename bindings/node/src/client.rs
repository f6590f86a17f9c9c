//! `NativeClient`: one core [`zss::Client`] (one DEALER socket, one I/O thread) per JS client.
//!
//! `call` converts the arguments on the JS thread, then hands the call to the core with
//! [`zss::Client::send`]. Its completion runs on the client's I/O thread and only settles a
//! napi `JsDeferred` (a thread-safe function underneath, non-blocking): the outcome is turned
//! into JS values later, on the JS thread. Every call always settles, so a pending call keeps
//! the event loop alive exactly as long as it is in flight, like the original's timer did.
//!
//! The promise resolves with a plain outcome record; `lib/client.js` turns failures into
//! `ZssError`s (JS owns the error class and its extra fields).

use napi::bindgen_prelude::*;
use napi::sys;
use napi::JsDeferred;
use napi_derive::napi;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::convert::{JsHeaders, JsValueIn};
use crate::util::set;

/// Milliseconds (as JS passes them) → Duration, rejecting what cannot be a timeout.
pub fn millis(name: &str, ms: f64) -> Result<Duration> {
    if ms.is_finite() && ms > 0.0 {
        Ok(Duration::from_secs_f64(ms / 1000.0))
    } else {
        Err(Error::new(
            Status::InvalidArg,
            format!("{name} must be a positive number of milliseconds, got {ms}"),
        ))
    }
}

/// The outcome of one call, converted to JS on the JS thread.
pub struct Outcome(pub zss::Result<zss::Reply>);

impl ToNapiValue for Outcome {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let mut obj = std::ptr::null_mut();
        sys::napi_create_object(env, &mut obj);
        match val.0 {
            Ok(reply) => {
                set(env, obj, "ok", &zss::Value::Bool(true))?;
                set(env, obj, "status", &zss::Value::Int(reply.status.into()))?;
                set(env, obj, "headers", &reply.headers)?;
                set(env, obj, "payload", &reply.payload)?;
            }
            Err(e) => {
                set(env, obj, "ok", &zss::Value::Bool(false))?;
                let kind = match &e {
                    zss::Error::Service(_) => "service",
                    zss::Error::InvalidArgument(_) => "invalid",
                    zss::Error::Closed => "closed",
                    zss::Error::Socket { .. } => "socket",
                    zss::Error::AuthenticationFailed(_) => "auth",
                    zss::Error::BrokerLost(_) => "brokerLost",
                };
                set(env, obj, "kind", &zss::Value::from(kind))?;
                set(env, obj, "code", &zss::Value::Int(e.code().into()))?;
                match e {
                    zss::Error::Service(se) => {
                        set(
                            env,
                            obj,
                            "userMessage",
                            &zss::Value::from(se.user_message.as_str()),
                        )?;
                        set(
                            env,
                            obj,
                            "developerMessage",
                            &zss::Value::from(se.developer_message.as_str()),
                        )?;
                        set(env, obj, "payload", &se.payload)?;
                    }
                    other => set(env, obj, "message", &zss::Value::from(other.to_string()))?,
                }
            }
        }
        Ok(obj)
    }
}

type Deferred = JsDeferred<Outcome, Box<dyn FnOnce(Env) -> Result<Outcome> + Send>>;

/// Settles the call's promise once; cheap and non-blocking (safe on the I/O thread).
fn settle(slot: &Mutex<Option<Deferred>>, result: zss::Result<zss::Reply>) {
    let deferred = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(d) = deferred {
        d.resolve(Box::new(move |_env| Ok(Outcome(result))));
    }
}

#[napi]
pub struct NativeClient {
    inner: zss::Client,
    /// The brokers as last set (the core's config keeps the list it was connected with).
    brokers: Mutex<Vec<String>>,
}

#[napi]
impl NativeClient {
    #[napi(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        brokers: Vec<String>,
        sid: Option<String>,
        identity: String,
        timeout_ms: f64,
        headers: Option<JsHeaders>,
        curve: Option<crate::security::CurveKeys>,
        heartbeat_ms: Option<f64>,
        lost_after: Option<u32>,
    ) -> Result<Self> {
        let mut config = zss::ClientConfig::default()
            .brokers(brokers)
            .identity(identity)
            .timeout(millis("timeout", timeout_ms)?);
        if let Some(ms) = heartbeat_ms {
            config.heartbeat = millis("heartbeat", ms)?;
        }
        if let Some(beats) = lost_after {
            config.lost_after_beats = beats;
        }
        if let Some(curve) = &curve {
            let (server, pair) = crate::security::client_keys(curve)?;
            config = config.curve(server, pair);
        }
        config.sid = sid;
        config.headers = headers.map(|h| h.0).unwrap_or_default();
        let brokers = Mutex::new(config.brokers.clone());
        let inner = zss::Client::connect(config).map_err(crate::core_error)?;
        Ok(NativeClient { inner, brokers })
    }

    /// The socket identity, `<identity>#<uuid>`.
    #[napi(getter)]
    pub fn identity(&self) -> String {
        self.inner.identity().to_owned()
    }

    /// The brokers' frontends.
    #[napi(getter)]
    pub fn brokers(&self) -> Vec<String> {
        self.brokers.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `[heartbeatMs, lostAfter]`: the brokers' ping interval and the silent intervals that
    /// make one lost.
    #[napi(getter)]
    pub fn liveness(&self) -> Vec<f64> {
        let config = self.inner.config();
        vec![config.heartbeat.as_secs_f64() * 1000.0, f64::from(config.lost_after_beats)]
    }

    /// Replaces the brokers: new ones are connected, ones no longer listed take no new calls.
    #[napi]
    pub fn set_brokers(&self, brokers: Vec<String>) -> Result<()> {
        self.inner.set_brokers(brokers.clone()).map_err(crate::core_error)?;
        *self.brokers.lock().unwrap_or_else(|p| p.into_inner()) = brokers;
        Ok(())
    }

    /// Sends one call; the promise resolves with an outcome record (never rejects for a reply).
    #[napi(ts_return_type = "Promise<unknown>")]
    pub fn call<'env>(
        &self,
        env: &'env Env,
        verb: String,
        payload: JsValueIn,
        sid: Option<String>,
        headers: Option<JsHeaders>,
        timeout_ms: Option<f64>,
        retries: Option<u32>,
    ) -> Result<Unknown<'env>> {
        let call = zss::Call {
            verb,
            payload: payload.0,
            sid,
            headers: headers.map(|h| h.0).unwrap_or_default(),
            timeout: timeout_ms.map(|t| millis("timeout", t)).transpose()?,
            retries: retries.unwrap_or(0),
        };
        let (deferred, promise) =
            env.create_deferred::<Outcome, Box<dyn FnOnce(Env) -> Result<Outcome> + Send>>()?;
        // A deferred must be settled exactly once: an unsettled one keeps its thread-safe
        // function (and so the event loop) alive forever. `send` either calls the completion
        // or returns an error without calling it; the slot lets us settle in the second case.
        let slot = Arc::new(Mutex::new(Some(deferred)));
        let completion_slot = slot.clone();
        // The call holds a client handle until it completes: dropping the JS object mid-call
        // must not close the socket under it (the last handle closes it, on the I/O thread).
        let keep_alive = self.inner.clone();
        let sent = self.inner.send(
            call,
            Box::new(move |result| {
                drop(keep_alive);
                settle(&completion_slot, result);
            }),
        );
        if let Err(e) = sent {
            settle(&slot, Err(e));
        }
        Ok(promise.to_unknown())
    }

    /// Closes the socket; calls in flight settle as closed. Idempotent. Joining the I/O thread
    /// is quick: it is woken through its mailbox and only settles deferreds (non-blocking).
    #[napi]
    pub fn close(&self) {
        self.inner.close();
    }
}
