//! Request ids: the client's `X-Request-Id` (or a new one) comes back in the
//! answer and is on every log line of the request, the transaction's state
//! changes included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use trustid::domain::client::SigningAlg;

use crate::common::*;

#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<Vec<u8>>>);

impl Write for Recorded {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_request_id_comes_back_and_is_on_every_line_of_the_request() {
    let recorded = Recorded::default();
    let writer = recorded.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _recording = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();

    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("alice").await;
    let res = app
        .http
        .post(app.url("/bc-authorize"))
        .basic_auth(&client.client_id, Some(client.secret()))
        .header("X-Request-Id", "ticket-4711")
        .form(&[("scope", "openid"), ("login_hint", "alice")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-request-id"], "ticket-4711");

    let res = app
        .http
        .get(app.url("/jwks"))
        .header("X-Request-Id", "not a token; replaced")
        .send()
        .await
        .unwrap();
    let made = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 32, "a new id: {made}");

    let log = String::from_utf8_lossy(&recorded.0.lock().unwrap()).into_owned();
    let started: Vec<&str> = log.lines().filter(|l| l.contains("transaction started")).collect();
    assert_eq!(started.len(), 1, "{log}");
    assert!(started[0].contains(r#"request_id="ticket-4711""#), "{}", started[0]);
}

#[tokio::test]
async fn json_lines_carry_the_request_id_and_levels_are_set_per_module() {
    let dir = tempfile::tempdir().unwrap();
    let settings = [("TRUSTID_LOG_FORMAT", "json"), ("TRUSTID_LOG", "info,tower_http=debug")];
    let server = crate::shutdown::Server::start_with(dir.path(), &settings).await;
    let res = reqwest::Client::new()
        .get(server.url("/.well-known/openid-configuration"))
        .header("X-Request-Id", "json-4711")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    server.signal("-TERM");
    let (code, stderr) = server.exited(std::time::Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(!lines.is_empty(), "{stderr}");
    let of_request: Vec<_> = lines
        .iter()
        .filter(|line| line["span"]["request_id"] == "json-4711")
        .collect();
    assert!(
        of_request
            .iter()
            .any(|line| line["level"] == "DEBUG" && line["target"] == "tower_http::trace::on_response"),
        "tower_http's debug lines are on: {stderr}"
    );
    for line in &lines {
        let target = line["target"].as_str().unwrap_or_default();
        assert!(
            line["level"] != "DEBUG" || target.starts_with("tower_http"),
            "only tower_http at debug: {line}"
        );
    }
}
