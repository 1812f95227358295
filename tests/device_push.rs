//! Push to devices (issue 5), end to end over HTTP: devices say how they
//! are reached, a request wakes the preferred device or all of them through
//! a real local relay / FCM / APNs server, pushes carry only an exchange
//! token, failures are retried, and the inbox stays the way in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::receiver::{Receiver, Reply};
use common::*;
use serde_json::{Value, json};
use trustid::admin::ClientCredentials;
use trustid::domain::client::ClientMetadata;
use trustid::domain::push::DeviceRouting;

const CHANNEL: &str = "/device/v1/push-channel";
const EXCHANGE: &str = "/device/v1/push/exchange";
const REPORT: &str = "/manage/v1/device-pushes";

async fn set_channel(app: &TestApp, device: &TestDevice, body: &Value) -> Answer {
    let res = app
        .http
        .put(app.url(CHANNEL))
        .header("DPoP", device.proof(app, "PUT", CHANNEL))
        .json(body)
        .send()
        .await
        .unwrap();
    Answer::from(res).await
}

async fn exchange(app: &TestApp, device: &TestDevice, body: &Value) -> Answer {
    let res = app
        .http
        .post(app.url(EXCHANGE))
        .header("DPoP", device.proof(app, "POST", EXCHANGE))
        .json(body)
        .send()
        .await
        .unwrap();
    Answer::from(res).await
}

/// A client whose devices on the webhook channel are reached through `relay`;
/// it may also read its requests' push reports (management).
async fn relay_client(app: &TestApp, relay: &Receiver, routing: DeviceRouting) -> (ClientCredentials, String) {
    let mut m = ClientMetadata::poll("Push Bank");
    m.push_relay_uri = Some(relay.url("/push"));
    m.device_routing = routing;
    registered(app, m).await
}

/// Registers a management-capable client and gets its management token.
async fn registered(app: &TestApp, mut m: ClientMetadata) -> (ClientCredentials, String) {
    m.management = true;
    let client = app.register(m).await;
    let res = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.client_id, Some(client.secret()))
        .form(&[("grant_type", "client_credentials"), ("scope", "trustid:manage")])
        .send()
        .await
        .unwrap();
    let token = Answer::from(res).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (client, token)
}

async fn report(app: &TestApp, token: &str, auth_req_id: &str) -> Answer {
    let res = app
        .http
        .post(app.url(REPORT))
        .bearer_auth(token)
        .json(&json!({"auth_req_id": auth_req_id}))
        .send()
        .await
        .unwrap();
    Answer::from(res).await
}

/// The report's pushes once `done` holds for them (bounded wait).
async fn report_until(app: &TestApp, token: &str, auth_req_id: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = report(app, token, auth_req_id).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let pushes = r.body["device_pushes"].as_array().unwrap().clone();
        if done(&pushes) {
            return pushes;
        }
        assert!(Instant::now() < deadline, "push report never settled: {}", r.body);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Verifies a relay notification with the keys trustid publishes at /jwks.
async fn verify_with_jwks(app: &TestApp, jws: &str) -> Value {
    let jwks: Value = app
        .http
        .get(app.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header: Value = {
        use base64::Engine;
        let part = jws.split('.').next().unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "trustid-push+jwt", "explicitly typed (RFC 8725 §3.11)");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the kid is published");
    let jwk = josekit::jwk::Jwk::from_map(key.as_object().unwrap().clone()).unwrap();
    let verifier = josekit::jws::ES256.verifier_from_jwk(&jwk).unwrap();
    let (payload, _) = josekit::jws::deserialize_compact(jws, &verifier).expect("the signature verifies");
    serde_json::from_slice(&payload).unwrap()
}

/// A user with two active devices, both on the webhook channel.
async fn two_devices(app: &TestApp, user: &str) -> (TestDevice, TestDevice) {
    let a = app.user_with_device(user).await;
    let b = app.device_for(user).await;
    for (device, token) in [(&a, "relay-a"), (&b, "relay-b")] {
        let set = set_channel(app, device, &json!({"channel": "webhook", "token": token})).await;
        assert_eq!((set.status, &set.body), (200, &json!({"channel": "webhook"})));
    }
    (a, b)
}

fn by_device_token<'a>(got: &'a [common::receiver::Received], app: &TestApp, token: &str) -> &'a str {
    let _ = app;
    got.iter()
        .map(|r| r.raw.as_str())
        .find(|raw| common::jwt_payload(raw)["device_token"] == token)
        .unwrap_or_else(|| panic!("no push for {token}"))
}

