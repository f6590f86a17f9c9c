//! One owner per socket at a time, and that owner may be whichever thread needs the socket.
//!
//! A [`Baton`] holds an I/O core (a ZeroMQ socket and the state that goes with it). A thread
//! that finds it free takes it ([`Baton::try_take`]) and uses the socket itself, so an
//! uncontended blocking call costs no thread hand-off; a thread that finds it taken stands in
//! line ([`Baton::enqueue`] and [`Waiter::wait`]) and hands its work over through the
//! [`Mailbox`](crate::mailbox::Mailbox), which every owner polls next to its socket.
//!
//! Letting go ([`Baton::put`]) hands the core straight to the first thread in line; with
//! nobody in line, to the *fallback* (the client's or worker's own I/O thread, which keeps
//! timers, heartbeats and callbacks going) if the core still has work for someone
//! ([`Core::needs_driver`]); otherwise the core stays free for the next caller.
//!
//! An owner about to do something short without the socket (a worker running a handler that
//! has been answering within microseconds) may *park* it instead ([`Baton::park`]): the core
//! stays free for anyone who needs it for a moment (a reply from another thread), nobody is
//! woken, and the parker takes it back afterwards ([`Baton::unpark`]). If it does not come back
//! within [`PARK_GRACE`], the fallback, which watches while parks happen, takes over
//! ([`Baton::take_stale_park`]), so heartbeats never wait long behind a handler.
//!
//! A waiter is also where a result for its thread arrives ([`Waiter::give`]), so "my reply
//! came" and "the socket is yours" wake the same condition variable.
//!
//! The one rule that keeps work from being stranded: a thread that queues work for the owner
//! in the mailbox then calls [`Baton::try_take`]; an owner that lets go decides whether a
//! driver is needed under the baton's lock. Whichever of the two comes second sees the other.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a parked core may go undriven before the fallback takes it over.
pub const PARK_GRACE: Duration = Duration::from_millis(1);
/// The fallback stops watching for stale parks after this long without one.
const WATCH_FOR: Duration = Duration::from_millis(100);

/// What a baton holds.
pub trait Core: Send {
    /// Whether a thread must keep polling this core after its owner lets go (calls in
    /// flight, queued commands, heartbeats). Evaluated under the baton's lock.
    fn needs_driver(&self) -> bool;
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What [`Baton::enqueue`] did.
pub enum Place<C> {
    /// The core was free: it is the caller's now.
    Took(C),
    /// The caller is in line: [`Waiter::wait`] for the core or a result.
    InLine,
    /// The baton is closed.
    Closed,
}

/// What a wait ended with.
pub enum Turn<C, T> {
    /// The core is this thread's now: drive it, then [`Baton::put`] it back.
    Core(C),
    /// A result for this thread (a reply, a job).
    Value(T),
    /// The deadline passed (or [`Waiter::wake`] was called) with neither.
    TimedOut,
    /// The baton was closed: no core will come any more.
    Closed,
}

struct WaiterState<C, T> {
    core: Option<C>,
    value: Option<T>,
    woken: bool,
    closed: bool,
}

/// A thread's place in a baton's line, and its mailbox for one result.
pub struct Waiter<C, T> {
    state: Mutex<WaiterState<C, T>>,
    ready: Condvar,
}

impl<C, T> Default for Waiter<C, T> {
    fn default() -> Self {
        Waiter { state: Mutex::new(WaiterState { core: None, value: None, woken: false, closed: false }), ready: Condvar::new() }
    }
}

impl<C, T> Waiter<C, T> {
    pub fn new() -> Arc<Self> {
        Arc::new(Waiter::default())
    }

    /// Delivers a result; the waiting thread wakes. A later value replaces an unread one.
    pub fn give(&self, value: T) {
        lock(&self.state).value = Some(value);
        self.ready.notify_one();
    }

    /// Takes a delivered result without waiting.
    pub fn take_value(&self) -> Option<T> {
        lock(&self.state).value.take()
    }

    pub fn has_value(&self) -> bool {
        lock(&self.state).value.is_some()
    }

    /// Ends the current [`Waiter::wait`] early with [`Turn::TimedOut`] (an interrupt).
    pub fn wake(&self) {
        lock(&self.state).woken = true;
        self.ready.notify_one();
    }

    /// Consumes a [`Waiter::wake`] that came while this thread was not waiting (it was
    /// driving the socket).
    pub fn take_woken(&self) -> bool {
        std::mem::take(&mut lock(&self.state).woken)
    }

    fn hand(&self, core: C) {
        lock(&self.state).core = Some(core);
        self.ready.notify_one();
    }

