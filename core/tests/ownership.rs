//! Who owns a client's or worker's socket, and what happens when ownership changes hands
//! (see `core/src/baton.rs`): many callers at once, a caller that times out or is woken while it
//! owns the socket, abandoned calls, and handlers that never return.

mod common;
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use zss::{Call, Client, ClientConfig, Response, Value, Worker};

fn client(broker: &zss::RunningBroker, timeout: Duration) -> Client {
    Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc").timeout(timeout)).unwrap()
}

/// A broker, the test worker for "svc" registered with it, and a client for it.
fn echo_service(timeout: Duration) -> (zss::RunningBroker, zss::RunningWorker, Client) {
    let broker = broker();
    let worker = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 1);
    let c = client(&broker, timeout);
    (broker, worker, c)
}

#[test]
fn many_threads_share_one_client_with_every_kind_of_call() {
    let (broker, _w, c) = echo_service(Duration::from_secs(10));
    let callbacks = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for t in 0..8i64 {
            let (c, callbacks) = (c.clone(), callbacks.clone());
            s.spawn(move || {
                for i in 0..150i64 {
                    let n = t * 1000 + i;
                    match i % 3 {
                        // blocking: may own the socket itself
                        0 => assert_eq!(c.call("echo", n).unwrap().payload.as_i64(), Some(n)),
                        // pollable: started now, waited for later
                        1 => {
                            let p = c.start(Call::new("echo", n)).unwrap();
                            assert_eq!(p.wait().unwrap().payload.as_i64(), Some(n));
                        }
                        // callback: completed by whichever thread owns the socket
                        _ => {
                            let callbacks = callbacks.clone();
                            c.send(
                                Call::new("echo", n),
                                Box::new(move |r| {
                                    assert_eq!(r.unwrap().payload.as_i64(), Some(n));
                                    callbacks.fetch_add(1, Ordering::SeqCst);
                                }),
                            )
                            .unwrap();
                        }
                    }
                }
            });
        }
    });
    assert!(wait_until(Duration::from_secs(10), || callbacks.load(Ordering::SeqCst) == 8 * 50), "every callback fired");
    assert_eq!(zss::BrokerStats::get(&broker.stats().requests), 8 * 150);
}

#[test]
fn a_caller_that_times_out_while_owning_the_socket_leaves_it_working() {
    let (_broker, _w, c) = echo_service(Duration::from_secs(5));
    // An uncontended blocking call owns the socket while it waits; its timeout fires there.
    let started = Instant::now();
    let r = c.request(Call::new("sleep", 400).timeout(Duration::from_millis(80)));
    assert!(matches!(r, Err(zss::Error::Service(ref e)) if e.code == 599), "{r:?}");
    assert!(started.elapsed() < Duration::from_millis(350), "timed out on time: {:?}", started.elapsed());
    // Its late reply arrives while the next call owns the socket, and is ignored.
    let next = c.call("echo", "after").unwrap();
    assert_eq!(next.payload.as_str(), Some("after"));
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(c.call("echo", "later").unwrap().payload.as_str(), Some("later"));
}

#[test]
fn calls_from_other_threads_go_through_while_one_caller_owns_the_socket() {
    let (_broker, _w, c) = echo_service(Duration::from_secs(5));
    std::thread::scope(|s| {
        let owner = s.spawn(|| c.call("sleep", 500).unwrap());
        std::thread::sleep(Duration::from_millis(100)); // the owner is polling for its reply now
        let started = Instant::now();
        for i in 0..20i64 {
            assert_eq!(c.call("echo", i).unwrap().payload.as_i64(), Some(i));
        }
        assert!(started.elapsed() < Duration::from_millis(400), "not held up by the owner's wait");
        assert_eq!(owner.join().unwrap().payload.as_i64(), Some(500));
    });
}

#[test]
fn a_wait_woken_from_another_thread_returns_and_the_call_stays_in_flight() {
    let (_broker, _w, c) = echo_service(Duration::from_secs(5));
    let pending = c.start(Call::new("sleep", 300)).unwrap();
    let started = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            pending.wake(); // what a binding's interrupt (Ctrl-C, Ruby's unblock function) does
        });
        assert!(pending.wait_until(None).is_none(), "woken without an outcome");
    });
    assert!(started.elapsed() < Duration::from_millis(250), "woke early: {:?}", started.elapsed());
    // Meanwhile the socket works for others, and the woken call can still be waited for.
    assert_eq!(c.call("echo", 1).unwrap().payload.as_i64(), Some(1));
    assert_eq!(pending.wait().unwrap().payload.as_i64(), Some(300));
}

#[test]
fn an_abandoned_call_is_finished_by_the_io_thread() {
    let (_broker, _w, c) = echo_service(Duration::from_secs(5));
    // Dropped in flight: nobody waits for it, so the I/O thread must read its reply; a callback
    // call started right after must still complete.
    drop(c.start(Call::new("sleep", 100)).unwrap());
    let (tx, rx) = mpsc::channel();
    c.send(Call::new("echo", 7), Box::new(move |r| tx.send(r).unwrap())).unwrap();
    let r = rx.recv_timeout(Duration::from_secs(2)).expect("the callback fired");
    assert_eq!(r.unwrap().payload.as_i64(), Some(7));
    // And a callback call on an idle client, with no thread blocked on anything, completes.
    std::thread::sleep(Duration::from_millis(200));
    let (tx, rx) = mpsc::channel();
    c.send(Call::new("echo", 8), Box::new(move |r| tx.send(r).unwrap())).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(2)).unwrap().unwrap().payload.as_i64(), Some(8));
    c.close();
}

