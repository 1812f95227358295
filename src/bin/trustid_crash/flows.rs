//! The drill's load: full CIBA flows by a poll and a ping client, each
//! worker with its own user and phone, every step retried across the
//! server's deaths; and the notification endpoint that counts pings. What
//! each client and phone was told is recorded, to be checked at the end.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde_json::{Value, json};

use crate::device::Device;

/// How long one step keeps retrying while the server is down.
const STEP_DEADLINE: Duration = Duration::from_secs(30);
const RETRY_PAUSE: Duration = Duration::from_millis(100);

#[derive(Clone)]
pub struct Creds {
    pub id: String,
    pub secret: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Poll,
    Ping,
}

/// What the phone was told about its decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    /// A 2xx for an approval: trustid must hold it.
    Approved,
    /// A 2xx for a denial.
    Denied,
    /// No answer it could trust (the server died mid-call), or none tried.
    Unsure,
}

/// One backchannel request trustid acknowledged (200), and what followed.
#[derive(Debug, Clone)]
pub struct Flow {
    pub auth_req_id: String,
    pub mode: Mode,
    pub told: Told,
    /// Token responses (200) the client got for it.
    pub tokens: u32,
    /// The client was told `access_denied`.
    pub denied: bool,
    /// Token requests that got no answer (the server died under them): one
    /// may have redeemed the request, its tokens lost with the connection.
    pub unanswered: u32,
}

pub struct Load {
    pub base: String,
    pub http: reqwest::Client,
    pub poll: Creds,
    pub ping: Creds,
    pub receiver: Receiver,
    pub stop: AtomicBool,
    pub flows: Mutex<Vec<Flow>>,
    /// Answers of 500 and above, by status: while the database restarts
    /// trustid must say 503 (try again), never 500.
    pub failures: Mutex<BTreeMap<u16, u64>>,
}

/// The token endpoint's answer: a token, or the OAuth error, or nothing
/// (the server was down or failed: retry).
pub enum TokenAnswer {
    Token,
    Error(String),
    Unavailable,
}

impl Load {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn note(&self, status: reqwest::StatusCode) {
        if status.is_server_error()
            && let Ok(mut failures) = self.failures.lock()
        {
            *failures.entry(status.as_u16()).or_default() += 1;
        }
    }

    fn creds(&self, mode: Mode) -> &Creds {
        match mode {
            Mode::Poll => &self.poll,
            Mode::Ping => &self.ping,
        }
    }

    async fn backchannel(&self, mode: Mode, user: &str, message: &str) -> Option<String> {
        let c = self.creds(mode);
        let mut form = vec![("scope", "openid"), ("login_hint", user), ("binding_message", message)];
        if mode == Mode::Ping {
            form.push(("client_notification_token", "drill-notification-token-0123456789"));
        }
        let req = self
            .http
            .post(self.url("/bc-authorize"))
            .basic_auth(&c.id, Some(&c.secret));
        let res = req.form(&form).send().await.ok()?;
        self.note(res.status());
        if res.status() != 200 {
            return None;
        }
        let body: Value = res.json().await.ok()?;
        body["auth_req_id"].as_str().map(str::to_owned)
    }

    pub async fn token(&self, mode: Mode, auth_req_id: &str) -> TokenAnswer {
        let c = self.creds(mode);
        let form = [
            ("grant_type", "urn:openid:params:grant-type:ciba"),
            ("auth_req_id", auth_req_id),
        ];
        let req = self.http.post(self.url("/token")).basic_auth(&c.id, Some(&c.secret));
        let Ok(res) = req.form(&form).send().await else {
            return TokenAnswer::Unavailable;
        };
        self.note(res.status());
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or_default();
        match (status, body["error"].as_str()) {
            (200, _) => TokenAnswer::Token,
            (400..=499, Some(error)) if status != 429 => TokenAnswer::Error(error.to_owned()),
            _ => TokenAnswer::Unavailable,
        }
    }

