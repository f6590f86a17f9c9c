//! Log lines of a request carry its `x-request-id` (own test binary: it installs a capturing
//! logger for the whole process).

mod common;
use common::*;
use std::sync::Mutex;
use zss::{Call, Client, ClientConfig, Value};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;
impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.target().starts_with("zss")
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            LINES.lock().unwrap().push(format!("{} {}", r.level(), r.args()));
        }
    }
    fn flush(&self) {}
}

#[test]
fn request_log_lines_carry_the_request_id() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Debug);
    let broker = broker();
    let _w = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 1);
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc")).unwrap();
    let _ = c.request(Call::new("panic", Value::Nil).header("X-Request-Id", "req-panic"));
    let _ = c.request(Call::new("echo", 1).header("x-request-id", "req-ok"));
    let _ = c.request(Call::new("x", Value::Nil).sid("nobody").header("x-request-id", "req-404"));
    let has = |needle: &str, id: &str| {
        LINES.lock().unwrap().iter().any(|l| l.contains(needle) && l.contains(&format!("x-request-id={id}")))
    };
    // The handler's thread sends the 500 (its responder, dropped while unwinding) before it
    // logs the panic, so the line may come just after the reply.
    assert!(wait_until(std::time::Duration::from_secs(2), || has("panicked", "req-panic")), "worker panic line: {:#?}", LINES.lock().unwrap());
    assert!(has("→", "req-ok"), "broker forward line (debug)");
    assert!(has("answered 200", "req-ok"), "broker reply line (debug)");
    assert!(has("answering 404", "req-404"), "broker 404 line");
}
