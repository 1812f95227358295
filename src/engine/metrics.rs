//! Counters an operator scrapes at `/metrics` (Prometheus text format).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub backchannel_accepted: AtomicU64,
    pub rate_limited_user: AtomicU64,
    pub rate_limited_client: AtomicU64,
    pub tokens_issued: AtomicU64,
    pub deliveries_done: AtomicU64,
    pub deliveries_failed: AtomicU64,
    pub deliveries_retried: AtomicU64,
    pub device_pushes_sent: AtomicU64,
    pub device_pushes_failed: AtomicU64,
    pub device_pushes_retried: AtomicU64,
    pub device_pushes_withdrawn: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let rows = [
            (
                "trustid_backchannel_requests_accepted_total",
                "",
                get(&self.backchannel_accepted),
            ),
            (
                "trustid_backchannel_rate_limited_total",
                "{scope=\"user\"}",
                get(&self.rate_limited_user),
            ),
            (
                "trustid_backchannel_rate_limited_total",
                "{scope=\"client\"}",
                get(&self.rate_limited_client),
            ),
            ("trustid_tokens_issued_total", "", get(&self.tokens_issued)),
            (
                "trustid_deliveries_total",
                "{outcome=\"done\"}",
                get(&self.deliveries_done),
            ),
            (
                "trustid_deliveries_total",
                "{outcome=\"failed\"}",
                get(&self.deliveries_failed),
            ),
            (
                "trustid_deliveries_total",
                "{outcome=\"retried\"}",
                get(&self.deliveries_retried),
            ),
            (
                "trustid_device_pushes_total",
                "{outcome=\"sent\"}",
                get(&self.device_pushes_sent),
            ),
            (
                "trustid_device_pushes_total",
                "{outcome=\"failed\"}",
                get(&self.device_pushes_failed),
            ),
            (
                "trustid_device_pushes_total",
                "{outcome=\"retried\"}",
                get(&self.device_pushes_retried),
            ),
            (
                "trustid_device_pushes_total",
                "{outcome=\"withdrawn\"}",
                get(&self.device_pushes_withdrawn),
            ),
        ];
        let mut last = "";
        for (name, labels, value) in rows {
            if name != last {
                let _ = writeln!(out, "# TYPE {name} counter");
                last = name;
            }
            let _ = writeln!(out, "{name}{labels} {value}");
        }
        out
    }
}
