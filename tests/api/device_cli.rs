//! The reference device `trustid device`, run as the real binary against a
//! live trustid: it registers its keys (a 0600 file), reads the inbox, approves
//! and denies with signed decisions, and listens with `--auto-approve`. It
//! speaks only HTTP and never loads server settings. Its proofs carry the
//! system clock; the test clock is never moved, so both stay within the skew.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use trustid::domain::client::SigningAlg;
use trustid::engine::admin;

/// `trustid device ARGS` in `dir`, with no server settings around it; a stray
/// `TRUSTID_*` variable would stop a command that loads them.
fn device_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustid"));
    cmd.current_dir(dir).arg("device").args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TRUSTID_")) {
        cmd.env_remove(k);
    }
    cmd.env("TRUSTID_NOT_A_SETTING", "1");
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Runs a device command to its end, at most 20 s, without blocking the server's runtime.
pub(crate) async fn device(dir: &Path, args: &[&str]) -> Output {
    let mut child = device_command(dir, args).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("trustid device {args:?} did not finish in 20 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.wait_with_output().unwrap()
}

pub(crate) fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub(crate) fn json_of(out: &Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap()
}

pub(crate) fn failure(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Registers a reference device in `dir`, checks its key file, binds it to `user`.
pub(crate) async fn registered(app: &TestApp, dir: &Path, user: &str) -> String {
    let out = device(dir, &["register", "--server", &app.base, "--json"]).await;
    let reg = json_of(&out);
    let id = reg["device_id"].as_str().unwrap().to_owned();
    assert_eq!(reg["status"], "inactive");
    let mode = std::fs::metadata(dir.join("trustid-device.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the key file is the owner's alone");
    let stored = app.store().device(&id).await.unwrap().unwrap();
    assert!(!stored.auth_key.contains("\"d\""), "only public keys left the device");
    admin::bind_device(app.store(), &id.as_str().into(), &user.into())
        .await
        .unwrap();
    id
}

/// The transaction id of the inbox item that shows `text`.
pub(crate) async fn txn_showing(dir: &Path, text: &str) -> String {
    let inbox = json_of(&device(dir, &["inbox", "--json"]).await);
    let items = inbox["transactions"].as_array().unwrap();
    let item = items.iter().find(|i| i["binding_message"] == text).unwrap();
    item["transaction_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_reference_device_registers_approves_and_denies_over_http() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    app.user("alice", &[]).await;
    let dir = tempfile::tempdir().unwrap();

    let out = device(dir.path(), &["register", "--server", &app.base, "--json"]).await;
    let id = json_of(&out)["device_id"].as_str().unwrap().to_owned();
    let again = failure(&device(dir.path(), &["register", "--server", &app.base]).await);
    assert!(again.contains("exists already"), "{again}");
    let unbound = failure(&device(dir.path(), &["inbox"]).await);
    assert!(
        unbound.contains("device_not_active"),
        "the server's refusal, plainly: {unbound}"
    );
    std::fs::remove_file(dir.path().join("trustid-device.json")).unwrap();
    let id2 = registered(&app, dir.path(), "alice").await;
    assert_ne!(id, id2, "a new key file holds new keys");

    let auth_req_id = app.start(&client, "alice", "Pay 10 EUR to Bob").await;
    let inbox = stdout(&device(dir.path(), &["inbox"]).await);
    assert!(
        inbox.contains("Pay 10 EUR to Bob") && inbox.contains("Test Bank"),
        "{inbox}"
    );
    let txn = txn_showing(dir.path(), "Pay 10 EUR to Bob").await;
    let approved = stdout(&device(dir.path(), &["approve", &txn]).await);
    assert!(approved.contains("approved"), "{approved}");
    let tokens = app.poll(&client, &auth_req_id).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let claims = jwt_payload(tokens.body["id_token"].as_str().unwrap());
    assert_eq!(claims["trustid.deviceid"], Value::from(id2.clone()));
    let twice = failure(&device(dir.path(), &["approve", &txn]).await);
    assert!(twice.contains("not in this device's inbox"), "{twice}");

    let auth_req_id = app.start(&client, "alice", "Log in to Test Bank").await;
    let txn = txn_showing(dir.path(), "Log in to Test Bank").await;
    let denied = stdout(&device(dir.path(), &["deny", &txn, "--fraud"]).await);
    assert!(denied.contains("denied"), "{denied}");
    app.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "access_denied", "the user denied on the device");
    let stored = app.store().device(&id2).await.unwrap().unwrap();
    assert_eq!(stored.failed_attempts, 1, "fraud was reported in the signed decision");
}

/// A running `trustid device listen`: its stdout lines arrive on a channel.
struct Listener {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Listener {
    fn start(dir: &Path, args: &[&str]) -> Self {
        let mut child = device_command(dir, args).spawn().unwrap();
        let (tx, lines) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next JSON event, within 15 s.
    async fn next_event(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match self.lines.try_recv() {
                Ok(line) => return serde_json::from_str(&line).unwrap(),
                Err(mpsc::TryRecvError::Empty) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("no event from listen within 15 s: {e}"),
            }
        }
    }

    /// Ctrl-C: the listener stops cleanly, within 5 s. Returns what it printed after.
    async fn interrupt(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                self.child.kill().unwrap();
                panic!("listen did not stop on Ctrl-C");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(status.success(), "Ctrl-C is a clean stop: {status}");
        self.lines.try_iter().collect()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // A failed assertion must not leave the process behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn listen_auto_approve_approves_a_request_created_after_it_started() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    app.user("bob", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let id = registered(&app, dir.path(), "bob").await;

    let listener = Listener::start(dir.path(), &["listen", "--auto-approve", "--json"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let auth_req_id = app.start(&client, "bob", "Sign in on the web").await;
    let request = listener.next_event().await;
    assert_eq!(
        (request["event"].as_str(), request["binding_message"].as_str()),
        (Some("request"), Some("Sign in on the web"))
    );
    assert_eq!(request["client_name"], "Test Bank");
    let decision = listener.next_event().await;
    assert_eq!(decision["event"], "decision");
    assert_eq!(decision["transaction_id"], request["transaction_id"]);
    assert_eq!(decision["status"], "approved");

    let tokens = app.poll(&client, &auth_req_id).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let claims = jwt_payload(tokens.body["id_token"].as_str().unwrap());
    assert_eq!(claims["trustid.deviceid"], Value::from(id));
    assert_eq!(listener.interrupt().await, Vec::<String>::new());
}

#[tokio::test]
async fn listen_prints_each_request_once_and_decides_nothing_by_itself() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    app.user("carol", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    registered(&app, dir.path(), "carol").await;

    let listener = Listener::start(dir.path(), &["listen", "--json"]);
    let first = app.start(&client, "carol", "First").await;
    assert_eq!(listener.next_event().await["binding_message"], "First");
    // Several keep-alive-free seconds later, on the same stream...
    tokio::time::sleep(Duration::from_millis(2500)).await;
    app.start(&client, "carol", "Second").await;
    let next = listener.next_event().await;
    assert_eq!(next["binding_message"], "Second", "First was not printed again");
    app.poll(&client, &first)
        .await
        .assert_oauth_error(400, "authorization_pending", "listen alone decides nothing");
    assert_eq!(listener.interrupt().await, Vec::<String>::new());
}

#[tokio::test]
async fn listen_ends_with_the_servers_refusal_once_its_device_is_removed() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    app.user("erin", &[]).await;
    let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let id = registered(&app, dir.path(), "erin").await;
    registered(&app, other.path(), "erin").await;

    let mut listener = Listener::start(dir.path(), &["listen", "--json"]);
    app.start(&client, "erin", "Before").await;
    assert_eq!(listener.next_event().await["binding_message"], "Before");
    assert!(app.store().remove_device("erin", &id).await.unwrap());
    // The next change of erin's inbox ends the stream of the removed device;
    // listen reconnects, is refused for good, and says so.
    app.start(&client, "erin", "After").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = listener.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "listen kept going for a removed device");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(!status.success(), "a refusal is a failure: {status}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut listener.child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("the server refused (HTTP 403)"), "{stderr}");
    assert!(
        listener.lines.try_iter().all(|line| !line.contains("After")),
        "a removed device is shown nothing more"
    );
}

#[tokio::test]
async fn the_reference_device_takes_pushes_trades_their_token_and_clears_its_channel() {
    let app = spawn_app().await;
    let relay = common::receiver::Receiver::start(vec![]).await;
    let mut metadata = trustid::domain::client::ClientMetadata::poll("Push Bank");
    metadata.push_relay_uri = Some(relay.url("/push"));
    let client = app.register(metadata).await;
    app.user("gina", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    registered(&app, dir.path(), "gina").await;

    let set = json_of(
        &device(
            dir.path(),
            &["push", "--channel", "webhook", "--token", "relay-g", "--json"],
        )
        .await,
    );
    assert_eq!(set["channel"], "webhook");
    let bad = failure(&device(dir.path(), &["push", "--channel", "pigeon", "--token", "x"]).await);
    assert!(
        bad.contains("HTTP 400") && bad.contains("invalid_push_channel"),
        "{bad}"
    );

    let auth_req_id = app.start(&client, "gina", "Pay 3 EUR").await;
    let pushed = relay.wait_for(1).await;
    let claims = jwt_payload(&pushed[0].raw);
    assert_eq!(claims["device_token"], "relay-g");
    let push_token = claims["push_token"].as_str().unwrap();
    let item = json_of(&device(dir.path(), &["exchange", push_token, "--json"]).await);
    assert_eq!(item["transaction"]["binding_message"], "Pay 3 EUR");
    let txn = item["transaction"]["transaction_id"].as_str().unwrap();
    assert!(stdout(&device(dir.path(), &["approve", txn]).await).contains("approved"));
    assert_eq!(app.poll(&client, &auth_req_id).await.status, 200);
    let spent = failure(&device(dir.path(), &["exchange", push_token]).await);
    assert!(spent.contains("unknown_push_token"), "{spent}");

    let cleared = stdout(&device(dir.path(), &["push", "--clear"]).await);
    assert!(cleared.contains("inbox only"), "{cleared}");
    app.start(&client, "gina", "Pay 4 EUR").await;
    let later = txn_showing(dir.path(), "Pay 4 EUR").await;
    assert!(
        app.store().device_pushes_of(&later).await.unwrap().is_empty(),
        "no push is owed once the channel is cleared"
    );
    assert_eq!(relay.received().len(), 1);
}

#[tokio::test]
async fn credentials_and_tokens_that_start_with_a_dash_are_values_not_flags() {
    // base64url values start with `-` one time in 64.
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["activate", "--code", "-3xY"][..],
        &["activate", "--password", "-pw"],
        &["activate", "--token", "-tk"],
        &["push", "--channel", "webhook", "--token", "-rt"],
        &["exchange", "-pt"],
    ] {
        let err = failure(&device(dir.path(), args).await);
        assert!(
            err.contains("trustid-device.json"),
            "{args:?} got as far as the key file: {err}"
        );
    }
}

#[tokio::test]
async fn activate_with_the_code_of_a_binding_made_over_the_management_api() {
    let app = spawn_app().await;
    app.user("dave", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = device(dir.path(), &["register", "--server", &app.base, "--json"]).await;
    let id = json_of(&out)["device_id"].as_str().unwrap().to_owned();

    let (_, token) = app
        .manager(trustid::domain::client::ClientMetadata::poll("RP Server"))
        .await;
    let bound = app
        .http
        .post(app.url("/manage/v1/bindings"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"user_id": "dave", "device_id": id}))
        .send()
        .await
        .unwrap();
    let bound = Answer::from(bound).await;
    assert_eq!(bound.status, 201, "{}", bound.body);
    let code = bound.body["activation_code"].as_str().unwrap();

    let wrong = failure(&device(dir.path(), &["activate", "--code", "not-the-code"]).await);
    assert!(wrong.contains("invalid_activation_code"), "{wrong}");
    let done = json_of(&device(dir.path(), &["activate", "--code", code, "--json"]).await);
    assert_eq!(
        (
            done["device_id"].as_str(),
            done["user_id"].as_str(),
            done["status"].as_str()
        ),
        (Some(id.as_str()), Some("dave"), Some("active"))
    );
    assert_eq!(
        stdout(&device(dir.path(), &["inbox"]).await).trim(),
        "no pending requests"
    );
}
