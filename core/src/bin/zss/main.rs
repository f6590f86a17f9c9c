//! `zss`: run a broker, call a service, or serve a demo echo service.
//!
//! Exit codes of `zss call`: 0 success (2xx), 1 error reply, 3 timeout (599), 2 bad usage or
//! invalid JSON, 4 local failure (bad endpoint, …), 5 authentication failed (CURVE key refused).

mod bench;

use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;
use zss::{Broker, BrokerConfig, Call, Client, ClientConfig, Error, Response, ServiceError, Value, Worker, WorkerConfig};

#[derive(Parser)]
#[command(name = "zss", version, about = "ZeroMQ Service Suite: broker, client and demo worker")]
struct Cli {
    /// Log level: error, warn, info, debug, trace.
    #[arg(long, global = true, env = "MICRO_BROKER_LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// Log format: text or json.
    #[arg(long, global = true, env = "ZSS_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a broker until SIGINT/SIGTERM.
    Broker(BrokerArgs),
    /// Call SID VERB with an optional JSON payload; print the reply as JSON.
    Call(CallArgs),
    /// Serve a demo service: ECHO (returns the payload), PING (returns "PONG"),
    /// SLEEP ({"ms": N}), FAIL ({"code": N}), NOTHING (204).
    Echo(EchoArgs),
    /// List each service with its live workers (the broker's SMI SERVICES).
    Services(ManagementArgs),
    /// Show the broker's figures: totals and, per service, requests, replies, errors,
    /// in flight, latency (the broker's SMI STATS).
    Stats(ManagementArgs),
    /// Measure raw ZeroMQ against zss on loopback and print the figures.
    Bench(BenchArgs),
    /// Write a new CURVE key pair: NAME.key (the secret, mode 0600) and NAME.pub; prints the
    /// public key.
    Keygen(KeygenArgs),
    /// (bench helper) A raw ZeroMQ ROUTER echo on a free loopback port; prints the endpoint.
    #[command(hide = true, name = "bench-raw-echo")]
    BenchRawEcho,
    /// (bench helper) Synchronous calls for --seconds; prints rps and percentiles as JSON.
    /// The Rust reference for the bindings' client overhead (scripts/bench.sh).
    #[command(hide = true, name = "bench-client")]
    BenchClient(BenchClientArgs),
    /// (bench helper) The broker alone with hand-written clients and workers: synchronous and
    /// pipelined rates as JSON (scripts/bench-nats.sh sets them next to NATS).
    #[command(hide = true, name = "bench-broker-alone")]
    BenchBrokerAlone(BenchBrokerAloneArgs),
}

#[derive(Args)]
struct BenchBrokerAloneArgs {
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    #[arg(long, default_value_t = 4)]
    clients: usize,
    #[arg(long, default_value_t = 2)]
    workers: usize,
    #[arg(long, default_value_t = 32)]
    in_flight: usize,
    /// Only the pipelined case (what scripts/profile.sh --pipelined profiles).
    #[arg(long)]
    pipelined_only: bool,
}

#[derive(Args)]
struct BenchClientArgs {
    /// The broker's frontend, or several comma-separated (calls spread over those up).
    #[arg(long)]
    broker: String,
    #[arg(long, default_value = "BENCH")]
    sid: String,
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
}

#[derive(Args)]
struct KeygenArgs {
    /// File name without extension.
    #[arg(long, default_value = "zss")]
    out: String,
}

/// CURVE for clients and workers. Keys are a file, `env:VAR`, or the Z85 text.
#[derive(Args, Clone)]
struct CurveArgs {
    /// The broker's public key: encrypts with CURVE (a `.pub` file, env:VAR or Z85 text).
    #[arg(long, env = "ZSS_BROKER_KEY")]
    broker_key: Option<String>,
    /// Our own secret key (a `.key` file, env:VAR or Z85 text); the public key is derived.
    /// Without it a throw-away pair is made (accepted only by a broker without --allow).
    #[arg(long, env = "ZSS_KEY", requires = "broker_key")]
    key: Option<String>,
}

