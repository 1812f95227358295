//! Apple Push Notification service, token-based: an ES256 provider JWT
//! (`kid` = key id, `iss` = team id, `iat`) reused for at most 45 minutes
//! (Apple refuses one older than an hour and throttles fresher renewals),
//! then `POST {base}/3/device/{token}` over HTTP/2 with `apns-topic`,
//! `apns-push-type: alert`, `apns-priority: 10` and `apns-expiration`.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use josekit::jws::alg::ecdsa::EcdsaJwsSigner;
use josekit::jws::{ES256, JwsHeader};
use serde_json::json;

use super::channel::{Channel, Outgoing, SendError, answer_body, answered, judge, network};
use crate::engine::settings::PushProviders;

/// A provider token is renewed after this many seconds.
const TOKEN_REUSE_SECS: i64 = 45 * 60;

/// Reads the `.p8` key (PKCS#8 PEM, P-256) Apple issued for token auth.
pub fn read_key(path: &Path) -> Result<EcdsaJwsSigner, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    ES256
        .signer_from_pem(&pem)
        .map_err(|_| "not a P-256 private key in PEM (the .p8 file from Apple)".to_owned())
}

struct Cached {
    jwt: String,
    issued_at: i64,
}

pub struct Apns {
    http: reqwest::Client,
    signer: EcdsaJwsSigner,
    key_id: String,
    team_id: String,
    topic: String,
    base_url: String,
    cached: Mutex<Option<Cached>>,
}

impl Apns {
    /// APNs as configured, or `None` unless key, key id, team and topic are set.
    pub fn from_settings(s: &PushProviders, timeout: Duration) -> anyhow::Result<Option<Self>> {
        let Some(creds) = &s.apns else {
            return Ok(None);
        };
        let (path, key_id, team_id, topic) = (&creds.key_file, &creds.key_id, &creds.team_id, &creds.topic);
        // APNs speaks only HTTP/2: no HTTP/1.1 fallback to negotiate.
        let http = reqwest::Client::builder()
            .http2_prior_knowledge()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()?;
        Ok(Some(Self {
            http,
            signer: read_key(path).map_err(anyhow::Error::msg)?,
            key_id: key_id.clone(),
            team_id: team_id.clone(),
            topic: topic.clone(),
            base_url: s.apns_base_url.trim_end_matches('/').to_owned(),
            cached: Mutex::new(None),
        }))
    }

    fn provider_token(&self, now: i64) -> Result<String, SendError> {
        let mut cached = self
            .cached
            .lock()
            .map_err(|_| SendError::Retry("provider token cache poisoned".into()))?;
        if let Some(c) = cached
            .as_ref()
            .filter(|c| (0..TOKEN_REUSE_SECS).contains(&(now - c.issued_at)))
        {
            return Ok(c.jwt.clone());
        }
        let mut header = JwsHeader::new();
        header.set_key_id(&self.key_id);
        let claims = json!({"iss": self.team_id, "iat": now});
        let jwt = josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &self.signer)
            .map_err(|e| SendError::Retry(format!("cannot sign the APNs token: {e}")))?;
        *cached = Some(Cached {
            jwt: jwt.clone(),
            issued_at: now,
        });
        Ok(jwt)
    }

    fn forget_token(&self) {
        if let Ok(mut cached) = self.cached.lock() {
            *cached = None;
        }
    }
}

/// APNs' `reason` (`BadDeviceToken`, `Unregistered`, ...), if given.
fn reason(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["reason"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[async_trait]
impl Channel for Apns {
    async fn send(&self, push: &Outgoing<'_>) -> Result<(), SendError> {
        let jwt = self.provider_token(push.now)?;
        // The alert says only that something waits; the app exchanges the
        // token for the request and shows the binding message itself.
        let body = json!({
            "aps": {
                "alert": {"title": "Sign-in request", "body": "Open the app to review it"},
                "sound": "default",
            },
            "type": "backchannel_authentication_request",
            "transaction_id": push.transaction_id,
            "push_token": push.push_token,
            "expires_at": push.expires_at,
        });
        let url = format!("{}/3/device/{}", self.base_url, push.address.as_str());
        let res = self
            .http
            .post(url)
            .header("authorization", format!("bearer {jwt}"))
            .header("apns-topic", &self.topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            .header("apns-expiration", push.expires_at.to_string())
            .json(&body)
            .send()
            .await
            .map_err(|e| network(&e))?;
        let status = res.status();
        let detail = if status.is_success() {
            String::new()
        } else {
            reason(&String::from_utf8_lossy(&answer_body(res).await))
        };
        if status == reqwest::StatusCode::FORBIDDEN && detail == "ExpiredProviderToken" {
            self.forget_token();
            return Err(SendError::Retry("answered 403 (ExpiredProviderToken)".into()));
        }
        // 410: the token is no longer active for the topic (the app was removed).
        if status == reqwest::StatusCode::GONE
            || (status == reqwest::StatusCode::BAD_REQUEST && detail == "BadDeviceToken")
        {
            return Err(SendError::DeadAddress(answered(status, &detail)));
        }
        judge(status, &detail)
    }
}
