//! The channels a device push can take, behind one trait, and what an
//! HTTP answer means for each attempt.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::StatusCode;

use super::{apns::Apns, fcm::Fcm, webhook::Webhook};
use crate::domain::push::{PushAddress, PushChannel};
use crate::engine::AppState;

/// What one push says. Never the binding message: only an exchange token
/// the device trades, with its device proof, for the inbox item.
pub struct Outgoing<'a> {
    pub transaction_id: &'a str,
    /// The client that made the request: a relay checks whose request it is.
    pub client_id: &'a str,
    pub address: &'a PushAddress,
    /// ≥256 random bits; valid until the request is decided or expires.
    pub push_token: &'a str,
    /// When the request expires (unix seconds): the push is useless after.
    pub expires_at: i64,
    pub now: i64,
    /// The app's or the client's push relay (webhook channel only).
    pub relay_uri: Option<&'a str>,
}

/// Why an attempt did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth another attempt later (network, 408, 429, 5xx, a stale credential).
    Retry(String),
    /// Another attempt would fail the same way (bad token, no relay).
    Final(String),
    /// Final, and the provider says the device's address is dead (FCM
    /// `UNREGISTERED`, APNs `Unregistered` / `BadDeviceToken`): the device's
    /// channel is cleared, so no later request is pushed to it in vain.
    DeadAddress(String),
}

#[async_trait]
pub trait Channel: Send + Sync {
    async fn send(&self, push: &Outgoing<'_>) -> Result<(), SendError>;
}

/// One channel as this instance has it.
enum Slot<T> {
    /// Not configured: its pushes fail, saying so.
    Off,
    /// Configured but could not be built (an unreadable key, say): its
    /// pushes fail with the reason; the other channels work on.
    Unusable(String),
    Ready(T),
}

impl<T> Slot<T> {
    fn build(channel: PushChannel, built: anyhow::Result<Option<T>>) -> Self {
        match built {
            Ok(Some(ready)) => Slot::Ready(ready),
            Ok(None) => Slot::Off,
            Err(e) => {
                tracing::error!(error = %e, %channel, "push channel unusable; its devices are reached by their inbox only");
                Slot::Unusable(e.to_string())
            }
        }
    }
}

/// The channels this instance can use: the webhook always (each client
/// names its relay), FCM and APNs when configured. Each is built on its
/// own, so one that cannot be built leaves the others working.
pub struct Channels {
    webhook: Slot<Webhook>,
    fcm: Slot<Fcm>,
    apns: Slot<Apns>,
}

impl Channels {
    /// Builds the channels from the settings (validated at start-up).
    pub fn new(state: &AppState) -> Arc<Self> {
        let (s, timeout) = (&state.push, state.delivery_timeout);
        let webhook = Webhook::new(state.keys.clone(), &state.server, timeout)
            .map(Some)
            .map_err(anyhow::Error::from);
        Arc::new(Self {
            webhook: Slot::build(PushChannel::Webhook, webhook),
            fcm: Slot::build(PushChannel::Fcm, Fcm::from_settings(s, timeout)),
            apns: Slot::build(PushChannel::Apns, Apns::from_settings(s, timeout)),
        })
    }

    /// The channel, or why this instance cannot push through it.
    pub fn get(&self, channel: PushChannel) -> Result<&dyn Channel, String> {
        fn usable<T: Channel>(slot: &Slot<T>, channel: PushChannel) -> Result<&dyn Channel, String> {
            match slot {
                Slot::Ready(c) => Ok(c),
                Slot::Off => Err(format!("{channel} is not configured on this server")),
                Slot::Unusable(why) => Err(format!("{channel} is configured but unusable: {why}")),
            }
        }
        match channel {
            PushChannel::Webhook => usable(&self.webhook, channel),
            PushChannel::Fcm => usable(&self.fcm, channel),
            PushChannel::Apns => usable(&self.apns, channel),
        }
    }
}

/// A plain HTTP client for pushes: no redirects (a push goes where it was
/// configured to, or nowhere), bounded time. A client that cannot be built
/// is an error: the default one would follow redirects and never time out.
pub fn http_client(timeout: std::time::Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
}

/// 2xx went through; 408, 429 and 5xx are retried; anything else is final.
/// `detail` names the provider's reason, when it gave one.
pub fn judge(status: StatusCode, detail: &str) -> Result<(), SendError> {
    let said = answered(status, detail);
    if status.is_success() {
        Ok(())
    } else if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        Err(SendError::Retry(said))
    } else {
        Err(SendError::Final(said))
    }
}

/// How an answer is reported: `answered 404 (UNREGISTERED)`.
pub fn answered(status: StatusCode, detail: &str) -> String {
    if detail.is_empty() {
        format!("answered {}", status.as_u16())
    } else {
        format!("answered {} ({detail})", status.as_u16())
    }
}

/// A provider's answer body is read no further than this: an error names
/// its reason in a few dozen bytes, a token grant in a few hundred.
const ANSWER_CAP: usize = 64 * 1024;

/// The body of a provider's answer, or empty past [`ANSWER_CAP`] (a huge or
/// endless body costs no more).
pub async fn answer_body(res: reqwest::Response) -> Vec<u8> {
    crate::engine::outbound::read_capped(res, ANSWER_CAP)
        .await
        .unwrap_or_default()
}

/// A transport failure: retried, named without the URL (it may carry a token).
pub fn network(e: &reqwest::Error) -> SendError {
    if crate::engine::outbound::refused(e) {
        return SendError::Final("the relay resolves only to internal addresses (not called)".into());
    }
    SendError::Retry(if e.is_timeout() {
        "timed out".into()
    } else {
        "could not connect".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_judged_sent_retried_or_final() {
        let cases: &[(u16, Option<bool>, &str)] = &[
            (200, None, "went through"),
            (204, None, "went through"),
            (408, Some(true), "the relay timed out reading: try again"),
            (429, Some(true), "throttled"),
            (503, Some(true), "down for now"),
            (400, Some(false), "refused"),
            (404, Some(false), "no such device"),
            (301, Some(false), "redirects are not followed"),
        ];
        for (status, retry, why) in cases {
            let judged = judge(StatusCode::from_u16(*status).unwrap_or_default(), "");
            let got = match judged {
                Ok(()) => None,
                Err(SendError::Retry(_)) => Some(true),
                Err(_) => Some(false),
            };
            assert_eq!(got, *retry, "{status}: {why}");
        }
    }
}
