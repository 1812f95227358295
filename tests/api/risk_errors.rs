//! The refusals of issue 22's endpoints that the feature tests do not
//! reach: each answers its documented error and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use crate::common::receiver::{Receiver, Reply};
use crate::common::{Answer, spawn_app};
use crate::executive::{BARCODE, hash_for, register_document};
use crate::lifecycle::call;
use trustid::domain::client::ClientMetadata;
use trustid::store::clients::ClientRemoval;

fn assert_error(answer: &Answer, status: u16, error: &str) {
    assert_eq!((answer.status, answer.error()), (status, error), "{}", answer.body);
}

#[tokio::test]
async fn actions_of_a_locked_user_or_with_unshowable_text_are_refused() {
    let app = spawn_app().await;
    let (_, token) = app.manager(ClientMetadata::poll("Bank")).await;
    call(
        &app,
        &token,
        "POST",
        "/manage/v1/rules",
        Some(json!({"name": "all", "outcome": "CHALLENGE_REQUIRED"})),
    )
    .await;
    app.user_with_device("gina").await;
    let track = |body| call(&app, &token, "POST", "/manage/v1/actions", Some(body));
    let bad_text = track(json!({"user_id": "gina", "action": "x", "display_text": "x".repeat(2000)})).await;
    assert_error(&bad_text, 400, "invalid_request");
    assert_eq!(
        call(&app, &token, "POST", "/manage/v1/users/gina/lock", None)
            .await
            .status,
        200
    );
    assert_error(
        &track(json!({"user_id": "gina", "action": "x"})).await,
        403,
        "user_locked",
    );
}

#[tokio::test]
async fn a_challenge_left_undecided_expires_and_an_old_token_is_refused() {
    let app = spawn_app().await;
    let (_, token) = app.manager(ClientMetadata::poll("Bank")).await;
    call(
        &app,
        &token,
        "POST",
        "/manage/v1/rules",
        Some(json!({"name": "all", "outcome": "CHALLENGE_REQUIRED"})),
    )
    .await;
    app.user_with_device("hal").await;
    let tracked = call(
        &app,
        &token,
        "POST",
        "/manage/v1/actions",
        Some(json!({"user_id": "hal", "action": "x"})),
    )
    .await;
    let validate = |t: &str| {
        call(
            &app,
            &token,
            "POST",
            "/manage/v1/actions/validate",
            Some(json!({"token": t})),
        )
    };
    app.clock.advance_secs(app.settings.request_expiry + 1);
    let expired = validate(tracked.body["token"].as_str().unwrap()).await;
    assert_eq!(
        (expired.body["state"].as_str(), expired.body["verified"].as_bool()),
        (Some("CHALLENGE_EXPIRED"), Some(false)),
        "{}",
        expired.body
    );
    let (_, token) = app.manager(ClientMetadata::poll("Bank again")).await;
    let allowed = call(
        &app,
        &token,
        "POST",
        "/manage/v1/actions",
        Some(json!({"user_id": "hal", "action": "x"})),
    )
    .await;
    app.clock.advance_secs(app.settings.max_request_expiry + 1);
    let late = call(
        &app,
        &token,
        "POST",
        "/manage/v1/actions/validate",
        Some(json!({"token": allowed.body["token"]})),
    )
    .await;
    assert_error(&late, 400, "expired_token");
}

