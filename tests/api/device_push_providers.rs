//! Push to devices through the providers, end to end: FCM HTTP v1
//! and APNs against real local servers (HTTP/2 for APNs), real signatures,
//! and how each provider's answers are taken.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::push::*;
use common::receiver::{Receiver, Reply};
use common::*;
use serde_json::{Value, json};
use trustid::domain::client::ClientMetadata;
use trustid::domain::push::DeviceRouting;

#[tokio::test]
async fn fcm_requests_follow_the_http_v1_api_and_reuse_the_access_token() {
    let fcm = Receiver::start(vec![
        Reply {
            body: r#"{"access_token":"ya29.test-access","expires_in":3599,"token_type":"Bearer"}"#,
            ..Reply::status(200)
        },
        Reply::status(200),
        Reply::status(200),
        Reply {
            body: r#"{"error":{"code":404,"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}}"#,
            ..Reply::status(404)
        },
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (app, public_pem) = fcm_app(&fcm, dir.path()).await;
    let (client, manage) = app.manager(ClientMetadata::poll("FCM Bank")).await;
    let device = app.user_with_device("ivan").await;
    let reg_token = "fGcM-token_1:APA91bHxyz";
    let set = set_channel(&app, &device, &json!({"channel": "fcm", "token": reg_token})).await;
    assert_eq!(set.status, 200, "{}", set.body);

    let auth_req_id = app.start(&client, "ivan", "Pay 99 EUR").await;
    let got = fcm.wait_for(2).await;

    // The OAuth2 JWT-bearer grant (RFC 7523) with an RS256 assertion.
    let grant = &got[0];
    assert_eq!(grant.path, "/token");
    assert_eq!(grant.header("content-type"), Some("application/x-www-form-urlencoded"));
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(grant.raw.as_bytes()).into_owned().collect();
    assert_eq!(form["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer");
    let verifier = josekit::jws::RS256.verifier_from_pem(&public_pem).unwrap();
    let (payload, header) = josekit::jws::deserialize_compact(&form["assertion"], &verifier).expect("RS256 verifies");
    assert_eq!(header.key_id(), Some("key-1"));
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims["iss"], "push@trustid-test.iam.gserviceaccount.com");
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/firebase.messaging");
    assert_eq!(claims["aud"], fcm.url("/token"));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);

    // messages:send with the access token and a data message.
    let send = &got[1];
    assert_eq!(send.path, "/v1/projects/trustid-test/messages:send");
    assert_eq!(send.header("authorization"), Some("Bearer ya29.test-access"));
    assert_eq!(send.header("content-type"), Some("application/json"));
    let message = &send.body["message"];
    assert_eq!(message["token"], reg_token);
    assert_eq!(message["android"]["priority"], "high");
    assert!(message["android"]["ttl"].as_str().unwrap().ends_with('s'));
    let data = message["data"].as_object().unwrap();
    assert!(data.values().all(Value::is_string), "FCM data values are strings");
    assert!(!send.raw.contains("Pay 99"), "no binding message");
    let traded = exchange(&app, &device, &json!({"push_token": data["push_token"]})).await;
    assert_eq!(traded.body["transaction"]["binding_message"], "Pay 99 EUR");
    let pushes = report_until(&app, &manage, &auth_req_id, |p| p[0]["state"] == "sent").await;
    assert_eq!(pushes[0]["channel"], "fcm");

    // The access token is cached: the next push goes straight to send.
    app.start(&client, "ivan", "again").await;
    let got = fcm.wait_for(3).await;
    assert_eq!(got[2].path, "/v1/projects/trustid-test/messages:send");
    assert_eq!(got[2].header("authorization"), Some("Bearer ya29.test-access"));

    // An unregistered token is final, not retried, and the device's dead
    // channel is cleared: the next request owes it no push.
    let gone = app.start(&client, "ivan", "third").await;
    let pushes = report_until(&app, &manage, &gone, |p| p[0]["state"] == "failed").await;
    assert_eq!(
        pushes[0]["last_error"],
        "answered 404 (UNREGISTERED); the device's push channel was cleared"
    );
    assert_eq!(pushes[0]["attempts"], 1);
    assert_eq!(push_of(&app, &device).await, None);
    let after = app.start(&client, "ivan", "fourth").await;
    assert_eq!(report(&app, &manage, &after).await.body["device_pushes"], json!([]));
}

#[tokio::test]
async fn fcm_pushes_sent_together_share_one_access_token_grant() {
    let fcm = Receiver::start(vec![Reply {
        body: r#"{"access_token":"ya29.shared","expires_in":3599,"token_type":"Bearer"}"#,
        ..Reply::status(200)
    }])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = fcm_app(&fcm, dir.path()).await;
    let (client, _) = app.manager(ClientMetadata::poll("FCM Bank")).await;
    let a = app.user_with_device("pia").await;
    let b = app.device_for("pia").await;
    for (device, token) in [(&a, "fcm-a"), (&b, "fcm-b")] {
        set_channel(&app, device, &json!({"channel": "fcm", "token": token})).await;
    }
    app.start(&client, "pia", "Sign in").await;
    let got = fcm.wait_for(3).await;
    let grants = got.iter().filter(|r| r.path == "/token").count();
    assert_eq!(grants, 1, "one grant for both pushes");
    assert!(
        got.iter()
            .filter(|r| r.path != "/token")
            .all(|r| r.header("authorization") == Some("Bearer ya29.shared"))
    );
}

#[tokio::test]
async fn a_channel_that_cannot_be_built_fails_its_pushes_and_the_others_still_go_out() {
    let (apns, relay) = (Receiver::start(vec![]).await, Receiver::start(vec![]).await);
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("AuthKey_ABC123DEFG.p8");
    let key = josekit::jwk::alg::ec::EcKeyPair::generate(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
    std::fs::write(&key_path, key.to_pem_private_key()).unwrap();
    let (path, base) = (key_path.clone(), apns.base.clone());
    let app = spawn_app_without_worker(move |s| {
        s.apns_key_file = Some(path);
        s.apns_key_id = Some("ABC123DEFG".into());
        s.apns_team_id = Some("DEF123GHIJ".into());
        s.apns_topic = Some("com.example.bank".into());
        s.apns_base_url = base;
    })
    .await;
    // The key was readable when the settings were checked, and is gone when
    // the worker builds its channels.
    std::fs::remove_file(&key_path).unwrap();
    let _workers = trustid::engine::delivery::spawn_worker(app.state.clone());
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    let a = app.user_with_device("quin").await;
    let b = app.device_for("quin").await;
    set_channel(&app, &a, &json!({"channel": "webhook", "token": "relay-q"})).await;
    set_channel(&app, &b, &json!({"channel": "apns", "token": "bb03"})).await;
    let auth_req_id = app.start(&client, "quin", "Sign in").await;
    let pushes = report_until(&app, &manage, &auth_req_id, |p| {
        p.len() == 2 && p.iter().all(|p| p["state"] != "pending")
    })
    .await;
    let by_channel = |c: &str| pushes.iter().find(|p| p["channel"] == c).unwrap().clone();
    assert_eq!(by_channel("webhook")["state"], "sent");
    let failed = by_channel("apns");
    assert_eq!(failed["state"], "failed");
    let error = failed["last_error"].as_str().unwrap();
    assert!(
        error.starts_with("apns is configured but unusable: cannot read"),
        "{error}"
    );
    assert_eq!(apns.received().len(), 0);
}

#[tokio::test]
async fn fcm_retries_a_refused_grant_and_a_refused_access_token_with_a_fresh_grant() {
    let grant = |token: &'static str| Reply {
        body: token,
        ..Reply::status(200)
    };
    let fcm = Receiver::start(vec![
        Reply::status(500),
        grant(r#"{"access_token":"ya29.one","expires_in":3599}"#),
        Reply::status(401),
        grant(r#"{"access_token":"ya29.two","expires_in":3599}"#),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = fcm_app(&fcm, dir.path()).await;
    let (client, manage) = app.manager(ClientMetadata::poll("FCM Bank")).await;
    let device = app.user_with_device("rita").await;
    set_channel(&app, &device, &json!({"channel": "fcm", "token": "fcm-r"})).await;

    let auth_req_id = app.start(&client, "rita", "Sign in").await;
    report_until(&app, &manage, &auth_req_id, |p| {
        p[0]["last_error"] == "token endpoint answered 500"
    })
    .await;
    app.clock.advance_secs(1);
    report_until(&app, &manage, &auth_req_id, |p| {
        p[0]["last_error"] == "answered 401 (access token refused)"
    })
    .await;
    // The refused token is forgotten: the next attempt asks for a new one.
    app.clock.advance_secs(2);
    let pushes = report_until(&app, &manage, &auth_req_id, |p| p[0]["state"] == "sent").await;
    assert_eq!(pushes[0]["attempts"], 3);
    let got = fcm.received();
    let paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    let send = "/v1/projects/trustid-test/messages:send";
    assert_eq!(paths, ["/token", "/token", send, "/token", send]);
    assert_eq!(got[2].header("authorization"), Some("Bearer ya29.one"));
    assert_eq!(got[4].header("authorization"), Some("Bearer ya29.two"));
}

#[tokio::test]
async fn apns_expired_provider_token_is_renewed_and_the_push_retried() {
    let apns = Receiver::start(vec![Reply {
        body: r#"{"reason":"ExpiredProviderToken"}"#,
        ..Reply::status(403)
    }])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = apns_app(&apns, dir.path()).await;
    let (client, manage) = app.manager(ClientMetadata::poll("APNs Bank")).await;
    let device = app.user_with_device("sven").await;
    set_channel(&app, &device, &json!({"channel": "apns", "token": "cc04"})).await;
    let auth_req_id = app.start(&client, "sven", "Sign in").await;
    report_until(&app, &manage, &auth_req_id, |p| {
        p[0]["last_error"] == "answered 403 (ExpiredProviderToken)" && p[0]["state"] == "pending"
    })
    .await;
    app.clock.advance_secs(1);
    report_until(&app, &manage, &auth_req_id, |p| p[0]["state"] == "sent").await;
    let got = apns.received();
    let jwt = |i: usize| got[i].header("authorization").unwrap().to_owned();
    assert_ne!(
        jwt(0),
        jwt(1),
        "a new provider token, well within the 45 minutes of reuse"
    );
    assert_eq!(
        common::jwt_payload(jwt(1).strip_prefix("bearer ").unwrap())["iat"],
        app.clock_now()
    );
}

#[test]
fn fcm_settings_refuse_a_token_uri_that_is_not_https() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = service_account(dir.path(), "http://oauth2.example.com/token");
    let settings = trustid::config::Settings {
        fcm_service_account: Some(path),
        dev: false,
        ..trustid::config::Settings::default()
    };
    let err = settings.validate().expect_err("http token_uri").to_string();
    assert!(
        err.contains("fcm_service_account") && err.contains("token_uri"),
        "{err}"
    );
}

/// The device's push channel as stored.
async fn push_of(app: &TestApp, device: &TestDevice) -> Option<String> {
    let stored = app.store().device(&device.id()).await.unwrap().unwrap();
    stored.push.map(|(channel, _)| channel.as_str().to_owned())
}

/// A trustid whose FCM provider is the local server `fcm`, and the public
/// key of the service account it signs its grants with.
async fn fcm_app(fcm: &Receiver, dir: &std::path::Path) -> (TestApp, Vec<u8>) {
    let (path, public_pem) = service_account(dir, &fcm.url("/token"));
    let base = fcm.base.clone();
    let app = spawn_app_with(move |s| {
        s.fcm_service_account = Some(path);
        s.fcm_base_url = base;
    })
    .await;
    (app, public_pem)
}

/// trustid with APNs configured against `apns`, and the provider key.
async fn apns_app(apns: &Receiver, dir: &std::path::Path) -> (TestApp, josekit::jwk::alg::ec::EcKeyPair) {
    let key = josekit::jwk::alg::ec::EcKeyPair::generate(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
    let key_path = dir.join("AuthKey_ABC123DEFG.p8");
    std::fs::write(&key_path, key.to_pem_private_key()).unwrap();
    let base = apns.base.clone();
    let app = spawn_app_with(move |s| {
        s.apns_key_file = Some(key_path);
        s.apns_key_id = Some("ABC123DEFG".into());
        s.apns_team_id = Some("DEF123GHIJ".into());
        s.apns_topic = Some("com.example.bank".into());
        s.apns_base_url = base;
    })
    .await;
    (app, key)
}

#[tokio::test]
async fn apns_unregistered_and_bad_device_tokens_fail_and_clear_the_devices_channel() {
    let apns = Receiver::start(vec![
        Reply {
            body: r#"{"reason":"Unregistered","timestamp":1764000000000}"#,
            ..Reply::status(410)
        },
        Reply {
            body: r#"{"reason":"BadDeviceToken"}"#,
            ..Reply::status(400)
        },
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = apns_app(&apns, dir.path()).await;
    let (client, manage) = app.manager(ClientMetadata::poll("APNs Bank")).await;
    let a = app.user_with_device("olga").await;
    let b = app.device_for("olga").await;
    for (device, token) in [(&a, "aa01"), (&b, "bb02")] {
        let set = set_channel(&app, device, &json!({"channel": "apns", "token": token})).await;
        assert_eq!(set.status, 200, "{}", set.body);
    }
    let auth_req_id = app.start(&client, "olga", "Sign in").await;
    let pushes = report_until(&app, &manage, &auth_req_id, |p| {
        p.len() == 2 && p.iter().all(|p| p["state"] == "failed")
    })
    .await;
    let mut errors: Vec<&str> = pushes.iter().map(|p| p["last_error"].as_str().unwrap()).collect();
    errors.sort();
    assert_eq!(
        errors,
        [
            "answered 400 (BadDeviceToken); the device's push channel was cleared",
            "answered 410 (Unregistered); the device's push channel was cleared",
        ]
    );
    assert!(pushes.iter().all(|p| p["attempts"] == 1), "not retried");
    assert_eq!((push_of(&app, &a).await, push_of(&app, &b).await), (None, None));
}

#[tokio::test]
async fn apns_requests_follow_the_provider_api_over_http2() {
    let apns = Receiver::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let (app, key) = apns_app(&apns, dir.path()).await;
    let (client, manage) = app.manager(ClientMetadata::poll("APNs Bank")).await;
    let device = app.user_with_device("jane").await;
    let device_token = "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad";
    let set = set_channel(&app, &device, &json!({"channel": "apns", "token": device_token})).await;
    assert_eq!(set.status, 200, "{}", set.body);

    let ack = app
        .backchannel(
            &client,
            &[
                ("scope", "openid"),
                ("login_hint", "jane"),
                ("binding_message", "Wire 5 EUR"),
            ],
        )
        .await;
    let expires_at = app.clock_now() + ack.body["expires_in"].as_i64().unwrap();
    let got = apns.wait_for(1).await;
    let push = &got[0];
    assert_eq!(push.version, axum::http::Version::HTTP_2, "APNs speaks HTTP/2 only");
    assert_eq!(push.path, format!("/3/device/{device_token}"));
    assert_eq!(push.header("apns-topic"), Some("com.example.bank"));
    assert_eq!(push.header("apns-push-type"), Some("alert"));
    assert_eq!(push.header("apns-priority"), Some("10"));
    assert_eq!(push.header("apns-expiration"), Some(expires_at.to_string().as_str()));
    let jwt = push
        .header("authorization")
        .unwrap()
        .strip_prefix("bearer ")
        .unwrap()
        .to_owned();
    let verifier = josekit::jws::ES256.verifier_from_pem(key.to_pem_public_key()).unwrap();
    let (payload, header) = josekit::jws::deserialize_compact(&jwt, &verifier).expect("ES256 verifies");
    assert_eq!(header.key_id(), Some("ABC123DEFG"));
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims, json!({"iss": "DEF123GHIJ", "iat": app.clock_now()}));
    assert!(push.body["aps"]["alert"]["title"].is_string());
    assert!(!push.raw.contains("Wire 5"), "no binding message");
    let traded = exchange(&app, &device, &json!({"push_token": push.body["push_token"]})).await;
    assert_eq!(traded.body["transaction"]["binding_message"], "Wire 5 EUR");
    let auth_req_id = ack.body["auth_req_id"].as_str().unwrap();
    assert_eq!(
        report_until(&app, &manage, auth_req_id, |p| p[0]["state"] == "sent").await[0]["channel"],
        "apns"
    );

    // The provider token is reused within the hour, then renewed.
    app.start(&client, "jane", "again").await;
    let got = apns.wait_for(2).await;
    assert_eq!(got[1].header("authorization").unwrap(), format!("bearer {jwt}"));
    app.clock.advance_secs(46 * 60);
    app.start(&client, "jane", "later").await;
    let got = apns.wait_for(3).await;
    let renewed = got[2].header("authorization").unwrap().strip_prefix("bearer ").unwrap();
    assert_ne!(renewed, jwt);
    assert_eq!(common::jwt_payload(renewed)["iat"], app.clock_now());
}
