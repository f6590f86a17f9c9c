//! `ZSS::Native::Client`: one core client (one socket, many calls in flight, thread-safe).
//!
//! A call is sent from the calling Ruby thread and waited for with the GVL released (the core's
//! `PendingReply`, which reads the socket on this thread when no other thread is using it), so
//! other Ruby threads run meanwhile and Ctrl-C / `Thread#kill` / `Timeout.timeout` interrupt
//! the wait. An interrupted call stays in flight in the core until its reply or timeout; its
//! outcome is then dropped.

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use magnus::{Error, RArray, Ruby, Value as RValue};

use crate::convert;
use crate::errors::to_rb;
use crate::gvl;

#[magnus::wrap(class = "ZSS::Native::Client", free_immediately, size)]
pub struct Client {
    inner: zss::Client,
    /// The brokers as last set (the core's config keeps the list it was connected with).
    brokers: Mutex<Vec<String>>,
}

fn millis(ruby: &Ruby, what: &str, ms: f64) -> Result<Duration, Error> {
    if !(ms.is_finite() && ms > 0.0) {
        return Err(Error::new(ruby.exception_arg_error(), format!("{what} must be a positive number of milliseconds, got {ms}")));
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

impl Client {
    /// `new(frontends, sid, identity, timeout_ms, curve, heartbeat_ms, lost_after)`.
    /// Connecting is asynchronous (ZeroMQ): calls made before a broker is reachable wait in
    /// the socket's queue until their timeout. `curve` is nil (plaintext) or
    /// `[broker_key, secret_key, public_key or nil]`; `heartbeat_ms` and `lost_after` (the
    /// brokers' liveness) nil for the defaults.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ruby: &Ruby,
        frontends: Vec<String>,
        sid: String,
        identity: String,
        timeout_ms: f64,
        curve: Option<crate::security::CurveArgs>,
        heartbeat_ms: Option<f64>,
        lost_after: Option<u32>,
    ) -> Result<Client, Error> {
        let mut config = zss::ClientConfig::default()
            .brokers(frontends)
            .sid(sid)
            .identity(identity)
            .timeout(millis(ruby, "timeout", timeout_ms)?);
        if let Some(ms) = heartbeat_ms {
            config.heartbeat = millis(ruby, "heartbeat", ms)?;
        }
        if let Some(beats) = lost_after {
            config.lost_after_beats = beats;
        }
        if let Some(curve) = &curve {
            let (server, pair) = crate::security::client_keys(ruby, curve)?;
            config = config.curve(server, pair);
        }
        let brokers = Mutex::new(config.brokers.clone());
        let inner = zss::Client::connect(config).map_err(|e| to_rb(ruby, e))?;
        Ok(Client { inner, brokers })
    }

    pub fn identity(&self) -> String {
        self.inner.identity().to_owned()
    }

    /// The brokers' frontends.
    pub fn brokers(&self) -> Vec<String> {
        self.brokers.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `[heartbeat_ms, lost_after]`: the brokers' liveness settings.
    pub fn liveness(&self) -> (f64, u32) {
        let config = self.inner.config();
        (config.heartbeat.as_secs_f64() * 1000.0, config.lost_after_beats)
    }

    /// Replaces the brokers: new ones are connected, ones no longer listed take no new calls.
    pub fn set_brokers(ruby: &Ruby, rb_self: &Client, brokers: Vec<String>) -> Result<(), Error> {
        rb_self.inner.set_brokers(brokers.clone()).map_err(|e| to_rb(ruby, e))?;
        *rb_self.brokers.lock().unwrap_or_else(|p| p.into_inner()) = brokers;
        Ok(())
    }

    /// `call(verb, payload, headers, timeout_ms, retries)` → `[status, headers, payload]` for a
    /// 2xx reply; raises `ZSS::Error` (`ZSS::TimeoutError` for 599, `ZSS::BrokerLostError`
    /// for a call lost with its broker and no retries left) otherwise.
    pub fn call(
        ruby: &Ruby,
        rb_self: &Client,
        verb: String,
        payload: RValue,
        headers: RValue,
        timeout_ms: Option<f64>,
        retries: u32,
    ) -> Result<RArray, Error> {
        let mut call = zss::Call::new(verb, convert::to_value(ruby, payload, "payload")?).retries(retries);
        call.headers = convert::to_headers(ruby, headers)?;
        if let Some(ms) = timeout_ms {
            call.timeout = Some(millis(ruby, "timeout", ms)?);
        }
        let pending = rb_self.inner.start(call).map_err(|e| to_rb(ruby, e))?;
        // The wait drives the socket itself when no other thread is using it (no hand-off);
        // the unblock function's wake ends it early, in a socket poll or a condvar wait alike.
        let result = gvl::wait(
            ruby,
            |interrupted, until| {
                if interrupted.load(Ordering::SeqCst) {
                    return None;
                }
                pending.wait_until(Some(until))
            },
            || pending.wake(),
        )?;
        let reply = result.map_err(|e| to_rb(ruby, e))?;
        let out = ruby.ary_new_capa(3);
        out.push(reply.status)?;
        out.push(convert::to_ruby(ruby, &reply.headers)?)?;
        out.push(convert::to_ruby(ruby, &reply.payload)?)?;
        Ok(out)
    }

    /// Closes the socket; calls still waiting fail with `ZSS::ClosedError`. Idempotent.
    pub fn close(&self) {
        self.inner.close();
    }
}
