//! Adaptive rules (issue 22): a client's rules managed over the management
//! API, and each outcome of a tracked action (seed 002): ALLOW, a
//! CHALLENGE_REQUIRED that reaches the user's device and is validated
//! once, BLOCK; velocity on the test clock; BLOCK at `/bc-authorize`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use crate::common::{Answer, TestApp, spawn_app};
use crate::lifecycle::call;
use trustid::domain::client::ClientMetadata;

async fn manager(app: &TestApp) -> (trustid::engine::admin::ClientCredentials, String) {
    app.manager(ClientMetadata::poll("Bank with rules")).await
}

async fn add_rule(app: &TestApp, token: &str, rule: Value) -> Answer {
    call(app, token, "POST", "/manage/v1/rules", Some(rule)).await
}

async fn track(app: &TestApp, token: &str, body: Value) -> Answer {
    call(app, token, "POST", "/manage/v1/actions", Some(body)).await
}

async fn validate(app: &TestApp, token: &str, action_token: &str) -> Answer {
    call(
        app,
        token,
        "POST",
        "/manage/v1/actions/validate",
        Some(json!({"token": action_token})),
    )
    .await
}

fn assert_error(answer: &Answer, status: u16, error: &str) {
    assert_eq!((answer.status, answer.error()), (status, error), "{}", answer.body);
    assert!(answer.body["message"].is_string());
}

