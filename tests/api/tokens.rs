//! Refresh tokens (RFC 6749 §6, rotation), introspection (RFC 7662) and
//! revocation (RFC 7009).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use serde_json::Value;
use trustid::domain::client::SigningAlg;
use trustid::engine::admin::ClientCredentials;

/// Tokens for alice with `scope`, issued to `client`.
async fn tokens(app: &TestApp, client: &ClientCredentials, scope: &str) -> Value {
    let device = match app.store().user("alice").await.unwrap() {
        Some(_) => app.device_for("alice").await,
        None => app.user_with_device("alice").await,
    };
    let ack = app
        .backchannel(client, &[("scope", scope), ("login_hint", "alice")])
        .await;
    device.decide(app, "approve").await;
    let answer = app.poll(client, ack.body["auth_req_id"].as_str().unwrap()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

async fn post(app: &TestApp, client: &ClientCredentials, path: &str, form: &[(&str, &str)]) -> Answer {
    let res = app
        .http
        .post(app.url(path))
        .basic_auth(&client.client_id, Some(client.secret()))
        .form(form)
        .send()
        .await
        .unwrap();
    Answer::from(res).await
}

async fn refresh(app: &TestApp, client: &ClientCredentials, token: &str) -> Answer {
    post(
        app,
        client,
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

#[tokio::test]
async fn refresh_tokens_only_come_with_offline_access() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let plain = tokens(&app, &client, "openid").await;
    assert!(plain.get("refresh_token").is_none());
    let offline = tokens(&app, &client, "openid offline_access").await;
    let rt = offline["refresh_token"].as_str().unwrap();
    assert!(rt.len() >= 43);
    let claims = jwt_payload(offline["id_token"].as_str().unwrap());
    assert_eq!(
        claims["urn:openid:params:jwt:claim:rt_hash"],
        Value::from(trustid::crypto::id_token::token_hash(rt))
    );
}

#[tokio::test]
async fn a_refresh_rotates_and_keeps_the_id_token_consistent() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::RS256).await;
    let first = tokens(&app, &client, "openid offline_access email").await;
    let first_claims = jwt_payload(first["id_token"].as_str().unwrap());
    app.clock.advance_secs(60);
    let second = refresh(&app, &client, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.header("cache-control"), Some("no-store"));
    assert_eq!(second.body["token_type"], "Bearer");
    assert_ne!(second.body["refresh_token"], first["refresh_token"], "rotated");
    assert_ne!(second.body["access_token"], first["access_token"]);
    let claims = jwt_payload(second.body["id_token"].as_str().unwrap());
    for same in ["iss", "sub", "aud", "auth_time", "trustid.transaction_id"] {
        assert_eq!(claims[same], first_claims[same], "T17 {same} is kept");
    }
    assert!(claims.get("urn:openid:params:jwt:claim:auth_req_id").is_none());
    // The successor works; the spent one is refused and revokes the family.
    let successor = second.body["refresh_token"].as_str().unwrap().to_owned();
    refresh(&app, &client, first["refresh_token"].as_str().unwrap())
        .await
        .assert_oauth_error(400, "invalid_grant", "a spent refresh token");
    refresh(&app, &client, &successor).await.assert_oauth_error(
        400,
        "invalid_grant",
        "its family was revoked on reuse",
    );
    let at = second.body["access_token"].as_str().unwrap();
    let userinfo = app.http.get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap();
    assert_eq!(userinfo.status().as_u16(), 401, "and the grant's access tokens");
}

#[tokio::test]
async fn refresh_errors_are_invalid_grant() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let thief = app.client(SigningAlg::ES256).await;
    let issued = tokens(&app, &client, "openid offline_access email").await;
    let rt = issued["refresh_token"].as_str().unwrap();
    refresh(&app, &thief, rt)
        .await
        .assert_oauth_error(400, "invalid_grant", "T17 another client's refresh token");
    refresh(&app, &client, "made-up")
        .await
        .assert_oauth_error(400, "invalid_grant", "unknown");
    post(&app, &client, "/token", &[("grant_type", "refresh_token")])
        .await
        .assert_oauth_error(400, "invalid_request", "refresh_token missing");
    post(
        &app,
        &client,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", "openid phone"),
        ],
    )
    .await
    .assert_oauth_error(400, "invalid_scope", "widening the scope");
    let narrowed = post(
        &app,
        &client,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(
        narrowed.status, 200,
        "the thief's attempt did not spend it: {}",
        narrowed.body
    );
    assert_eq!(narrowed.body["scope"], "openid");
    let narrowed_claims = jwt_payload(narrowed.body["id_token"].as_str().unwrap());
    assert!(
        narrowed_claims.get("email").is_none(),
        "claims follow the narrowed scope"
    );
    let userinfo = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(narrowed.body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(userinfo.json::<Value>().await.unwrap().get("email").is_none());
    let next = narrowed.body["refresh_token"].as_str().unwrap();
    app.clock.advance_secs(30 * 24 * 3600);
    refresh(&app, &client, next)
        .await
        .assert_oauth_error(400, "invalid_grant", "expired");
}

#[tokio::test]
async fn introspection_tells_only_the_owner_about_live_tokens() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let other = app.client(SigningAlg::ES256).await;
    let issued = tokens(&app, &client, "openid offline_access").await;
    let at = issued["access_token"].as_str().unwrap();
    let rt = issued["refresh_token"].as_str().unwrap();
    let access = post(&app, &client, "/introspect", &[("token", at)]).await;
    assert_eq!(access.status, 200);
    assert_eq!(access.body["active"], true);
    assert_eq!(access.body["sub"], "alice");
    assert_eq!(access.body["client_id"], Value::from(client.client_id.to_string()));
    assert_eq!(access.body["token_type"], "Bearer");
    let refresh_info = post(
        &app,
        &client,
        "/introspect",
        &[("token", rt), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(refresh_info.body["active"], true);
    assert_eq!(refresh_info.body["token_type"], "refresh_token");
    for (who, token, why) in [
        (&other, at, "another client's token"),
        (&client, "made-up", "unknown token"),
    ] {
        let answer = post(&app, who, "/introspect", &[("token", token)]).await;
        assert_eq!(answer.body, serde_json::json!({"active": false}), "{why}");
    }
    post(&app, &client, "/introspect", &[])
        .await
        .assert_oauth_error(400, "invalid_request", "token missing");
    let anonymous = Answer::from(
        app.http
            .post(app.url("/introspect"))
            .form(&[("token", at)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    anonymous.assert_oauth_error(401, "invalid_client", "introspection needs client authentication");
    app.clock.advance_secs(3600);
    let expired = post(&app, &client, "/introspect", &[("token", at)]).await;
    assert_eq!(expired.body["active"], false, "expired");
}

#[tokio::test]
async fn revocation_revokes_what_the_client_owns_and_answers_200_regardless() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let other = app.client(SigningAlg::ES256).await;
    let issued = tokens(&app, &client, "openid offline_access").await;
    let at = issued["access_token"].as_str().unwrap();
    let rt = issued["refresh_token"].as_str().unwrap();

    let foreign = post(&app, &other, "/revoke", &[("token", at)]).await;
    assert_eq!(foreign.status, 200, "RFC 7009 §2.2");
    assert_eq!(
        post(&app, &client, "/introspect", &[("token", at)]).await.body["active"],
        true,
        "not revoked by another client"
    );
    assert_eq!(
        post(&app, &client, "/revoke", &[("token", "made-up")]).await.status,
        200
    );

    assert_eq!(post(&app, &client, "/revoke", &[("token", rt)]).await.status, 200);
    assert_eq!(
        post(&app, &client, "/introspect", &[("token", rt)]).await.body["active"],
        false
    );
    assert_eq!(
        post(&app, &client, "/introspect", &[("token", at)]).await.body["active"],
        false,
        "the grant's access token too"
    );
    refresh(&app, &client, rt)
        .await
        .assert_oauth_error(400, "invalid_grant", "revoked refresh token");

    let again = tokens(&app, &client, "openid").await;
    let at2 = again["access_token"].as_str().unwrap();
    assert_eq!(post(&app, &client, "/revoke", &[("token", at2)]).await.status, 200);
    let userinfo = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(at2)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status().as_u16(), 401, "a revoked access token is refused");
    post(&app, &client, "/revoke", &[])
        .await
        .assert_oauth_error(400, "invalid_request", "token missing");
}
