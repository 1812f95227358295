//! Generic push (seed 004): trustid POSTs a JWT it signed to the push relay
//! of the request's app (or of the client), the customer's own notification service, which verifies it
//! with trustid's JWKS and wakes the device it names. The JWT carries the
//! relay-side device token and a limited-duration exchange token, never the
//! binding message.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::channel::{Channel, Outgoing, SendError, judge, network};
use crate::crypto::key_ring::KeyRing;
use crate::domain::client::SigningAlg;
use crate::domain::url::OutboundRule;
use crate::engine::settings::Server;

/// The media type of the body: a compact JWS whose payload is the notification.
pub const CONTENT_TYPE: &str = "application/jwt";
/// The JWS `typ` of a relay notification (RFC 8725 §3.11): a relay checks it,
/// and trustid never takes such a JWT for anything else (an `id_token_hint`).
pub const JWT_TYPE: &str = "trustid-push+jwt";

pub struct Webhook {
    http: reqwest::Client,
    keys: Arc<KeyRing>,
    issuer: String,
    /// A relay is a client's URL: the rule of URLs called on a client's behalf.
    rule: OutboundRule,
}

impl Webhook {
    pub fn new(keys: Arc<KeyRing>, server: &Server, timeout: Duration) -> reqwest::Result<Self> {
        Ok(Self {
            http: crate::engine::outbound::client(timeout, &server.outbound)?,
            keys,
            issuer: server.issuer.clone(),
            rule: server.outbound.clone(),
        })
    }
}

#[async_trait]
impl Channel for Webhook {
    async fn send(&self, push: &Outgoing<'_>) -> Result<(), SendError> {
        let Some(relay) = push.relay_uri else {
            return Err(SendError::Final(
                "no push relay: neither the request's app nor the client has one".into(),
            ));
        };
        if let Err(e) = self.rule.check(relay) {
            return Err(SendError::Final(format!("the push relay {e} (not called)")));
        }
        // `aud` is the relay, so a notification cannot be replayed to another
        // customer's relay; `exp` is the request's own expiry.
        let claims = json!({
            "iss": self.issuer,
            "aud": relay,
            "iat": push.now,
            "exp": push.expires_at,
            "jti": crate::domain::ids::random_id(),
            "event": "backchannel_authentication_request",
            "device_token": push.address.as_str(),
            "transaction_id": push.transaction_id,
            "client_id": push.client_id,
            "push_token": push.push_token,
        });
        let jws = self
            .keys
            .get()
            .sign_typed_jwt(SigningAlg::ES256, JWT_TYPE, &claims)
            .map_err(|e| SendError::Retry(format!("cannot sign: {e}")))?;
        let res = self
            .http
            .post(relay)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(jws)
            .send()
            .await
            .map_err(|e| network(&e))?;
        judge(res.status(), "")
    }
}