#[tokio::test]
async fn rules_are_listed_in_order_changed_and_removed_by_their_client_only() {
    let app = spawn_app().await;
    let (client, token) = manager(&app).await;
    let (_, other) = app.manager(ClientMetadata::poll("Another bank")).await;
    let first = add_rule(
        &app,
        &token,
        json!({"name": "block nights", "outcome": "BLOCK",
        "conditions": [{"type": "time_of_day", "from": "01:00", "to": "05:00"}]}),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(
        (first.body["position"].as_i64(), first.body["applies_to"].clone()),
        (Some(10), json!(["action"]))
    );
    let second = add_rule(
        &app,
        &token,
        json!({"name": "challenge payments", "outcome": "CHALLENGE_REQUIRED",
        "conditions": [{"type": "action", "any_of": ["payment"]}], "applies_to": ["action", "backchannel"]}),
    )
    .await;
    assert_eq!(second.body["position"], 20);
    let id = second.body["id"].as_str().unwrap();

    let moved = call(
        &app,
        &token,
        "PUT",
        &format!("/manage/v1/rules/{id}"),
        Some(json!({"name": "challenge payments", "outcome": "CHALLENGE_REQUIRED", "position": 5})),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let listed = call(&app, &token, "GET", "/manage/v1/rules", None).await;
    let names: Vec<&str> = listed.body["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["challenge payments", "block nights"], "position 5 first");

    let theirs = call(&app, &other, "GET", "/manage/v1/rules", None).await;
    assert_eq!(theirs.body["rules"], json!([]), "another client sees none");
    let path = format!("/manage/v1/rules/{id}");
    assert_error(&call(&app, &other, "DELETE", &path, None).await, 404, "not_found");
    assert_eq!(call(&app, &token, "DELETE", &path, None).await.status, 204);
    assert_error(&call(&app, &token, "DELETE", &path, None).await, 404, "not_found");

    for bad in [
        json!({"name": "", "outcome": "BLOCK"}),
        json!({"name": "x", "outcome": "MAYBE"}),
        json!({"name": "x", "outcome": "BLOCK", "conditions": [{"type": "astrology"}]}),
        json!({"name": "x", "outcome": "BLOCK", "position": -1}),
        json!({"name": "x", "outcome": "BLOCK", "conditions": [{"type": "velocity", "per": "user", "window": 0, "op": "gt", "value": 1}]}),
        json!(["not an object"]),
    ] {
        assert_error(&add_rule(&app, &token, bad).await, 400, "invalid_request");
    }
    let audit = app
        .store()
        .audit_of(&format!("client:{}", client.client_id))
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().map(|(_, _, action)| action.as_str()).collect();
    for change in ["risk_rule.added", "risk_rule.updated", "risk_rule.removed"] {
        assert!(actions.contains(&change), "{change} in {actions:?}");
    }
}

#[tokio::test]
async fn an_allowed_action_validates_once_and_only_for_its_client() {
    let app = spawn_app().await;
    let (_, token) = manager(&app).await;
    let (_, other) = app.manager(ClientMetadata::poll("Another bank")).await;
    app.user("alice", &[]).await;
    let tracked = track(&app, &token, json!({"user_id": "alice", "action": "signIn"})).await;
    assert_eq!(tracked.status, 200, "{}", tracked.body);
    assert_eq!(
        (tracked.body["state"].as_str(), tracked.body["rule"].clone()),
        (Some("ALLOW"), Value::Null)
    );
    let action_token = tracked.body["token"].as_str().unwrap();

    assert_error(&validate(&app, &other, action_token).await, 404, "unknown_token");
    let mismatch = call(
        &app,
        &token,
        "POST",
        "/manage/v1/actions/validate",
        Some(json!({"token": action_token, "action": "payment"})),
    )
    .await;
    assert_error(&mismatch, 400, "action_mismatch");
    let valid = validate(&app, &token, action_token).await;
    assert_eq!(valid.status, 200, "{}", valid.body);
    assert_eq!(valid.body["state"], "ALLOW");
    assert_eq!(valid.body["verified"], false);
    assert_eq!(
        (valid.body["user_id"].as_str(), valid.body["action"].as_str()),
        (Some("alice"), Some("signIn"))
    );
    assert_error(&validate(&app, &token, action_token).await, 409, "already_validated");
}

#[tokio::test]
async fn a_challenge_reaches_the_device_and_validates_with_its_decision() {
    let app = spawn_app().await;
    let (_, token) = manager(&app).await;
    add_rule(
        &app,
        &token,
        json!({"name": "big payments", "outcome": "CHALLENGE_REQUIRED",
        "conditions": [{"type": "custom_data", "field": "amount", "op": "gt", "value": 1000}]}),
    )
    .await;
    let device = app.user_with_device("bob").await;
    let body = json!({"user_id": "bob", "action": "payment", "custom_data": {"amount": 1500},
        "display_text": "Pay 1,500 EUR to ACME"});
    let tracked = track(&app, &token, body.clone()).await;
    assert_eq!(
        (tracked.status, tracked.body["state"].as_str()),
        (200, Some("CHALLENGE_REQUIRED")),
        "{}",
        tracked.body
    );
    assert_eq!(tracked.body["rule"], "big payments");
    let action_token = tracked.body["token"].as_str().unwrap();
    assert_error(&validate(&app, &token, action_token).await, 409, "challenge_pending");

    let item = device.only_item(&app).await;
    assert_eq!(item["binding_message"], "Pay 1,500 EUR to ACME", "{item}");
    assert_eq!(item["transaction_id"], tracked.body["transaction_id"]);
    assert_eq!(device.decide(&app, "approve").await.status, 200);
    let valid = validate(&app, &token, action_token).await;
    assert_eq!(
        valid.status, 200,
        "the pending answer did not use the token up: {}",
        valid.body
    );
    assert_eq!(
        (valid.body["state"].as_str(), valid.body["verified"].as_bool()),
        (Some("CHALLENGE_SUCCEEDED"), Some(true))
    );
    assert_eq!(valid.body["device_id"], device.id());
    assert!(valid.body["decided_at"].is_i64());

    let small = track(
        &app,
        &token,
        json!({"user_id": "bob", "action": "payment", "custom_data": {"amount": 10}}),
    )
    .await;
    assert_eq!(small.body["state"], "ALLOW", "no rule holds");
    let denied = track(&app, &token, body).await;
    device.decide(&app, "deny").await;
    let failed = validate(&app, &token, denied.body["token"].as_str().unwrap()).await;
    assert_eq!(
        (failed.body["state"].as_str(), failed.body["verified"].as_bool()),
        (Some("CHALLENGE_FAILED"), Some(false))
    );
}

#[tokio::test]
async fn a_block_gives_no_token_and_names_its_rule_only_in_the_audit_trail() {
    let app = spawn_app().await;
    let (_, token) = manager(&app).await;
    add_rule(
        &app,
        &token,
        json!({"name": "fresh addresses", "outcome": "BLOCK",
        "conditions": [{"type": "new_address"}, {"type": "action", "any_of": ["addAuthenticator"]}]}),
    )
    .await;
    app.user("carol", &[]).await;
    let from = |ip: &str| json!({"user_id": "carol", "action": "addAuthenticator", "client_ip": ip});
    let signed_in = track(
        &app,
        &token,
        json!({"user_id": "carol", "action": "signIn", "client_ip": "192.0.2.1"}),
    )
    .await;
    assert_eq!(signed_in.body["state"], "ALLOW");
    assert_eq!(
        track(&app, &token, from("192.0.2.1")).await.body["state"],
        "ALLOW",
        "a known address"
    );
    let blocked = track(&app, &token, from("198.51.100.9")).await;
    assert_eq!(
        (blocked.body["state"].as_str(), blocked.body["token"].clone()),
        (Some("BLOCK"), Value::Null)
    );
    let again = track(&app, &token, from("198.51.100.9")).await;
    assert_eq!(
        again.body["state"], "BLOCK",
        "a refused try does not make the address known"
    );
    let audit = app.store().audit_of("user:carol").await.unwrap();
    assert!(audit.iter().any(|(_, _, action)| action == "risk.blocked"), "{audit:?}");
}

#[tokio::test]
async fn velocity_counts_on_the_clock_and_blocks_the_backchannel_without_naming_the_rule() {
    let app = spawn_app().await;
    let (client, token) = manager(&app).await;
    add_rule(
        &app,
        &token,
        json!({"name": "secret velocity rule", "outcome": "BLOCK", "applies_to": ["backchannel"],
        "conditions": [{"type": "velocity", "per": "user", "window": 60, "op": "ge", "value": 2}]}),
    )
    .await;
    let device = app.user_with_device("dan").await;
    for _ in 0..2 {
        let ack = app
            .backchannel(&client, &[("scope", "openid"), ("login_hint", "dan")])
            .await;
        assert_eq!(ack.status, 200, "{}", ack.body);
    }
    let refused = app
        .backchannel(&client, &[("scope", "openid"), ("login_hint", "dan")])
        .await;
    refused.assert_oauth_error(403, "access_denied", "the third within a minute");
    assert!(!refused.body.to_string().contains("secret velocity rule"));
    let inbox = device.inbox(&app).await;
    assert_eq!(
        inbox.body["transactions"].as_array().unwrap().len(),
        2,
        "the blocked one reached no phone"
    );
    app.clock.advance_secs(61);
    let later = app
        .backchannel(&client, &[("scope", "openid"), ("login_hint", "dan")])
        .await;
    assert_eq!(later.status, 200, "{}", later.body);
    let audit = app.store().audit_of("user:dan").await.unwrap();
    assert!(
        audit
            .iter()
            .any(|(_, actor, action)| action == "risk.blocked" && actor.starts_with("client:")),
        "{audit:?}"
    );
}

#[tokio::test]
async fn bad_actions_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (_, token) = manager(&app).await;
    add_rule(
        &app,
        &token,
        json!({"name": "always", "outcome": "CHALLENGE_REQUIRED",
        "conditions": [{"type": "action", "any_of": ["payment"]}]}),
    )
    .await;
    // Counts every evaluation recorded for erin: none of the refusals below may be.
    let seen = json!({"name": "seen before", "outcome": "BLOCK",
        "conditions": [{"type": "velocity", "per": "user", "window": 600, "op": "ge", "value": 1}]});
    add_rule(&app, &token, seen).await;
    app.user("erin", &[]).await;
    let cases = [
        (
            json!({"user_id": "erin", "action": "has space"}),
            400,
            "invalid_request",
        ),
        (
            json!({"user_id": "erin", "action": "x", "custom_data": [1]}),
            400,
            "invalid_request",
        ),
        (
            json!({"user_id": "erin", "action": "x", "client_ip": "not-an-ip"}),
            400,
            "invalid_request",
        ),
        (
            json!({"user_id": "erin", "action": "x", "extra": 1}),
            400,
            "invalid_request",
        ),
        (json!({"user_id": "nobody", "action": "x"}), 404, "not_found"),
        (json!({"user_id": "erin", "action": "payment"}), 409, "no_active_device"),
    ];
    for (body, status, error) in cases {
        assert_error(&track(&app, &token, body).await, status, error);
    }
    assert_error(&validate(&app, &token, "made-up").await, 404, "unknown_token");
    let first = track(&app, &token, json!({"user_id": "erin", "action": "signIn"})).await;
    assert_eq!(
        first.body["state"], "ALLOW",
        "nothing was recorded before: {}",
        first.body
    );
}

#[tokio::test]
async fn the_console_shows_which_rule_challenged_a_transaction() {
    let app = crate::console::app_with_admin().await;
    let cookie = crate::console::sign_in(&app).await;
    let (_, token) = manager(&app).await;
    add_rule(
        &app,
        &token,
        json!({"name": "big payments", "outcome": "CHALLENGE_REQUIRED",
        "conditions": [{"type": "custom_data", "field": "amount", "op": "gt", "value": 1000}]}),
    )
    .await;
    app.user_with_device("fred").await;
    let tracked = track(
        &app,
        &token,
        json!({"user_id": "fred", "action": "payment", "custom_data": {"amount": 5000}}),
    )
    .await;
    let id = tracked.body["transaction_id"].as_str().unwrap();
    let res = crate::console::get(&app, &format!("/admin/transactions/{id}"), Some(&cookie)).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("action `payment`: CHALLENGE_REQUIRED (rule “big payments”)"),
        "{html}"
    );
}
