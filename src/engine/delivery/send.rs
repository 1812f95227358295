//! One POST to a notification endpoint, and what its answer means:
//! 2xx is done (a body is ignored); a redirect is never followed; a 4xx is
//! final (the conformance suite fails a server that calls again after a
//! 401); network errors, timeouts and 5xx are retried with backoff until the
//! transaction expires.

use std::time::Duration;

use reqwest::header;

use crate::domain::delivery::{Delivery, DeliveryOutcome};

const FIRST_BACKOFF_MS: i64 = 250;

pub struct Sender {
    http: reqwest::Client,
}

impl Sender {
    /// No redirects (a notification endpoint is registered, not discovered)
    /// and the delivery timeout, as for device pushes.
    pub fn new(timeout: Duration) -> reqwest::Result<Self> {
        Ok(Self {
            http: super::devices::channel::http_client(timeout)?,
        })
    }

    pub async fn send(&self, d: &Delivery, now_ms: i64) -> DeliveryOutcome {
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
            Err(e) if e.is_timeout() => retry("timed out".into()),
            Err(_) => retry("could not connect".into()),
        }
    }
}
