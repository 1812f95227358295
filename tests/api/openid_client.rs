//! Interop with the certified Node RP library `openid-client` (v6): the script
//! `tests/rp-node/ciba_rp.mjs` discovers trustid, starts a CIBA request and
//! either polls the token endpoint with the library's own loop (poll mode) or
//! waits on its own notification endpoint for trustid's ping and then asks for
//! the tokens once (ping mode); the test device approves in between and the
//! test reads the verified ID token claims back.
//!
//! Needs `npm ci` in `tests/rp-node`; without it the tests skip, unless
//! `TRUSTID_REQUIRE_NODE_RP=1` (set by `.ci/run`) makes that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use tokio::sync::mpsc;
use trustid::clock::ManualClock;
use trustid::domain::client::{AuthMethod, ClientMetadata, DeliveryMode, SigningAlg};
use trustid::engine::admin::ClientCredentials;

/// Longest wait for the whole RP run (node start, discovery, polls).
const RP_DEADLINE: Duration = Duration::from_secs(60);
/// The script stops polling by itself before the deadline and says why.
const RP_POLL_TIMEOUT_SECS: &str = "45";
/// The script stops waiting for the ping by itself before the deadline.
const RP_PING_TIMEOUT_SECS: &str = "45";
/// How much faster than real time the test clock runs while node polls.
const CLOCK_SPEED: i64 = 2;

/// `tests/rp-node` when its dependencies are installed; `None` means skip.
fn node_rp_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/rp-node");
    if dir.join("node_modules/openid-client/package.json").is_file() {
        return Some(dir);
    }
    if std::env::var("TRUSTID_REQUIRE_NODE_RP").as_deref() == Ok("1") {
        panic!(
            "TRUSTID_REQUIRE_NODE_RP=1 but {} is missing: run `npm ci` in tests/rp-node",
            dir.join("node_modules/openid-client").display()
        );
    }
    println!("skipped: run npm ci in tests/rp-node");
    None
}

/// Moves the app's manual clock at `CLOCK_SPEED` times real time until dropped.
///
/// openid-client waits `interval` seconds of real time between polls, while
/// trustid measures that gap on the manual clock; a frozen clock would make
/// every poll after the first look early (`slow_down`, +5 s each). Running the
/// clock faster than real time keeps each real gap of >= 1 s above the 1 s
/// interval on the test clock, whatever the scheduling jitter, and the request's
/// 300 s expiry still lies 150 s of real time away, far beyond `RP_DEADLINE`.
struct ClockDriver(tokio::task::JoinHandle<()>);

impl ClockDriver {
    fn start(clock: ManualClock) -> Self {
        Self(tokio::spawn(async move {
            let start = Instant::now();
            let mut advanced_ms = 0i64;
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tick.tick().await;
                let target = start.elapsed().as_millis() as i64 * CLOCK_SPEED;
                clock.advance_ms(target - advanced_ms);
                advanced_ms = target;
            }
        }))
    }
}

impl Drop for ClockDriver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How the script gets the result.
enum Mode {
    /// openid-client's polling loop.
    Poll,
    /// A notification endpoint on 127.0.0.1:`port`, then one token request.
    Ping { port: u16 },
}

/// A running `node ciba_rp.mjs`: its stdout as JSON lines, its HTTP trace
/// (`TRACE_HTTP=1`, on stderr) as events, all of stderr kept for failure
/// messages. Killed when dropped.
struct NodeRp {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    http: mpsc::UnboundedReceiver<Value>,
    /// Every HTTP exchange received from `http` so far.
    exchanges: Vec<Value>,
    stderr: Arc<Mutex<String>>,
}

impl NodeRp {
    fn spawn(dir: &PathBuf, app: &TestApp, client_id: &str, client_secret: &str) -> Self {
        Self::spawn_in(Mode::Poll, dir, app, client_id, client_secret)
    }

    fn spawn_in(mode: Mode, dir: &PathBuf, app: &TestApp, client_id: &str, client_secret: &str) -> Self {
        let mut command = Command::new("node");
        command.arg("ciba_rp.mjs");
        match mode {
            Mode::Poll => command.args(["--mode", "poll"]),
            Mode::Ping { port } => command
                .args(["--mode", "ping"])
                .env("NOTIFY_PORT", port.to_string())
                .env("PING_TIMEOUT", RP_PING_TIMEOUT_SECS),
        };
        let mut child = command
            .current_dir(dir)
            .env("ISSUER", &app.base)
            .env("CLIENT_ID", client_id)
            .env("CLIENT_SECRET", client_secret)
            .env("LOGIN_HINT", "alice")
            .env("BINDING_MESSAGE", "Sign in to Test Bank")
            .env("SCOPE", "openid email")
            .env("POLL_TIMEOUT", RP_POLL_TIMEOUT_SECS)
            .env("TRACE_HTTP", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`node` runs (Node.js 20+ on PATH)");
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (events, http) = mpsc::unbounded_channel();
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut event) = serde_json::from_str::<Value>(&line)
                    && event["http"].is_object()
                {
                    let _ = events.send(event["http"].take());
                }
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Self {
            child,
            lines,
            http,
            exchanges: Vec::new(),
            stderr,
        }
    }

