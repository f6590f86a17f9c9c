//! The `zss` program as a user runs it: separate processes over TCP, exit codes, clear errors.

use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::process::*;

fn call(fe: &str, args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut all = vec!["call", "--broker", fe];
    all.extend_from_slice(args);
    let out = run(&all);
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap(), json, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn broker_echo_and_call_as_processes() {
    let fe = format!("tcp://127.0.0.1:{}", free_port());
    let be = format!("tcp://127.0.0.1:{}", free_port());
    let _broker = Proc(
        Command::new(ZSS)
            .arg("broker")
            .env("MICRO_BROKER_FE_ADDR", &fe) // the deployed env vars work
            .env("MICRO_BROKER_BE_ADDR", &be)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _echo = spawn(&["echo", "demo", "--broker", &be, "--heartbeat", "200"]);
    let mut ok = false;
    for _ in 0..50 {
        if call(&fe, &["demo", "ping"]).0 == 0 {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ok, "the demo service became reachable");

    let (code, json, _) = call(&fe, &["demo", "echo", r#"{"a": [1, 2.5, "x", null]}"#, "-H", "x-request-id=abc"]);
    assert_eq!(code, 0);
    assert_eq!(json["status"], 200);
    assert_eq!(json["payload"], serde_json::json!({"a": [1, 2.5, "x", null]}));
    assert_eq!(json["headers"]["x-request-id"], "abc");

    let (code, json, _) = call(&fe, &["demo", "nothing"]);
    assert_eq!((code, json["status"].as_i64()), (0, Some(204)));

    let (code, json, stderr) = call(&fe, &["demo", "fail", r#"{"code": 403}"#]);
    assert_eq!((code, json["status"].as_i64()), (1, Some(403)));
    assert!(stderr.contains("403"), "{stderr}");

    let (code, json, _) = call(&fe, &["nobody", "x"]);
    assert_eq!((code, json["status"].as_i64()), (1, Some(404)));

    let (code, json, _) = call(&fe, &["demo", "sleep", r#"{"ms": 1000}"#, "--timeout", "100"]);
    assert_eq!((code, json["status"].as_i64()), (3, Some(599)));
}

#[test]
fn clear_errors_for_bad_input() {
    let out = run(&["call", "svc", "verb", "{not json", "--broker", "tcp://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("payload is not valid JSON"));

    let out = run(&["broker", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));

    let out = run(&["call", "svc", "verb", "--broker", "nonsense"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nonsense"));

    // An address already in use is an error at start, naming the endpoint.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fe = format!("tcp://{}", taken.local_addr().unwrap());
    let be = format!("tcp://127.0.0.1:{}", free_port());
    let out = run(&["broker", "--frontend", &fe, "--backend", &be]);
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bind") && stderr.contains(&fe), "{stderr}");
}