impl CurveArgs {
    fn keys(&self) -> Result<Option<(zss::security::Key, zss::KeyPair)>, Error> {
        let Some(server) = &self.broker_key else { return Ok(None) };
        let server = zss::security::load_key(server).map_err(|e| Error::InvalidArgument(format!("--broker-key: {e}")))?;
        let me = match &self.key {
            Some(k) => zss::KeyPair::load(k).map_err(|e| Error::InvalidArgument(format!("--key: {e}")))?,
            None => zss::KeyPair::generate()?,
        };
        Ok(Some((server, me)))
    }
}

#[derive(Args)]
struct ManagementArgs {
    /// The broker's frontend, or several comma-separated (each is asked).
    #[arg(long, env = "ZSS_BROKER", default_value = "tcp://127.0.0.1:7777")]
    broker: String,
    /// Take the brokers from a ZooKeeper registry instead (zk://host:2181[,host...]/zss).
    #[arg(long, env = "ZSS_REGISTRY")]
    registry: Option<String>,
    /// Print the raw reply as JSON (for scripts).
    #[arg(long)]
    json: bool,
    /// Timeout in ms.
    #[arg(long, default_value_t = 1000)]
    timeout: u64,
    #[command(flatten)]
    curve: CurveArgs,
}

#[derive(Args)]
struct BenchArgs {
    /// Seconds per measured case.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Clients×workers combinations for the pipelined case.
    #[arg(long, value_delimiter = ',', default_value = "1x1,4x2,16x4,64x8")]
    matrix: Vec<String>,
    /// Calls kept in flight per client in the pipelined case.
    #[arg(long, default_value_t = 64)]
    in_flight: usize,
    /// Payload sizes in bytes.
    #[arg(long, value_delimiter = ',', default_value = "16,1024,65536")]
    sizes: Vec<usize>,
    /// Requests for the broker memory check (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    memory_requests: u64,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<String>,
}

#[derive(Args)]
struct BrokerArgs {
    /// Endpoint clients connect to.
    #[arg(long, env = "MICRO_BROKER_FE_ADDR", default_value = "tcp://0.0.0.0:7777")]
    frontend: String,
    /// Endpoint workers connect to.
    #[arg(long, env = "MICRO_BROKER_BE_ADDR", default_value = "tcp://0.0.0.0:7776")]
    backend: String,
    /// Workers' heartbeat interval in ms.
    #[arg(long, env = "MICRO_BROKER_HEARTBEAT", default_value_t = 1000)]
    heartbeat: u64,
    /// A worker silent for this many ms is dropped.
    #[arg(long, env = "MICRO_BROKER_MAX_TTL", default_value_t = 2000)]
    max_ttl: u64,
    /// Liveness check interval in ms.
    #[arg(long, env = "MICRO_BROKER_UPDATE_INT", default_value_t = 500)]
    update_interval: u64,
    /// Largest accepted frame in bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    max_message_size: i64,
    /// Add the original broker's timing headers (micro.bfer/bbes/bber/bfes) to every message.
    #[arg(long, env = "MICRO_BROKER_TIMING_HEADERS")]
    timing_headers: bool,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9100). Off by default.
    #[arg(long, env = "MICRO_BROKER_METRICS_ADDR")]
    metrics_addr: Option<String>,
    /// Serve CURVE on the frontend and backend with this secret key (a `.key` file, env:VAR
    /// or Z85 text). A key that does not parse stops the broker: never a plaintext fallback.
    #[arg(long, env = "MICRO_BROKER_CURVE_SECRET")]
    curve_secret: Option<String>,
    /// Only these public keys may connect, with their permissions (one a line:
    /// `KEY [name=N] [call=A,B|*] [serve=C|*]`, `#` comments); reloaded on SIGHUP.
    #[arg(long, env = "MICRO_BROKER_ALLOW", requires = "curve_secret")]
    allow: Option<String>,
    /// An extra plaintext frontend endpoint next to the CURVE one (migration; unauthenticated).
    #[arg(long, env = "MICRO_BROKER_FE_PLAIN", requires = "curve_secret")]
    frontend_plain: Option<String>,
    /// An extra plaintext backend endpoint next to the CURVE one (migration; unauthenticated).
    #[arg(long, env = "MICRO_BROKER_BE_PLAIN", requires = "curve_secret")]
    backend_plain: Option<String>,
    /// Register in this ZooKeeper registry while running (zk://host:2181[,host:2181...]/zss):
    /// an ephemeral node with the frontend and backend, removed on SIGINT/SIGTERM.
    #[arg(long, env = "MICRO_BROKER_REGISTRY")]
    registry: Option<String>,
    /// The host advertised in the registry in place of a wildcard bind (`*`, `0.0.0.0`, `::`).
    /// Default: this machine's hostname.
    #[arg(long, env = "MICRO_BROKER_ADVERTISE", requires = "registry")]
    advertise: Option<String>,
}

