//! The broker's Prometheus endpoint (`zss broker --metrics-addr`).
//!
//! On each scrape the HTTP thread asks the broker thread for a [`Snapshot`] through its mailbox,
//! so the hot path pays nothing for metrics; the snapshot is encoded by a `prometheus-client`
//! collector in the OpenMetrics text format.

use super::{stats::ServiceStats, Command, Engine};
use crate::error::{Error, Result};
use crate::mailbox::{Mailbox, Oneshot};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Histogram bounds in seconds for request latency.
const LATENCY_BOUNDS: [f64; 16] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The broker's figures at one instant.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// `(name, help, value, is_gauge)` for the broker totals.
    pub totals: Vec<(String, &'static str, u64, bool)>,
    pub services: Vec<ServiceSnapshot>,
}

#[derive(Debug, Default)]
pub struct ServiceSnapshot {
    pub sid: String,
    pub requests: u64,
    /// By status class: `[("2xx", n), ("4xx", n), ("5xx", n), ("other", n)]`.
    pub replies: Vec<(&'static str, u64)>,
    pub unavailable: u64,
    pub in_flight: u64,
    pub workers: u64,
    /// Counts per bucket of [`LATENCY_BOUNDS`] then `+Inf` (derived from 25%-wide log buckets).
    pub latency_buckets: Vec<(f64, u64)>,
    pub latency_sum_seconds: f64,
    pub latency_count: u64,
}

impl Engine {
    pub(super) fn snapshot(&self) -> Snapshot {
        let mut totals: Vec<(String, &'static str, u64, bool)> =
            self.stats.fields().iter().map(|&(name, help, v, gauge)| (format!("zss_broker_{name}"), help, v, gauge)).collect();
        totals.push(("zss_broker_uptime_seconds".into(), "Seconds since the broker started", self.started.elapsed().as_secs(), true));
        let mut services: Vec<ServiceSnapshot> = self
            .service_index
            .iter()
            .map(|(sid, &i)| {
                let (in_flight, workers) = match self.services.get(sid) {
                    Some(svc) => (svc.total_load(), svc.len() as u64),
                    None => (0, 0),
                };
                service_snapshot(sid, &self.service_stats[i], in_flight, workers)
            })
            .collect();
        services.sort_by(|a, b| a.sid.cmp(&b.sid));
        Snapshot { totals, services }
    }
}

fn service_snapshot(sid: &str, st: &ServiceStats, in_flight: u64, workers: u64) -> ServiceSnapshot {
    let r = &st.replies;
    ServiceSnapshot {
        sid: sid.to_owned(),
        requests: st.requests,
        replies: vec![("2xx", r[2]), ("4xx", r[4]), ("5xx", r[5]), ("other", r[0] + r[1] + r[3])],
        unavailable: st.unavailable,
        in_flight,
        workers,
        latency_buckets: {
            // prometheus-client takes per-bucket counts (it accumulates them), +Inf included.
            let mut below = 0;
            let mut buckets: Vec<(f64, u64)> = LATENCY_BOUNDS
                .iter()
                .map(|&b| {
                    let at_most = st.latency.count_at_most((b * 1e6) as u64);
                    let n = at_most - below;
                    below = at_most;
                    (b, n)
                })
                .collect();
            buckets.push((f64::MAX, st.latency.count() - below)); // the library writes f64::MAX as +Inf
            buckets
        },
        latency_sum_seconds: st.latency.sum_us() as f64 / 1e6,
        latency_count: st.latency.count(),
    }
}

/// Encodes a snapshot on scrape.
#[derive(Debug)]
struct SnapshotCollector(Snapshot);

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::result::Result<(), std::fmt::Error> {
        let auth = "zss_broker_auth_failures_";
        {
            let mut family = encoder.encode_descriptor(
                "zss_broker_auth_failures",
                "CURVE handshakes refused by the allow list",
                None,
                MetricType::Counter,
            )?;
            for (name, _, value, _) in self.0.totals.iter().filter(|t| t.0.starts_with(auth)) {
                family.encode_family(&[("socket", &name[auth.len()..])])?.encode_counter::<NoLabelSet, _, f64>(value, None)?;
            }
        }
        for (name, help, value, is_gauge) in self.0.totals.iter().filter(|t| !t.0.starts_with(auth)) {
            let (help, value) = (*help, *value);
            if *is_gauge {
                let g = ConstGauge::new(value as i64);
                g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
            } else {
                let c = ConstCounter::new(value);
                c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
            }
        }
        let services = &self.0.services;
        let counter = |encoder: &mut DescriptorEncoder, name: &str, help: &str, f: &dyn Fn(&ServiceSnapshot) -> u64| {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for s in services {
                family.encode_family(&[("sid", s.sid.as_str())])?.encode_counter::<NoLabelSet, _, f64>(&f(s), None)?;
            }
            Ok::<(), std::fmt::Error>(())
        };
        counter(&mut encoder, "zss_service_requests", "Requests forwarded to the service", &|s| s.requests)?;
        counter(&mut encoder, "zss_service_unavailable", "Requests of the service answered 503 by the broker", &|s| s.unavailable)?;
        {
            let mut family = encoder.encode_descriptor("zss_service_replies", "Replies by status class", None, MetricType::Counter)?;
            for s in services {
                for &(class, n) in &s.replies {
                    family
                        .encode_family(&[("sid", s.sid.as_str()), ("class", class)])?
                        .encode_counter::<NoLabelSet, _, f64>(&n, None)?;
                }
            }
        }
        for (name, help, f) in [
            ("zss_service_in_flight", "Requests of the service in flight", (|s: &ServiceSnapshot| s.in_flight) as fn(&ServiceSnapshot) -> u64),
            ("zss_service_workers", "Live workers of the service", |s: &ServiceSnapshot| s.workers),
        ] {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for s in services {
                family.encode_family(&[("sid", s.sid.as_str())])?.encode_gauge(&(f(s) as i64))?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "zss_service_latency_seconds",
            "Time from forwarding a request to forwarding its reply",
            None,
            MetricType::Histogram,
        )?;
        for s in services {
            family.encode_family(&[("sid", s.sid.as_str())])?.encode_histogram::<NoLabelSet>(
                s.latency_sum_seconds,
                s.latency_count,
                &s.latency_buckets,
                None,
            )?;
        }
        Ok(())
    }
}

/// Renders a snapshot in the OpenMetrics text format.
pub fn render(snapshot: Snapshot) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector(snapshot)));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry).expect("writing to a String cannot fail");
    out
}

