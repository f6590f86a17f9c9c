//! The ZooKeeper the registry tests use: a real server, never a mock.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/zookeeper.sh")
}

/// Runs `scripts/zookeeper.sh ACTION` with `env`; returns what it printed (the address).
fn run_script(action: &str, env: &[(&str, String)]) -> String {
    let out = Command::new("bash")
        .arg(script())
        .arg(action)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/zookeeper.sh");
    assert!(out.status.success(), "scripts/zookeeper.sh {action} failed ({})", out.status);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The shared ZooKeeper's `host:port`: `ZSS_ZOOKEEPER` if set (scripts/test.sh starts one),
/// else the one `scripts/zookeeper.sh start` runs (started here if it is not running).
pub fn zookeeper() -> String {
    static ADDRESS: OnceLock<String> = OnceLock::new();
    ADDRESS
        .get_or_init(|| match std::env::var("ZSS_ZOOKEEPER") {
            Ok(address) if !address.is_empty() => address,
            _ => run_script("start", &[]),
        })
        .clone()
}

/// A ZooKeeper of the test's own, on a free port with its own directory, for tests that stop
/// and restart it. Stopped and its directory removed when dropped.
pub struct OwnZooKeeper {
    port: u16,
    dir: PathBuf,
}

impl OwnZooKeeper {
    pub fn start() -> OwnZooKeeper {
        let port = super::process::free_port();
        let dir = std::env::temp_dir().join(format!("zss-zookeeper-{}-{port}", std::process::id()));
        let zk = OwnZooKeeper { port, dir };
        zk.start_again();
        zk
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn env(&self) -> [(&'static str, String); 2] {
        [("ZSS_ZK_PORT", self.port.to_string()), ("ZSS_ZK_DIR", self.dir.display().to_string())]
    }

    /// Starts it (again, on the same port and data), returning once it serves.
    pub fn start_again(&self) {
        assert_eq!(run_script("start", &self.env()), self.address());
    }

    pub fn stop(&self) {
        run_script("stop", &self.env());
    }
}

impl Drop for OwnZooKeeper {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
