//! The `zss` program as separate processes, for the CLI tests.

use std::process::{Child, Command, Output, Stdio};

pub const ZSS: &str = env!("CARGO_BIN_EXE_zss");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `zss` process, stopped with SIGTERM (the clean shutdown path) when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

pub fn spawn(args: &[&str]) -> Proc {
    Proc(Command::new(ZSS).args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
}

pub fn run(args: &[&str]) -> Output {
    Command::new(ZSS).args(args).output().unwrap()
}