#[derive(Args)]
struct CallArgs {
    sid: String,
    verb: String,
    /// The payload as JSON (default: null).
    payload: Option<String>,
    /// The broker's frontend, or several comma-separated (calls spread over those up).
    #[arg(long, env = "ZSS_BROKER", default_value = "tcp://127.0.0.1:7777")]
    broker: String,
    /// Take the brokers from a ZooKeeper registry instead (zk://host:2181[,host...]/zss).
    #[arg(long, env = "ZSS_REGISTRY")]
    registry: Option<String>,
    /// Timeout in ms.
    #[arg(long, default_value_t = 1000)]
    timeout: u64,
    /// Re-send the call to another broker up to N times if its broker is lost with it in
    /// flight (only for calls safe to run twice).
    #[arg(long, default_value_t = 0)]
    retries: u32,
    /// A header as KEY=JSON (a value that is not JSON is sent as a string). Repeatable.
    #[arg(long = "header", short = 'H')]
    headers: Vec<String>,
    /// Identity prefix.
    #[arg(long, default_value = "client")]
    identity: String,
    #[command(flatten)]
    curve: CurveArgs,
}

#[derive(Args)]
struct EchoArgs {
    /// Service id to serve.
    #[arg(default_value = "echo")]
    sid: String,
    /// The broker's backend, or several comma-separated (registers with each).
    #[arg(long, env = "ZSS_BACKEND", default_value = "tcp://127.0.0.1:7776")]
    broker: String,
    /// Take the brokers from a ZooKeeper registry instead (zk://host:2181[,host...]/zss), and
    /// list this worker there.
    #[arg(long, env = "ZSS_REGISTRY")]
    registry: Option<String>,
    /// Heartbeat interval in ms.
    #[arg(long, default_value_t = 1000)]
    heartbeat: u64,
    /// Requests handled at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[command(flatten)]
    curve: CurveArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_level, &cli.log_format);
    let result = match cli.command {
        Command::Broker(args) => run_broker(args),
        Command::Call(args) => return run_call(args),
        Command::Echo(args) => run_echo(args),
        Command::Bench(args) => run_bench(args),
        Command::Keygen(args) => run_keygen(args),
        Command::BenchRawEcho => {
            bench::raw_echo_process();
            Ok(())
        }
        Command::BenchClient(args) => run_bench_client(args),
        Command::BenchBrokerAlone(a) => {
            let doc = if a.pipelined_only {
                let rps = bench::broker_alone_pipelined(a.seconds, a.clients, a.workers, a.in_flight);
                serde_json::json!({"pipelined": {"clients": a.clients, "workers": a.workers, "in_flight": a.in_flight, "rps": rps}})
            } else {
                bench::broker_alone_json(a.seconds, a.clients, a.workers, a.in_flight)
            };
            println!("{doc}");
            Ok(())
        }
        Command::Services(args) => run_management("SERVICES", args, print_services),
        Command::Stats(args) => run_management("STATS", args, print_stats),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ Error::AuthenticationFailed(_)) => {
            eprintln!("zss: {e}");
            ExitCode::from(5)
        }
        Err(e @ Error::InvalidArgument(_)) => {
            eprintln!("zss: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("zss: {e}");
            ExitCode::from(4)
        }
    }
}

