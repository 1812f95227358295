//! The device API over HTTP: every request carries a fresh proof of the
//! device key; an error answer (`{"error", "message"}`) becomes an
//! [`ApiFailure`].

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::keys::{Choice, DeviceKeys};

pub const DEVICES_PATH: &str = "/device/v1/devices";
pub const INBOX_PATH: &str = "/device/v1/inbox";
pub const INBOX_STREAM_PATH: &str = "/device/v1/inbox/stream";
pub const ACTIVATE_PATH: &str = "/device/v1/activate";
pub const PUSH_CHANNEL_PATH: &str = "/device/v1/push-channel";
pub const PUSH_EXCHANGE_PATH: &str = "/device/v1/push/exchange";
pub const IDENTITY_DOCUMENTS_PATH: &str = "/device/v1/identity-documents";

/// The server refused: its status, error code and message.
#[derive(Debug)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server refused (HTTP {}): {}: {}",
            self.status.as_u16(),
            self.error,
            self.message
        )
    }
}

impl std::error::Error for ApiFailure {}

impl ApiFailure {
    /// Worth trying again later: the server's trouble or a rate limit, not a refusal.
    pub fn is_transient(&self) -> bool {
        self.status.is_server_error()
            || self.status == StatusCode::TOO_MANY_REQUESTS
            || self.status == StatusCode::REQUEST_TIMEOUT
    }
}

/// The server's base URL (scheme, host, optional path prefix), without a
/// trailing slash: proofs name `{server}{path}` as their `htu`.
pub fn normalize_server(server: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(server).with_context(|| format!("--server {server:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("--server must be an http or https URL");
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        bail!("--server must not carry a query, a fragment or credentials");
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

pub struct DeviceClient {
    http: reqwest::Client,
    pub server: String,
    pub keys: DeviceKeys,
}

impl DeviceClient {
    pub fn new(keys: DeviceKeys) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("trustid-device/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            http,
            server: keys.server.clone(),
            keys,
        })
    }

    /// Sends one proven request. `query` is not part of the proof's `htu`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let htu = format!("{}{}", self.server, path);
        let mut req = self
            .http
            .request(method.clone(), &htu)
            .timeout(timeout)
            .header("DPoP", self.keys.proof(method.as_str(), &htu));
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await.with_context(|| format!("cannot reach {htu}"))?;
        let text = Self::success(res, &htu).await?;
        if text.is_empty() {
            // 204 No Content (clearing the push channel).
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("{htu} answered without JSON"))
    }

    /// Opens the inbox's Server-Sent Events stream; the body is read by the
    /// caller, chunk by chunk, with no overall timeout (the server holds the
    /// stream open and sends keep-alives).
    pub async fn inbox_stream(&self) -> anyhow::Result<reqwest::Response> {
        let htu = format!("{}{}", self.server, INBOX_STREAM_PATH);
        let res = self
            .http
            .get(&htu)
            .header("DPoP", self.keys.proof("GET", &htu))
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .with_context(|| format!("cannot reach {htu}"))?;
        if !res.status().is_success() {
            return Err(Self::refusal(res, &htu).await);
        }
        Ok(res)
    }

    /// The body of a 2xx answer; any other answer becomes [`Self::refusal`].
    async fn success(res: reqwest::Response, htu: &str) -> anyhow::Result<String> {
        if !res.status().is_success() {
            return Err(Self::refusal(res, htu).await);
        }
        res.text()
            .await
            .with_context(|| format!("cannot read the answer of {htu}"))
    }

    /// A non-2xx answer as an error: an [`ApiFailure`] when it is in the
    /// API's error format.
    async fn refusal(res: reqwest::Response, htu: &str) -> anyhow::Error {
        let status = res.status();
        let text = match res.text().await {
            Ok(text) => text,
            Err(e) => return anyhow::anyhow!("cannot read the answer of {htu}: {e}"),
        };
        match serde_json::from_str::<Value>(&text).ok() {
            Some(v) if v["error"].is_string() => ApiFailure {
                status,
                error: v["error"].as_str().unwrap_or_default().to_owned(),
                message: v["message"].as_str().unwrap_or_default().to_owned(),
            }
            .into(),
            _ => {
                let excerpt: String = text.chars().take(200).collect();
                anyhow::anyhow!("{htu} answered HTTP {}: {excerpt}", status.as_u16())
            }
        }
    }

    /// The pending requests (`listen` follows the stream instead).
    pub async fn inbox(&self) -> anyhow::Result<Vec<Value>> {
        let body = self
            .send(Method::GET, INBOX_PATH, &[], None, Duration::from_secs(30))
            .await?;
        match body.get("transactions").and_then(Value::as_array) {
            Some(items) => Ok(items.clone()),
            None => bail!("the inbox answer has no \"transactions\" list: {body}"),
        }
    }

    /// Signs `decision` over one inbox item and sends it; returns the server's answer.
    pub async fn decide(&self, item: &Value, decision: &str, choice: &Choice) -> anyhow::Result<Value> {
        let field = |name: &str| {
            item[name]
                .as_str()
                .with_context(|| format!("the inbox item has no {name}: {item}"))
        };
        let (txn, nonce, shown) = (field("transaction_id")?, field("nonce")?, field("binding_message")?);
        if decision == "approve" && needs_number(item) && choice.number.is_none() {
            bail!("{txn} uses number matching: approve with --number N, the number the relying party shows");
        }
        if decision == "approve" && item["document_required"].is_string() && choice.document_hash.is_none() {
            bail!("{txn} is at the executive level: approve with --document FILE, the scanned barcode");
        }
        let jws = self.keys.decision(txn, nonce, decision, shown, choice);
        let path = format!("/device/v1/transactions/{}/decision", encode_segment(txn));
        let body = serde_json::json!({ "decision_jws": jws });
        self.send(Method::POST, &path, &[], Some(&body), Duration::from_secs(30))
            .await
    }
}

/// The client asks the user to type the number it shows (push-fatigue defence).
pub fn needs_number(item: &Value) -> bool {
    item["number_matching"].as_bool() == Some(true)
}

/// Percent-encodes a path segment (ids are URL-safe; this keeps an odd one from changing the path).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
