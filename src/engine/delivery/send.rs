//! One POST to a notification endpoint, and what its answer means:
//! 2xx is done (a body is ignored); a redirect is never followed; a 4xx is
//! final (the conformance suite fails a server that calls again after a
//! 401); network errors, timeouts and 5xx are retried with backoff until the
//! transaction expires.

use std::time::Duration;

use reqwest::header;

use crate::domain::delivery::{Delivery, DeliveryOutcome};
use crate::domain::url::OutboundRule;

const FIRST_BACKOFF_MS: i64 = 250;

pub struct Sender {
    http: reqwest::Client,
    rule: OutboundRule,
}

impl Sender {
    /// No redirects (a notification endpoint is registered, not discovered),
    /// the delivery timeout, and no internal address outside dev mode.
    pub fn new(timeout: Duration, rule: &OutboundRule) -> reqwest::Result<Self> {
        Ok(Self {
            http: crate::engine::outbound::client(timeout, rule)?,
            rule: rule.clone(),
        })
    }

    pub async fn send(&self, d: &Delivery, now_ms: i64) -> DeliveryOutcome {
        // Registered under another rule (dev mode, an allow-list since shortened).
        if let Err(e) = self.rule.check(&d.target) {
            return DeliveryOutcome::Failed(format!("the endpoint {e} (not called)"));
        }
        let result = self
            .http
            .post(&d.target)
            .header(header::CONTENT_TYPE, "application/json")
            .bearer_auth(&d.bearer)
            .body(d.payload.clone())
            .send()
            .await;
        let retry = |error: String| match super::retry_at(FIRST_BACKOFF_MS, d.attempts, now_ms, d.give_up_at) {
            Some(at) => DeliveryOutcome::Retry { at, error },
            None => DeliveryOutcome::Failed(format!("gave up after {} attempts: {error}", d.attempts)),
        };
        match result {
            Ok(res) if res.status().is_success() => DeliveryOutcome::Done,
            Ok(res) if res.status().is_redirection() => DeliveryOutcome::Failed(format!(
                "answered {} (redirects are not followed)",
                res.status().as_u16()
            )),
            Ok(res) if res.status().is_client_error() => {
                DeliveryOutcome::Failed(format!("answered {} (not retried)", res.status().as_u16()))
            }
            Ok(res) => retry(format!("answered {}", res.status().as_u16())),
            Err(e) if crate::engine::outbound::refused(&e) => {
                DeliveryOutcome::Failed("the endpoint resolves only to internal addresses (not called)".into())
            }
            Err(e) if e.is_timeout() => retry("timed out".into()),
            Err(_) => retry("could not connect".into()),
        }
    }
}
