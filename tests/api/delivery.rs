//! Ping and push delivery (CIBA §10.2, §10.3, §12) to real HTTP servers on
//! 127.0.0.1, including every way a notification endpoint can answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::receiver::{Receiver, Reply};
use common::*;
use serde_json::{Value, json};
use trustid::crypto::id_token::token_hash;
use trustid::domain::client::{ClientMetadata, DeliveryMode, SigningAlg};
use trustid::engine::admin::ClientCredentials;

const NOTIFICATION_TOKEN: &str = "8d67dc78-7faa-4d41-aabd-67707b374255.rp-chosen_token~+/==";

async fn notified_client(app: &TestApp, mode: DeliveryMode, endpoint: &Receiver) -> ClientCredentials {
    let mut metadata = ClientMetadata::poll("Notified Bank");
    metadata.backchannel_token_delivery_mode = mode;
    metadata.backchannel_client_notification_endpoint = Some(endpoint.url("/cb"));
    app.register(metadata).await
}

async fn start(app: &TestApp, client: &ClientCredentials, scope: &str) -> Answer {
    let ack = app
        .backchannel(
            client,
            &[
                ("scope", scope),
                ("login_hint", "alice"),
                ("binding_message", "Pay 10 EUR"),
                ("client_notification_token", NOTIFICATION_TOKEN),
            ],
        )
        .await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    ack
}

