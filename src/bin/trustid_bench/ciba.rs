//! The relying party and the phone, over HTTP: backchannel requests, token
//! polls, the device API, and a notification endpoint for ping.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::device::Device;
use super::raw::{Answer, Raw};

pub const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// A keep-alive HTTP/1.1 client; connections are pooled and reused.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Where a CIBA server's endpoints are (from its discovery document).
#[derive(Clone)]
pub struct Endpoints {
    /// The issuer: device proofs name URLs under it.
    pub issuer: String,
    pub discovery: reqwest::Url,
    pub backchannel: reqwest::Url,
    pub token: reqwest::Url,
}

fn loopback_only(url: &reqwest::Url) -> anyhow::Result<()> {
    let ok = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if !ok {
        bail!("the bench talks to loopback addresses only, not {url}");
    }
    Ok(())
}

/// Reads discovery from a base URL or the discovery URL itself.
pub async fn discover(http: &reqwest::Client, url: &str) -> anyhow::Result<Endpoints> {
    let discovery = if url.contains("/.well-known/") {
        reqwest::Url::parse(url)?
    } else {
        reqwest::Url::parse(&format!(
            "{}/.well-known/openid-configuration",
            url.trim_end_matches('/')
        ))?
    };
    loopback_only(&discovery)?;
    let doc: Value = http
        .get(discovery.clone())
        .send()
        .await
        .with_context(|| format!("GET {discovery}"))?
        .error_for_status()?
        .json()
        .await?;
    let field = |name: &str| -> anyhow::Result<reqwest::Url> {
        let value = doc[name].as_str().with_context(|| format!("discovery has no {name}"))?;
        let url = reqwest::Url::parse(value)?;
        loopback_only(&url)?;
        Ok(url)
    };
    Ok(Endpoints {
        issuer: doc["issuer"]
            .as_str()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned(),
        backchannel: field("backchannel_authentication_endpoint")?,
        token: field("token_endpoint")?,
        discovery,
    })
}

/// A confidential client with `client_secret_basic`.
#[derive(Clone)]
pub struct Creds {
    auth: HeaderValue,
}

impl Creds {
    pub fn new(id: &str, secret: &str) -> anyhow::Result<Self> {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = STANDARD.encode(format!("{}:{}", enc(id), enc(secret)));
        Ok(Self {
            auth: HeaderValue::from_str(&format!("Basic {basic}"))?,
        })
    }
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

#[derive(Deserialize)]
struct Ack {
    auth_req_id: String,
    interval: Option<i64>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// The answer to a backchannel request.
pub enum BcAnswer {
    Ok { auth_req_id: String, interval: Option<i64> },
    Refused { kind: &'static str, body: String },
}

/// Maps an OAuth error code (or an HTTP status) onto a fixed name.
pub fn kind_of(status: u16, body: &[u8]) -> &'static str {
    let error = serde_json::from_slice::<ErrorBody>(body).map(|e| e.error).ok();
    match error.as_deref() {
        Some("authorization_pending") => "authorization_pending",
        Some("slow_down") => "slow_down",
        Some("access_denied") => "access_denied",
        Some("expired_token") => "expired_token",
        Some("invalid_grant") => "invalid_grant",
        Some("invalid_client") => "invalid_client",
        Some("invalid_request") => "invalid_request",
        Some("unknown_user_id") => "unknown_user_id",
        Some("server_error") => "server_error",
        Some(_) => "other_error",
        None if status == 429 => "http_429",
        None if status >= 500 => "http_5xx",
        None => "http_other",
    }
}

pub async fn backchannel(
    raw: &Raw,
    worker: usize,
    ep: &Endpoints,
    creds: &Creds,
    body: Bytes,
) -> anyhow::Result<BcAnswer> {
    let Answer { status, body } = raw.post_form(worker, &ep.backchannel, &creds.auth, body).await?;
    if status == 200
        && let Ok(ack) = serde_json::from_slice::<Ack>(&body)
    {
        return Ok(BcAnswer::Ok {
            auth_req_id: ack.auth_req_id,
            interval: ack.interval,
        });
    }
    Ok(BcAnswer::Refused {
        kind: kind_of(status, &body),
        body: format!("{status} {}", String::from_utf8_lossy(&body)),
    })
}

/// One token request for `auth_req_id`: ("token" or the error kind, body).
pub async fn token(
    raw: &Raw,
    worker: usize,
    ep: &Endpoints,
    creds: &Creds,
    auth_req_id: &str,
) -> anyhow::Result<(&'static str, Bytes)> {
    let body = form(&[("grant_type", CIBA_GRANT), ("auth_req_id", auth_req_id)]);
    let Answer { status, body } = raw.post_form(worker, &ep.token, &creds.auth, body.into()).await?;
    if status == 200 {
        return Ok(("token", body));
    }
    Ok((kind_of(status, &body), body))
}

// ---------------------------------------------------------------- device API

/// One item of the device's inbox.
#[derive(Deserialize)]
pub struct InboxItem {
    pub transaction_id: String,
    pub binding_message: String,
    pub nonce: String,
}

#[derive(Deserialize)]
struct Inbox {
    transactions: Vec<InboxItem>,
}

const DEVICES_PATH: &str = "/device/v1/devices";
const INBOX_PATH: &str = "/device/v1/inbox";

/// `POST /device/v1/devices` with a proof of the device key.
pub async fn register_device(http: &reqwest::Client, base: &str, device: &Device) -> anyhow::Result<()> {
    let res = http
        .post(format!("{base}{DEVICES_PATH}"))
        .header("DPoP", device.proof("POST", &format!("{base}{DEVICES_PATH}")))
        .json(&json!({"auth_key": device.auth_jwk()}))
        .send()
        .await?;
    let status = res.status();
    if !status.is_success() {
        bail!("device registration answered {status}: {}", res.text().await?);
    }
    Ok(())
}

/// Where a device call goes: the proof names the issuer's URL, the request
/// goes to `via` (the issuer itself, or another instance of it).
#[derive(Clone, Copy)]
pub struct At<'a> {
    pub issuer: &'a str,
    pub via: &'a str,
}

impl<'a> At<'a> {
    pub fn issuer(issuer: &'a str) -> Self {
        Self { issuer, via: issuer }
    }