fn run_keygen(args: KeygenArgs) -> Result<(), Error> {
    let pair = zss::KeyPair::generate()?;
    pair.write(&args.out)?;
    eprintln!("zss: wrote {0}.key (secret, mode 0600) and {0}.pub", args.out);
    println!("{}", pair.public_z85());
    Ok(())
}

fn init_logging(level: &str, format: &str) {
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(level).target(env_logger::Target::Stderr);
    if format == "json" {
        builder.format(|buf, record| {
            let line = serde_json::json!({
                "time": buf.timestamp_millis().to_string(),
                "level": record.level().as_str(),
                "target": record.target(),
                "msg": record.args().to_string(),
            });
            writeln!(buf, "{line}")
        });
    }
    builder.init();
}

/// Blocks until SIGINT or SIGTERM.
fn wait_for_signal() -> Result<(), Error> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| Error::Socket { context: "install signal handlers".into(), message: e.to_string() })?;
    if let Some(sig) = signals.forever().next() {
        log::info!("received signal {sig}; shutting down");
    }
    Ok(())
}

fn run_broker(args: BrokerArgs) -> Result<(), Error> {
    let mut config = BrokerConfig::new(args.frontend, args.backend);
    config.heartbeat = Duration::from_millis(args.heartbeat);
    config.max_ttl = Duration::from_millis(args.max_ttl);
    config.sweep_interval = Duration::from_millis(args.update_interval);
    config.socket.max_message_size = args.max_message_size;
    config.timing_headers = args.timing_headers;
    if let Some(secret) = &args.curve_secret {
        let pair = zss::KeyPair::load(secret).map_err(|e| Error::InvalidArgument(format!("--curve-secret: {e}")))?;
        log::info!("CURVE on; broker public key {}", pair.public_z85());
        config = config.curve(pair);
    }
    config.frontend_plain = args.frontend_plain.clone();
    config.backend_plain = args.backend_plain.clone();
    let allow = match &args.allow {
        Some(path) => {
            let list = zss::AllowList::load(path)?;
            log::info!("allow list {path}: {} keys", list.len());
            Some(zss::SharedAllowList::new(list))
        }
        None => None,
    };
    config.allow = allow.clone();
    let mut broker = Broker::bind(config)?.start()?;
    let _metrics = args.metrics_addr.as_deref().map(|addr| broker.serve_metrics(addr)).transpose()?;
    let registration = register_broker(args.registry.as_deref(), args.advertise.as_deref(), &broker)?;
    log::info!(
        "zss {} broker: clients → {}, workers → {}",
        zss::VERSION,
        broker.frontend_endpoint(),
        broker.backend_endpoint()
    );
    match (&allow, &args.allow) {
        (Some(shared), Some(path)) => wait_for_signal_reloading(shared, path)?,
        _ => wait_for_signal()?,
    }
    drop(registration); // out of the registry before the broker stops answering
    broker.stop();
    Ok(())
}

/// `--registry`: the broker's node in ZooKeeper, kept until the value is dropped.
#[cfg(feature = "registry")]
fn register_broker(
    url: Option<&str>,
    advertise: Option<&str>,
    broker: &zss::RunningBroker,
) -> Result<Option<zss::registry::Registration>, Error> {
    use zss::registry::{BrokerEntry, RegistryUrl};
    let Some(url) = url else { return Ok(None) };
    let url = RegistryUrl::parse(url)?;
    let entry = BrokerEntry::advertise(broker.frontend_endpoint(), broker.backend_endpoint(), advertise);
    zss::registry::register_broker(&url, entry).map(Some)
}

