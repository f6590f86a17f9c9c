//! Per-service figures the broker keeps for its management interface (`SMI STATS`).
//! Updated on the broker thread only, so plain integers suffice.

use crate::msgpack::Value;

/// Counts per service id, kept for the broker's lifetime (a service whose workers all left
/// keeps its history).
#[derive(Default)]
pub(super) struct ServiceStats {
    pub requests: u64,
    /// Replies forwarded, by status class: index 2 = 2xx, 4 = 4xx, 5 = 5xx; 0 = other.
    pub replies: [u64; 6],
    /// Requests the broker itself answered 503 (worker lost, overloaded, no reply in time).
    pub unavailable: u64,
    /// Time from forwarding a request to forwarding its reply.
    pub latency: Histogram,
}

impl ServiceStats {
    pub fn record_reply(&mut self, status_frame: &[u8], micros: u64) {
        let class = match status_frame.first() {
            Some(d @ b'1'..=b'5') => (d - b'0') as usize,
            _ => 0,
        };
        self.replies[class] += 1;
        self.latency.record(micros);
    }

    pub fn to_value(&self, in_flight: u64, workers: usize) -> Value {
        let r = &self.replies;
        Value::map([
            ("requests", Value::from(self.requests)),
            (
                "replies",
                Value::map([
                    ("2xx", Value::from(r[2])),
                    ("4xx", Value::from(r[4])),
                    ("5xx", Value::from(r[5])),
                    ("other", Value::from(r[0] + r[1] + r[3])),
                ]),
            ),
            ("errors", Value::from(r[4] + r[5] + self.unavailable)),
            ("unavailable", Value::from(self.unavailable)),
            ("in_flight", Value::from(in_flight)),
            ("workers", Value::from(workers as u64)),
            (
                "latency_ms",
                Value::map([
                    ("p50", Value::Float(self.latency.percentile(0.50) as f64 / 1000.0)),
                    ("p99", Value::Float(self.latency.percentile(0.99) as f64 / 1000.0)),
                ]),
            ),
        ])
    }
}

/// A log-linear histogram of microseconds: 4 buckets per power of two (≤ 25% relative error),
/// fixed size, no allocation per sample.
pub(super) struct Histogram {
    counts: [u64; 256],
    total: u64,
    sum_us: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: [0; 256], total: 0, sum_us: 0 }
    }
}

impl Histogram {
    fn bucket(us: u64) -> usize {
        if us < 4 {
            return us as usize;
        }
        let log = 63 - us.leading_zeros() as usize; // ≥ 2
        4 * (log - 1) + ((us >> (log - 2)) & 3) as usize
    }

    /// The largest value that falls in bucket `idx`.
    fn upper_bound(idx: usize) -> u64 {
        if idx < 4 {
            return idx as u64;
        }
        let (log, sub) = (idx / 4 + 1, (idx % 4) as u64);
        ((4 + sub) << (log - 2)) + (1u64 << (log - 2)) - 1
    }

    pub fn record(&mut self, us: u64) {
        self.counts[Self::bucket(us)] += 1;
        self.total += 1;
        self.sum_us = self.sum_us.saturating_add(us);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn sum_us(&self) -> u64 {
        self.sum_us
    }

    /// Samples whose bucket lies entirely at or below `us` (for cumulative export buckets).
    pub fn count_at_most(&self, us: u64) -> u64 {
        self.counts.iter().enumerate().take_while(|&(i, _)| Self::upper_bound(i) <= us).map(|(_, &c)| c).sum()
    }

    /// The value below which a fraction `p` of the samples fall (bucket upper bound); 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let target = ((p * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (idx, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= target {
                return Self::upper_bound(idx);
            }
        }
        Self::upper_bound(255)
    }
}

#[cfg(test)]
mod tests {
    use super::Histogram;

    #[test]
    fn buckets_are_contiguous_and_bounded() {
        let mut last = 0;
        for us in 0..100_000u64 {
            let b = Histogram::bucket(us);
            assert!(b == last || b == last + 1, "bucket jumps at {us}");
            assert!(us <= Histogram::upper_bound(b), "{us} above its bucket's bound");
            assert!(Histogram::upper_bound(b) as f64 <= (us as f64 * 1.25).max(3.0) + 1.0);
            last = b;
        }
        assert!(Histogram::bucket(u64::MAX) < 256);
    }

    #[test]
    fn percentiles() {
        let mut h = Histogram::default();
        assert_eq!(h.percentile(0.5), 0);
        for us in 1..=1000 {
            h.record(us);
        }
        let p50 = h.percentile(0.5);
        let p99 = h.percentile(0.99);
        assert!((500..=625).contains(&p50), "p50 {p50}");
        assert!((990..=1250).contains(&p99), "p99 {p99}");
    }
}
