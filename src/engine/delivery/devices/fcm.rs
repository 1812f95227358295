//! Firebase Cloud Messaging, HTTP v1 API. trustid authenticates with a
//! service account: an RS256 JWT assertion traded at the account's
//! `token_uri` for an OAuth2 access token (RFC 7523 JWT-bearer grant,
//! scope `firebase.messaging`), cached until shortly before it expires; then
//! `POST {base}/v1/projects/{project_id}/messages:send` with a data message
//! (`{"message": {"token", "data", "android"}}`; data values are strings).

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use josekit::jws::alg::rsassa::RsassaJwsSigner;
use josekit::jws::{JwsHeader, RS256};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

use super::channel::{Channel, Outgoing, SendError, answer_body, answered, http_client, judge, network};
use crate::engine::settings::PushProviders;

pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// An access token is renewed this long before Google says it expires.
const RENEW_BEFORE_SECS: i64 = 300;
/// Lifetime of the assertion (Google accepts at most one hour).
const ASSERTION_SECS: i64 = 3600;

/// The members of a Google service-account key file that FCM needs.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub project_id: String,
    pub client_email: String,
    pub private_key: String,
    #[serde(default)]
    pub private_key_id: Option<String>,
    pub token_uri: String,
}

impl std::fmt::Debug for ServiceAccount {
    // The private key never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Reads the key file and checks that its private key can sign.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let account: ServiceAccount =
            serde_json::from_str(&text).map_err(|e| format!("not a service-account key file: {e}"))?;
        let safe = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !safe(&account.project_id) {
            return Err("project_id must be letters, digits, '-', '_' or '.'".into());
        }
        account.signer()?;
        Ok(account)
    }

    fn signer(&self) -> Result<RsassaJwsSigner, String> {
        RS256
            .signer_from_pem(self.private_key.as_bytes())
            .map_err(|_| "private_key is not an RSA private key in PEM".to_owned())
    }
}

/// A cached OAuth2 access token and when to stop using it (unix seconds).
struct Cached {
    token: String,
    renew_at: i64,
}

pub struct Fcm {
    http: reqwest::Client,
    account: ServiceAccount,
    signer: RsassaJwsSigner,
    send_url: String,
    cached: Mutex<Option<Cached>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: i64,
}

impl Fcm {
    /// FCM as configured, or `None` when no service account is set.
    pub fn from_settings(s: &PushProviders, timeout: Duration) -> anyhow::Result<Option<Self>> {
        let Some(path) = &s.fcm_service_account else {
            return Ok(None);
        };
        let account = ServiceAccount::read(path).map_err(anyhow::Error::msg)?;
        let signer = account.signer().map_err(anyhow::Error::msg)?;
        let send_url = format!(
            "{}/v1/projects/{}/messages:send",
            s.fcm_base_url.trim_end_matches('/'),
            account.project_id
        );
        Ok(Some(Self {
            http: http_client(timeout)?,
            account,
            signer,
            send_url,
            cached: Mutex::new(None),
        }))
    }

    async fn forget_token(&self) {
        *self.cached.lock().await = None;
    }

    /// The access token, from the cache or a fresh JWT-bearer grant. The
    /// cache stays locked across the grant (single flight): pushes sent
    /// together wait for one grant instead of each asking for their own.
    async fn access_token(&self, now: i64) -> Result<String, SendError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| now < c.renew_at) {
            return Ok(c.token.clone());
        }
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        if let Some(kid) = &self.account.private_key_id {
            header.set_key_id(kid);
        }
        let claims = json!({
            "iss": self.account.client_email,
            "scope": SCOPE,
            "aud": self.account.token_uri,
            "iat": now,
            "exp": now.saturating_add(ASSERTION_SECS),
        });
        let assertion = josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &self.signer)
            .map_err(|e| SendError::Retry(format!("cannot sign the FCM assertion: {e}")))?;
        let res = self
            .http
            .post(&self.account.token_uri)
            .form(&[("grant_type", JWT_BEARER), ("assertion", assertion.as_str())])
            .send()
            .await
            .map_err(|e| network(&e))?;
        let status = res.status();
        if !status.is_success() {
            // A refused grant (bad key, revoked account) will not mend itself,
            // but may be fixed by an operator while the request is open.
            return Err(SendError::Retry(format!("token endpoint answered {}", status.as_u16())));
        }
        let granted: TokenResponse = serde_json::from_slice(&answer_body(res).await)
            .map_err(|_| SendError::Retry("token endpoint answered no access token".into()))?;
        // `expires_in` is the token endpoint's word: no overflow whatever it says.
        *cached = Some(Cached {
            token: granted.access_token.clone(),
            renew_at: now.saturating_add(granted.expires_in.saturating_sub(RENEW_BEFORE_SECS)),
        });
        Ok(granted.access_token)
    }
}

/// FCM's reason: the `errorCode` of its details (`UNREGISTERED`,
/// `INVALID_ARGUMENT`, ...), else the error `status`, if given.
fn fcm_reason(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return String::new();
    };
    let error = &v["error"];
    let code = error["details"]
        .as_array()
        .and_then(|details| details.iter().find_map(|d| d["errorCode"].as_str()));
    code.or_else(|| error["status"].as_str()).unwrap_or_default().to_owned()
}

#[async_trait]
impl Channel for Fcm {
    async fn send(&self, push: &Outgoing<'_>) -> Result<(), SendError> {
        let token = self.access_token(push.now).await?;
        let ttl = (push.expires_at - push.now).max(0);
        let message = json!({
            "message": {
                "token": push.address.as_str(),
                "data": {
                    "type": "backchannel_authentication_request",
                    "transaction_id": push.transaction_id,
                    "push_token": push.push_token,
                    "expires_at": push.expires_at.to_string(),
                },
                // Data messages are normal priority by default and may wait
                // for a sleeping phone; a login cannot.
                "android": {"priority": "high", "ttl": format!("{ttl}s")},
            }
        });
        let res = self
            .http
            .post(&self.send_url)
            .bearer_auth(token)
            .json(&message)
            .send()
            .await
            .map_err(|e| network(&e))?;
        let status = res.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            // The access token was revoked or expired early: get a new one.
            self.forget_token().await;
            return Err(SendError::Retry("answered 401 (access token refused)".into()));
        }
        let detail = if status.is_success() {
            String::new()
        } else {
            fcm_reason(&String::from_utf8_lossy(&answer_body(res).await))
        };
        if status == reqwest::StatusCode::NOT_FOUND && detail == "UNREGISTERED" {
            return Err(SendError::DeadAddress(answered(status, &detail)));
        }
        judge(status, &detail)
    }
}
