//! `ZSS::Native::Worker`: the core worker, with its requests handed to Ruby threads.
//!
//! The core runs a handler per request on one of its own threads; those threads never touch
//! Ruby. Each only pushes `(request, responder)` onto a [`Queue`] and returns. Ruby handler
//! threads (lib/zss/service.rb) pop from the queue with `next_request`, blocking with the GVL
//! released, run the Ruby handler holding the GVL, and answer through the `Responder`, which
//! the core accepts from any thread. The core's `concurrency` bounds the requests in flight,
//! so the queue never holds more than that.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use magnus::{Error, RArray, RHash, Ruby, Value as RValue};

use crate::convert;
use crate::errors::to_rb;
use crate::gvl;

struct QueueState {
    jobs: VecDeque<(zss::Request, zss::Responder)>,
    /// The core worker has stopped: no request will come, no reply can be sent.
    stopped: bool,
}

struct Queue {
    state: Mutex<QueueState>,
    /// Handler threads wait here for jobs. A separate condvar from `stopped`, so a push's
    /// `notify_one` always reaches a thread that can take the job (one shared condvar let it
    /// wake the thread in `wait`, which went back to sleep, and the job waited a whole slice).
    job_ready: Condvar,
    /// `run`/`join` waits here for the end.
    stopped: Condvar,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, request: zss::Request, responder: zss::Responder) {
        let mut state = self.lock();
        if state.stopped {
            // Dropping the responder answers 500 (or is refused by the stopped core).
            return;
        }
        state.jobs.push_back((request, responder));
        self.job_ready.notify_one();
    }

    fn close(&self) {
        let jobs = {
            let mut state = self.lock();
            state.stopped = true;
            std::mem::take(&mut state.jobs)
        };
        self.job_ready.notify_all();
        self.stopped.notify_all();
        drop(jobs); // outside the lock: dropping a responder logs and talks to the mailbox
    }

    /// The next job, `Some(None)` once stopped, `None` if interrupted or past `until`.
    fn pop(&self, interrupted: &AtomicBool, until: Instant) -> Option<Option<(zss::Request, zss::Responder)>> {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                return Some(Some(job));
            }
            if state.stopped {
                return Some(None);
            }
            let now = Instant::now();
            if interrupted.load(Ordering::SeqCst) || now >= until {
                return None;
            }
            state = self.job_ready.wait_timeout(state, until - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// `Some(true)` once stopped; `None` if interrupted or past `until`.
    fn wait_stopped(&self, interrupted: &AtomicBool, until: Instant) -> Option<bool> {
        let mut state = self.lock();
        loop {
            if state.stopped {
                return Some(true);
            }
            let now = Instant::now();
            if interrupted.load(Ordering::SeqCst) || now >= until {
                return None;
            }
            state = self.stopped.wait_timeout(state, until - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    fn wake(&self) {
        drop(self.lock());
        self.job_ready.notify_all();
        self.stopped.notify_all();
    }
}

#[magnus::wrap(class = "ZSS::Native::Worker", free_immediately, size)]
pub struct Worker {
    running: Arc<zss::RunningWorker>,
    queue: Arc<Queue>,
}

impl Worker {
    /// `new(sid, backends, heartbeat_ms, concurrency, verbs, curve)`: registers with every
    /// broker and serves in the background; requests for `verbs` wait in the queue for
    /// `next_request`. Other verbs get the core's own 404. `curve` as in `Client.new`.
    pub fn new(
        ruby: &Ruby,
        sid: String,
        backends: Vec<String>,
        heartbeat_ms: u64,
        concurrency: usize,
        verbs: Vec<String>,
        curve: Option<crate::security::CurveArgs>,
    ) -> Result<Worker, Error> {
        let mut config = zss::WorkerConfig::new(sid)
            .brokers(backends)
            .heartbeat(Duration::from_millis(heartbeat_ms))
            .concurrency(concurrency);
        if let Some(curve) = &curve {
            let (server, pair) = crate::security::client_keys(ruby, curve)?;
            config = config.curve(server, pair);
        }
        let mut worker = zss::Worker::new(config);
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState { jobs: VecDeque::new(), stopped: false }),
            job_ready: Condvar::new(),
            stopped: Condvar::new(),
        });
        for verb in verbs {
            let q = queue.clone();
            worker.verb_with_responder(&verb, move |request, responder| q.push(request, responder));
        }
        let running = Arc::new(worker.start().map_err(|e| to_rb(ruby, e))?);
        // A watcher closes the queue when the core worker has stopped (stop, or a handler's
        // stop, or drop), which releases every Ruby thread waiting in `next_request`/`wait`.
        let (watched, q) = (running.clone(), queue.clone());
        std::thread::Builder::new()
            .name("zss-ruby-watch".into())
            .spawn(move || {
                watched.wait(None);
                q.close();
            })
            .map_err(|e| Error::new(ruby.exception_runtime_error(), format!("cannot spawn a thread: {e}")))?;
        Ok(Worker { running, queue })
    }

    pub fn identity(&self) -> String {
        self.running.identity().to_owned()
    }

    /// `next_request(timeout_ms = nil)` → `[responder, verb, payload, headers, info]`, or nil
    /// when the worker has stopped or the timeout passed. `info` is a Hash with the
    /// request's `"sid"`, `"verb"`, `"rid"` and `"client"`.
    pub fn next_request(ruby: &Ruby, rb_self: &Worker, timeout_ms: Option<u64>) -> Result<Option<RArray>, Error> {
        let deadline = timeout_ms.map(|ms| Instant::now() + Duration::from_millis(ms));
        let queue = &rb_self.queue;
        let job = gvl::wait(
            ruby,
            |interrupted, until| match queue.pop(interrupted, deadline.map_or(until, |d| d.min(until))) {
                None if deadline.is_some_and(|d| Instant::now() >= d) => Some(None),
                other => other,
            },
            || queue.wake(),
        )?;
        let Some((request, responder)) = job else { return Ok(None) };
        let responder = Responder { inner: Mutex::new(Some(responder)) };
        let info = ruby.hash_new();
        info.aset("sid", request.address.sid.as_str())?;
        info.aset("verb", request.address.verb.as_str())?;
        info.aset("rid", request.rid.as_str())?;
        info.aset("client", request.client.as_str())?;
        let out = ruby.ary_new_capa(5);
        out.push(responder)?;
        out.push(request.address.verb.as_str())?;
        out.push(convert::to_ruby(ruby, &request.payload)?)?;
        out.push(convert::to_ruby(ruby, &request.headers)?)?;
        out.push(info)?;
        Ok(Some(out))
    }

    /// Why the worker stopped by itself (the broker refused its CURVE handshake or its
    /// registration): a `ZSS::AuthenticationError`, or nil.
    pub fn error(ruby: &Ruby, rb_self: &Worker) -> Option<RValue> {
        rb_self.running.error().and_then(|e| to_rb(ruby, e).value())
    }

    /// Replaces the brokers: registers with new ones, disconnects from ones no longer listed.
    pub fn set_brokers(&self, brokers: Vec<String>) {
        self.running.set_brokers(brokers);
    }

    /// Asks the worker to stop (finish what is in flight, SMI DOWN). Returns at once, so it is
    /// safe from a trap handler and from inside a handler.
    pub fn stop(&self) {
        self.running.stop();
    }

    /// `wait(timeout_ms = nil)` → true once the worker has stopped, false on timeout.
    pub fn wait(ruby: &Ruby, rb_self: &Worker, timeout_ms: Option<u64>) -> Result<bool, Error> {
        let deadline = timeout_ms.map(|ms| Instant::now() + Duration::from_millis(ms));
        let queue = &rb_self.queue;
        gvl::wait(
            ruby,
            |interrupted, until| match queue.wait_stopped(interrupted, deadline.map_or(until, |d| d.min(until))) {
                None if deadline.is_some_and(|d| Instant::now() >= d) => Some(false),
                other => other,
            },
            || queue.wake(),
        )
    }

    pub fn is_stopped(&self) -> bool {
        self.queue.lock().stopped
    }

    pub fn stats(ruby: &Ruby, rb_self: &Worker) -> Result<RHash, Error> {
        let hash = ruby.hash_new();
        for (name, value) in rb_self.running.stats().fields() {
            hash.aset(name, value)?;
        }
        Ok(hash)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Garbage-collected without `stop`: stop it, so the watcher ends and releases the
        // core worker (whose drop joins its I/O thread there, not in Ruby's GC).
        self.running.stop();
    }
}