#[tokio::test]
async fn a_request_reaches_both_devices_and_once_one_approves_the_other_inbox_empties() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    let (a, b) = two_devices(&app, "alice").await;

    let auth_req_id = app.start(&client, "alice", "Pay 10 EUR to ACME").await;
    let got = relay.wait_for(2).await;
    let mut tokens = Vec::new();
    for (device_token, device) in [("relay-a", &a), ("relay-b", &b)] {
        let jws = by_device_token(&got, &app, device_token);
        let claims = verify_with_jwks(&app, jws).await;
        assert_eq!(claims["iss"], app.base);
        assert_eq!(claims["aud"], relay.url("/push"));
        assert!(
            !jws.contains("Pay 10") && !claims.to_string().contains("Pay 10"),
            "no binding message"
        );
        let push_token = claims["push_token"].as_str().unwrap().to_owned();
        assert!(push_token.len() >= 43, "≥256 bits");
        tokens.push((push_token, device));
    }
    assert!(got.iter().all(|r| r.header("content-type") == Some("application/jwt")));

    // Each device trades its own token for the request; not the other's.
    let wrong = exchange(&app, &b, &json!({"push_token": tokens[0].0})).await;
    assert_eq!((wrong.status, wrong.error()), (404, "unknown_push_token"));
    let item = exchange(&app, &a, &json!({"push_token": tokens[0].0})).await;
    assert_eq!(item.status, 200, "{}", item.body);
    let item = item.body["transaction"].clone();
    assert_eq!(item["binding_message"], "Pay 10 EUR to ACME");
    assert_eq!(b.only_item(&app).await["transaction_id"], item["transaction_id"]);

    let jws = a.decision_jws(&item, "approve", &app);
    let decided = a
        .send_decision(&app, item["transaction_id"].as_str().unwrap(), &jws)
        .await;
    assert_eq!(decided.status, 200, "{}", decided.body);

    let inbox = b.inbox(&app).await;
    assert_eq!(inbox.body["transactions"], json!([]), "withdrawn from the other device");
    let late = exchange(&app, &b, &json!({"push_token": tokens[1].0})).await;
    assert_eq!((late.status, late.error()), (404, "unknown_push_token"));
    assert_eq!(app.poll(&client, &auth_req_id).await.status, 200);

    let r = report(&app, &manage, &auth_req_id).await;
    assert_eq!(r.body["status"], "approved");
    let states: Vec<(&str, &str)> = r.body["device_pushes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["channel"].as_str().unwrap(), p["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("webhook", "sent"), ("webhook", "sent")]);
}

