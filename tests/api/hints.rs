//! `login_hint_token`, `id_token_hint` and `user_code` (CIBA §7.1, §7.1.2, §14).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use serde_json::json;
use trustid::clock::Clock;
use trustid::domain::client::{ClientMetadata, SigningAlg};
use trustid::engine::admin::{self, ClientCredentials, NewUser};

const HINT_ISSUER: &str = "https://hints.example.com";

async fn client_trusting(app: &TestApp, issuer_key: &ClientKey) -> ClientCredentials {
    let mut m = ClientMetadata::poll("Hinted Bank");
    m.login_hint_token_issuer = Some(HINT_ISSUER.into());
    m.login_hint_token_jwks = Some(issuer_key.jwks());
    app.register(m).await
}

#[tokio::test]
async fn a_login_hint_token_from_the_trusted_issuer_names_the_user() {
    let app = spawn_app().await;
    let issuer = ClientKey::new("hints-1");
    let client = client_trusting(&app, &issuer).await;
    let device = app.user_with_device("alice").await;
    let now = app.clock.now();
    let by_sub_id = issuer.sign(&json!({
        "iss": HINT_ISSUER, "exp": now + 60,
        "sub_id": {"format": "email", "email": "alice@example.com"},
    }));
    let by_sub = issuer.sign(&json!({"iss": HINT_ISSUER, "exp": now + 60, "sub": "alice"}));
    for token in [&by_sub_id, &by_sub] {
        let ack = app
            .backchannel(&client, &[("scope", "openid"), ("login_hint_token", token)])
            .await;
        assert_eq!(ack.status, 200, "{}", ack.body);
    }
    assert_eq!(
        device.inbox(&app).await.body["transactions"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn bad_login_hint_tokens_are_refused() {
    let app = spawn_app().await;
    let issuer = ClientKey::new("hints-1");
    let client = client_trusting(&app, &issuer).await;
    app.user_with_device("alice").await;
    let now = app.clock.now();
    let stranger = ClientKey::new("hints-1");
    let cases = vec![
        (
            issuer.sign(&json!({"iss": HINT_ISSUER, "exp": now - 600, "sub": "alice"})),
            "expired_login_hint_token",
            "B9 expired",
        ),
        (
            stranger.sign(&json!({"iss": HINT_ISSUER, "exp": now + 60, "sub": "alice"})),
            "invalid_request",
            "signed by an untrusted key",
        ),
        (
            issuer.sign(&json!({"iss": "https://other.example.com", "exp": now + 60, "sub": "alice"})),
            "invalid_request",
            "another issuer",
        ),
        (
            issuer.sign(&json!({"iss": HINT_ISSUER, "exp": now + 60})),
            "invalid_request",
            "no subject",
        ),
        (
            issuer.sign(&json!({"iss": HINT_ISSUER, "exp": now + 60, "sub": "nobody"})),
            "unknown_user_id",
            "unknown subject",
        ),
        ("garbage".to_owned(), "invalid_request", "not a JWT"),
    ];
    for (token, error, why) in cases {
        app.backchannel(&client, &[("scope", "openid"), ("login_hint_token", &token)])
            .await
            .assert_oauth_error(400, error, why);
    }
}

/// An ID token trustid issued to `client` for `user`, who has `device`.
async fn id_token_for(app: &TestApp, client: &ClientCredentials, user: &str, device: &TestDevice) -> String {
    let auth_req_id = app.start(client, user, "Log in").await;
    device.decide(app, "approve").await;
    app.poll(client, &auth_req_id).await.body["id_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_id_token_hint_names_its_subject_within_the_grace_period() {
    let app = spawn_app_with(|s| s.id_token_hint_grace = 600).await;
    for alg in [SigningAlg::ES256, SigningAlg::RS256, SigningAlg::PS256] {
        let user = format!("user-{alg}");
        let client = app.client(alg).await;
        let device = app.user_with_device(&user).await;
        let hint = id_token_for(&app, &client, &user, &device).await;
        let ack = app
            .backchannel(&client, &[("scope", "openid"), ("id_token_hint", &hint)])
            .await;
        assert_eq!(ack.status, 200, "{alg}: {}", ack.body);
        assert_eq!(
            device.only_item(&app).await["binding_message"],
            "Test Bank asks you to confirm it is you"
        );
        let other = app.client(alg).await;
        app.backchannel(&other, &[("scope", "openid"), ("id_token_hint", &hint)])
            .await
            .assert_oauth_error(400, "unknown_user_id", "B10 issued to another client");
    }
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    let hint = id_token_for(&app, &client, "alice", &device).await;
    app.clock.advance_secs(3600 + 599);
    let late = app
        .backchannel(&client, &[("scope", "openid"), ("id_token_hint", &hint)])
        .await;
    assert_eq!(late.status, 200, "expired, but within the grace period: {}", late.body);
    app.clock.advance_secs(2);
    app.backchannel(&client, &[("scope", "openid"), ("id_token_hint", &hint)])
        .await
        .assert_oauth_error(400, "unknown_user_id", "B10 expired beyond the grace period");
    let (head, rest) = hint.split_once('.').unwrap();
    let tampered = format!("{head}.{}", rest.replacen('e', "f", 1));
    app.backchannel(&client, &[("scope", "openid"), ("id_token_hint", &tampered)])
        .await
        .assert_oauth_error(400, "unknown_user_id", "B10 tampered");
}

#[tokio::test]
async fn a_user_code_is_required_and_checked_for_clients_that_registered_it() {
    let app = spawn_app().await;
    let mut m = ClientMetadata::poll("Code Bank");
    m.backchannel_user_code_parameter = true;
    let client = app.register(m).await;
    let new = NewUser {
        id: "alice".into(),
        user_code: Some("7391".into()),
        ..Default::default()
    };
    admin::create_user(app.store(), new, 0).await.unwrap();
    let device = app.device_for("alice").await;
    app.user_with_device("bob").await;
    let cases = [
        (
            vec![("scope", "openid"), ("login_hint", "alice")],
            "missing_user_code",
            "B14 missing",
        ),
        (
            vec![("scope", "openid"), ("login_hint", "alice"), ("user_code", "0000")],
            "invalid_user_code",
            "B14 wrong",
        ),
        (
            vec![("scope", "openid"), ("login_hint", "bob"), ("user_code", "7391")],
            "invalid_user_code",
            "user has no code",
        ),
    ];
    for (form, error, why) in cases {
        app.backchannel(&client, &form)
            .await
            .assert_oauth_error(400, error, why);
    }
    assert!(
        device.inbox(&app).await.body["transactions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let ok = app
        .backchannel(
            &client,
            &[("scope", "openid"), ("login_hint", "alice"), ("user_code", "7391")],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let plain = app.client(SigningAlg::ES256).await;
    let ignored = app
        .backchannel(&plain, &[("scope", "openid"), ("login_hint", "alice")])
        .await;
    assert_eq!(
        ignored.status, 200,
        "clients that did not register user codes need none"
    );
}