#[cfg(not(feature = "registry"))]
fn register_broker(url: Option<&str>, _: Option<&str>, _: &zss::RunningBroker) -> Result<Option<Box<dyn std::any::Any>>, Error> {
    match url {
        None => Ok(None),
        Some(_) => Err(Error::InvalidArgument("--registry: this zss was built without the `registry` feature".into())),
    }
}

/// Blocks until SIGINT or SIGTERM; on SIGHUP re-reads the allow list (a list that does not
/// parse is logged and the current one kept). Connections stay up.
fn wait_for_signal_reloading(allow: &zss::SharedAllowList, path: &str) -> Result<(), Error> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Error::Socket { context: "install signal handlers".into(), message: e.to_string() })?;
    for sig in signals.forever() {
        if sig != SIGHUP {
            log::info!("received signal {sig}; shutting down");
            break;
        }
        match zss::AllowList::load(path) {
            Ok(list) => {
                log::info!("SIGHUP: reloaded allow list {path}: {} keys", list.len());
                allow.replace(list);
            }
            Err(e) => log::error!("SIGHUP: keeping the current allow list: {e}"),
        }
    }
    Ok(())
}

fn run_call(args: CallArgs) -> ExitCode {
    let payload = match args.payload.as_deref().map(Value::from_json).transpose() {
        Ok(p) => p.unwrap_or(Value::Nil),
        Err(e) => {
            eprintln!("zss: payload is not valid JSON: {e}");
            return ExitCode::from(2);
        }
    };
    let mut call = Call::new(args.verb, payload).sid(args.sid).timeout(Duration::from_millis(args.timeout)).retries(args.retries);
    for h in &args.headers {
        let Some((k, v)) = h.split_once('=') else {
            eprintln!("zss: header {h:?} is not KEY=VALUE");
            return ExitCode::from(2);
        };
        call = call.header(k, Value::from_json(v).unwrap_or_else(|_| Value::from(v)));
    }
    let mut config = ClientConfig::new(args.broker).identity(args.identity);
    if let Some(url) = args.registry {
        config = config.registry(url);
    }
    match args.curve.keys() {
        Ok(Some((server, me))) => config = config.curve(server, me),
        Ok(None) => {}
        Err(e) => {
            eprintln!("zss: {e}");
            return ExitCode::from(2);
        }
    }
    let client = match Client::connect(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("zss: {e}");
            return ExitCode::from(4);
        }
    };
    match client.request(call) {
        Ok(reply) => {
            let out = serde_json::json!({
                "status": reply.status,
                "headers": reply.headers.to_json(),
                "payload": reply.payload.to_json(),
            });
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(Error::Service(e)) => {
            println!("{}", serde_json::json!({ "status": e.code, "payload": e.to_payload().to_json() }));
            eprintln!("zss: {e}");
            ExitCode::from(if e.is_timeout() { 3 } else { 1 })
        }
        Err(e @ Error::InvalidArgument(_)) => {
            eprintln!("zss: {e}");
            ExitCode::from(2)
        }
        Err(e @ Error::AuthenticationFailed(_)) => {
            eprintln!("zss: {e}");
            ExitCode::from(5)
        }
        Err(e) => {
            eprintln!("zss: {e}");
            ExitCode::from(4)
        }
    }
}

