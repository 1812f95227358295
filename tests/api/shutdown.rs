//! `trustid serve` stopped as systemd, Kubernetes or `docker stop` stop it:
//! on SIGTERM (and SIGINT) it drains and exits 0. A long-poll in flight is
//! answered with its normal "nothing yet", new connections are refused, an
//! idle keep-alive connection does not hold it up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::{json_of, trustid};

pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Server {
    /// `trustid serve` in dev mode on a free port over `dir`'s database.
    pub(crate) async fn start(dir: &std::path::Path) -> Self {
        Self::start_with(dir, &[]).await
    }

    /// The same, with `settings` (variables) added or overriding.
    pub(crate) async fn start_with(dir: &std::path::Path, settings: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let mut command = Command::new(env!("CARGO_BIN_EXE_trustid"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TRUSTID_")) {
            command.env_remove(k);
        }
        let child = command
            .current_dir(dir)
            .arg("serve")
            .env("TRUSTID_LISTEN", format!("127.0.0.1:{port}"))
            .env("TRUSTID_ISSUER", &base)
            .env("TRUSTID_DEV", "true")
            .env(
                "TRUSTID_DATABASE_URL",
                format!("sqlite://{}", dir.join("t.db").display()),
            )
            .env("TRUSTID_KEYS_DIR", "keys")
            .env("TRUSTID_SHUTDOWN_GRACE", "20")
            .env("TRUSTID_LOG", "warn")
            .envs(settings.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let server = Self { child, base };
        let started = Instant::now();
        while reqwest::get(server.url("/.well-known/openid-configuration"))
            .await
            .is_err()
        {
            assert!(started.elapsed() < Duration::from_secs(30), "server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([name, &pid]).status().unwrap().success());
    }

    /// Waits (at most `limit`) for the process to exit; its exit code and stderr.
    pub(crate) fn exited(mut self, limit: Duration) -> (Option<i32>, String) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut out = String::new();
                std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut out).unwrap();
                return (status.code(), out);
            }
            assert!(started.elapsed() < limit, "still running after {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A management token for a client made with the CLI.
async fn manager(server: &Server, dir: &std::path::Path) -> String {
    let db = format!("sqlite://{}", dir.join("t.db").display());
    let args = ["clients", "add", "--name", "Ops", "--management", "--json"];
    let client = json_of(&trustid(
        dir,
        &args,
        &[("TRUSTID_DATABASE_URL", &db), ("TRUSTID_DEV", "true")],
    ));
    let res = reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth(client["client_id"].as_str().unwrap(), client["client_secret"].as_str())
        .form(&[("grant_type", "client_credentials"), ("scope", "trustid:manage")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn sigterm_answers_the_long_poll_in_flight_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let token = manager(&server, dir.path()).await;
    let http = reqwest::Client::new();
    let register =
        json!({"objectType": "AdaptiveRegisterUserInput", "userID": "erin", "staticPassword": "correct horse battery"});
    let res = http
        .post(server.url("/manage/v1/users/register"))
        .bearer_auth(&token)
        .json(&register);
    assert_eq!(res.send().await.unwrap().status(), 201);
    // An idle keep-alive connection, and a long-poll that would wait 25 s.
    let idle = http
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(idle.status(), 200);
    let wait = json!({"login": "erin", "timeoutSeconds": 25});
    let poll = http
        .post(server.url("/manage/v1/registrations/check-status"))
        .bearer_auth(&token)
        .json(&wait);
    let poll = tokio::spawn(poll.send());
    tokio::time::sleep(Duration::from_millis(500)).await;

    let asked = Instant::now();
    server.signal("-TERM");
    let answer = poll.await.unwrap().expect("the long-poll is answered, not cut");
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["activationStatus"], "timeout", "its normal answer: nothing yet");
    let base = server.base.clone();
    let (code, out) = tokio::task::spawn_blocking(move || server.exited(Duration::from_secs(15)))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("trustid stopped (SIGTERM)"), "{out}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "drained well before the long-poll's 25 s"
    );
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "nothing listens any more"
    );
}

#[tokio::test]
async fn sigint_stops_it_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    server.signal("-INT");
    let (code, out) = tokio::task::spawn_blocking(move || server.exited(Duration::from_secs(15)))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("trustid stopped (SIGINT)"), "{out}");
}
