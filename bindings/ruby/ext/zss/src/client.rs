//! `ZSS::Native::Client`: one core client (one socket, many calls in flight, thread-safe).
//!
//! A call is sent from the calling Ruby thread and its completion (on the core's I/O thread)
//! fills a [`Slot`]; the Ruby thread waits for the slot with the GVL released, so other Ruby
//! threads run meanwhile and Ctrl-C / `Thread#kill` / `Timeout.timeout` interrupt the wait. An
//! interrupted call stays in flight in the core until its reply or timeout; its outcome is
//! then dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use magnus::{Error, RArray, Ruby, Value as RValue};

use crate::convert;
use crate::errors::to_rb;
use crate::gvl;

#[magnus::wrap(class = "ZSS::Native::Client", free_immediately, size)]
pub struct Client {
    inner: zss::Client,
}

/// One call's outcome, set once by the completion, waited for by one Ruby thread.
struct Slot {
    value: Mutex<Option<zss::Result<zss::Reply>>>,
    ready: Condvar,
}

impl Slot {
    fn set(&self, result: zss::Result<zss::Reply>) {
        *self.value.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
        self.ready.notify_all();
    }

    /// Blocks until the outcome is in, `interrupted` is set or `until` has passed.
    fn take(&self, interrupted: &AtomicBool, until: Instant) -> Option<zss::Result<zss::Reply>> {
        let mut value = self.value.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(v) = value.take() {
                return Some(v);
            }
            let now = Instant::now();
            if interrupted.load(Ordering::SeqCst) || now >= until {
                return None;
            }
            value = self.ready.wait_timeout(value, until - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    fn wake(&self) {
        drop(self.value.lock().unwrap_or_else(|p| p.into_inner()));
        self.ready.notify_all();
    }
}

fn millis(ruby: &Ruby, what: &str, ms: f64) -> Result<Duration, Error> {
    if !(ms.is_finite() && ms > 0.0) {
        return Err(Error::new(ruby.exception_arg_error(), format!("{what} must be a positive number of milliseconds, got {ms}")));
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

impl Client {
    /// `new(frontend, sid, identity, timeout_ms)`. Connecting is asynchronous (ZeroMQ): calls
    /// made before the broker is reachable wait in the socket's queue until their timeout.
    pub fn new(ruby: &Ruby, frontend: String, sid: String, identity: String, timeout_ms: f64) -> Result<Client, Error> {
        let config = zss::ClientConfig::new(frontend)
            .sid(sid)
            .identity(identity)
            .timeout(millis(ruby, "timeout", timeout_ms)?);
        let inner = zss::Client::connect(config).map_err(|e| to_rb(ruby, e))?;
        Ok(Client { inner })
    }

    pub fn identity(&self) -> String {
        self.inner.identity().to_owned()
    }

    /// `call(verb, payload, headers, timeout_ms)` → `[status, headers, payload]` for a 2xx
    /// reply; raises `ZSS::Error` (`ZSS::TimeoutError` for 599) otherwise.
    pub fn call(
        ruby: &Ruby,
        rb_self: &Client,
        verb: String,
        payload: RValue,
        headers: RValue,
        timeout_ms: Option<f64>,
    ) -> Result<RArray, Error> {
        let mut call = zss::Call::new(verb, convert::to_value(ruby, payload, "payload")?);
        call.headers = convert::to_headers(ruby, headers)?;
        if let Some(ms) = timeout_ms {
            call.timeout = Some(millis(ruby, "timeout", ms)?);
        }
        let slot = Arc::new(Slot { value: Mutex::new(None), ready: Condvar::new() });
        let setter = slot.clone();
        rb_self.inner.send(call, Box::new(move |r| setter.set(r))).map_err(|e| to_rb(ruby, e))?;
        let result = gvl::wait(ruby, |interrupted, until| slot.take(interrupted, until), || slot.wake())?;
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
