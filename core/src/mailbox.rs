//! How public handles talk to the I/O thread that owns a socket.
//!
//! ZeroMQ sockets are not thread-safe, so each one lives on a single I/O thread blocked in
//! `zmq_poll`. A [`Mailbox`] is a channel plus a pipe the I/O thread polls next to its socket:
//! any thread may [`Mailbox::send`]; the I/O thread wakes and [`Mailbox::drain`]s. A flag keeps
//! it to one pipe write per wake-up however many messages arrive.

use std::os::unix::io::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;

pub struct Mailbox<T> {
    /// `None` once the I/O side has closed the mailbox.
    tx: Mutex<Option<mpsc::Sender<T>>>,
    rx: Mutex<mpsc::Receiver<T>>,
    read_fd: RawFd,
    write_fd: RawFd,
    wake_pending: AtomicBool,
    /// Messages sent and not yet taken: lets an owner about to wait (or to let go of its
    /// socket, see [`Baton`]) see what was queued without a syscall.
    queued: AtomicUsize,
}

impl<T> Mailbox<T> {
    pub fn new() -> crate::Result<Mailbox<T>> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` is a valid two-int array; the fds are owned by the Mailbox and closed in Drop.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(crate::Error::Socket {
                context: "create I/O thread mailbox".into(),
                message: std::io::Error::last_os_error().to_string(),
            });
        }
        for fd in fds {
            // SAFETY: fd was just returned by pipe().
            unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFL);
                libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
        let (tx, rx) = mpsc::channel();
        Ok(Mailbox {
            tx: Mutex::new(Some(tx)),
            rx: Mutex::new(rx),
            read_fd: fds[0],
            write_fd: fds[1],
            wake_pending: AtomicBool::new(false),
            queued: AtomicUsize::new(0),
        })
    }

    /// Queues `msg` and wakes the I/O thread. Fails only when the I/O side is gone.
    pub fn send(&self, msg: T) -> Result<(), T> {
        {
            let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
            let Some(tx) = tx.as_ref() else { return Err(msg) };
            self.queued.fetch_add(1, Ordering::SeqCst);
            if let Err(mpsc::SendError(msg)) = tx.send(msg) {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                return Err(msg);
            }
        }
        self.wake();
        Ok(())
    }

    /// Wakes whoever polls this mailbox's pipe, without a message (a socket owner blocked in
    /// `zmq_poll`). One pipe byte per wake-up, however many calls.
    pub fn wake(&self) {
        if !self.wake_pending.swap(true, Ordering::SeqCst) {
            let byte = 1u8;
            // SAFETY: write_fd is open for the Mailbox's lifetime; a full pipe (EAGAIN) already
            // means a wake-up is pending, so the result can be ignored.
            unsafe { libc::write(self.write_fd, &byte as *const u8 as *const libc::c_void, 1) };
        }
    }

    /// Whether messages are queued: an owner checks this before it blocks or lets go.
    pub fn has_queued(&self) -> bool {
        self.queued.load(Ordering::SeqCst) > 0
    }

    /// The descriptor the I/O thread polls for readability.
    pub fn fd(&self) -> RawFd {
        self.read_fd
    }

    /// The poll item for this mailbox, to put last in an I/O thread's [`wait`] list.
    pub fn poll_item(&self) -> zmq::PollItem<'static> {
        zmq::PollItem::from_fd(self.read_fd, zmq::POLLIN)
    }

    /// Clears the wake-up and returns everything queued so far. I/O thread only.
    pub fn drain(&self) -> Vec<T> {
        // Order matters: empty the pipe, then clear the flag, then take the messages. Clearing
        // first would let a sender's byte be swallowed here while its flag stays set, and every
        // later send would skip the wake-up: a lost message.
        let mut buf = [0u8; 64];
        // SAFETY: reading into a local buffer from our own non-blocking pipe.
        while unsafe { libc::read(self.read_fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) } > 0 {}
        self.wake_pending.store(false, Ordering::SeqCst);
        self.drain_queued()
    }

    /// Takes what is queued without touching the pipe or the wake flag. For an I/O thread's
    /// turns where the pipe was not readable: a set flag always has its byte in (or on its way
    /// to) the pipe, so nothing sent by another thread can be stranded by this.
    pub fn drain_queued(&self) -> Vec<T> {
        let rx = self.rx.lock().unwrap_or_else(|p| p.into_inner());
        let taken: Vec<T> = rx.try_iter().collect();
        self.queued.fetch_sub(taken.len(), Ordering::SeqCst);
        taken
    }

    /// Everything queued: [`Mailbox::drain`] when the pipe polled readable, otherwise
    /// [`Mailbox::drain_queued`] (no syscall).
    pub fn take(&self, pipe_readable: bool) -> Vec<T> {
        if pipe_readable {
            self.drain()
        } else {
            self.drain_queued()
        }
    }

    /// Refuses further messages and returns those still queued. I/O thread only, on exit:
    /// after this every `send` fails, so no message can be left behind unanswered.
    pub fn close(&self) -> Vec<T> {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.drain()
    }
}

impl<T> Drop for Mailbox<T> {
    fn drop(&mut self) {
        // SAFETY: both fds were opened in new() and are closed exactly once here.
        unsafe {
            libc::close(self.read_fd);
            libc::close(self.write_fd);
        }
    }
}

/// A one-shot slot a waiter blocks on; the blocking form of every asynchronous result.
pub struct Oneshot<T> {
    value: Mutex<Option<T>>,
    ready: std::sync::Condvar,
}

impl<T> Default for Oneshot<T> {
    fn default() -> Self {
        Oneshot { value: Mutex::new(None), ready: std::sync::Condvar::new() }
    }
}

impl<T> Oneshot<T> {
    pub fn new() -> Oneshot<T> {
        Oneshot::default()
    }

    pub fn set(&self, v: T) {
        *self.value.lock().unwrap_or_else(|p| p.into_inner()) = Some(v);
        self.ready.notify_all();
    }

    /// Takes the value, waiting at most `timeout` (`None`: forever).
    pub fn take(&self, timeout: Option<std::time::Duration>) -> Option<T> {
        let mut guard = self.value.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            if let Some(v) = guard.take() {
                return Some(v);
            }
            match deadline {
                None => guard = self.ready.wait(guard).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = std::time::Instant::now();
                    if now >= d {
                        return None;
                    }
                    guard = self.ready.wait_timeout(guard, d - now).unwrap_or_else(|p| p.into_inner()).0;
                }
            }
        }
    }

    pub fn is_set(&self) -> bool {
        self.value.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }
}

/// The I/O threads' wait: blocks until one of `items` is readable or `deadline` passes
/// (`None`: no deadline). An interrupted wait (EINTR) returns with nothing ready.
pub fn wait(items: &mut [zmq::PollItem], deadline: Option<std::time::Instant>) -> Result<(), zmq::Error> {
    let timeout_ms = match deadline {
        // +1: zmq_poll rounds down, and waking a millisecond early would spin.
        Some(d) => d.saturating_duration_since(std::time::Instant::now()).as_millis().min(i32::MAX as u128) as i64 + 1,
        None => -1,
    };
    match zmq::poll(items, timeout_ms) {
        Ok(_) | Err(zmq::Error::EINTR) => Ok(()),
        Err(e) => Err(e),
    }
}
