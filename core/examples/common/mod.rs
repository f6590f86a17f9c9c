//! Helpers shared by the example programs.
#![allow(dead_code)]

use std::collections::BTreeMap;

/// Answers counted by status.
pub type Tally = BTreeMap<u16, u64>;

pub fn status_of(r: &zss::Result<zss::Reply>) -> u16 {
    match r {
        Ok(reply) => reply.status,
        Err(e) => e.code(),
    }
}

pub fn show(t: &Tally) -> String {
    t.iter().map(|(s, n)| format!("{s}×{n}")).collect::<Vec<_>>().join(" ")
}

/// A free loopback port.
pub fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `zss` program next to this example (target/<profile>/examples/x → target/<profile>/zss).
pub fn zss_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(|p| p.parent()).unwrap().join("zss");
    assert!(bin.exists(), "build the zss binary first: cargo build --release -p zss");
    bin
}

/// Resident memory of a process, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}