#[tokio::test]
async fn preferred_routing_reaches_only_the_preferred_device_unless_the_request_asks_for_all() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::Preferred).await;
    let (_a, b) = two_devices(&app, "bob").await;

    // No device preferred yet: all of them.
    let first = app.start(&client, "bob", "one").await;
    assert_eq!(
        report(&app, &manage, &first).await.body["device_pushes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    assert!(app.store().set_preferred_device("bob", &b.id()).await.unwrap());
    let second = app.start(&client, "bob", "two").await;
    let pushes = report(&app, &manage, &second).await.body["device_pushes"].clone();
    let devices: Vec<&str> = pushes
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["device_id"].as_str().unwrap())
        .collect();
    assert_eq!(devices, [b.id().as_str()]);
    let got = relay.wait_for(3).await;
    assert_eq!(common::jwt_payload(&got[2].raw)["device_token"], "relay-b");

    // The request overrides the client's default.
    let ack = app
        .backchannel(
            &client,
            &[
                ("scope", "openid"),
                ("login_hint", "bob"),
                ("binding_message", "three"),
                ("device_routing", "all"),
            ],
        )
        .await;
    let third = ack.body["auth_req_id"].as_str().unwrap();
    assert_eq!(
        report(&app, &manage, third).await.body["device_pushes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn device_routing_must_be_all_or_preferred() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![]).await;
    let (client, _) = relay_client(&app, &relay, DeviceRouting::All).await;
    app.user_with_device("carol").await;
    for (value, why) in [("some", "unknown value"), ("ALL", "values are lower case")] {
        let ack = app
            .backchannel(
                &client,
                &[("scope", "openid"), ("login_hint", "carol"), ("device_routing", value)],
            )
            .await;
        ack.assert_oauth_error(400, "invalid_request", why);
    }
}

#[tokio::test]
async fn a_failing_relay_is_retried_and_the_transaction_still_completes_through_the_inbox() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![Reply::status(503), Reply::status(500)]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    let device = app.user_with_device("dave").await;
    set_channel(&app, &device, &json!({"channel": "webhook", "token": "relay-d"})).await;

    let auth_req_id = app.start(&client, "dave", "Sign the lease").await;
    relay.wait_for(1).await;
    report_until(&app, &manage, &auth_req_id, |p| p[0]["last_error"] == "answered 503").await;
    // Backoff runs on trustid's clock: move it, and the retry comes due.
    app.clock.advance_secs(1);
    relay.wait_for(2).await;
    report_until(&app, &manage, &auth_req_id, |p| p[0]["last_error"] == "answered 500").await;
    app.clock.advance_secs(2);
    relay.wait_for(3).await;
    let pushes = report_until(&app, &manage, &auth_req_id, |p| p[0]["state"] == "sent").await;
    assert_eq!(pushes[0]["attempts"], 3);
    // Each attempt carried its own token; the last two trade (the one before
    // may have been delivered late), older ones do not.
    let got = relay.received();
    let token = |i: usize| common::jwt_payload(&got[i].raw)["push_token"].clone();
    let (old, prev, new) = (token(0), token(1), token(2));
    assert!(old != prev && prev != new && old != new);
    assert_eq!(exchange(&app, &device, &json!({"push_token": old})).await.status, 404);
    assert_eq!(exchange(&app, &device, &json!({"push_token": prev})).await.status, 200);
    assert_eq!(exchange(&app, &device, &json!({"push_token": new})).await.status, 200);

    assert_eq!(device.decide(&app, "approve").await.status, 200);
    assert_eq!(app.poll(&client, &auth_req_id).await.status, 200);
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("trustid_device_pushes_total{outcome=\"retried\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("trustid_device_pushes_total{outcome=\"sent\"} 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_push_token_is_stored_only_while_the_request_is_open_and_the_push_is_this_workers() {
    use trustid::domain::push::PushChannel;
    use trustid::store::push::{DevicePush, PushOutcome};
    let app = spawn_app_without_worker(|_| {}).await;
    let relay = Receiver::start(vec![]).await;
    let (client, _) = relay_client(&app, &relay, DeviceRouting::All).await;
    let device = app.user_with_device("lena").await;
    set_channel(&app, &device, &json!({"channel": "webhook", "token": "relay-l"})).await;
    app.start(&client, "lena", "Sign in").await;
    let store = app.store();
    let now = app.clock_now();
    let now_ms = (now + 1) * 1000;
    let claimed = store.claim_device_pushes(now_ms, now_ms + 5_000, 8).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let push = &claimed[0];
    let stale = DevicePush {
        lease_until: push.lease_until - 1,
        ..push.clone()
    };
    let sent = PushOutcome::Sent(PushChannel::Webhook);
    assert!(
        !store.set_push_token(&stale, "digest-1", now).await.unwrap(),
        "another worker's lease"
    );
    assert!(
        !store.finish_device_push(&stale, &sent, now_ms).await.unwrap(),
        "another worker's lease"
    );
    assert!(
        !store.set_push_token(push, "digest-1", now + 86_400).await.unwrap(),
        "the request expired"
    );
    assert!(
        store.set_push_token(push, "digest-1", now).await.unwrap(),
        "open, and this worker's"
    );

    assert_eq!(device.decide(&app, "deny").await.status, 200);
    assert!(
        !store.set_push_token(push, "digest-2", now).await.unwrap(),
        "the request was decided"
    );
    let withdrawn = PushOutcome::Withdrawn("the request was decided or expired".into());
    assert!(store.finish_device_push(push, &withdrawn, now_ms).await.unwrap());
    assert!(
        !store.finish_device_push(push, &sent, now_ms).await.unwrap(),
        "the lease ended with the outcome"
    );
}

#[tokio::test]
async fn pushes_still_owed_are_withdrawn_once_the_request_is_decided() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![Reply::status(503); 8]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    let device = app.user_with_device("erin").await;
    set_channel(&app, &device, &json!({"channel": "webhook", "token": "relay-e"})).await;

    let auth_req_id = app.start(&client, "erin", "Log in").await;
    relay.wait_for(1).await;
    report_until(&app, &manage, &auth_req_id, |p| p[0]["last_error"] == "answered 503").await;
    // The relay is down, but the inbox is not: the user decides.
    assert_eq!(device.decide(&app, "deny").await.status, 200);
    app.clock.advance_secs(60);
    let pushes = report_until(&app, &manage, &auth_req_id, |p| p[0]["state"] == "withdrawn").await;
    assert_eq!(pushes[0]["attempts"], 1);
    assert_eq!(relay.received().len(), 1, "nothing more was sent");
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("trustid_device_pushes_total{outcome=\"withdrawn\"} 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_relay_that_refuses_is_not_retried_and_a_client_without_relay_fails_at_once() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![Reply::status(400)]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    let device = app.user_with_device("finn").await;
    set_channel(&app, &device, &json!({"channel": "webhook", "token": "relay-f"})).await;
    let refused = app.start(&client, "finn", "one").await;
    let pushes = report_until(&app, &manage, &refused, |p| p[0]["state"] == "failed").await;
    assert_eq!(
        (pushes[0]["attempts"].clone(), pushes[0]["last_error"].clone()),
        (json!(1), json!("answered 400"))
    );

    // A client without a relay: the webhook push fails at once, the inbox works.
    let (plain, token) = registered(&app, ClientMetadata::poll("No relay")).await;
    let second = app.start(&plain, "finn", "two").await;
    let pushes = report_until(&app, &token, &second, |p| p[0]["state"] == "failed").await;
    assert_eq!(
        pushes[0]["last_error"],
        "no push relay: neither the request's app nor the client has one"
    );
    assert_eq!(
        device.inbox(&app).await.body["transactions"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn the_push_channel_refuses_bad_input_and_changes_nothing() {
    let app = spawn_app().await;
    let device = app.user_with_device("gina").await;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (json!({}), 400, "invalid_request", "no members"),
        (json!({"channel": "webhook"}), 400, "invalid_request", "no token"),
        (
            json!({"channel": "webhook", "token": "x", "extra": 1}),
            400,
            "invalid_request",
            "unknown member",
        ),
        (
            json!({"channel": "sms", "token": "x"}),
            400,
            "invalid_push_channel",
            "unknown channel",
        ),
        (
            json!({"channel": "fcm", "token": "abc"}),
            400,
            "unsupported_push_channel",
            "FCM not configured",
        ),
        (
            json!({"channel": "apns", "token": "abcd"}),
            400,
            "unsupported_push_channel",
            "APNs not configured",
        ),
        (
            json!({"channel": "webhook", "token": ""}),
            400,
            "invalid_push_token",
            "empty token",
        ),
        (
            json!({"channel": "webhook", "token": "has space"}),
            400,
            "invalid_push_token",
            "space",
        ),
        (
            json!({"channel": "webhook", "token": "x".repeat(4097)}),
            400,
            "invalid_push_token",
            "too long",
        ),
    ];
    for (body, status, error, why) in cases {
        let answer = set_channel(&app, &device, &body).await;
        assert_eq!(
            (answer.status, answer.error()),
            (status, error),
            "{why}: {}",
            answer.body
        );
        assert_eq!(answer.header("cache-control"), Some("no-store"), "{why}");
        assert!(
            app.store().device(&device.id()).await.unwrap().unwrap().push.is_none(),
            "{why}"
        );
    }
    let unbound = TestDevice::new();
    unbound.register(&app).await;
    let answer = set_channel(&app, &unbound, &json!({"channel": "webhook", "token": "x"})).await;
    assert_eq!((answer.status, answer.error()), (403, "device_not_active"));
    let stranger = TestDevice::new();
    let answer = set_channel(&app, &stranger, &json!({"channel": "webhook", "token": "x"})).await;
    assert_eq!((answer.status, answer.error()), (401, "invalid_proof"));

    // Set, then clear: a cleared device gets no push, only its inbox.
    assert_eq!(
        set_channel(&app, &device, &json!({"channel": "webhook", "token": "g"}))
            .await
            .status,
        200
    );
    let res = app
        .http
        .delete(app.url(CHANNEL))
        .header("DPoP", device.proof(&app, "DELETE", CHANNEL))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(app.store().device(&device.id()).await.unwrap().unwrap().push.is_none());
}

#[tokio::test]
async fn the_exchange_and_the_report_refuse_bad_input() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    let device = app.user_with_device("hugo").await;
    let auth_req_id = app.start(&client, "hugo", "hello").await;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (json!({}), 400, "invalid_request", "no token"),
        (json!({"push_token": 5}), 400, "invalid_request", "not a string"),
        (
            json!({"push_token": "x", "more": 1}),
            400,
            "invalid_request",
            "unknown member",
        ),
        (
            json!({"push_token": "never-issued"}),
            404,
            "unknown_push_token",
            "unknown token",
        ),
    ];
    for (body, status, error, why) in cases {
        let answer = exchange(&app, &device, &body).await;
        assert_eq!(
            (answer.status, answer.error()),
            (status, error),
            "{why}: {}",
            answer.body
        );
    }

    let (_, other) = registered(&app, ClientMetadata::poll("Other")).await;
    let res = app
        .http
        .post(app.url(REPORT))
        .bearer_auth(&manage)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(Answer::from(res).await.error(), "invalid_request", "not JSON");
    let cases: Vec<(&str, &str, u16, &str, &str)> = vec![
        (&manage, "no-such-request", 404, "not_found", "unknown auth_req_id"),
        (&other, &auth_req_id, 404, "not_found", "another client's request"),
        ("not-a-token", &auth_req_id, 401, "invalid_token", "no management token"),
    ];
    for (token, id, status, error, why) in cases {
        let answer = report(&app, token, id).await;
        assert_eq!(
            (answer.status, answer.error()),
            (status, error),
            "{why}: {}",
            answer.body
        );
    }
    let own = report(&app, &manage, &auth_req_id).await;
    assert_eq!(
        (own.status, own.body["device_pushes"].clone()),
        (200, json!([])),
        "no channel, no push"
    );
}

/// A Google service-account key file for `project`, its token endpoint at `token_uri`.
fn service_account(dir: &std::path::Path, token_uri: &str) -> (std::path::PathBuf, Vec<u8>) {
    let key = josekit::jwk::alg::rsa::RsaKeyPair::generate(2048).unwrap();
    let account = json!({
        "type": "service_account",
        "project_id": "trustid-test",
        "private_key_id": "key-1",
        "private_key": String::from_utf8(key.to_pem_private_key()).unwrap(),
        "client_email": "push@trustid-test.iam.gserviceaccount.com",
        "token_uri": token_uri,
    });
    let path = dir.join("service-account.json");
    std::fs::write(&path, account.to_string()).unwrap();
    (path, key.to_pem_public_key())
}

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
    let (path, public_pem) = service_account(dir.path(), &fcm.url("/token"));
    let base = fcm.base.clone();
    let app = spawn_app_with(move |s| {
        s.fcm_service_account = Some(path);
        s.fcm_base_url = base;
    })
    .await;
    let (client, manage) = registered(&app, ClientMetadata::poll("FCM Bank")).await;
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

    // An unregistered token is final, not retried.
    let gone = app.start(&client, "ivan", "third").await;
    let pushes = report_until(&app, &manage, &gone, |p| p[0]["state"] == "failed").await;
    assert_eq!(pushes[0]["last_error"], "answered 404 (UNREGISTERED)");
    assert_eq!(pushes[0]["attempts"], 1);
}

#[tokio::test]
async fn apns_requests_follow_the_provider_api_over_http2() {
    let apns = Receiver::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let key = josekit::jwk::alg::ec::EcKeyPair::generate(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
    let key_path = dir.path().join("AuthKey_ABC123DEFG.p8");
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
    let (client, manage) = registered(&app, ClientMetadata::poll("APNs Bank")).await;
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

#[tokio::test]
async fn three_workers_push_each_device_once() {
    let app = spawn_app().await;
    let _second = app.second_instance().await;
    let _third = app.second_instance().await;
    let relay = Receiver::start(vec![]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    two_devices(&app, "kim").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.start(&client, "kim", &format!("request {i}")).await);
    }
    for id in &ids {
        report_until(&app, &manage, id, |p| {
            p.len() == 2 && p.iter().all(|p| p["state"] == "sent")
        })
        .await;
    }
    let got = relay.received();
    assert_eq!(got.len(), 10, "one push per device and request across three workers");
    let mut pairs: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            let claims = common::jwt_payload(&r.raw);
            (claims["transaction_id"].to_string(), claims["device_token"].to_string())
        })
        .collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), 10);
}