    fn take_core(&self) -> Option<C> {
        lock(&self.state).core.take()
    }

    /// Blocks until a result, the core, the deadline (`None`: none), a [`Waiter::wake`] or the
    /// baton's close. A result wins over the core: the caller must then still
    /// [`Baton::leave`] the line, which returns a core handed over meanwhile.
    pub fn wait(&self, deadline: Option<Instant>) -> Turn<C, T> {
        let mut s = lock(&self.state);
        loop {
            if let Some(v) = s.value.take() {
                return Turn::Value(v);
            }
            if let Some(c) = s.core.take() {
                return Turn::Core(c);
            }
            if s.closed {
                return Turn::Closed;
            }
            if std::mem::take(&mut s.woken) {
                return Turn::TimedOut;
            }
            s = match deadline {
                None => self.ready.wait(s).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Turn::TimedOut;
                    }
                    self.ready.wait_timeout(s, d - now).unwrap_or_else(|p| p.into_inner()).0
                }
            };
        }
    }
}

struct BatonState<C, T> {
    /// `Some` while free.
    core: Option<C>,
    line: VecDeque<Arc<Waiter<C, T>>>,
    /// Gets the core when nobody is in line and it still needs a driver.
    fallback: Option<Arc<Waiter<C, T>>>,
    /// The waiter last handed the core, which may not have woken to pick it up yet.
    in_transit: Option<Arc<Waiter<C, T>>>,
    /// Set by [`Baton::park`] until the parker comes back (or the fallback takes over): while
    /// set, [`Baton::put`] leaves the core free for the parker instead of handing it on.
    park_pending: bool,
    parked_at: Instant,
    /// Whether the fallback is waking every [`PARK_GRACE`] to look for a stale park.
    watching: bool,
    closed: bool,
}

/// Takes the core if it is free, else puts `me` in line (at the front when `first`), once.
fn take_or_line<C, T>(s: &mut BatonState<C, T>, me: &Arc<Waiter<C, T>>, first: bool) -> Place<C> {
    if s.closed {
        return Place::Closed;
    }
    if let Some(core) = s.core.take() {
        return Place::Took(core);
    }
    if !s.line.iter().any(|w| Arc::ptr_eq(w, me)) {
        if first {
            s.line.push_front(me.clone());
        } else {
            s.line.push_back(me.clone());
        }
    }
    Place::InLine
}

/// See the module documentation.
pub struct Baton<C, T> {
    state: Mutex<BatonState<C, T>>,
}

impl<C: Core, T> Baton<C, T> {
    /// A baton holding `core`, free. `fallback` is the waiter of the thread that drives the
    /// core when nobody else does (see [`Baton::put`]).
    pub fn new(core: C, fallback: Arc<Waiter<C, T>>) -> Baton<C, T> {
        Baton {
            state: Mutex::new(BatonState {
                core: Some(core),
                line: VecDeque::new(),
                fallback: Some(fallback),
                in_transit: None,
                park_pending: false,
                parked_at: Instant::now(),
                watching: false,
                closed: false,
            }),
        }
    }

    /// Takes the core if it is free, or if it was handed to a waiter that has not woken to
    /// pick it up yet (that waiter goes back to the front of the line). The second case is what
    /// lets a handler thread that handed the socket on before a short handler send its reply
    /// itself: the next leader is still waking up.
    pub fn try_take(&self) -> Option<C> {
        let mut s = lock(&self.state);
        if s.closed {
            return None;
        }
        if let Some(core) = s.core.take() {
            return Some(core);
        }
        let waiter = s.in_transit.take()?;
        let core = waiter.take_core()?;
        s.line.push_front(waiter);
        Some(core)
    }

    /// Takes the core if it is free, or puts `me` in line for it (then [`Waiter::wait`]).
    pub fn enqueue(&self, me: &Arc<Waiter<C, T>>) -> Place<C> {
        take_or_line(&mut lock(&self.state), me, false)
    }

    /// Leaves the line (after a result or a timeout); returns the core if it was handed to
    /// `me` meanwhile: the caller owns it and must drive it or [`Baton::put`] it back.
    pub fn leave(&self, me: &Arc<Waiter<C, T>>) -> Option<C> {
        let mut s = lock(&self.state);
        s.line.retain(|w| !Arc::ptr_eq(w, me));
        // Under the baton's lock, like handing and taking back (`try_take`): taken back after
        // this, the core would put `me` in line again after it has gone.
        me.take_core()
    }

