//! The matrix's Rust service: `matrix-service <backend> <SID>` (tests/matrix/README.md).

use std::{env, process::ExitCode, thread, time::Duration};
use zss::{status, HandlerResult, Response, ServiceError, Value, Worker, WorkerConfig};
use zss_matrix::{curve_from_env, matrix_headers, to_tagged};

fn status_reply(payload: &Value) -> HandlerResult {
    let code = payload.get("status").and_then(Value::as_i64).and_then(|c| u16::try_from(c).ok());
    let code = code.ok_or_else(|| ServiceError::with_messages(status::BAD_REQUEST, "status missing", "status missing"))?;
    Ok(Response::with_status(code, payload.get("payload").cloned().unwrap_or(Value::Nil)))
}

fn fail(payload: &Value) -> HandlerResult {
    let code = payload.get("code").and_then(Value::as_i64).and_then(|c| u16::try_from(c).ok()).unwrap_or(500);
    // The core reads messages and extra fields from an error payload as it would from a reply.
    Err(ServiceError::from_reply(Some(code), payload.clone()))
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let [backend, sid] = args.as_slice() else {
        eprintln!("usage: matrix-service <backend> <SID>");
        return ExitCode::from(2);
    };
    let mut config = WorkerConfig::new(sid.as_str()).broker(backend.as_str());
    match curve_from_env() {
        Ok(Some((server, pair))) => config = config.curve(server, pair),
        Ok(None) => {}
        Err(e) => {
            eprintln!("matrix-service: {e}");
            return ExitCode::FAILURE;
        }
    }
    let mut worker = Worker::new(config);
    worker
        .verb("echo", |req| Ok(Response::ok(req.payload.clone())))
        .verb("inspect", |req| Ok(Response::ok(to_tagged(&req.payload).to_string())))
        .verb("status", |req| status_reply(&req.payload))
        .verb("fail", |req| fail(&req.payload))
        .verb("crash", |req| panic!("matrix crash: {:?}", req.payload))
        .verb("sleep", |req| {
            // Handlers run on the worker's pool (16 threads), so a sleeping one holds up no other.
            thread::sleep(Duration::from_millis(req.payload.as_i64().unwrap_or(0).max(0) as u64));
            Ok(Response::ok("awake"))
        })
        .verb("headers", |req| {
            let seen = matrix_headers(&req.headers);
            let payload = Value::Map(seen.into_iter().map(|(k, v)| (Value::Str(k), v)).collect());
            Ok(Response::ok(payload).header("x-matrix-reply", req.payload.clone()))
        });
    let running = match worker.start() {
        Ok(running) => running,
        Err(e) => {
            eprintln!("matrix-service: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])
        .expect("signal handlers");
    signals.forever().next();
    running.stop();
    running.join();
    ExitCode::SUCCESS
}