#[tokio::test]
async fn rules_beyond_fifty_and_unknown_rules_are_refused() {
    let app = spawn_app().await;
    let (_, token) = app.manager(ClientMetadata::poll("Bank")).await;
    let rule = json!({"name": "r", "outcome": "ALLOW"});
    for _ in 0..50 {
        assert_eq!(
            call(&app, &token, "POST", "/manage/v1/rules", Some(rule.clone()))
                .await
                .status,
            201
        );
    }
    assert_error(
        &call(&app, &token, "POST", "/manage/v1/rules", Some(rule.clone())).await,
        409,
        "too_many_rules",
    );
    assert_error(
        &call(&app, &token, "PUT", "/manage/v1/rules/nope", Some(rule)).await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn a_registration_challenged_by_a_rule_is_refused_as_no_device_can_answer() {
    let app = spawn_app().await;
    let (_, token) = app.manager(ClientMetadata::poll("Bank")).await;
    let rule = json!({"name": "check everyone", "outcome": "CHALLENGE_REQUIRED", "applies_to": ["registration"]});
    call(&app, &token, "POST", "/manage/v1/rules", Some(rule)).await;
    let body = json!({"objectType": "AdaptiveRegisterUserInput", "userID": "ivy"});
    let refused = call(&app, &token, "POST", "/manage/v1/users/register", Some(body)).await;
    assert_error(&refused, 403, "registration_refused");
    assert!(app.store().user("ivy").await.unwrap().is_none());
}

#[tokio::test]
async fn documents_are_not_replaced_by_a_device_a_failing_verifier_leaves_them_unverified() {
    let app = spawn_app().await;
    let no_verdict = Reply {
        body: r#"{"status": "maybe"}"#,
        ..Reply::status(200)
    };
    let service = Receiver::start(vec![Reply::status(503), no_verdict]).await;
    let (verifier, token) = app
        .manager(ClientMetadata {
            identity_verification_uri: Some(service.url("/verify")),
            ..ClientMetadata::poll("Verifying bank")
        })
        .await;
    let device = app.user_with_device("jay").await;
    let hash = hash_for(&app, &device, BARCODE).await;
    let huge = json!({"type": "driver_license", "hash": hash, "parsed_fields": {"DAQ": "x".repeat(9000)}});
    assert_error(&register_document(&app, &device, huge).await, 400, "invalid_request");
    let body = json!({"type": "driver_license", "hash": hash, "parsed_fields": {"DAQ": "D1"},
        "client_id": verifier.client_id});
    let first = register_document(&app, &device, body).await;
    assert_eq!(
        (first.status, first.body["status"].as_str()),
        (201, Some("unverified")),
        "{}",
        first.body
    );
    assert_eq!(first.body["verified_by"], serde_json::Value::Null);
    assert_eq!(service.wait_for(1).await.len(), 1, "the service was asked once");

    let other = hash_for(&app, &device, b"someone else's licence").await;
    let swap = json!({"type": "driver_license", "hash": other, "parsed_fields": {"DAQ": "D2"},
        "client_id": verifier.client_id});
    assert_error(
        &register_document(&app, &device, swap.clone()).await,
        409,
        "document_exists",
    );
    let path = "/manage/v1/users/jay/identity-documents";
    let removed = call(&app, &token, "DELETE", path, None).await;
    assert_eq!(
        (removed.status, removed.body["removed"].as_i64()),
        (200, Some(1)),
        "{}",
        removed.body
    );
    let replaced = register_document(&app, &device, swap).await;
    assert_eq!(replaced.status, 201, "after the reset: {}", replaced.body);
    assert_eq!(
        replaced.body["status"], "unverified",
        "a service that gives no verdict verifies nothing"
    );
    assert_eq!(service.wait_for(2).await.len(), 2);
    assert_error(
        &call(
            &app,
            &token,
            "DELETE",
            "/manage/v1/users/nobody/identity-documents",
            None,
        )
        .await,
        404,
        "not_found",
    );

    // Unregistered, the user's document and salt go: the id may be someone else's next.
    assert_eq!(
        call(&app, &token, "POST", "/manage/v1/users/jay/unregister", None)
            .await
            .status,
        200
    );
    assert!(app.store().identity_documents("jay").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_client_whose_rules_judged_someone_is_kept_as_evidence() {
    let app = spawn_app().await;
    let (client, token) = app.manager(ClientMetadata::poll("Bank")).await;
    app.user("kim", &[]).await;
    call(
        &app,
        &token,
        "POST",
        "/manage/v1/rules",
        Some(json!({"name": "r", "outcome": "ALLOW"})),
    )
    .await;
    call(
        &app,
        &token,
        "POST",
        "/manage/v1/actions",
        Some(json!({"user_id": "kim", "action": "x"})),
    )
    .await;
    let removal = app.store().remove_client(client.client_id.as_str()).await.unwrap();
    assert!(matches!(removal, ClientRemoval::Named(n) if n >= 1), "{removal:?}");
}

#[tokio::test]
async fn challenges_beyond_the_users_cap_are_rate_limited() {
    let app = crate::common::spawn_app_with(|s| s.user_requests_per_minute = 1).await;
    let (_, token) = app.manager(ClientMetadata::poll("Bank")).await;
    call(
        &app,
        &token,
        "POST",
        "/manage/v1/rules",
        Some(json!({"name": "all", "outcome": "CHALLENGE_REQUIRED"})),
    )
    .await;
    app.user_with_device("lou").await;
    let track = || {
        call(
            &app,
            &token,
            "POST",
            "/manage/v1/actions",
            Some(json!({"user_id": "lou", "action": "x"})),
        )
    };
    assert_eq!(track().await.body["state"], "CHALLENGE_REQUIRED");
    assert_error(&track().await, 429, "rate_limited");
}