/// Asks the broker thread for a snapshot; `None` if it has stopped or does not answer in time.
pub(super) fn request_snapshot(mailbox: &Mailbox<Command>, timeout: Duration) -> Option<Snapshot> {
    let slot = Arc::new(Oneshot::new());
    mailbox.send(Command::Snapshot(slot.clone())).ok()?;
    slot.take(Some(timeout))
}

/// An HTTP server answering `GET /metrics`. Stops when dropped.
pub struct MetricsServer {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsServer {
    pub(super) fn start(addr: &str, mailbox: Arc<Mailbox<Command>>) -> Result<MetricsServer> {
        let server = tiny_http::Server::http(addr).map_err(|e| Error::Socket {
            context: format!("bind the metrics endpoint on {addr}"),
            message: e.to_string(),
        })?;
        let bound = server.server_addr().to_ip().ok_or_else(|| Error::InvalidArgument("metrics address must be IP".into()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("zss-metrics".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    let Ok(Some(request)) = server.recv_timeout(Duration::from_millis(100)) else { continue };
                    let response = if request.url() != "/metrics" {
                        tiny_http::Response::from_string("not found; try /metrics\n").with_status_code(404)
                    } else {
                        match request_snapshot(&mailbox, Duration::from_secs(2)) {
                            Some(s) => tiny_http::Response::from_string(render(s)).with_header(
                                "Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8"
                                    .parse::<tiny_http::Header>()
                                    .expect("static header"),
                            ),
                            None => tiny_http::Response::from_string("broker not running\n").with_status_code(503),
                        }
                    };
                    let _ = request.respond(response);
                }
            })
            .map_err(|e| Error::Socket { context: "spawn metrics thread".into(), message: e.to_string() })?;
        log::info!("metrics on http://{bound}/metrics");
        Ok(MetricsServer { addr: bound, stop, thread: Some(thread) })
    }

    /// The address actually bound (port 0 resolved).
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
