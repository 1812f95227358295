//! Request ids: the client's `X-Request-Id` (or a new one) comes back in the
//! answer and is on every log line of the request, the transaction's state
//! changes included, in either log format. The log lines are read from a
//! `trustid serve` process: a thread-local subscriber in this test binary
//! once missed the request span under the full suite's load.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use trustid::domain::client::SigningAlg;

use crate::cli::{json_of, trustid};
use crate::common::*;

#[tokio::test]
async fn the_request_id_comes_back_or_a_new_one_is_made() {
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
}

/// `trustid serve` with `settings`, one backchannel request with
/// `X-Request-Id: <id>` for alice (set up as the README's quick start does),
/// then SIGTERM: the server's stderr and the client.
async fn one_request_logged(id: &str, settings: &[(&str, &str)]) -> (String, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::shutdown::Server::start_with(dir.path(), settings).await;
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let env = [("TRUSTID_DATABASE_URL", db.as_str()), ("TRUSTID_DEV", "true")];
    let client = json_of(&trustid(
        dir.path(),
        &["clients", "add", "--name", "Bank", "--json"],
        &env,
    ));
    let added = trustid(dir.path(), &["users", "add", "--id", "alice", "--app", "bank"], &env);
    assert!(added.status.success());
    let base = server.url("");
    let device = json_of(&trustid(
        dir.path(),
        &["device", "register", "--server", &base, "--json"],
        &[],
    ));
    let device_id = device["device_id"].as_str().unwrap();
    let bound = trustid(
        dir.path(),
        &["devices", "bind", "--device", device_id, "--user", "alice"],
        &env,
    );
    assert!(bound.status.success(), "{}", String::from_utf8_lossy(&bound.stderr));

    let message = r#"{"action_context":"authentication","appId":"bank","bindingMessage":"Log in"}"#;
    let res = reqwest::Client::new()
        .post(server.url("/bc-authorize"))
        .basic_auth(client["client_id"].as_str().unwrap(), client["client_secret"].as_str())
        .header("X-Request-Id", id)
        .form(&[
            ("scope", "openid"),
            ("login_hint", "alice"),
            ("binding_message", message),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], id);
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    server.signal("-TERM");
    let (code, stderr) = server.exited(std::time::Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains(client["client_secret"].as_str().unwrap()));
    (stderr, client)
}

#[tokio::test]
async fn the_transactions_line_carries_the_request_id() {
    let (stderr, _) = one_request_logged("ticket-4711", &[("TRUSTID_LOG", "info")]).await;
    let started: Vec<&str> = stderr.lines().filter(|l| l.contains("transaction started")).collect();
    assert_eq!(started.len(), 1, "{stderr}");
    assert!(started[0].contains(r#"request_id="ticket-4711""#), "{}", started[0]);
}

#[tokio::test]
async fn every_line_of_a_request_carries_its_id_as_json_and_levels_are_set_per_module() {
    let settings = [("TRUSTID_LOG_FORMAT", "json"), ("TRUSTID_LOG", "info,tower_http=debug")];
    let (stderr, client) = one_request_logged("json-4711", &settings).await;
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let started: Vec<_> = lines.iter().filter(|l| l["message"] == "transaction started").collect();
    assert_eq!(started.len(), 1, "{stderr}");
    assert_eq!(started[0]["span"]["request_id"], "json-4711", "{}", started[0]);
    assert!(started[0]["transaction_id"].is_string() && started[0]["client_id"] == client["client_id"]);
    let of_request: Vec<_> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == "json-4711")
        .collect();
    assert!(
        of_request
            .iter()
            .any(|l| l["level"] == "DEBUG" && l["target"] == "tower_http::trace::on_response"),
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
