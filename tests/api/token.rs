//! `POST /token` with the CIBA grant: every answer of CIBA §10.1/§11 for a
//! poll client, with time moved by the clock, never by sleeping.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use trustid::domain::client::SigningAlg;

#[tokio::test]
async fn malformed_token_requests_get_the_checklist_error() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("alice").await;
    let auth_req_id = app.start(&client, "alice", "Log in").await;
    let cases: Vec<FormCase> = vec![
        (
            vec![("auth_req_id", &auth_req_id)],
            400,
            "invalid_request",
            "grant_type missing",
        ),
        (
            vec![("grant_type", "password"), ("auth_req_id", &auth_req_id)],
            400,
            "unsupported_grant_type",
            "other grant",
        ),
        (
            vec![("grant_type", CIBA_GRANT)],
            400,
            "invalid_request",
            "T2 auth_req_id missing",
        ),
        (
            vec![("grant_type", CIBA_GRANT), ("auth_req_id", "made-up")],
            400,
            "invalid_grant",
            "T3 unknown auth_req_id",
        ),
    ];
    for (form, status, error, why) in cases {
        let res = app
            .http
            .post(app.url("/token"))
            .basic_auth(&client.client_id, Some(client.secret()))
            .form(&form)
            .send()
            .await
            .unwrap();
        Answer::from(res).await.assert_oauth_error(status, error, why);
    }
    let repeated = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.client_id, Some(client.secret()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type={CIBA_GRANT}&auth_req_id={auth_req_id}&auth_req_id=x"
        ))
        .send()
        .await
        .unwrap();
    Answer::from(repeated)
        .await
        .assert_oauth_error(400, "invalid_request", "repeated parameter");
    assert_eq!(
        app.http.get(app.url("/token")).send().await.unwrap().status().as_u16(),
        405
    );
}

#[tokio::test]
async fn client_authentication_failures_are_401_with_a_basic_challenge() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("alice").await;
    let auth_req_id = app.start(&client, "alice", "Log in").await;
    let form = [("grant_type", CIBA_GRANT), ("auth_req_id", auth_req_id.as_str())];
    let wrong = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.client_id, Some("not the secret"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let wrong = Answer::from(wrong).await;
    wrong.assert_oauth_error(401, "invalid_client", "T1 wrong secret");
    assert_eq!(wrong.header("www-authenticate"), Some(r#"Basic realm="trustid""#));
    let none = Answer::from(app.http.post(app.url("/token")).form(&form).send().await.unwrap()).await;
    none.assert_oauth_error(401, "invalid_client", "T1 no credentials");
    // The failures did not count as polls of the owner.
    app.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "authorization_pending", "first poll");
}

#[tokio::test]
async fn another_clients_auth_req_id_is_invalid_grant_and_leaves_the_owner_alone() {
    let app = spawn_app().await;
    let owner = app.client(SigningAlg::ES256).await;
    let thief = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    let auth_req_id = app.start(&owner, "alice", "Log in").await;
    for _ in 0..3 {
        app.poll(&thief, &auth_req_id)
            .await
            .assert_oauth_error(400, "invalid_grant", "T3 another client's id");
    }
    // Not slow_down: the thief's polls did not touch the owner's interval.
    app.poll(&owner, &auth_req_id)
        .await
        .assert_oauth_error(400, "authorization_pending", "owner unaffected");
    device.decide(&app, "approve").await;
    app.poll(&thief, &auth_req_id)
        .await
        .assert_oauth_error(400, "invalid_grant", "not even once approved");
    app.clock.advance_secs(5);
    assert_eq!(
        app.poll(&owner, &auth_req_id).await.status,
        200,
        "the owner still redeems it"
    );
}

#[tokio::test]
async fn an_auth_req_id_with_another_requests_id_in_front_is_invalid_grant() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("alice").await;
    let first = app.start(&client, "alice", "Log in").await;
    let second = app.start(&client, "alice", "Pay 10 EUR").await;
    // An auth_req_id is the transaction id, '.', and its secret.
    let (first_id, first_secret) = first.split_once('.').expect("id.secret");
    let (second_id, second_secret) = second.split_once('.').expect("id.secret");
    assert_eq!(first_id.len(), 34);
    assert_eq!(first_secret.len(), 43);
    for forged in [
        format!("{first_id}.{second_secret}"),
        format!("{second_id}.{first_secret}"),
        format!("{first_id}."),
        first_secret.to_owned(),
        format!("{first_id}.{first_secret}.{second_secret}"),
    ] {
        app.poll(&client, &forged)
            .await
            .assert_oauth_error(400, "invalid_grant", "a forged auth_req_id");
    }
    for genuine in [&first, &second] {
        app.poll(&client, genuine).await.assert_oauth_error(
            400,
            "authorization_pending",
            "the genuine ones are untouched",
        );
    }
}

