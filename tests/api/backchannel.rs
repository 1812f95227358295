//! `POST /bc-authorize`: every rule of CIBA Core §7 that applies to poll
//! clients, as tables of (request, expected error, why). A refused request
//! creates nothing: the user's device inbox stays empty.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::HashSet;

use common::*;
use trustid::domain::client::{AuthMethod, SigningAlg};

async fn assert_inbox_empty(app: &TestApp, device: &TestDevice) {
    let inbox = device.inbox(app).await;
    assert_eq!(inbox.status, 200, "{}", inbox.body);
    assert_eq!(
        inbox.body["transactions"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );
}

#[tokio::test]
async fn invalid_parameters_get_the_checklist_error() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    trustid::engine::admin::create_user(
        app.store(),
        trustid::engine::admin::NewUser {
            id: "locked".into(),
            locked: true,
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();
    let long_text = "x".repeat(257);
    let cases: Vec<FormCase> = vec![
        (
            vec![("login_hint", "alice")],
            400,
            "invalid_request",
            "B6 scope missing",
        ),
        (
            vec![("scope", "email"), ("login_hint", "alice")],
            400,
            "invalid_scope",
            "B6 openid missing",
        ),
        (
            vec![("scope", "openid payments"), ("login_hint", "alice")],
            400,
            "invalid_scope",
            "B7 unknown scope",
        ),
        (vec![("scope", "openid")], 400, "invalid_request", "B8 no hint"),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", "alice"),
                ("login_hint_token", "x.y.z"),
            ],
            400,
            "invalid_request",
            "B8 two hints",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", "alice"),
                ("id_token_hint", "x.y.z"),
                ("login_hint_token", "a"),
            ],
            400,
            "invalid_request",
            "B8 three hints",
        ),
        (
            vec![("scope", "openid"), ("login_hint_token", "x.y.z")],
            400,
            "invalid_request",
            "login_hint_token without a trusted issuer",
        ),
        (
            vec![("scope", "openid"), ("id_token_hint", "x.y.z")],
            400,
            "unknown_user_id",
            "B10 id_token_hint not issued by trustid",
        ),
        (
            vec![("scope", "openid"), ("login_hint", "nobody")],
            400,
            "unknown_user_id",
            "B9 unknown user",
        ),
        (
            vec![("scope", "openid"), ("login_hint", "alice"), ("requested_expiry", "0")],
            400,
            "invalid_request",
            "B12 zero",
        ),
        (
            vec![("scope", "openid"), ("login_hint", "alice"), ("requested_expiry", "-5")],
            400,
            "invalid_request",
            "B12 negative",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", "alice"),
                ("requested_expiry", "1.5"),
            ],
            400,
            "invalid_request",
            "B12 fraction",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", "alice"),
                ("requested_expiry", "soon"),
            ],
            400,
            "invalid_request",
            "B12 text",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", "alice"),
                ("binding_message", "{\"action_context\":"),
            ],
            400,
            "invalid_binding_message",
            "B13 malformed JSON",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", "alice"),
                (
                    "binding_message",
                    r#"{"action_context":"payment","bindingMessage":"x"}"#,
                ),
            ],
            400,
            "invalid_binding_message",
            "B13 unknown action_context",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", "alice"),
                (
                    "binding_message",
                    r#"{"action_context":"authentication","bindingMessage":"x","userStatus":"active"}"#,
                ),
            ],
            400,
            "invalid_binding_message",
            "B13 userStatus outside provisioning",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", "alice"),
                (
                    "binding_message",
                    r#"{"action_context":"provisioning","bindingMessage":"x"}"#,
                ),
            ],
            400,
            "invalid_binding_message",
            "B13 provisioning without appId",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", "alice"),
                ("binding_message", long_text.as_str()),
            ],
            400,
            "invalid_binding_message",
            "B13 too long to show",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", "alice"),
                ("binding_message", "bell\u{7}"),
            ],
            400,
            "invalid_binding_message",
            "B13 control character",
        ),
        (
            vec![("scope", "openid"), ("login_hint", "locked")],
            403,
            "access_denied",
            "B15 locked user",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", "alice"),
                (
                    "binding_message",
                    r#"{"action_context":"authentication","appId":"other","bindingMessage":"x"}"#,
                ),
            ],
            403,
            "access_denied",
            "appId the user is not associated with",
        ),
        (
            vec![("scope", "openid"), ("login_hint", "alice"), ("request", "a.b.c")],
            400,
            "invalid_request",
            "signed requests",
        ),
    ];
    for (params, status, error, why) in &cases {
        app.backchannel(&client, params)
            .await
            .assert_oauth_error(*status, error, why);
    }
    assert_inbox_empty(&app, &device).await;
}

#[tokio::test]
async fn a_user_without_an_active_device_cannot_be_asked() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    app.user("nodevice", &[]).await;
    app.backchannel(&client, &[("scope", "openid"), ("login_hint", "nodevice")])
        .await
        .assert_oauth_error(403, "access_denied", "no device to reach");
}