fn run_echo(args: EchoArgs) -> Result<(), Error> {
    let mut config = WorkerConfig::new(args.sid)
        .broker(args.broker)
        .heartbeat(Duration::from_millis(args.heartbeat))
        .concurrency(args.concurrency);
    if let Some(url) = args.registry {
        config = config.registry(url);
    }
    if let Some((server, me)) = args.curve.keys()? {
        config = config.curve(server, me);
    }
    let mut worker = Worker::new(config);
    worker
        .verb("echo", |req| Ok(Response::ok(req.payload.clone())))
        .verb("ping", |_| Ok(Response::ok("PONG")))
        .verb("nothing", |_| Ok(Response::ok(Value::Nil)))
        .verb("sleep", |req| {
            let ms = req.payload.get("ms").and_then(Value::as_i64).unwrap_or(100).clamp(0, 60_000);
            std::thread::sleep(Duration::from_millis(ms as u64));
            Ok(Response::ok(Value::map([("slept", Value::from(ms))])))
        })
        .verb("fail", |req| {
            let code = req.payload.get("code").and_then(Value::as_i64).unwrap_or(500);
            Err(ServiceError::new(u16::try_from(code).unwrap_or(500)))
        });
    let running = std::sync::Arc::new(worker.start()?);
    // Stop on a signal, or when the worker stops by itself (its key refused: no retrying).
    let watcher = running.clone();
    std::thread::spawn(move || {
        watcher.wait(None);
        if let Some(e) = watcher.error() {
            eprintln!("zss: {e}");
            std::process::exit(5);
        }
    });
    wait_for_signal()?;
    running.join();
    Ok(())
}

fn run_bench(args: BenchArgs) -> Result<(), Error> {
    let mut matrix = Vec::new();
    for m in &args.matrix {
        let parsed = m.split_once('x').and_then(|(c, w)| Some((c.parse().ok()?, w.parse().ok()?)));
        match parsed {
            Some((c, w)) if c > 0 && w > 0 => matrix.push((c, w)),
            _ => return Err(Error::InvalidArgument(format!("--matrix entry {m:?} is not CLIENTSxWORKERS"))),
        }
    }
    bench::run(bench::BenchOptions {
        seconds: args.seconds,
        matrix,
        in_flight: args.in_flight.max(1),
        sizes: args.sizes,
        memory_requests: args.memory_requests,
        json: args.json,
    });
    Ok(())
}