#[tokio::test]
async fn polling_faster_than_the_interval_gets_slow_down_and_the_interval_grows() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("alice").await;
    let auth_req_id = app.start(&client, "alice", "Log in").await;
    app.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "authorization_pending", "first poll");
    app.clock.advance_ms(4_999);
    app.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "slow_down", "T7 4.999 s after");
    // The interval is now 10 s.
    app.clock.advance_secs(9);
    app.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "slow_down", "9 s after, interval 10");
    app.clock.advance_secs(15);
    app.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "authorization_pending", "15 s after, interval 15");
}

#[tokio::test]
async fn twenty_rapid_polls_each_get_pending_or_slow_down() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("alice").await;
    let auth_req_id = app.start(&client, "alice", "Log in").await;
    for i in 0..20 {
        let answer = app.poll(&client, &auth_req_id).await;
        let expected = if i == 0 { "authorization_pending" } else { "slow_down" };
        answer.assert_oauth_error(400, expected, "conformance MultipleCallToTokenEndpoint");
    }
}

#[tokio::test]
async fn an_expired_request_is_expired_token_not_invalid_grant() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    let ack = app
        .backchannel(
            &client,
            &[("scope", "openid"), ("login_hint", "alice"), ("requested_expiry", "10")],
        )
        .await;
    let auth_req_id = ack.body["auth_req_id"].as_str().unwrap();
    app.clock.advance_secs(9);
    app.poll(&client, auth_req_id)
        .await
        .assert_oauth_error(400, "authorization_pending", "9 s of 10");
    app.clock.advance_secs(1);
    app.poll(&client, auth_req_id)
        .await
        .assert_oauth_error(400, "expired_token", "T9 at expires_in");
    app.clock.advance_secs(3600);
    app.poll(&client, auth_req_id)
        .await
        .assert_oauth_error(400, "expired_token", "T9 long after");
    assert!(
        device.inbox(&app).await.body["transactions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_approval_not_redeemed_before_expiry_is_expired_token() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    let auth_req_id = app.start(&client, "alice", "Log in").await;
    device.decide(&app, "approve").await;
    app.clock.advance_secs(300);
    app.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "expired_token", "approved too long ago");
}

#[tokio::test]
async fn tokens_are_issued_exactly_once() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    let auth_req_id = app.start(&client, "alice", "Log in").await;
    device.decide(&app, "approve").await;
    let first = app.poll(&client, &auth_req_id).await;
    assert_eq!(first.status, 200);
    let token = first.body["access_token"].as_str().unwrap();
    assert!(token.len() >= 22 && token != auth_req_id);
    assert_ne!(first.body["id_token"], serde_json::Value::Null);
    let claims = jwt_payload(first.body["id_token"].as_str().unwrap());
    assert!(claims.get("nonce").is_none(), "E3 no nonce");
    assert!(claims.get("acr").is_none(), "no acr unless requested");
    assert_eq!(claims["aud"], serde_json::Value::from(client.client_id.to_string()));
    assert_eq!(claims["iss"], serde_json::Value::from(app.base.clone()));
    app.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "invalid_grant", "T11 second redemption");
    app.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "invalid_grant", "and every later one");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("trustid_replays_refused_total{kind=\"auth_req_id\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("trustid_replays_refused_total{kind=\"device_proof\"} 0"),
        "{metrics}"
    );
}