#[test]
fn close_fails_a_blocked_caller_that_owns_the_socket() {
    let (_broker, _w, c) = echo_service(Duration::from_secs(5));
    std::thread::scope(|s| {
        let owner = s.spawn(|| c.call("sleep", 2000));
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        c.close();
        assert!(matches!(owner.join().unwrap(), Err(zss::Error::Closed)));
        assert!(started.elapsed() < Duration::from_millis(500));
    });
    assert!(matches!(c.call("echo", 1), Err(zss::Error::Closed)));
}

/// A worker whose `hang` verb blocks until the test lets it go.
fn worker_with_a_hanging_verb(backend: &str, concurrency: usize) -> (zss::RunningWorker, mpsc::Sender<()>) {
    let (release, hold) = mpsc::channel::<()>();
    let hold = Arc::new(Mutex::new(hold));
    let mut w = Worker::new(worker_config(backend, "svc").concurrency(concurrency));
    add_test_verbs(&mut w);
    w.verb("hang", move |_| {
        let _ = hold.lock().unwrap().recv();
        Ok(Response::ok(Value::Nil))
    });
    (w.start().unwrap(), release)
}

#[test]
fn a_handler_that_never_returns_holds_up_neither_other_requests_nor_heartbeats() {
    let broker = broker();
    let (w, release) = worker_with_a_hanging_verb(broker.backend_endpoint(), 2);
    wait_for_workers(&broker, 1);
    let c = client(&broker, Duration::from_secs(2));
    let hung = c.start(Call::new("hang", Value::Nil).timeout(Duration::from_secs(3))).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    for i in 0..50i64 {
        assert_eq!(c.call("echo", i).unwrap().payload.as_i64(), Some(i));
    }
    // Well past the broker's TTL (600 ms): heartbeats went on, so the worker is still known.
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(zss::BrokerStats::get(&broker.stats().workers), 1);
    assert_eq!(zss::BrokerStats::get(&w.stats().reconnects), 0);
    assert_eq!(c.call("echo", "still").unwrap().payload.as_str(), Some("still"));
    release.send(()).unwrap();
    assert_eq!(hung.wait().unwrap().status, 204);
}

#[test]
fn with_every_handler_busy_the_io_thread_keeps_the_worker_registered() {
    let broker = broker();
    let (w, release) = worker_with_a_hanging_verb(broker.backend_endpoint(), 1);
    wait_for_workers(&broker, 1);
    let c = client(&broker, Duration::from_secs(5));
    let hung = c.start(Call::new("hang", Value::Nil)).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(zss::BrokerStats::get(&broker.stats().workers), 1, "heartbeats while the only handler hangs");
    assert_eq!(zss::BrokerStats::get(&w.stats().reconnects), 0);
    // A request behind it waits for the slot and runs once the handler returns.
    let queued = c.start(Call::new("echo", "queued")).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(!queued.is_ready());
    release.send(()).unwrap();
    assert_eq!(hung.wait().unwrap().status, 204);
    assert_eq!(queued.wait().unwrap().payload.as_str(), Some("queued"));
}

#[test]
fn a_stopped_worker_lets_go_of_its_handlers() {
    // Bindings rely on it: a handler that holds a handle on its runtime (Node's thread-safe
    // function) must not keep that runtime alive once the worker has stopped.
    let broker = broker();
    let held = Arc::new(());
    let mut w = Worker::new(worker_config(broker.backend_endpoint(), "svc"));
    let in_handler = held.clone();
    w.verb("echo", move |req| {
        let _ = &in_handler;
        Ok(Response::ok(req.payload.clone()))
    });
    let running = w.start().unwrap();
    wait_for_workers(&broker, 1);
    assert_eq!(client(&broker, Duration::from_secs(2)).call("echo", 1).unwrap().payload.as_i64(), Some(1));
    running.join();
    assert!(wait_until(Duration::from_secs(2), || Arc::strong_count(&held) == 1), "handlers dropped at stop, before the handle");
    drop(running);
}

#[test]
fn a_fast_handler_that_turns_slow_holds_up_neither_other_requests_nor_heartbeats() {
    // After a few fast answers the verb runs with the socket parked on its thread; when it then
    // hangs, the I/O thread takes the socket over within the baton's grace.
    let broker = broker();
    let (release, hold) = mpsc::channel::<()>();
    let hold = Mutex::new(hold);
    let calls = AtomicUsize::new(0);
    let mut w = Worker::new(worker_config(broker.backend_endpoint(), "svc").concurrency(2));
    add_test_verbs(&mut w);
    w.verb("sometimes", move |_| {
        if calls.fetch_add(1, Ordering::SeqCst) == 20 {
            let _ = hold.lock().unwrap().recv();
        }
        Ok(Response::ok("done"))
    });
    let w = w.start().unwrap();
    wait_for_workers(&broker, 1);
    let c = client(&broker, Duration::from_secs(2));
    for _ in 0..20 {
        assert_eq!(c.call("sometimes", Value::Nil).unwrap().payload.as_str(), Some("done"));
    }
    let hung = c.start(Call::new("sometimes", Value::Nil).timeout(Duration::from_secs(5))).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    for i in 0..20i64 {
        assert_eq!(c.call("echo", i).unwrap().payload.as_i64(), Some(i));
    }
    assert!(started.elapsed() < Duration::from_millis(1000), "served while the handler hangs: {:?}", started.elapsed());
    std::thread::sleep(Duration::from_millis(1200)); // twice the broker's TTL
    assert_eq!(zss::BrokerStats::get(&broker.stats().workers), 1);
    assert_eq!(zss::BrokerStats::get(&w.stats().reconnects), 0);
    release.send(()).unwrap();
    assert_eq!(hung.wait().unwrap().payload.as_str(), Some("done"));
}