    /// (where to send, what the proof names)
    fn urls(&self, path: &str) -> (String, String) {
        (format!("{}{path}", self.via), format!("{}{path}", self.issuer))
    }
}

pub async fn inbox(http: &reqwest::Client, at: At<'_>, device: &Device) -> anyhow::Result<Vec<InboxItem>> {
    let (url, htu) = at.urls(INBOX_PATH);
    let res = http.get(&url).header("DPoP", device.proof("GET", &htu)).send().await?;
    let status = res.status();
    let bytes = res.bytes().await?;
    if !status.is_success() {
        bail!("inbox answered {status}: {}", String::from_utf8_lossy(&bytes));
    }
    Ok(serde_json::from_slice::<Inbox>(&bytes)?.transactions)
}

/// Signs and sends a decision on `item`; returns when it was sent, after
/// the device's signing (the phone's work, not the server's).
pub async fn decide(
    http: &reqwest::Client,
    at: At<'_>,
    device: &Device,
    item: &InboxItem,
    decision: &str,
    number: Option<&str>,
) -> anyhow::Result<Instant> {
    let jws = device.decision(
        &item.transaction_id,
        &item.nonce,
        decision,
        &item.binding_message,
        number,
    );
    let (url, htu) = at.urls(&format!("/device/v1/transactions/{}/decision", item.transaction_id));
    let request = http
        .post(&url)
        .header("DPoP", device.proof("POST", &htu))
        .json(&json!({"decision_jws": jws}))
        .build()?;
    let sent = Instant::now();
    let res = http.execute(request).await?;
    let status = res.status();
    if !status.is_success() {
        bail!("decision answered {status}: {}", res.text().await?);
    }
    Ok(sent)
}

/// Fetches the inbox and approves the item showing `shown`, typing
/// `number` when the request matches numbers.
pub async fn approve(
    http: &reqwest::Client,
    at: At<'_>,
    device: &Device,
    shown: &str,
    number: Option<&str>,
) -> anyhow::Result<()> {
    let items = inbox(http, at, device).await?;
    let Some(item) = items.iter().find(|i| i.binding_message == shown) else {
        bail!("the inbox ({} items) does not hold the request", items.len());
    };
    decide(http, at, device, item, "approve", number).await.map(|_| ())
}

// ---------------------------------------------------------------- ping receiver

/// A ping as it arrived: when, and with which bearer token.
pub struct Arrival {
    pub at: Instant,
    pub bearer: String,
}

#[derive(Default)]
struct Waiting {
    waiters: HashMap<String, oneshot::Sender<Arrival>>,
    early: HashMap<String, Arrival>,
    /// Every auth_req_id pinged: a second ping of one is a duplicate.
    seen: HashSet<String>,
    duplicates: u64,
    bad: u64,
}

/// A notification endpoint on 127.0.0.1 that records when each ping arrives.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    waiting: Arc<Mutex<Waiting>>,
}

async fn receive(
    axum::extract::State(waiting): axum::extract::State<Arc<Mutex<Waiting>>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> axum::http::StatusCode {
    let at = Instant::now();
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["auth_req_id"].as_str().map(str::to_owned));
    let Ok(mut w) = waiting.lock() else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
    };
    let Some(id) = id else {
        w.bad += 1;
        return axum::http::StatusCode::BAD_REQUEST;
    };
    if !w.seen.insert(id.clone()) {
        w.duplicates += 1;
        return axum::http::StatusCode::NO_CONTENT;
    }
    let arrival = Arrival { at, bearer };
    match w.waiters.remove(&id) {
        Some(tx) => {
            let _ = tx.send(arrival);
        }
        None => {
            w.early.insert(id, arrival);
        }
    }
    axum::http::StatusCode::NO_CONTENT
}

impl Receiver {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/cb", listener.local_addr()?);
        let waiting = Arc::new(Mutex::new(Waiting::default()));
        let app = axum::Router::new()
            .route("/cb", axum::routing::post(receive))
            .with_state(waiting.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, waiting })
    }

    /// The ping of `auth_req_id`, when it comes (register before approving).
    pub fn expect(&self, auth_req_id: &str) -> anyhow::Result<oneshot::Receiver<Arrival>> {
        let (tx, rx) = oneshot::channel();
        let mut w = self
            .waiting
            .lock()
            .map_err(|_| anyhow::anyhow!("receiver lock poisoned"))?;
        match w.early.remove(auth_req_id) {
            Some(a) => {
                let _ = tx.send(a);
            }
            None => {
                w.waiters.insert(auth_req_id.to_owned(), tx);
            }
        }
        Ok(rx)
    }

    pub fn bad_requests(&self) -> u64 {
        self.waiting.lock().map(|w| w.bad).unwrap_or_default()
    }

    /// Pings of an auth_req_id that had already been pinged.
    pub fn duplicates(&self) -> u64 {
        self.waiting.lock().map(|w| w.duplicates).unwrap_or_default()
    }
}