#[tokio::test]
async fn malformed_bodies_are_invalid_request() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    let repeated = app
        .http
        .post(app.url("/bc-authorize"))
        .basic_auth(&client.client_id, Some(client.secret()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("scope=openid&login_hint=alice&scope=openid")
        .send()
        .await
        .unwrap();
    Answer::from(repeated)
        .await
        .assert_oauth_error(400, "invalid_request", "B2 repeated parameter");
    let json = app
        .http
        .post(app.url("/bc-authorize"))
        .basic_auth(&client.client_id, Some(client.secret()))
        .json(&serde_json::json!({"scope": "openid", "login_hint": "alice"}))
        .send()
        .await
        .unwrap();
    Answer::from(json)
        .await
        .assert_oauth_error(400, "invalid_request", "B2 not a form");
    let get = app.http.get(app.url("/bc-authorize")).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 405, "B1 only POST");
    assert_eq!(get.headers().get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    assert_inbox_empty(&app, &device).await;
}

#[tokio::test]
async fn client_authentication_failures_are_401_invalid_client() {
    let app = spawn_app().await;
    let basic = app.client(SigningAlg::ES256).await;
    let post = app.client_with(AuthMethod::ClientSecretPost, SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    let form = [("scope", "openid"), ("login_hint", "alice")];
    let send = |req: reqwest::RequestBuilder| async move { Answer::from(req.send().await.unwrap()).await };
    let endpoint = app.url("/bc-authorize");

    let none = send(app.http.post(&endpoint).form(&form)).await;
    none.assert_oauth_error(401, "invalid_client", "B3 no credentials");

    let wrong = send(
        app.http
            .post(&endpoint)
            .basic_auth(&basic.client_id, Some("wrong"))
            .form(&form),
    )
    .await;
    wrong.assert_oauth_error(401, "invalid_client", "B3 wrong secret");
    assert_eq!(wrong.header("www-authenticate"), Some(r#"Basic realm="trustid""#));

    let unknown = send(app.http.post(&endpoint).basic_auth("nobody", Some("x")).form(&form)).await;
    unknown.assert_oauth_error(401, "invalid_client", "B3 unknown client");

    let garbled = send(
        app.http
            .post(&endpoint)
            .header("authorization", "Basic !!!")
            .form(&form),
    )
    .await;
    garbled.assert_oauth_error(401, "invalid_client", "B3 undecodable Basic");

    let mut post_form = form.to_vec();
    post_form.extend([("client_id", post.client_id.as_str()), ("client_secret", "wrong")]);
    let post_wrong = send(app.http.post(&endpoint).form(&post_form)).await;
    post_wrong.assert_oauth_error(401, "invalid_client", "B3 wrong client_secret_post");

    let basic_as_post = send(
        app.http
            .post(&endpoint)
            .basic_auth(&post.client_id, Some(post.secret()))
            .form(&form),
    )
    .await;
    basic_as_post.assert_oauth_error(401, "invalid_client", "B3 method other than registered");

    let mut as_post = form.to_vec();
    as_post.extend([
        ("client_id", basic.client_id.as_str()),
        ("client_secret", basic.secret()),
    ]);
    let post_as_basic = send(app.http.post(&endpoint).form(&as_post)).await;
    post_as_basic.assert_oauth_error(401, "invalid_client", "B3 basic client sending post");

    let mut both = form.to_vec();
    both.push(("client_secret", basic.secret()));
    let two_methods = send(
        app.http
            .post(&endpoint)
            .basic_auth(&basic.client_id, Some(basic.secret()))
            .form(&both),
    )
    .await;
    two_methods.assert_oauth_error(400, "invalid_request", "two authentication methods");

    let mut assertion = form.to_vec();
    assertion.extend([("client_id", basic.client_id.as_str()), ("client_assertion", "a.b.c")]);
    let jwt = send(app.http.post(&endpoint).form(&assertion)).await;
    jwt.assert_oauth_error(401, "invalid_client", "unsupported private_key_jwt");

    assert_inbox_empty(&app, &device).await;

    let mut good_post = form.to_vec();
    good_post.extend([("client_id", post.client_id.as_str()), ("client_secret", post.secret())]);
    assert_eq!(
        send(app.http.post(&endpoint).form(&good_post)).await.status,
        200,
        "client_secret_post works"
    );
}

#[tokio::test]
async fn acknowledgements_carry_unguessable_ids_and_honour_requested_expiry() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("alice").await;
    let mut ids = HashSet::new();
    for _ in 0..20 {
        let ack = app
            .backchannel(&client, &[("scope", "openid"), ("login_hint", "alice")])
            .await;
        assert_eq!(ack.status, 200);
        assert_eq!(ack.header("cache-control"), Some("no-store"));
        assert!(ack.header("content-type").unwrap().starts_with("application/json"));
        let id = ack.body["auth_req_id"].as_str().unwrap().to_owned();
        assert!(id.len() >= 22, "at least 128 bits");
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)));
        assert!(ack.body["expires_in"].is_u64() && ack.body["interval"].is_u64());
        ids.insert(id);
    }
    assert_eq!(ids.len(), 20, "never the same auth_req_id twice");

    let cases = [("30", 30), ("999999", 1800)];
    for (requested, expected) in cases {
        let ack = app
            .backchannel(
                &client,
                &[
                    ("scope", "openid"),
                    ("login_hint", "alice"),
                    ("requested_expiry", requested),
                ],
            )
            .await;
        assert_eq!(ack.body["expires_in"], expected, "requested_expiry {requested}");
    }
}