/// Nothing more arrives: wait a while (real time and clock), then count.
async fn settle(app: &TestApp) {
    for _ in 0..6 {
        app.clock.advance_secs(5);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_ping_client_is_pinged_once_with_only_the_auth_req_id() {
    let app = spawn_app().await;
    let endpoint = Receiver::start(vec![]).await;
    let client = notified_client(&app, DeliveryMode::Ping, &endpoint).await;
    let device = app.user_with_device("alice").await;
    let ack = start(&app, &client, "openid").await;
    assert_eq!(
        ack.body["interval"], 5,
        "ping clients may poll, so they get an interval"
    );
    let auth_req_id = ack.body["auth_req_id"].as_str().unwrap();
    app.poll(&client, auth_req_id)
        .await
        .assert_oauth_error(400, "authorization_pending", "T12 poll before the ping");

    assert_eq!(device.decide(&app, "approve").await.status, 200);
    let got = endpoint.wait_for(1).await;
    assert_eq!(got[0].path, "/cb");
    assert_eq!(
        got[0].body,
        json!({"auth_req_id": auth_req_id}),
        "exactly the auth_req_id"
    );
    assert_eq!(
        got[0].header("authorization"),
        Some(format!("Bearer {NOTIFICATION_TOKEN}").as_str())
    );
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    settle(&app).await;
    assert_eq!(endpoint.received().len(), 1, "sent once");
    let tokens = app.poll(&client, auth_req_id).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
}

#[tokio::test]
async fn a_denial_is_pinged_too_and_the_poll_says_access_denied() {
    let app = spawn_app().await;
    let endpoint = Receiver::start(vec![]).await;
    let client = notified_client(&app, DeliveryMode::Ping, &endpoint).await;
    let device = app.user_with_device("alice").await;
    let ack = start(&app, &client, "openid").await;
    let auth_req_id = ack.body["auth_req_id"].as_str().unwrap();
    device.decide(&app, "deny").await;
    assert_eq!(endpoint.wait_for(1).await[0].body, json!({"auth_req_id": auth_req_id}));
    app.poll(&client, auth_req_id)
        .await
        .assert_oauth_error(400, "access_denied", "after a pinged denial");
}

#[tokio::test]
async fn a_poll_client_is_never_notified() {
    let app = spawn_app().await;
    let endpoint = Receiver::start(vec![]).await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    app.start(&client, "alice", "Log in").await;
    device.decide(&app, "approve").await;
    settle(&app).await;
    assert!(endpoint.received().is_empty());
}

#[tokio::test]
async fn a_push_client_receives_tokens_bound_to_the_request() {
    let app = spawn_app().await;
    let endpoint = Receiver::start(vec![]).await;
    let client = notified_client(&app, DeliveryMode::Push, &endpoint).await;
    let device = app.user_with_device("alice").await;
    let ack = start(&app, &client, "openid offline_access").await;
    assert!(ack.body.get("interval").is_none(), "CIBA §7.3: no interval for push");
    let auth_req_id = ack.body["auth_req_id"].as_str().unwrap();
    app.poll(&client, auth_req_id)
        .await
        .assert_oauth_error(400, "unauthorized_client", "T4 push clients do not poll");

    device.decide(&app, "approve").await;
    let got = endpoint.wait_for(1).await;
    let body = &got[0].body;
    assert_eq!(
        got[0].header("authorization"),
        Some(format!("Bearer {NOTIFICATION_TOKEN}").as_str())
    );
    assert_eq!(body["auth_req_id"], Value::from(auth_req_id));
    assert_eq!(body["token_type"], "Bearer");
    let access_token = body["access_token"].as_str().unwrap();
    let refresh_token = body["refresh_token"].as_str().unwrap();
    let claims = jwt_payload(body["id_token"].as_str().unwrap());
    assert_eq!(
        claims["at_hash"],
        Value::from(token_hash(access_token)),
        "at_hash recomputed"
    );
    assert_eq!(
        claims["urn:openid:params:jwt:claim:rt_hash"],
        Value::from(token_hash(refresh_token))
    );
    assert_eq!(
        claims["urn:openid:params:jwt:claim:auth_req_id"],
        Value::from(auth_req_id)
    );
    assert_eq!(claims["trustid.deviceid"], Value::from(device.id()));
    assert_eq!(claims["trust.authentication_status"], "approved");

    let userinfo = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status().as_u16(), 200, "the pushed access token works");
    let again = app.poll(&client, auth_req_id).await;
    again.assert_oauth_error(400, "unauthorized_client", "still not by polling");
}

#[tokio::test]
async fn a_push_denial_carries_the_error_and_the_auth_req_id() {
    let app = spawn_app().await;
    let endpoint = Receiver::start(vec![]).await;
    let client = notified_client(&app, DeliveryMode::Push, &endpoint).await;
    let device = app.user_with_device("alice").await;
    let ack = start(&app, &client, "openid").await;
    device.decide(&app, "deny").await;
    let body = &endpoint.wait_for(1).await[0].body;
    assert_eq!(body["error"], "access_denied");
    assert_eq!(body["auth_req_id"], ack.body["auth_req_id"]);
    assert!(body.get("access_token").is_none());
}

/// Approves one ping request against an endpoint that answers `script`.
async fn ping_against(
    script: Vec<Reply>,
    adjust: fn(&mut trustid::config::Settings),
) -> (TestApp, Receiver, ClientCredentials, String) {
    let app = spawn_app_with(adjust).await;
    let endpoint = Receiver::start(script).await;
    let client = notified_client(&app, DeliveryMode::Ping, &endpoint).await;
    let device = app.user_with_device("alice").await;
    let ack = start(&app, &client, "openid").await;
    device.decide(&app, "approve").await;
    (
        app,
        endpoint,
        client,
        ack.body["auth_req_id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_200_with_a_body_counts_as_delivered() {
    let reply = Reply {
        body: "{\"thanks\":true}",
        ..Reply::status(200)
    };
    let (app, endpoint, client, auth_req_id) = ping_against(vec![reply], |_| {}).await;
    endpoint.wait_for(1).await;
    settle(&app).await;
    assert_eq!(endpoint.received().len(), 1);
    assert_eq!(app.poll(&client, &auth_req_id).await.status, 200);
}

#[tokio::test]
async fn after_a_401_or_403_the_endpoint_is_never_called_again() {
    for status in [401, 403] {
        let (app, endpoint, client, auth_req_id) = ping_against(vec![Reply::status(status)], |_| {}).await;
        endpoint.wait_for(1).await;
        settle(&app).await;
        assert_eq!(endpoint.received().len(), 1, "no retry after {status}");
        assert_eq!(
            app.poll(&client, &auth_req_id).await.status,
            200,
            "the flow still completes after {status}"
        );
    }
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let elsewhere = Receiver::start(vec![]).await;
    let redirect = Reply {
        location: Some(elsewhere.url("/stolen")),
        ..Reply::status(301)
    };
    let (app, endpoint, _, _) = ping_against(vec![redirect], |_| {}).await;
    endpoint.wait_for(1).await;
    settle(&app).await;
    assert_eq!(endpoint.received().len(), 1, "not retried");
    assert!(elsewhere.received().is_empty(), "Location not followed");
}

/// Registered under a looser rule (dev mode here), delivered outside it: the
/// endpoint, an internal address, is refused when the ping is due, never
/// called and not retried; the flow still completes by polling.
#[tokio::test]
async fn an_internal_endpoint_is_refused_at_call_time_and_never_called() {
    let (app, endpoint, client, auth_req_id) = ping_against(vec![], |s| s.dev = false).await;
    settle(&app).await;
    assert!(endpoint.received().is_empty(), "never called");
    assert!(
        app.metrics()
            .await
            .contains("trustid_deliveries_total{outcome=\"failed\"} 1")
    );
    assert_eq!(app.poll(&client, &auth_req_id).await.status, 200);
}

#[tokio::test]
async fn a_500_is_retried_until_it_succeeds() {
    let (app, endpoint, _, auth_req_id) = ping_against(vec![Reply::status(500), Reply::status(503)], |_| {}).await;
    endpoint.wait_for(1).await;
    settle(&app).await;
    let got = endpoint.wait_for(3).await;
    assert!(
        got.iter().all(|r| r.body == json!({"auth_req_id": auth_req_id})),
        "the same ping each time"
    );
    settle(&app).await;
    assert_eq!(endpoint.received().len(), 3, "done after the first 2xx");
}

#[tokio::test]
async fn a_slow_endpoint_times_out_and_is_retried() {
    let slow = Reply {
        delay: Duration::from_secs(3),
        ..Reply::status(204)
    };
    let (app, endpoint, _, _) = ping_against(vec![slow], |s| s.delivery_timeout = 1).await;
    endpoint.wait_for(1).await;
    settle(&app).await;
    endpoint.wait_for(2).await;
}

#[tokio::test]
async fn retries_stop_when_the_request_expires() {
    let failing: Vec<Reply> = (0..50).map(|_| Reply::status(500)).collect();
    let (app, endpoint, _, _) = ping_against(failing, |_| {}).await;
    endpoint.wait_for(1).await;
    app.clock.advance_secs(301);
    settle(&app).await;
    let count = endpoint.received().len();
    settle(&app).await;
    assert_eq!(endpoint.received().len(), count, "given up after expiry");
}

#[tokio::test]
async fn a_restart_between_decision_and_delivery_still_delivers() {
    let app = spawn_app_without_worker(|_| {}).await;
    let endpoint = Receiver::start(vec![]).await;
    let client = notified_client(&app, DeliveryMode::Ping, &endpoint).await;
    let device = app.user_with_device("alice").await;
    let ack = start(&app, &client, "openid").await;
    device.decide(&app, "approve").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(endpoint.received().is_empty(), "the first process died before sending");
    let _restarted = app.second_instance().await;
    let got = endpoint.wait_for(1).await;
    assert_eq!(got[0].body["auth_req_id"], ack.body["auth_req_id"]);
}

#[tokio::test]
async fn two_workers_send_each_notification_once() {
    let app = spawn_app().await;
    let _second = app.second_instance().await;
    let _third = app.second_instance().await;
    let endpoint = Receiver::start(vec![]).await;
    let client = notified_client(&app, DeliveryMode::Ping, &endpoint).await;
    let device = app.user_with_device("alice").await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(start(&app, &client, "openid").await.body["auth_req_id"].clone());
    }
    let inbox = device.inbox(&app).await;
    for item in inbox.body["transactions"].as_array().unwrap() {
        let jws = device.decision_jws(item, "approve", &app);
        device
            .send_decision(&app, item["transaction_id"].as_str().unwrap(), &jws)
            .await;
    }
    endpoint.wait_for(5).await;
    settle(&app).await;
    let got = endpoint.received();
    assert_eq!(got.len(), 5, "one ping per decision across three workers");
    for id in ids {
        assert_eq!(got.iter().filter(|r| r.body["auth_req_id"] == id).count(), 1);
    }
}

#[tokio::test]
async fn notified_clients_must_send_a_valid_notification_token() {
    let app = spawn_app().await;
    let endpoint = Receiver::start(vec![]).await;
    let client = notified_client(&app, DeliveryMode::Ping, &endpoint).await;
    app.user_with_device("alice").await;
    let long = "a".repeat(1025);
    let longest = "a".repeat(1024);
    let cases: Vec<(Option<&str>, u16, &str)> = vec![
        (None, 400, "B11 missing"),
        (Some(long.as_str()), 400, "B11 longer than 1024"),
        (Some("has space"), 400, "B11 not b64token"),
        (Some(longest.as_str()), 200, "B11 1024 characters are accepted"),
    ];
    for (token, status, why) in cases {
        let mut form = vec![("scope", "openid"), ("login_hint", "alice")];
        if let Some(t) = token {
            form.push(("client_notification_token", t));
        }
        let answer = app.backchannel(&client, &form).await;
        assert_eq!(answer.status, status, "{why}: {}", answer.body);
        if status == 400 {
            answer.assert_oauth_error(400, "invalid_request", why);
        }
    }
}

#[tokio::test]
async fn a_push_client_is_told_when_a_request_expires_undecided() {
    let app = spawn_app().await;
    let endpoint = Receiver::start(vec![]).await;
    let client = notified_client(&app, DeliveryMode::Push, &endpoint).await;
    app.user_with_device("alice").await;
    let ack = start(&app, &client, "openid").await;
    settle(&app).await;
    assert!(endpoint.received().is_empty(), "nothing before expiry");
    app.clock.advance_secs(301);
    let got = endpoint.wait_for(1).await;
    assert_eq!(got[0].body["error"], "expired_token");
    assert_eq!(got[0].body["auth_req_id"], ack.body["auth_req_id"]);
    assert_eq!(
        got[0].header("authorization"),
        Some(format!("Bearer {NOTIFICATION_TOKEN}").as_str())
    );
    settle(&app).await;
    assert_eq!(endpoint.received().len(), 1, "told once");
}

#[tokio::test]
async fn a_ping_client_is_not_pinged_for_an_expired_request() {
    let app = spawn_app().await;
    let endpoint = Receiver::start(vec![]).await;
    let client = notified_client(&app, DeliveryMode::Ping, &endpoint).await;
    app.user_with_device("alice").await;
    let ack = start(&app, &client, "openid").await;
    app.clock.advance_secs(301);
    settle(&app).await;
    assert!(endpoint.received().is_empty());
    app.poll(&client, ack.body["auth_req_id"].as_str().unwrap())
        .await
        .assert_oauth_error(400, "expired_token", "the poll still says so");
}