#[tokio::test]
async fn an_apps_own_relay_takes_the_requests_naming_that_app_and_the_clients_relay_the_rest() {
    let app = spawn_app().await;
    let (client_relay, shop_relay) = (Receiver::start(vec![]).await, Receiver::start(vec![]).await);
    let (client, _) = relay_client(&app, &client_relay, DeviceRouting::All).await;
    app.user("carol", &["shop"]).await;
    let device = app.device_for("carol").await;
    let set = set_channel(&app, &device, &json!({"channel": "webhook", "token": "relay-c"})).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let shop_uri = shop_relay.url("/shop");
    let set = trustid::admin::set_app_push_relay(app.store(), &client.client_id, "shop", Some(&shop_uri), true, 0)
        .await
        .unwrap();
    assert_eq!(set.push_relay_uri.as_deref(), Some(shop_uri.as_str()));
    let for_shop = r#"{"action_context":"authentication","appId":"shop","bindingMessage":"Buy shoes"}"#;

    app.start(&client, "carol", for_shop).await;
    let got = shop_relay.wait_for(1).await;
    let claims = verify_with_jwks(&app, &got[0].raw).await;
    assert_eq!(
        (claims["aud"].as_str(), claims["device_token"].as_str()),
        (Some(shop_uri.as_str()), Some("relay-c"))
    );
    assert_eq!(
        claims["client_id"],
        client.client_id.as_str(),
        "the relay can tell whose request it is"
    );

    app.start(&client, "carol", "No app named").await;
    let got = client_relay.wait_for(1).await;
    assert_eq!(
        verify_with_jwks(&app, &got[0].raw).await["aud"],
        client_relay.url("/push")
    );
    assert_eq!(
        shop_relay.received().len(),
        1,
        "the app's relay hears only of its app's requests"
    );

    // Without its own relay again, the app's requests go through the client's.
    trustid::admin::set_app_push_relay(app.store(), &client.client_id, "shop", None, true, 0)
        .await
        .unwrap();
    app.start(&client, "carol", for_shop).await;
    client_relay.wait_for(2).await;
    assert_eq!(shop_relay.received().len(), 1);
}

