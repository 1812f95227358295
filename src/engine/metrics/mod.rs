//! Counters an operator scrapes at `/metrics` (Prometheus text format).

use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use histogram::Histogram;

pub mod histogram;
pub mod routes;

/// Request-to-decision bounds in seconds: a user answers in seconds to
/// minutes.
const DECISION_BOUNDS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0];

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
    /// Client authentications that failed, and those refused unchecked
    /// because their address failed too often (`engine::auth_failures`).
    pub client_auth_failed: AtomicU64,
    pub client_auth_slowed: AtomicU64,
    pub client_auth_refused: AtomicU64,
    /// By [`Replay`] kind.
    replays: [AtomicU64; Replay::ALL.len()],
    pub routes: routes::Routes,
    pub decisions_approved: AtomicU64,
    pub decisions_denied: AtomicU64,
    /// Seconds from a request to its device decision.
    decision_times: DecisionTimes,
    /// Device decisions and proofs refused (a bad signature, the wrong
    /// text, a reported fraud), which count towards a lockout.
    pub failed_attempts: AtomicU64,
    pub lockouts_device: AtomicU64,
    pub lockouts_user: AtomicU64,
}

#[derive(Debug)]
struct DecisionTimes(Mutex<Histogram>);

impl Default for DecisionTimes {
    fn default() -> Self {
        Self(Mutex::new(Histogram::new(DECISION_BOUNDS)))
    }
}

/// A single-use value presented again (`trustid_replays_refused_total{kind}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    DeviceProof,
    DecisionNonce,
    ClientAssertion,
    RequestObject,
    AuthReqId,
    ActivationCredential,
    SamlRequestId,
}

impl Replay {
    pub const ALL: [Replay; 7] = [
        Replay::DeviceProof,
        Replay::DecisionNonce,
        Replay::ClientAssertion,
        Replay::RequestObject,
        Replay::AuthReqId,
        Replay::ActivationCredential,
        Replay::SamlRequestId,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Replay::DeviceProof => "device_proof",
            Replay::DecisionNonce => "decision_nonce",
            Replay::ClientAssertion => "client_assertion",
            Replay::RequestObject => "request_object",
            Replay::AuthReqId => "auth_req_id",
            Replay::ActivationCredential => "activation_credential",
            Replay::SamlRequestId => "saml_request_id",
        }
    }
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refused replay and logs it by `by` (an id: a device, client,
    /// transaction or SP; never the replayed value, which is a secret).
    pub fn replay(&self, kind: Replay, by: &str) {
        Self::inc(&self.replays[kind as usize]);
        tracing::warn!(kind = kind.label(), by, "replay refused");
    }

    /// A device decided `seconds` after the request was made.
    pub fn decided(&self, approved: bool, seconds: i64) {
        Self::inc(match approved {
            true => &self.decisions_approved,
            false => &self.decisions_denied,
        });
        if let Ok(mut times) = self.decision_times.0.lock() {
            times.observe(seconds.max(0) as f64);
        }
    }

    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let _ = writeln!(out, "# HELP trustid_build_info The running binary.");
        let _ = writeln!(out, "# TYPE trustid_build_info gauge");
        let _ = writeln!(out, "trustid_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
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
            ("trustid_client_auth_failures_total", "", get(&self.client_auth_failed)),
            (
                "trustid_client_auth_throttled_total",
                "{outcome=\"slowed\"}",
                get(&self.client_auth_slowed),
            ),
            (
                "trustid_client_auth_throttled_total",
                "{outcome=\"refused\"}",
                get(&self.client_auth_refused),
            ),
            (
                "trustid_decisions_total",
                "{outcome=\"approved\"}",
                get(&self.decisions_approved),
            ),
            (
                "trustid_decisions_total",
                "{outcome=\"denied\"}",
                get(&self.decisions_denied),
            ),
            ("trustid_failed_attempts_total", "", get(&self.failed_attempts)),
            ("trustid_lockouts_total", "{of=\"device\"}", get(&self.lockouts_device)),
            ("trustid_lockouts_total", "{of=\"user\"}", get(&self.lockouts_user)),
        ];
        let mut last = "";
        for (name, labels, value) in rows {
            if name != last {
                let _ = writeln!(out, "# TYPE {name} counter");
                last = name;
            }
            let _ = writeln!(out, "{name}{labels} {value}");
        }
        let _ = writeln!(out, "# TYPE trustid_replays_refused_total counter");
        for kind in Replay::ALL {
            let value = get(&self.replays[kind as usize]);
            let _ = writeln!(
                out,
                "trustid_replays_refused_total{{kind=\"{}\"}} {value}",
                kind.label()
            );
        }
        let name = "trustid_decision_seconds";
        let _ = writeln!(out, "# HELP {name} Time from a request to its device decision.");
        let _ = writeln!(out, "# TYPE {name} histogram");
        if let Ok(times) = self.decision_times.0.lock() {
            times.render(&mut out, name, "");
        }
        self.routes.render(&mut out);
        out
    }
}