    /// Waits until `count` of the RP's token polls have been answered with
    /// `authorization_pending`; a `slow_down` fails at once.
    async fn await_pending_polls(&mut self, count: usize, deadline: Instant) {
        let mut pending = 0;
        while pending < count {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(Some(exchange)) = tokio::time::timeout(left, self.http.recv()).await else {
                panic!(
                    "only {pending} of {count} token polls answered authorization_pending; stderr:\n{}",
                    self.stderr()
                );
            };
            if exchange["path"] == "/token" {
                assert_ne!(exchange["error"], "slow_down", "{}", self.stderr());
                pending += usize::from(exchange["error"] == "authorization_pending");
            }
            self.exchanges.push(exchange);
        }
    }

    /// The answers to every token poll so far: (status, error).
    fn token_polls(&mut self) -> Vec<(u64, String)> {
        while let Ok(exchange) = self.http.try_recv() {
            self.exchanges.push(exchange);
        }
        self.exchanges
            .iter()
            .filter(|e| e["path"] == "/token")
            .map(|e| {
                (
                    e["status"].as_u64().unwrap_or(0),
                    e["error"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The next stdout line as JSON, waiting until `deadline`.
    async fn next_json(&mut self, deadline: Instant, what: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.lines.recv()).await {
            Ok(Some(line)) => serde_json::from_str(&line).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {line}")),
            Ok(None) => panic!(
                "{what}: node closed stdout; exit {:?}; stderr:\n{}",
                self.child.try_wait(),
                self.stderr()
            ),
            Err(_) => panic!(
                "{what}: nothing from node within {RP_DEADLINE:?}; stderr:\n{}",
                self.stderr()
            ),
        }
    }

    /// The exit code, waiting until `deadline`.
    async fn exit_code(&mut self, deadline: Instant) -> i32 {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "node did not exit; stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for NodeRp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A trustid that asks for 1 s between polls, a client and alice with a phone.
async fn setup() -> (TestApp, ClientCredentials, TestDevice) {
    let app = spawn_app_with(|s| s.poll_interval = 1).await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    (app, client, device)
}

/// A port on 127.0.0.1 that was free a moment ago, for the script to listen on.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A trustid that asks for 1 s between polls, a ping client
/// (client_secret_basic) notified at `http://127.0.0.1:{port}/cb`, and alice
/// with a phone.
async fn setup_ping(port: u16) -> (TestApp, ClientCredentials, TestDevice) {
    let app = spawn_app_with(|s| s.poll_interval = 1).await;
    let mut metadata = ClientMetadata::poll("Test Bank");
    metadata.token_endpoint_auth_method = AuthMethod::ClientSecretBasic;
    metadata.id_token_signed_response_alg = SigningAlg::ES256;
    metadata.backchannel_token_delivery_mode = DeliveryMode::Ping;
    metadata.backchannel_client_notification_endpoint = Some(format!("http://127.0.0.1:{port}/cb"));
    let client = app.register(metadata).await;
    let device = app.user_with_device("alice").await;
    (app, client, device)
}

/// The acknowledgement line: a usable auth_req_id and the configured interval.
fn assert_ack(ack: &Value) {
    assert!(ack["auth_req_id"].as_str().is_some_and(|id| id.len() >= 22), "{ack}");
    assert_eq!(ack["interval"], 1, "{ack}");
    assert_eq!(ack["expires_in"], 300, "{ack}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_completes_the_poll_flow() {
    let Some(dir) = node_rp_dir() else { return };
    let (app, client, device) = setup().await;
    let started = Instant::now();
    let deadline = started + RP_DEADLINE;
    let _clock = ClockDriver::start(app.clock.clone());
    let mut rp = NodeRp::spawn(&dir, &app, &client.client_id, client.secret());

    let ack = rp.next_json(deadline, "acknowledgement").await;
    assert_ack(&ack);

    // The library keeps polling through authorization_pending; two pending
    // polls show the clock handling keeps it clear of slow_down ...
    rp.await_pending_polls(2, deadline).await;
    let decided = device.decide(&app, "approve").await;
    assert_eq!(decided.status, 200, "{}", decided.body);

    let done = rp.next_json(deadline, "tokens").await;
    assert!(done["error"].is_null(), "openid-client failed: {done}");
    assert_eq!(rp.exit_code(deadline).await, 0, "{}", rp.stderr());
    println!("openid-client poll flow took {:?}", started.elapsed());

    // ... at the advertised interval: never slow_down, the last poll gets tokens.
    let polls = rp.token_polls();
    assert!(polls.iter().all(|(_, error)| error != "slow_down"), "{polls:?}");
    assert_eq!(polls.last().map(|(status, _)| *status), Some(200), "{polls:?}");

    let claims = &done["claims"];
    assert_eq!(claims["sub"], "alice", "{done}");
    assert_eq!(claims["trustid.userid"], "alice", "{done}");
    assert_eq!(claims["trustid.deviceid"], device.id().as_str(), "{done}");
    assert_eq!(claims["trustid.binding_message"], "Sign in to Test Bank");
    assert_eq!(claims["email"], "alice@example.com", "{done}");
    assert_eq!(claims["iss"], app.base.as_str(), "{done}");
    let aud = match &claims["aud"] {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many.iter().filter_map(|a| a.as_str()).map(String::from).collect(),
        other => panic!("aud is neither string nor array: {other}"),
    };
    assert!(aud.contains(&client.client_id.to_string()), "{done}");
    assert!(
        done["token_type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
        "{done}"
    );
    assert_eq!(done["has_access_token"], true, "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_reports_a_denial() {
    let Some(dir) = node_rp_dir() else { return };
    let (app, client, device) = setup().await;
    let deadline = Instant::now() + RP_DEADLINE;
    let _clock = ClockDriver::start(app.clock.clone());
    let mut rp = NodeRp::spawn(&dir, &app, &client.client_id, client.secret());

    assert_ack(&rp.next_json(deadline, "acknowledgement").await);
    rp.await_pending_polls(1, deadline).await;
    let decided = device.decide(&app, "deny").await;
    assert_eq!(decided.status, 200, "{}", decided.body);

    let failed = rp.next_json(deadline, "denial").await;
    assert_eq!(failed["oauth_error"], "access_denied", "{failed}");
    assert_eq!(failed["status"], 400, "{failed}");
    assert_eq!(rp.exit_code(deadline).await, 1, "{}", rp.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_reports_a_wrong_secret_as_invalid_client() {
    let Some(dir) = node_rp_dir() else { return };
    let (app, client, _device) = setup().await;
    let deadline = Instant::now() + RP_DEADLINE;
    let mut rp = NodeRp::spawn(&dir, &app, &client.client_id, "not-the-secret");

    let failed = rp.next_json(deadline, "error line").await;
    assert!(failed["auth_req_id"].is_null(), "{failed}");
    assert_eq!(failed["oauth_error"], "invalid_client", "{failed}");
    assert_eq!(failed["status"], 401, "{failed}");
    assert_eq!(rp.exit_code(deadline).await, 1, "{}", rp.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_completes_the_ping_flow() {
    let Some(dir) = node_rp_dir() else { return };
    let port = free_port();
    let (app, client, device) = setup_ping(port).await;
    let started = Instant::now();
    let deadline = started + RP_DEADLINE;
    // No clock driver: nothing polls, and the frozen clock keeps the ID
    // token's iat at or before the RP's real time.
    let mut rp = NodeRp::spawn_in(Mode::Ping { port }, &dir, &app, &client.client_id, client.secret());

    let ack = rp.next_json(deadline, "acknowledgement").await;
    assert_ack(&ack);
    let auth_req_id = ack["auth_req_id"].as_str().unwrap().to_owned();
    let token = ack["client_notification_token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 43, "32 random bytes, base64url: {ack}");

    let decided = device.decide(&app, "approve").await;
    assert_eq!(decided.status, 200, "{}", decided.body);

    let done = rp.next_json(deadline, "tokens").await;
    assert!(done["error"].is_null(), "openid-client failed: {done}");
    assert_eq!(rp.exit_code(deadline).await, 0, "{}", rp.stderr());
    println!("openid-client ping flow took {:?}", started.elapsed());

    // What the notification endpoint received: exactly the auth_req_id,
    // under the RP's own client_notification_token.
    let ping = &done["ping"];
    assert_eq!(
        ping["body"],
        serde_json::json!({ "auth_req_id": auth_req_id }),
        "{done}"
    );
    assert_eq!(ping["authorization"], format!("Bearer {token}").as_str(), "{done}");
    assert_eq!(ping["content_type"], "application/json", "{done}");

    // The ping replaced polling: one token request, answered with tokens.
    assert_eq!(rp.token_polls(), vec![(200, String::new())], "{}", rp.stderr());

    let claims = &done["claims"];
    assert_eq!(claims["sub"], "alice", "{done}");
    assert_eq!(claims["trustid.deviceid"], device.id().as_str(), "{done}");
    assert_eq!(
        claims["urn:openid:params:jwt:claim:auth_req_id"],
        auth_req_id.as_str(),
        "{done}"
    );
    assert_eq!(claims["iss"], app.base.as_str(), "{done}");
    assert!(
        done["token_type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
        "{done}"
    );
    assert_eq!(done["has_access_token"], true, "{done}");
}