#[tokio::test]
async fn another_client_naming_the_same_app_goes_to_its_own_relay_never_the_other_clients_app_relay() {
    let app = spawn_app().await;
    let (a_relay, shop_relay, b_relay) = (
        Receiver::start(vec![]).await,
        Receiver::start(vec![]).await,
        Receiver::start(vec![]).await,
    );
    let (client_a, _) = relay_client(&app, &a_relay, DeviceRouting::All).await;
    let (client_b, _) = relay_client(&app, &b_relay, DeviceRouting::All).await;
    trustid::admin::set_app_push_relay(
        app.store(),
        &client_a.client_id,
        "shop",
        Some(&shop_relay.url("/shop")),
        true,
        0,
    )
    .await
    .unwrap();
    app.user("dave", &["shop"]).await;
    let device = app.device_for("dave").await;
    let set = set_channel(&app, &device, &json!({"channel": "webhook", "token": "relay-d"})).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let for_shop = r#"{"action_context":"authentication","appId":"shop","bindingMessage":"Buy shoes"}"#;

    app.start(&client_b, "dave", for_shop).await;
    let got = b_relay.wait_for(1).await;
    let claims = verify_with_jwks(&app, &got[0].raw).await;
    assert_eq!(claims["aud"], b_relay.url("/push"));
    assert_eq!(claims["client_id"], client_b.client_id.as_str());
    // A's own request for the app still goes to A's app relay: only after it
    // arrived is "shop_relay heard one push" proof that B's never went there.
    app.start(&client_a, "dave", for_shop).await;
    let got = shop_relay.wait_for(1).await;
    assert_eq!(
        verify_with_jwks(&app, &got[0].raw).await["client_id"],
        client_a.client_id.as_str()
    );
    assert_eq!(
        shop_relay.received().len(),
        1,
        "B's request never reached A's app relay"
    );
    assert_eq!(a_relay.received().len(), 0);
}

