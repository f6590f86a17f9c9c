//! Blocking without the GVL.
//!
//! Every wait in this extension (a call's reply, the next request for a handler thread, a
//! worker's end) runs in [`wait`]: the GVL is released so other Ruby threads keep running, and
//! an unblock function wakes the wait when Ruby wants this thread back (Ctrl-C, `Thread#kill`,
//! `Thread#raise`, `Timeout.timeout`). The interrupt is then run by `thread_check_ints`, with the
//! GVL held and through magnus's `protect`, so a raise never longjmps across Rust frames.
//!
//! Waits are cut into slices of [`SLICE`]: between slices the thread takes the GVL back and
//! checks for interrupts. Unblock functions alone are not enough for signals: Ruby's signal
//! handler only flags the main thread and relies on a thread that runs Ruby code (or waits for
//! the GVL) to deliver it, and when every Ruby thread is parked in a wait like this one (a
//! service's main thread in `run`, its handler threads waiting for requests) none would. So
//! SIGINT/SIGTERM traps run within one slice; `Thread#kill`/`#raise` still wake the wait at
//! once through the unblock function.
//!
//! We use `rb_thread_call_without_gvl2` rather than `rb_thread_call_without_gvl`: the latter
//! checks (and may raise) pending interrupts itself, before and after the blocking function —
//! a longjmp straight through this frame. The `2` variant only reports "not run".

use std::ffi::c_void;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use magnus::{Error, Ruby};

extern "C" {
    // ruby/thread.h; provided by libruby, which loaded us.
    fn rb_thread_call_without_gvl2(
        func: Option<unsafe extern "C" fn(*mut c_void) -> *mut c_void>,
        data1: *mut c_void,
        ubf: Option<unsafe extern "C" fn(*mut c_void)>,
        data2: *mut c_void,
    ) -> *mut c_void;
}

/// Runs `func` with the GVL released; `unblock` is Ruby's unblock function (called from another
/// thread, must only wake `func`). `None` if Ruby had an interrupt pending and did not run
/// `func`. A panic in `func` is caught on the far side and resumed here, with the GVL held, where
/// magnus turns it into a Ruby exception.
fn without_gvl<F, R, U>(func: F, unblock: &U) -> Option<R>
where
    F: FnOnce() -> R,
    U: Fn() + Sync,
{
    struct Data<F, R> {
        func: Option<F>,
        result: Option<std::thread::Result<R>>,
    }

    unsafe extern "C" fn trampoline<F: FnOnce() -> R, R>(data: *mut c_void) -> *mut c_void {
        let data = unsafe { &mut *(data as *mut Data<F, R>) };
        if let Some(f) = data.func.take() {
            data.result = Some(catch_unwind(AssertUnwindSafe(f)));
        }
        std::ptr::null_mut()
    }

    unsafe extern "C" fn ubf<U: Fn()>(data: *mut c_void) {
        let unblock = unsafe { &*(data as *const U) };
        // Never unwind into Ruby's C code.
        let _ = catch_unwind(AssertUnwindSafe(unblock));
    }

    let mut data = Data { func: Some(func), result: None };
    unsafe {
        rb_thread_call_without_gvl2(
            Some(trampoline::<F, R>),
            &mut data as *mut Data<F, R> as *mut c_void,
            Some(ubf::<U>),
            unblock as *const U as *mut c_void,
        );
    }
    match data.result {
        None => None,
        Some(Ok(r)) => Some(r),
        Some(Err(panic)) => resume_unwind(panic),
    }
}

/// Blocks until `attempt` produces a value, with the GVL released, running Ruby's interrupts
/// as they come.
///
/// The longest stretch a wait stays away from Ruby (see the module docs).
pub const SLICE: Duration = Duration::from_millis(100);

/// `attempt(interrupted, until)` must block until it has a value (`Some`), or return `None`
/// when `interrupted` is set or the instant `until` (the end of this slice) has passed. `wake` must wake a blocked `attempt` so it sees the flag: typically lock the mutex
/// the attempt waits under, then `notify_all` its condvar (locking first closes the window
/// between the attempt's check and its wait). An interrupt that raises (Ctrl-C, `Thread#kill`)
/// ends the wait with that exception; one that does not (a trap handler that returns) resumes
/// the wait.
pub fn wait<R>(
    ruby: &Ruby,
    mut attempt: impl FnMut(&AtomicBool, Instant) -> Option<R>,
    wake: impl Fn() + Sync,
) -> Result<R, Error> {
    let interrupted = AtomicBool::new(false);
    let unblock = || {
        interrupted.store(true, Ordering::SeqCst);
        wake();
    };
    loop {
        interrupted.store(false, Ordering::SeqCst);
        let until = Instant::now() + SLICE;
        if let Some(Some(value)) = without_gvl(|| attempt(&interrupted, until), &unblock) {
            return Ok(value);
        }
        ruby.thread_check_ints()?;
    }
}