/// Answers one request, exactly once. Garbage-collected unanswered, it answers 500.
#[magnus::wrap(class = "ZSS::Native::Responder", free_immediately, size)]
pub struct Responder {
    inner: Mutex<Option<zss::Responder>>,
}

impl Responder {
    fn take(&self, ruby: &Ruby) -> Result<zss::Responder, Error> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| Error::new(ruby.exception_runtime_error(), "this request was already answered"))
    }

    /// `reply(payload, status, headers)`: `status` nil means 200, or 204 when the payload is
    /// nil; `headers` (a Hash or nil) are added to the reply's. Raises (without answering) when
    /// something cannot be sent, so the caller can still answer with an error.
    pub fn reply(
        ruby: &Ruby,
        rb_self: &Responder,
        payload: RValue,
        status: Option<u16>,
        headers: RValue,
    ) -> Result<(), Error> {
        let payload = convert::to_value(ruby, payload, "handler result")?;
        let mut response = match status {
            Some(s) if !zss::status::is_success(s) => {
                return Err(Error::new(ruby.exception_arg_error(), format!("a reply status must be a 2xx, got {s}")));
            }
            Some(s) => zss::Response::with_status(s, payload),
            None => zss::Response::ok(payload),
        };
        response.headers = convert::to_headers(ruby, headers)?;
        rb_self.take(ruby)?.send(Ok(response));
        Ok(())
    }

    /// `fail(code, user_message, developer_message, extra)`: an error reply; `extra` (a Hash or
    /// nil) adds fields next to the standard ones (e.g. `validationErrors`).
    pub fn fail(
        ruby: &Ruby,
        rb_self: &Responder,
        code: u16,
        user_message: String,
        developer_message: String,
        extra: RValue,
    ) -> Result<(), Error> {
        let mut error = zss::ServiceError::with_messages(code, &user_message, &developer_message);
        // Extra fields that cannot be sent are left out rather than losing the error itself.
        if let Ok(fields) = convert::to_headers(ruby, extra) {
            for (k, v) in fields {
                error = error.with_field(&k, v);
            }
        }
        rb_self.take(ruby)?.send(Err(error));
        Ok(())
    }

    pub fn is_answered(&self) -> bool {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).is_none()
    }
}