fn run_bench_client(args: BenchClientArgs) -> Result<(), Error> {
    let client = Client::connect(ClientConfig::new(args.broker).sid(args.sid).timeout(Duration::from_secs(10)))?;
    let payload = Value::from("x");
    let mut failure = None;
    let latency = bench::measure_sync(args.seconds, || {
        if let Err(e) = client.call("echo", payload.clone()) {
            failure.get_or_insert(e);
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    println!("{}", serde_json::json!({"client": "rust", "latency": latency.to_json()}));
    Ok(())
}

/// Asks each listed broker in turn (every broker has its own services and figures); with
/// several, each answer is headed by its endpoint (`--json`: an object keyed by endpoint).
fn run_management(verb: &str, args: ManagementArgs, human: fn(&Value)) -> Result<(), Error> {
    let keys = args.curve.keys()?;
    let endpoints = match &args.registry {
        Some(url) => zss::discovery::Follower::start(url, zss::discovery::Side::Frontend)?.brokers(),
        None => zss::socket::parse_endpoints(&args.broker),
    };
    if endpoints.is_empty() {
        return Err(Error::InvalidArgument(match args.registry {
            Some(url) => format!("--registry: no broker registered in {url}"),
            None => "--broker: no endpoint given".into(),
        }));
    }
    let mut answers = Vec::new();
    for endpoint in &endpoints {
        let mut config = ClientConfig::new(endpoint).identity("zss-cli").timeout(Duration::from_millis(args.timeout));
        if let Some((server, me)) = keys.clone() {
            config = config.curve(server, me);
        }
        answers.push((endpoint.as_str(), Client::connect(config)?.management(verb)?));
    }
    if let (Some(url), "SERVICES") = (&args.registry, verb) {
        // The whole cluster: each registered broker's view, and the workers listed in ZooKeeper.
        let instances = registry_instances(url)?;
        if args.json {
            let brokers = Value::map(answers.iter().map(|(e, p)| (*e, p.clone())));
            let listed = instances.iter().map(|(sid, identity, broker)| {
                Value::map([("sid", Value::from(sid.as_str())), ("identity", Value::from(identity.as_str())), ("broker", Value::from(broker.as_str()))])
            });
            println!("{}", Value::map([("brokers", brokers), ("instances", Value::Array(listed.collect()))]).to_json());
        } else {
            for (endpoint, payload) in &answers {
                println!("== {endpoint}");
                human(payload);
            }
            println!("== registered in {url}");
            println!("{:<24} {:<48} BROKERS", "SERVICE", "WORKER");
            for (sid, identity, broker) in &instances {
                println!("{sid:<24} {identity:<48} {broker}");
            }
        }
        return Ok(());
    }
    match (&answers[..], args.json) {
        ([(_, payload)], true) => println!("{}", payload.to_json()),
        ([(_, payload)], false) => human(payload),
        (_, true) => println!("{}", Value::map(answers.iter().map(|(e, p)| (*e, p.clone()))).to_json()),
        (_, false) => {
            for (endpoint, payload) in &answers {
                println!("== {endpoint}");
                human(payload);
            }
        }
    }
    Ok(())
}

/// The service instances workers listed in the registry: (sid, identity, brokers).
#[cfg(feature = "registry")]
fn registry_instances(url: &str) -> Result<Vec<(String, String, String)>, Error> {
    let url = zss::registry::RegistryUrl::parse(url)?;
    Ok(zss::registry::list_services(&url)?.into_iter().map(|e| (e.sid, e.identity, e.broker)).collect())
}

#[cfg(not(feature = "registry"))]
fn registry_instances(_url: &str) -> Result<Vec<(String, String, String)>, Error> {
    Err(Error::InvalidArgument("--registry: this zss was built without the `registry` feature".into()))
}

fn entries(v: &Value) -> &[(Value, Value)] {
    match v {
        Value::Map(e) => e,
        _ => &[],
    }
}

fn num(v: Option<&Value>) -> String {
    match v {
        Some(Value::Float(f)) => format!("{f:.2}"),
        Some(other) => other.to_json_string(),
        None => "-".into(),
    }
}

fn print_services(payload: &Value) {
    println!("{:<24} {:<48} {:>9} {:>8}", "SERVICE", "WORKER", "IN FLIGHT", "IDLE ms");
    for (sid, workers) in entries(payload) {
        let sid = sid.as_str().unwrap_or("?");
        if let Value::Array(ws) = workers {
            for w in ws {
                println!(
                    "{:<24} {:<48} {:>9} {:>8}",
                    sid,
                    w.get("identity").and_then(Value::as_str).unwrap_or("?"),
                    num(w.get("in_flight")),
                    num(w.get("idle_ms"))
                );
            }
        }
    }
}

fn print_stats(payload: &Value) {
    if let Some(b) = payload.get("broker") {
        println!("broker:");
        for (k, v) in entries(b) {
            println!("  {:<20} {}", k.as_str().unwrap_or("?"), num(Some(v)));
        }
    }
    println!();
    println!(
        "{:<24} {:>9} {:>8} {:>7} {:>7} {:>7} {:>9} {:>8} {:>9} {:>9}",
        "SERVICE", "REQUESTS", "2XX", "4XX", "5XX", "ERRORS", "IN FLIGHT", "WORKERS", "P50 ms", "P99 ms"
    );
    for (sid, s) in payload.get("services").map(entries).unwrap_or(&[]) {
        let replies = s.get("replies");
        let latency = s.get("latency_ms");
        println!(
            "{:<24} {:>9} {:>8} {:>7} {:>7} {:>7} {:>9} {:>8} {:>9} {:>9}",
            sid.as_str().unwrap_or("?"),
            num(s.get("requests")),
            num(replies.and_then(|r| r.get("2xx"))),
            num(replies.and_then(|r| r.get("4xx"))),
            num(replies.and_then(|r| r.get("5xx"))),
            num(s.get("errors")),
            num(s.get("in_flight")),
            num(s.get("workers")),
            num(latency.and_then(|l| l.get("p50"))),
            num(latency.and_then(|l| l.get("p99"))),
        );
    }
}