    /// Whether threads are in line (an owner that is only standing in may give way).
    pub fn has_line(&self) -> bool {
        !lock(&self.state).line.is_empty()
    }

    /// Lets go of the core: to the first thread in line, else to the fallback if the core
    /// needs a driver, else it stays free.
    pub fn put(&self, core: C) {
        let mut s = lock(&self.state);
        if s.park_pending && !s.closed {
            s.core = Some(core); // taken for a moment while parked: parked again
            return;
        }
        if let Some(next) = s.line.pop_front() {
            next.hand(core);
            s.in_transit = Some(next);
        } else if core.needs_driver() && !s.closed {
            match s.fallback.clone() {
                Some(fallback) => {
                    fallback.hand(core);
                }
                None => s.core = Some(core),
            }
        } else {
            s.core = Some(core);
        }
    }

    /// Leaves the core free for a moment without handing it to anyone (see the module docs);
    /// [`Baton::unpark`] takes it back. Wakes the fallback to watch, if it is not watching.
    pub fn park(&self, core: C) {
        let mut s = lock(&self.state);
        s.core = Some(core);
        s.park_pending = true;
        s.parked_at = Instant::now();
        if !s.watching {
            if let Some(fallback) = s.fallback.clone() {
                s.watching = true;
                drop(s);
                fallback.wake();
            }
        }
    }

    /// The parker is back: takes the core if it is free; otherwise someone holds it (a reply
    /// being sent, or the fallback that took over) and `me` goes to the front of the line.
    pub fn unpark(&self, me: &Arc<Waiter<C, T>>) -> Place<C> {
        let mut s = lock(&self.state);
        s.park_pending = false;
        take_or_line(&mut s, me, true)
    }

    /// For the fallback: the core if it has been parked longer than [`PARK_GRACE`] (the parker
    /// then finds it gone and lines up). Also ends the watch once parks have stopped.
    pub fn take_stale_park(&self) -> Option<C> {
        let mut s = lock(&self.state);
        if s.park_pending && s.core.is_some() && s.parked_at.elapsed() >= PARK_GRACE {
            s.park_pending = false;
            return s.core.take();
        }
        if !s.park_pending && s.parked_at.elapsed() >= WATCH_FOR {
            s.watching = false;
        }
        None
    }

    /// Whether the fallback should wake every [`PARK_GRACE`] (see [`Baton::take_stale_park`]).
    pub fn watching(&self) -> bool {
        lock(&self.state).watching
    }

    /// Delivers `value` to the first thread in line (it leaves the line); `Err(value)` when
    /// nobody is waiting.
    pub fn give_to_next(&self, value: T) -> Result<(), T> {
        let mut s = lock(&self.state);
        match s.line.pop_front() {
            Some(w) => {
                w.give(value);
                Ok(())
            }
            None => Err(value),
        }
    }

