//! The broker's hot path allocates nothing in the steady state (issue 7).
//!
//! This test binary counts every Rust heap allocation. The client and the worker are raw
//! DEALER sockets that only move `zmq::Message`s (libzmq's own buffers, not Rust's heap), so
//! the allocations counted while requests flow are the broker thread's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use zss::{Broker, BrokerConfig, BrokerStats, Value};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

mod common;

fn dealer(endpoint: &str, identity: &str) -> zmq::Socket {
    common::Raw::connect(endpoint, identity).socket
}

fn frames_of(msg: zss::Message) -> Vec<Vec<u8>> {
    msg.to_frames().unwrap()
}

/// Receives one whole message into `frames` (cleared first; its capacity is reused).
fn recv_into(socket: &zmq::Socket, frames: &mut Vec<zmq::Message>) {
    frames.clear();
    loop {
        let msg = socket.recv_msg(0).unwrap();
        let more = msg.get_more();
        frames.push(msg);
        if !more {
            return;
        }
    }
}

/// A raw worker for `ALLOC` that echoes requests as 200 replies until `stop`.
fn spawn_echo_worker(backend: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let socket = dealer(&backend, "ALLOC#raw-worker");
        let up = zss::Message::request(
            "up".into(),
            zss::Address::new(zss::protocol::SMI_SID, "UP"),
            Value::Nil,
            Value::from("ALLOC"),
        );
        socket.send_multipart(frames_of(up), 0).unwrap();
        let mut frames = Vec::with_capacity(16);
        while !stop.load(Ordering::Relaxed) {
            let mut items = [socket.as_poll_item(zmq::POLLIN)];
            zmq::poll(&mut items, 50).unwrap();
            if !items[0].is_readable() {
                continue;
            }
            recv_into(&socket, &mut frames);
            // [client, protocol, REQ, rid, address, headers, status, payload]; the SMI answer
            // has 7 frames and needs none.
            if frames.len() != 8 {
                continue;
            }
            frames[2] = zmq::Message::from(&b"REP"[..]);
            frames[6] = zmq::Message::from(&b"200"[..]);
            let last = frames.len() - 1;
            for (i, frame) in frames.drain(..).enumerate() {
                socket.send(frame, if i == last { 0 } else { zmq::SNDMORE }).unwrap();
            }
        }
    })
}

/// Runs `warm_up` then `measured` requests with `window` in flight; returns the allocations
/// counted during the measured ones.
fn allocations_per_run(window: usize, warm_up: usize, measured: usize) -> (u64, u64) {
    let mut config = BrokerConfig::new("tcp://127.0.0.1:*", "tcp://127.0.0.1:*");
    config.max_ttl = Duration::from_secs(60); // the raw worker does not heartbeat
    let broker = Broker::bind(config).unwrap().start().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let worker = spawn_echo_worker(broker.backend_endpoint().to_owned(), stop.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while BrokerStats::get(&broker.stats().workers) == 0 {
        assert!(std::time::Instant::now() < deadline, "the raw worker did not register");
        std::thread::sleep(Duration::from_millis(10));
    }

    let client = dealer(broker.frontend_endpoint(), &format!("alloc-client#{window}"));
    // One request per slot of the window, each with its own rid; a slot is re-sent when its
    // reply is back. One worker answers in order, so replies come back slot by slot.
    let requests: Vec<Vec<Vec<u8>>> = (0..window)
        .map(|i| {
            frames_of(zss::Message::request(
                format!("rid-{i:05}"),
                zss::Address::new("ALLOC", "echo"),
                Value::Map(Vec::new()),
                Value::from("x"),
            ))
        })
        .collect();
    let send = |slot: usize| {
        let frames = &requests[slot];
        for (i, frame) in frames.iter().enumerate() {
            let flags = if i + 1 == frames.len() { 0 } else { zmq::SNDMORE };
            client.send(&frame[..], flags).unwrap();
        }
    };
    let mut reply = Vec::with_capacity(16);
    let mut received = 0usize;
    let mut run = |count: usize| {
        for _ in 0..count {
            recv_into(&client, &mut reply);
            let (n, slot) = (received, received % window);
            received += 1;
            assert_eq!(&reply[5][..], b"200", "reply {n} was not a 200");
            assert_eq!(&reply[2][..], &requests[slot][2][..], "reply {n} answered the wrong rid");
            send(slot);
        }
    };
    for slot in 0..window {
        send(slot);
    }
    run(warm_up);
    let forwarded_before = BrokerStats::get(&broker.stats().forwarded);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    run(measured);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    let forwarded = BrokerStats::get(&broker.stats().forwarded) - forwarded_before;
    run(window); // collect the replies still in flight

    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();
    (allocations, forwarded)
}

#[test]
fn forwarding_allocates_nothing_in_the_steady_state() {
    for window in [1, 32] {
        let measured = 10_000;
        let (allocations, forwarded) = allocations_per_run(window, 2_000, measured);
        println!("{window} in flight: {allocations} allocations over {forwarded} forwarded requests");
        // With a window, up to `window` of the measured replies were forwarded before the count.
        assert!(forwarded + window as u64 >= measured as u64, "the broker forwarded only {forwarded} requests");
        // Not a strict 0: an occasional growth of a table is fine, one per request is not.
        assert!(allocations <= 10, "{allocations} heap allocations for {measured} requests ({window} in flight)");
    }
}
