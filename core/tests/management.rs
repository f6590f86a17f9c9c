//! The broker's management interface (SMI on the frontend) and the `zss services` / `zss stats`
//! commands built on it.

mod common;
use common::*;
use std::time::Duration;
use zss::{Call, Client, ClientConfig, Error, Value};

#[test]
fn ping_info_services_stats() {
    let broker = broker();
    let w1 = test_worker(broker.backend_endpoint(), "alpha");
    let _w2 = test_worker(broker.backend_endpoint(), "alpha");
    let _w3 = test_worker(broker.backend_endpoint(), "beta");
    wait_for_workers(&broker, 3);
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("alpha").timeout(Duration::from_secs(3))).unwrap();

    assert_eq!(c.management("ping").unwrap(), Value::from("PONG"));

    let info = c.management("INFO").unwrap();
    assert_eq!(info.get("version"), Some(&Value::from(zss::VERSION)));
    assert_eq!(info.get("frontend").and_then(Value::as_str), Some(broker.frontend_endpoint()));
    assert_eq!(info.get("settings").and_then(|s| s.get("max_ttl_ms")).and_then(Value::as_i64), Some(600));

    let services = c.management("SERVICES").unwrap();
    let alpha = services.get("ALPHA").expect("ALPHA listed");
    let Value::Array(alpha) = alpha else { panic!("{alpha:?}") };
    assert_eq!(alpha.len(), 2);
    assert!(alpha.iter().any(|w| w.get("identity").and_then(Value::as_str) == Some(w1.identity())));
    assert!(services.get("BETA").is_some());

    for i in 0..10 {
        c.call("echo", i).unwrap();
    }
    assert!(matches!(c.call("invalid", Value::Nil), Err(Error::Service(e)) if e.code == 422));
    assert!(matches!(c.call("panic", Value::Nil), Err(Error::Service(e)) if e.code == 500));
    let stats = c.management("STATS").unwrap();
    let alpha = stats.get("services").and_then(|s| s.get("ALPHA")).expect("ALPHA stats");
    assert_eq!(alpha.get("requests").and_then(Value::as_i64), Some(12));
    let replies = alpha.get("replies").unwrap();
    assert_eq!(replies.get("2xx").and_then(Value::as_i64), Some(10));
    assert_eq!(replies.get("4xx").and_then(Value::as_i64), Some(1));
    assert_eq!(replies.get("5xx").and_then(Value::as_i64), Some(1));
    assert_eq!(alpha.get("errors").and_then(Value::as_i64), Some(2));
    assert_eq!(alpha.get("workers").and_then(Value::as_i64), Some(2));
    assert_eq!(alpha.get("in_flight").and_then(Value::as_i64), Some(0));
    let p50 = alpha.get("latency_ms").and_then(|l| l.get("p50")).and_then(|v| if let Value::Float(f) = v { Some(*f) } else { None });
    assert!(p50.is_some_and(|ms| ms > 0.0 && ms < 1000.0), "{p50:?}");
    let totals = stats.get("broker").unwrap();
    assert_eq!(totals.get("workers").and_then(Value::as_i64), Some(3));
    assert!(totals.get("requests").and_then(Value::as_i64).unwrap() >= 12);

    // Unknown management verbs get the standard 404.
    let r = c.request(Call::new("reboot", Value::Nil).sid("smi"));
    assert!(matches!(r, Err(Error::Service(ref e)) if e.code == 404), "{r:?}");
}

#[test]
fn zss_services_and_stats_commands() {
    let broker = broker();
    let _w = test_worker(broker.backend_endpoint(), "cli");
    wait_for_workers(&broker, 1);
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("cli")).unwrap();
    c.call("echo", 1).unwrap();
    let zss = env!("CARGO_BIN_EXE_zss");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(zss).args(args).arg("--broker").arg(broker.frontend_endpoint()).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let table = run(&["services"]);
    assert!(table.contains("SERVICE") && table.contains("CLI#"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&run(&["services", "--json"])).unwrap();
    assert_eq!(json["CLI"].as_array().map(Vec::len), Some(1));
    let table = run(&["stats"]);
    assert!(table.contains("REQUESTS") && table.lines().any(|l| l.starts_with("CLI ")), "{table}");
    let json: serde_json::Value = serde_json::from_str(&run(&["stats", "--json"])).unwrap();
    assert_eq!(json["services"]["CLI"]["requests"], 1);
    assert_eq!(json["services"]["CLI"]["replies"]["2xx"], 1);

    // A broker that is not there: a clear error and a non-zero exit, not a hang.
    let out = std::process::Command::new(zss).args(["stats", "--broker", "tcp://127.0.0.1:1", "--timeout", "200"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("timeout"), "{}", String::from_utf8_lossy(&out.stderr));
}

fn scrape(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    write!(conn, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    conn.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

#[test]
fn prometheus_endpoint_over_http() {
    let broker = broker();
    let _w = test_worker(broker.backend_endpoint(), "svc");
    wait_for_workers(&broker, 1);
    let metrics = broker.serve_metrics("127.0.0.1:0").unwrap();
    let c = Client::connect(ClientConfig::new(broker.frontend_endpoint()).sid("svc")).unwrap();
    for i in 0..5 {
        c.call("echo", i).unwrap();
    }
    assert!(c.call("invalid", Value::Nil).is_err());
    assert!(c.request(Call::new("x", Value::Nil).sid("nobody")).is_err());

    let (head, body) = scrape(metrics.local_addr(), "/metrics");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_lowercase().contains("application/openmetrics-text"), "{head}");
    for line in [
        "zss_broker_requests_total 7",
        "zss_broker_not_found_total 1",
        "zss_broker_workers 1",
        "zss_service_requests_total{sid=\"SVC\"} 6",
        "zss_service_replies_total{sid=\"SVC\",class=\"2xx\"} 5",
        "zss_service_replies_total{sid=\"SVC\",class=\"4xx\"} 1",
        "zss_service_workers{sid=\"SVC\"} 1",
        "zss_service_latency_seconds_count{sid=\"SVC\"} 6",
        "zss_service_latency_seconds_bucket{le=\"+Inf\",sid=\"SVC\"} 6",
        "# EOF",
    ] {
        assert!(body.lines().any(|l| l == line), "missing {line:?} in\n{body}");
    }
    assert!(body.contains("# TYPE zss_service_latency_seconds histogram"));
    let (head, _) = scrape(metrics.local_addr(), "/other");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

#[test]
fn zss_broker_metrics_flag() {
    let zss = env!("CARGO_BIN_EXE_zss");
    let port = |l: std::net::TcpListener| l.local_addr().unwrap().port();
    let mport = port(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    let fe = format!("tcp://127.0.0.1:{}", port(std::net::TcpListener::bind("127.0.0.1:0").unwrap()));
    let be = format!("tcp://127.0.0.1:{}", port(std::net::TcpListener::bind("127.0.0.1:0").unwrap()));
    let mut child = std::process::Command::new(zss)
        .args(["broker", "--frontend", &fe, "--backend", &be, "--metrics-addr", &format!("127.0.0.1:{mport}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{mport}").parse().unwrap();
    let up = wait_until(Duration::from_secs(5), || std::net::TcpStream::connect(addr).is_ok());
    let body = if up { scrape(addr, "/metrics").1 } else { String::new() };
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    assert!(up, "metrics endpoint came up");
    assert!(body.lines().any(|l| l == "zss_broker_workers 0"), "{body}");
}
