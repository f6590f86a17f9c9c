//! The matrix's Rust client: `matrix-client <frontend> <scenarios.json> <SID>...`
//! (tests/matrix/README.md). Prints one JSON line per call.

use serde_json::{json, Value as J};
use std::{env, fs, process::ExitCode, time::Duration};
use zss::{Call, Client, ClientConfig, Error};
use zss_matrix::{curve_from_env, from_tagged, matrix_headers, to_tagged};

fn headers_json(headers: &zss::Value) -> J {
    J::Object(matrix_headers(headers).into_iter().map(|(k, v)| (k, to_tagged(&v))).collect())
}

fn run(client: &Client, service: &str, scenario: &J) -> Result<J, String> {
    let field = |name: &str| scenario.get(name).ok_or_else(|| format!("scenario without {name}"));
    let verb = field("verb")?.as_str().ok_or("verb is not a string")?;
    let sid = scenario.get("sid").and_then(J::as_str).unwrap_or(service);
    let mut call = Call::new(verb, from_tagged(field("payload")?)?).sid(sid);
    if let Some(timeout) = scenario.get("timeout_ms").and_then(J::as_u64) {
        call = call.timeout(Duration::from_millis(timeout));
    }
    if let Some(J::Object(headers)) = scenario.get("headers") {
        for (key, value) in headers {
            call = call.header(key.as_str(), from_tagged(value)?);
        }
    }
    Ok(match client.request(call) {
        Ok(reply) => json!({
            "status": reply.status, "payload": to_tagged(&reply.payload), "headers": headers_json(&reply.headers),
        }),
        Err(Error::Service(e)) => json!({ "status": e.code, "error": to_tagged(&e.to_payload()) }),
        Err(other) => json!({ "status": null, "client_error": other.to_string() }),
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let [frontend, scenarios, services @ ..] = args.as_slice() else {
        eprintln!("usage: matrix-client <frontend> <scenarios.json> <SID>...");
        return ExitCode::from(2);
    };
    let scenarios: Vec<J> = match fs::read_to_string(scenarios).map_err(|e| e.to_string()).and_then(|text| {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }) {
        Ok(list) => list,
        Err(e) => {
            eprintln!("matrix-client: cannot read {scenarios}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = ClientConfig::new(frontend.as_str()).identity("matrix-rust");
    let client = match curve_from_env().and_then(|curve| match curve {
        Some((server, pair)) => Client::connect(config.curve(server, pair)),
        None => Client::connect(config),
    }) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("matrix-client: {e}");
            return ExitCode::FAILURE;
        }
    };
    for service in services {
        for scenario in &scenarios {
            let mut line = run(&client, service, scenario).unwrap_or_else(|e| json!({ "status": null, "client_error": e }));
            line["service"] = json!(service);
            line["id"] = scenario["id"].clone();
            println!("{line}");
        }
    }
    ExitCode::SUCCESS
}