    /// Fetches the inbox and decides the item showing `message`, again after
    /// a death mid-call as long as the item is still listed.
    async fn decide(&self, device: &Device, message: &str, decision: &str) -> Told {
        let started = Instant::now();
        while started.elapsed() < STEP_DEADLINE {
            let inbox_url = self.url("/device/v1/inbox");
            let inbox = self
                .http
                .get(&inbox_url)
                .header("DPoP", device.proof("GET", &inbox_url))
                .send()
                .await;
            if let Ok(res) = &inbox {
                self.note(res.status());
            }
            let Some(inbox) = (match inbox {
                Ok(res) if res.status() == 200 => res.json::<Value>().await.ok(),
                _ => None,
            }) else {
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            };
            let items = inbox["transactions"].as_array().cloned().unwrap_or_default();
            let Some(item) = items.iter().find(|i| i["binding_message"] == message) else {
                // Decided by a call whose answer was lost, or never listed.
                return Told::Unsure;
            };
            let (txn, nonce) = (
                item["transaction_id"].as_str().unwrap_or_default(),
                item["nonce"].as_str().unwrap_or_default(),
            );
            let jws = device.decision(txn, nonce, decision, message, None);
            let url = self.url(&format!("/device/v1/transactions/{txn}/decision"));
            let sent = self.http.post(&url).header("DPoP", device.proof("POST", &url));
            let sent = sent.json(&json!({"decision_jws": jws})).send().await;
            if let Ok(res) = &sent {
                self.note(res.status());
            }
            match sent {
                Ok(res) if res.status().is_success() => {
                    return if decision == "approve" {
                        Told::Approved
                    } else {
                        Told::Denied
                    };
                }
                Ok(res) if res.status().is_client_error() => return Told::Unsure,
                _ => tokio::time::sleep(RETRY_PAUSE).await,
            }
        }
        Told::Unsure
    }

    /// Polls as a client would until a token or an error other than pending.
    async fn redeem(&self, flow: &mut Flow) {
        let started = Instant::now();
        while started.elapsed() < STEP_DEADLINE {
            match self.token(flow.mode, &flow.auth_req_id).await {
                TokenAnswer::Token => {
                    flow.tokens += 1;
                    return;
                }
                TokenAnswer::Error(e) if e == "access_denied" => {
                    flow.denied = true;
                    return;
                }
                TokenAnswer::Error(e) if e == "authorization_pending" || e == "slow_down" => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                TokenAnswer::Error(_) => return,
                TokenAnswer::Unavailable => {
                    flow.unanswered += 1;
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        }
    }
}

/// One worker: flows for `user` on `device` until told to stop; every
/// tenth is denied, every other one is a ping client's.
pub async fn worker(load: Arc<Load>, worker: usize, user: String, device: Device) {
    let mut n = 0u64;
    while !load.stop.load(Ordering::Relaxed) {
        n += 1;
        let mode = if n.is_multiple_of(2) { Mode::Ping } else { Mode::Poll };
        let decision = if n.is_multiple_of(10) { "deny" } else { "approve" };
        let message = format!("Crash drill {worker}-{n}");
        let Some(auth_req_id) = load.backchannel(mode, &user, &message).await else {
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        };
        let told = load.decide(&device, &message, decision).await;
        let mut flow = Flow {
            auth_req_id,
            mode,
            told,
            tokens: 0,
            denied: false,
            unanswered: 0,
        };
        // A ping client waits for its ping (briefly: one owed across a
        // death comes later, and the checks wait for it).
        if mode == Mode::Poll || load.receiver.wait(&flow.auth_req_id, Duration::from_secs(3)).await {
            load.redeem(&mut flow).await;
        }
        if let Ok(mut flows) = load.flows.lock() {
            flows.push(flow);
        }
    }
}

/// The ping client's notification endpoint on 127.0.0.1: counts the pings
/// of each `auth_req_id`.
#[derive(Clone, Default)]
pub struct Receiver {
    pub url: String,
    counts: Arc<Mutex<HashMap<String, u32>>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl Receiver {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let receiver = Self {
            url: format!("http://{}/cb", listener.local_addr()?),
            ..Self::default()
        };
        let state = receiver.clone();
        let app = axum::Router::new()
            .route("/cb", axum::routing::post(receive))
            .with_state(state);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(receiver)
    }

    pub fn count(&self, auth_req_id: &str) -> u32 {
        self.counts
            .lock()
            .map(|c| c.get(auth_req_id).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Whether the ping of `auth_req_id` came within `limit`.
    pub async fn wait(&self, auth_req_id: &str, limit: Duration) -> bool {
        let until = tokio::time::Instant::now() + limit;
        loop {
            let arrived = self.arrived.notified();
            if self.count(auth_req_id) > 0 {
                return true;
            }
            if tokio::time::timeout_at(until, arrived).await.is_err() {
                return false;
            }
        }
    }
}

async fn receive(axum::extract::State(r): axum::extract::State<Receiver>, body: Bytes) -> axum::http::StatusCode {
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["auth_req_id"].as_str().map(str::to_owned));
    let Some(id) = id else {
        return axum::http::StatusCode::BAD_REQUEST;
    };
    if let Ok(mut counts) = r.counts.lock() {
        *counts.entry(id).or_default() += 1;
    }
    r.arrived.notify_waiters();
    axum::http::StatusCode::NO_CONTENT
}