#[tokio::test]
async fn an_app_relay_is_refused_when_its_client_app_id_or_uri_is_bad_and_nothing_changes() {
    let app = spawn_app().await;
    let client = app.register(ClientMetadata::poll("Shop")).await;
    let unknown = trustid::admin::set_app_push_relay(
        app.store(),
        "nobody",
        "shop",
        Some("https://relay.example.com/"),
        true,
        0,
    )
    .await
    .expect_err("an unknown client")
    .to_string();
    assert!(unknown.contains("no client `nobody`"), "{unknown}");
    assert_eq!(app.store().app_push_relay("nobody", "shop").await.unwrap(), None);
    let long = "a".repeat(129);
    let cases: &[(&str, Option<&str>, bool, &str, &str)] = &[
        (
            "",
            Some("https://relay.example.com/"),
            false,
            "1 to 128",
            "an empty app id",
        ),
        (
            &long,
            Some("https://relay.example.com/"),
            false,
            "1 to 128",
            "an app id too long for a binding_message",
        ),
        (
            "sh\u{7}op",
            Some("https://relay.example.com/"),
            false,
            "1 to 128",
            "a control character",
        ),
        (
            "shop",
            Some("http://relay.example.com/push"),
            false,
            "push relay URI",
            "http off loopback",
        ),
        (
            "shop",
            Some("http://127.0.0.1:9/push"),
            false,
            "push relay URI",
            "loopback http outside dev mode",
        ),
        ("shop", Some("not a url"), true, "push relay URI", "not a URL"),
        (
            "shop",
            Some("https://relay.example.com/#frag"),
            true,
            "push relay URI",
            "a fragment",
        ),
        ("shop", None, true, "has no push relay", "nothing to clear"),
    ];
    for (app_id, uri, dev, message, why) in cases {
        let err = trustid::admin::set_app_push_relay(app.store(), &client.client_id, app_id, *uri, *dev, 0)
            .await
            .expect_err(why)
            .to_string();
        assert!(err.contains(message), "{why}: {err}");
        assert_eq!(
            app.store().app_push_relay(&client.client_id, app_id).await.unwrap(),
            None,
            "{why}: nothing stored"
        );
    }
}