    /// No core will be handed out any more: every waiter (the fallback included) wakes with
    /// [`Turn::Closed`]. The owner keeps (and drops) the core it holds.
    pub fn close(&self) {
        let mut s = lock(&self.state);
        s.closed = true;
        s.core = None;
        let fallback = s.fallback.take();
        let waiters: Vec<_> = s.line.drain(..).chain(fallback).collect();
        drop(s);
        for w in waiters {
            lock(&w.state).closed = true;
            w.ready.notify_all();
        }
    }

}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    struct Counter {
        work: usize,
    }
    impl Core for Counter {
        fn needs_driver(&self) -> bool {
            self.work > 0
        }
    }

    #[test]
    fn free_core_is_taken_and_returned() {
        let fallback = Waiter::new();
        let baton: Baton<Counter, ()> = Baton::new(Counter { work: 0 }, fallback.clone());
        let core = baton.try_take().expect("free");
        assert!(baton.try_take().is_none());
        baton.put(core);
        assert!(baton.try_take().is_some(), "no work: stays free, not handed to the fallback");
    }

    #[test]
    fn put_prefers_the_line_then_the_fallback() {
        let fallback = Waiter::new();
        let baton: Baton<Counter, ()> = Baton::new(Counter { work: 1 }, fallback.clone());
        let core = baton.try_take().unwrap();
        let me = Waiter::new();
        assert!(matches!(baton.enqueue(&me), Place::InLine));
        baton.put(core);
        let core = match me.wait(Some(Instant::now() + Duration::from_secs(1))) {
            Turn::Core(c) => c,
            _ => panic!("the waiter in line gets the core"),
        };
        baton.put(core);
        assert!(matches!(fallback.wait(Some(Instant::now())), Turn::Core(_)), "work left: fallback gets it");
    }

    #[test]
    fn a_value_ends_a_wait_and_leave_returns_a_handed_core() {
        let fallback = Waiter::new();
        let baton: Baton<Counter, u32> = Baton::new(Counter { work: 0 }, fallback);
        let core = baton.try_take().unwrap();
        let me = Waiter::new();
        assert!(matches!(baton.enqueue(&me), Place::InLine));
        me.give(7);
        baton.put(core); // handed to `me`, still in line
        assert!(matches!(me.wait(None), Turn::Value(7)));
        assert!(baton.leave(&me).is_some(), "the core handed meanwhile comes back");
        assert!(baton.try_take().is_none(), "and is ours until we put it back");
    }

    #[test]
    fn a_core_in_transit_can_be_taken_back_and_the_waiter_keeps_its_place() {
        let fallback = Waiter::new();
        let baton: Baton<Counter, ()> = Baton::new(Counter { work: 1 }, fallback.clone());
        let core = baton.try_take().unwrap();
        let next = Waiter::new();
        assert!(matches!(baton.enqueue(&next), Place::InLine));
        baton.put(core); // handed to `next`, which has not woken yet
        let core = baton.try_take().expect("taken back before `next` picked it up");
        baton.put(core);
        assert!(matches!(next.wait(Some(Instant::now())), Turn::Core(_)), "`next` is first in line again");
        assert!(matches!(fallback.wait(Some(Instant::now())), Turn::TimedOut), "the fallback got nothing");
    }

    #[test]
    fn a_parked_core_stays_for_its_parker_unless_it_is_gone_too_long() {
        let fallback = Waiter::new();
        let baton: Baton<Counter, ()> = Baton::new(Counter { work: 1 }, fallback.clone());
        let core = baton.try_take().unwrap();
        let (parker, other) = (Waiter::new(), Waiter::new());
        assert!(matches!(baton.enqueue(&other), Place::InLine));
        baton.park(core);
        assert!(baton.watching(), "the fallback is told to watch");
        // Someone takes it for a moment (a reply) and puts it back: still parked, not handed on.
        let core = baton.try_take().unwrap();
        baton.put(core);
        assert!(matches!(other.wait(Some(Instant::now())), Turn::TimedOut));
        assert!(baton.take_stale_park().is_none(), "not stale yet");
        assert!(matches!(baton.unpark(&parker), Place::Took(_)), "the parker takes it back");
        // A parker that stays away too long loses it to the fallback and lines up first.
        baton.park(Counter { work: 1 });
        std::thread::sleep(PARK_GRACE * 2);
        let taken = baton.take_stale_park().expect("stale: the fallback takes over");
        assert!(matches!(baton.unpark(&parker), Place::InLine));
        baton.put(taken);
        assert!(matches!(parker.wait(Some(Instant::now())), Turn::Core(_)), "handed to the returning parker first");
    }

    #[test]
    fn one_owner_at_a_time_under_contention() {
        let fallback = Waiter::new();
        let baton: Arc<Baton<Counter, ()>> = Arc::new(Baton::new(Counter { work: 0 }, fallback));
        let owners = Arc::new(AtomicUsize::new(0));
        let rounds = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (baton, owners, rounds) = (baton.clone(), owners.clone(), rounds.clone());
                std::thread::spawn(move || {
                    let me = Waiter::new();
                    for _ in 0..2000 {
                        let core = match baton.enqueue(&me) {
                            Place::Took(c) => c,
                            _ => match me.wait(None) {
                                Turn::Core(c) => c,
                                _ => unreachable!(),
                            },
                        };
                        assert_eq!(owners.fetch_add(1, Ordering::SeqCst), 0, "two owners at once");
                        rounds.fetch_add(1, Ordering::SeqCst);
                        owners.fetch_sub(1, Ordering::SeqCst);
                        baton.put(core);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(rounds.load(Ordering::SeqCst), 8000);
    }

    #[test]
    fn close_wakes_everyone() {
        let fallback = Waiter::new();
        let baton: Arc<Baton<Counter, ()>> = Arc::new(Baton::new(Counter { work: 0 }, fallback.clone()));
        let _core = baton.try_take().unwrap();
        let me = Waiter::new();
        assert!(matches!(baton.enqueue(&me), Place::InLine));
        let b = baton.clone();
        let t = std::thread::spawn(move || b.close());
        assert!(matches!(me.wait(None), Turn::Closed));
        assert!(matches!(fallback.wait(None), Turn::Closed));
        t.join().unwrap();
        assert!(matches!(baton.enqueue(&me), Place::Closed));
    }
}
