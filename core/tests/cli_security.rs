//! `zss keygen`, `zss broker --curve-secret/--allow` (with a SIGHUP reload), `zss echo` and
//! `zss call` with `--broker-key`, as separate processes over TCP.

use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::process::*;

fn has_curve() -> bool {
    zss::socket::has_curve()
}

#[test]
fn keygen_curve_broker_allow_list_and_sighup() {
    if !has_curve() {
        eprintln!("skipped: this build's libzmq (--features vendored) has no CURVE");
        return;
    }
    let dir = std::env::temp_dir().join(format!("zss-cli-sec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let name = |n: &str| dir.join(n).display().to_string();
    for n in ["broker", "svc", "cli", "late"] {
        let out = run(&["keygen", "--out", &name(n)]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim().len(), 40);
    }
    let public = |n: &str| std::fs::read_to_string(format!("{}.pub", name(n))).unwrap().trim().to_owned();
    let allow = name("allow.txt");
    let write_allow = |extra: &str| {
        std::fs::write(
            &allow,
            format!("# test\n{} name=svc serve=DEMO call=*\n{} name=cli call=DEMO\n{extra}", public("svc"), public("cli")),
        )
        .unwrap()
    };
    write_allow("");
    // A malformed key is a clear error at start.
    let bad = run(&["broker", "--frontend", "tcp://127.0.0.1:*", "--curve-secret", "not-a-key"]);
    assert_eq!(bad.status.code(), Some(2), "{}", String::from_utf8_lossy(&bad.stderr));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--curve-secret"));

    let (fe, be) = (format!("tcp://127.0.0.1:{}", free_port()), format!("tcp://127.0.0.1:{}", free_port()));
    let broker = Proc(
        Command::new(ZSS)
            .args(["broker", "--frontend", &fe, "--backend", &be, "--allow", &allow])
            .env("MICRO_BROKER_CURVE_SECRET", format!("{}.key", name("broker")))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let broker_pub = format!("{}.pub", name("broker"));
    let _echo = Proc(
        Command::new(ZSS)
            .args(["echo", "demo", "--broker", &be, "--heartbeat", "200", "--broker-key", &broker_pub])
            .args(["--key", &format!("{}.key", name("svc"))])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let call = |key: &str| {
        let out = run(&["call", "demo", "echo", "\"hi\"", "--broker", &fe, "--broker-key", &broker_pub, "--key", &format!("{}.key", name(key))]);
        (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let mut ok = false;
    for _ in 0..50 {
        if call("cli").0 == 0 {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ok, "the CURVE demo service became reachable: {:?}", call("cli"));
    let (code, _, err) = call("late");
    assert_eq!(code, 5, "an unlisted key: {err}");
    assert!(err.contains("authentication failed"), "{err}");
    // SIGHUP reload adds the key.
    write_allow(&format!("{} name=late call=DEMO\n", public("late")));
    unsafe { libc::kill(broker.0.id() as i32, libc::SIGHUP) };
    let mut ok = false;
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        if call("late").0 == 0 {
            ok = true;
            break;
        }
    }
    assert!(ok, "the reloaded key is accepted: {:?}", call("late"));
    let stats = run(&["stats", "--json", "--broker", &fe, "--broker-key", &broker_pub, "--key", &format!("{}.key", name("cli"))]);
    assert!(stats.status.success(), "{}", String::from_utf8_lossy(&stats.stderr));
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert!(stats["broker"]["auth_failures_frontend"].as_u64().unwrap() >= 1, "{stats}");
    drop(broker);
    let _ = std::fs::remove_dir_all(dir);
}
