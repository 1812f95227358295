//! RFC 7591 dynamic registration with the CIBA metadata, and the policy caps
//! against push fatigue.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use serde_json::{Value, json};
use trustid::domain::client::SigningAlg;

const IAT: &str = "initial-access-token-0123456789abcdef";

async fn register(app: &TestApp, token: Option<&str>, body: &Value) -> Answer {
    let mut req = app.http.post(app.url("/register")).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    Answer::from(req.send().await.unwrap()).await
}

#[tokio::test]
async fn a_registered_client_can_run_the_flow() {
    let app = spawn_app_with(|s| s.registration_access_token = Some(IAT.into())).await;
    let discovery = Answer::from(
        app.http
            .get(app.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        discovery.body["registration_endpoint"],
        Value::from(app.url("/register"))
    );
    let created = register(
        &app,
        Some(IAT),
        &json!({
            "client_name": "Dynamic Bank",
            "grant_types": ["urn:openid:params:grant-type:ciba"],
            "backchannel_token_delivery_mode": "poll",
            "token_endpoint_auth_method": "client_secret_post",
            "id_token_signed_response_alg": "PS256",
            "redirect_uris": ["https://ignored.example.com/cb"],
        }),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let id = created.body["client_id"].as_str().unwrap();
    let secret = created.body["client_secret"].as_str().unwrap();
    assert_eq!(created.body["backchannel_token_delivery_mode"], "poll");
    let device = app.user_with_device("alice").await;
    let form = [
        ("scope", "openid"),
        ("login_hint", "alice"),
        ("client_id", id),
        ("client_secret", secret),
    ];
    let ack = Answer::from(
        app.http
            .post(app.url("/bc-authorize"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    device.decide(&app, "approve").await;
    let poll = [
        ("grant_type", CIBA_GRANT),
        ("auth_req_id", ack.body["auth_req_id"].as_str().unwrap()),
        ("client_id", id),
        ("client_secret", secret),
    ];
    let tokens = Answer::from(app.http.post(app.url("/token")).form(&poll).send().await.unwrap()).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(jwt_header_alg(tokens.body["id_token"].as_str().unwrap()), "PS256");
}

#[tokio::test]
async fn invalid_metadata_is_invalid_client_metadata() {
    let app = spawn_app_with(|s| s.registration_access_token = Some(IAT.into())).await;
    let cases = vec![
        (json!({"client_name": "x"}), "delivery mode missing"),
        (
            json!({"backchannel_token_delivery_mode": "carrier-pigeon"}),
            "unknown delivery mode",
        ),
        (
            json!({"backchannel_token_delivery_mode": "ping"}),
            "ping without an endpoint",
        ),
        (
            json!({"backchannel_token_delivery_mode": "push", "backchannel_client_notification_endpoint": "http://rp.example.com/cb"}),
            "http endpoint",
        ),
        (
            json!({"backchannel_token_delivery_mode": "poll", "grant_types": ["authorization_code"]}),
            "poll without the CIBA grant",
        ),
        (
            json!({"backchannel_token_delivery_mode": "poll", "token_endpoint_auth_method": "private_key_jwt"}),
            "private_key_jwt without keys",
        ),
        (
            json!({"backchannel_token_delivery_mode": "poll", "token_endpoint_auth_method": "none"}),
            "public client",
        ),
        (
            json!({"backchannel_token_delivery_mode": "poll", "id_token_signed_response_alg": "HS256"}),
            "symmetric alg",
        ),
        (
            json!({"backchannel_token_delivery_mode": "push", "fapi_ciba": true}),
            "FAPI push",
        ),
        (json!("not an object"), "not an object"),
        (
            json!({"backchannel_token_delivery_mode": "poll", "jwks": {"keys": [{"x": "no kty"}]}}),
            "a key without kty",
        ),
    ];
    for (body, why) in cases {
        register(&app, Some(IAT), &body)
            .await
            .assert_oauth_error(400, "invalid_client_metadata", why);
    }
    let good = json!({"backchannel_token_delivery_mode": "poll"});
    register(&app, None, &good)
        .await
        .assert_oauth_error(401, "invalid_token", "no initial access token");
    register(&app, Some("wrong-token-wrong-token-wrong-token"), &good)
        .await
        .assert_oauth_error(401, "invalid_token", "wrong initial access token");
}

#[tokio::test]
async fn registration_is_off_unless_configured() {
    let app = spawn_app().await;
    register(&app, Some(IAT), &json!({"backchannel_token_delivery_mode": "poll"}))
        .await
        .assert_oauth_error(400, "invalid_request", "not enabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_for_one_user_cannot_all_slip_under_the_cap() {
    let app = spawn_app_with(|s| s.user_requests_per_minute = 3).await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("carol").await;
    // Seed the user's window first, so the race below is on the cap itself.
    assert_eq!(
        app.backchannel(&client, &[("scope", "openid"), ("login_hint", "carol")])
            .await
            .status,
        200
    );
    let burst = (0..16).map(|_| app.backchannel(&client, &[("scope", "openid"), ("login_hint", "carol")]));
    let statuses: Vec<u16> = futures_util::future::join_all(burst)
        .await
        .into_iter()
        .map(|a| a.status)
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 2, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 403).count(), 14, "{statuses:?}");
}

#[tokio::test]
async fn requests_per_user_and_per_client_are_capped_and_counted() {
    let app = spawn_app_with(|s| {
        s.user_requests_per_minute = 2;
        s.client_requests_per_minute = 3;
    })
    .await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("alice").await;
    app.user_with_device("bob").await;
    for _ in 0..2 {
        assert_eq!(
            app.backchannel(&client, &[("scope", "openid"), ("login_hint", "alice")])
                .await
                .status,
            200
        );
    }
    let capped = app
        .backchannel(&client, &[("scope", "openid"), ("login_hint", "alice")])
        .await;
    capped.assert_oauth_error(403, "access_denied", "a third request for alice within a minute");
    assert_eq!(capped.header("retry-after"), Some("60"));
    assert_eq!(
        app.backchannel(&client, &[("scope", "openid"), ("login_hint", "bob")])
            .await
            .status,
        200
    );
    app.backchannel(&client, &[("scope", "openid"), ("login_hint", "bob")])
        .await
        .assert_oauth_error(403, "access_denied", "a fourth request from the client within a minute");
    app.clock.advance_secs(61);
    assert_eq!(
        app.backchannel(&client, &[("scope", "openid"), ("login_hint", "alice")])
            .await
            .status,
        200,
        "a minute later"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("trustid_backchannel_rate_limited_total{scope=\"user\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("trustid_backchannel_rate_limited_total{scope=\"client\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("trustid_backchannel_requests_accepted_total 4"),
        "{metrics}"
    );
}
