//! The broker's management interface: requests to the reserved sid `SMI` on the frontend.
//! The original broker answers those with 404, so no existing client depends on them.
//!
//! | verb       | payload of the 200 reply                                              |
//! |------------|-----------------------------------------------------------------------|
//! | `PING`     | `"PONG"`                                                              |
//! | `INFO`     | version, uptime, endpoints, settings                                  |
//! | `SERVICES` | `{SID: [{identity, in_flight, idle_ms}]}` for every live worker       |
//! | `STATS`    | broker totals and, per service, requests, replies by class, errors, in flight, latency p50/p99, workers |

use super::Engine;
use crate::error::status;
use crate::msgpack::{self, Value};
use std::time::Instant;

fn ms(d: std::time::Duration) -> Value {
    Value::from(d.as_millis() as u64)
}

impl Engine {
    pub(super) fn on_management(&mut self) {
        let verb = msgpack::map_str_field(&self.frames[4], "verb").unwrap_or("").to_uppercase();
        let payload = match verb.as_str() {
            "PING" => Value::from("PONG"),
            "INFO" => self.info(),
            "SERVICES" => self.services_value(),
            "STATS" => self.stats_value(),
            _ => {
                log::info!("unknown management verb {verb:?}; answering 404");
                let payload = self.not_found_payload.clone();
                return self.answer_client(status::NOT_FOUND, payload, None);
            }
        };
        let bytes = msgpack::encode(&payload).expect("management payloads hold no binary");
        self.answer_client(status::OK, bytes, None);
    }

    fn info(&self) -> Value {
        let c = &self.config;
        Value::map([
            ("version", Value::from(crate::VERSION)),
            ("uptime_ms", ms(self.started.elapsed())),
            ("frontend", Value::from(self.endpoints.0.as_str())),
            ("backend", Value::from(self.endpoints.1.as_str())),
            (
                "settings",
                Value::map([
                    ("heartbeat_ms", ms(c.heartbeat)),
                    ("max_ttl_ms", ms(c.max_ttl)),
                    ("sweep_interval_ms", ms(c.sweep_interval)),
                    ("max_in_flight_per_worker", Value::from(c.max_in_flight_per_worker)),
                    ("request_timeout_ms", ms(c.request_timeout)),
                    ("timing_headers", Value::from(c.timing_headers)),
                    ("max_message_size", Value::from(c.socket.max_message_size)),
                    ("send_hwm", Value::from(c.socket.send_hwm)),
                    ("recv_hwm", Value::from(c.socket.recv_hwm)),
                    ("curve", Value::from(crate::socket::has_curve())),
                ]),
            ),
        ])
    }

    fn sorted_sids(&self) -> Vec<&String> {
        let mut sids: Vec<&String> = self.services.keys().collect();
        sids.sort();
        sids
    }

    fn services_value(&self) -> Value {
        let now = Instant::now();
        let entries = self.sorted_sids().into_iter().map(|sid| {
            let workers = self.services[sid]
                .workers()
                .filter_map(|(id, in_flight)| self.workers.get(id).map(|w| (id, in_flight, w)))
                .map(|(id, in_flight, w)| {
                    Value::map([
                        ("identity", Value::from(String::from_utf8_lossy(id).into_owned())),
                        ("in_flight", Value::from(in_flight)),
                        ("idle_ms", ms(now.duration_since(w.last_seen))),
                    ])
                })
                .collect::<Vec<_>>();
            (sid.clone(), Value::Array(workers))
        });
        Value::map(entries)
    }

    fn stats_value(&self) -> Value {
        let mut broker: Vec<(&str, Value)> =
            self.stats.fields().iter().map(|&(name, _, value, _)| (name, Value::from(value))).collect();
        broker.push(("uptime_ms", ms(self.started.elapsed())));
        let broker = Value::map(broker);
        let mut sids: Vec<&String> = self.service_index.keys().collect();
        sids.sort();
        let services = sids.into_iter().map(|sid| {
            let (in_flight, workers) = match self.services.get(sid) {
                Some(svc) => (svc.total_load(), svc.len()),
                None => (0, 0),
            };
            (sid.clone(), self.service_stats[self.service_index[sid]].to_value(in_flight, workers))
        });
        Value::map([("broker", broker), ("services", Value::map(services))])
    }
}