#[tokio::test]
async fn hints_resolve_by_id_email_or_phone_and_unknown_parameters_are_ignored() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    for hint in ["alice".to_owned(), "alice@example.com".to_owned(), phone_of("alice")] {
        let ack = app
            .backchannel(
                &client,
                &[
                    ("scope", "openid email"),
                    ("login_hint", hint.as_str()),
                    ("x-unknown", "1"),
                    ("user_code", "1234"),
                ],
            )
            .await;
        assert_eq!(ack.status, 200, "{hint}: {}", ack.body);
    }
    let inbox = device.inbox(&app).await;
    assert_eq!(inbox.body["transactions"].as_array().unwrap().len(), 3);
    // Without a binding message the device still has something to show.
    assert_eq!(
        inbox.body["transactions"][0]["binding_message"],
        "Test Bank asks you to confirm it is you"
    );
}

#[tokio::test]
async fn nul_characters_are_refused_at_the_door_on_every_backend() {
    // PostgreSQL text cannot hold NUL: such input must be a 4xx, never a 500.
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    let form = app
        .http
        .post(app.url("/bc-authorize"))
        .basic_auth(&client.client_id, Some(client.secret()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("scope=openid&login_hint=ali%00ce")
        .send()
        .await
        .unwrap();
    Answer::from(form)
        .await
        .assert_oauth_error(400, "invalid_request", "NUL in a form value");
    let basic = app
        .http
        .post(app.url("/token"))
        .basic_auth("id\u{0}x", Some("secret"))
        .form(&[("grant_type", CIBA_GRANT), ("auth_req_id", "x")])
        .send()
        .await
        .unwrap();
    Answer::from(basic)
        .await
        .assert_oauth_error(401, "invalid_client", "NUL in a Basic client id");
    let path = "/device/v1/transactions/a%00b/decision";
    let res = app
        .http
        .post(app.url(path))
        .header("DPoP", device.proof(&app, "POST", path))
        .json(&serde_json::json!({"decision_jws": "a.b.c"}))
        .send()
        .await
        .unwrap();
    let answer = Answer::from(res).await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "invalid_request"),
        "NUL in a path: {}",
        answer.body
    );
    let body = app
        .http
        .post(app.url("/device/v1/devices"))
        .header("DPoP", device.proof(&app, "POST", "/device/v1/devices"))
        .header("content-type", "application/json")
        .body(r#"{"auth_key": {"kty": "EC\u0000"}}"#)
        .send()
        .await
        .unwrap();
    let answer = Answer::from(body).await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "invalid_request"),
        "NUL in a JSON body: {}",
        answer.body
    );
}

/// A database that cannot be written now (here SQLite held locked by
/// another process past the busy timeout; PostgreSQL restarted under load
/// is the crash drill's, `src/bin/trustid-crash.rs`) answers 503
/// `temporarily_unavailable` with `Retry-After`, not 500, and starts nothing.
#[tokio::test]
async fn a_locked_database_is_temporarily_unavailable_and_starts_nothing() {
    let app = spawn_app().await;
    let url = app.settings.database_url.clone();
    if !url.starts_with("sqlite") {
        return; // PostgreSQL: the crash drill restarts the server itself.
    }
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("alice").await;
    use sqlx::Connection;
    let mut holder = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut holder).await.unwrap();
    let answer = app
        .backchannel(
            &client,
            &[
                ("scope", "openid"),
                ("login_hint", "alice"),
                ("binding_message", "Locked"),
            ],
        )
        .await;
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    answer.assert_oauth_error(503, "temporarily_unavailable", "a locked database");
    assert_eq!(answer.header("retry-after"), Some("1"));
    let after = app
        .backchannel(
            &client,
            &[
                ("scope", "openid"),
                ("login_hint", "alice"),
                ("binding_message", "Unlocked"),
            ],
        )
        .await;
    assert_eq!(after.status, 200, "recovered by itself: {}", after.body);
    let listed = app
        .store()
        .transactions_page(&Default::default(), None, app.clock_now(), 10, None)
        .await
        .unwrap();
    assert_eq!(listed.rows.len(), 1, "the refused request started nothing");
}
