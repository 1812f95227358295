//! Users and devices as the seeds describe them: bindings with activation
//! codes (seed 000), registration, activation and check-status (seed 001),
//! registration tokens (seed 002), provisioning over CIBA (seed 003),
//! unregister, devices, lock and lockout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::receiver::Receiver;
use common::*;
use serde_json::{Value, json};
use trustid::domain::client::{ClientMetadata, DeliveryMode, SigningAlg};
use trustid::engine::admin::ClientCredentials;

/// A management client and its access token.
async fn manager(app: &TestApp) -> String {
    app.manager(ClientMetadata::poll("RP Server")).await.1
}

pub(crate) async fn call(app: &TestApp, token: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
    let mut req = app
        .http
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    Answer::from(req.send().await.unwrap()).await
}

fn assert_api_error(answer: &Answer, status: u16, error: &str, why: &str) {
    assert_eq!(
        (answer.status, answer.error()),
        (status, error),
        "{why}: {}",
        answer.body
    );
    assert!(answer.body["message"].is_string(), "{why}");
}

pub(crate) async fn device_activate(app: &TestApp, device: &TestDevice, body: Value) -> Answer {
    let res = app
        .http
        .post(app.url("/device/v1/activate"))
        .header("DPoP", device.proof(app, "POST", "/device/v1/activate"))
        .json(&body)
        .send()
        .await
        .unwrap();
    Answer::from(res).await
}

/// Seed 000: bind, verify the account, activate; the device then authenticates.
async fn bind_and_activate(app: &TestApp, token: &str, user: &str) -> TestDevice {
    let device = TestDevice::new();
    assert_eq!(device.register(app).await.status, 201);
    let bound = call(
        app,
        token,
        "POST",
        "/manage/v1/bindings",
        Some(json!({"user_id": user, "device_id": device.id()})),
    )
    .await;
    assert_eq!(bound.status, 201, "{}", bound.body);
    assert_api_error(
        &device.inbox(app).await,
        403,
        "device_not_active",
        "inactive until activated",
    );
    let code = bound.body["activation_code"].as_str().unwrap();
    let activated = call(
        app,
        token,
        "POST",
        "/manage/v1/bindings/activate",
        Some(json!({"activation_code": code})),
    )
    .await;
    assert_eq!(activated.status, 200, "{}", activated.body);
    assert_eq!(activated.body["device_id"], Value::from(device.id()));
    device
}

#[tokio::test]
async fn seed_000_a_new_user_installing_the_app() {
    let app = spawn_app().await;
    let token = manager(&app).await;
    let client = app.client(SigningAlg::ES256).await;
    let device = bind_and_activate(&app, &token, "new-user").await;
    let auth_req_id = app.start(&client, "new-user", "Welcome").await;
    device.decide(&app, "approve").await;
    assert_eq!(app.poll(&client, &auth_req_id).await.status, 200);
}

#[tokio::test]
async fn seed_000_an_existing_user_on_a_new_device_and_updating_the_app() {
    let app = spawn_app().await;
    let token = manager(&app).await;
    let first = app.user_with_device("alice").await;
    let second = bind_and_activate(&app, &token, "alice").await;
    app.user("bob", &[]).await;
    bind_and_activate(&app, &token, "bob").await;
    let listed = call(&app, &token, "GET", "/manage/v1/users/alice/devices", None).await;
    let ids: Vec<&str> = listed.body["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first.id().as_str()) && ids.contains(&second.id().as_str()));
}

#[tokio::test]
async fn binding_errors_are_distinct_and_change_nothing() {
    let app = spawn_app().await;
    let token = manager(&app).await;
    app.user_with_device("alice").await;
    let taken = app.device_for("alice").await;
    let device = TestDevice::new();
    device.register(&app).await;
    let cases = [
        (
            json!({"user_id": "carol", "device_id": "no-such-device"}),
            404,
            "unknown_device",
            "unknown device",
        ),
        (
            json!({"user_id": "carol", "device_id": taken.id()}),
            409,
            "device_bound_elsewhere",
            "bound to another user",
        ),
        (
            json!({"user_id": "alice", "device_id": taken.id()}),
            409,
            "already_bound",
            "already this user's",
        ),
        (json!({"user_id": "carol"}), 400, "invalid_request", "device_id missing"),
        (
            json!({"user_id": "", "device_id": device.id()}),
            400,
            "invalid_request",
            "empty user id",
        ),
    ];
    for (body, status, error, why) in cases {
        assert_api_error(
            &call(&app, &token, "POST", "/manage/v1/bindings", Some(body)).await,
            status,
            error,
            why,
        );
    }
    assert!(
        app.store().user("carol").await.unwrap().is_none(),
        "no user was created"
    );

    let bound = call(
        &app,
        &token,
        "POST",
        "/manage/v1/bindings",
        Some(json!({"user_id": "carol", "device_id": device.id()})),
    )
    .await;
    let code = bound.body["activation_code"].as_str().unwrap().to_owned();
    let activate = |code: String| {
        call(
            &app,
            &token,
            "POST",
            "/manage/v1/bindings/activate",
            Some(json!({"activation_code": code})),
        )
    };
    assert_api_error(
        &activate("wrong".into()).await,
        400,
        "invalid_activation_code",
        "wrong code",
    );
    assert_api_error(&device.inbox(&app).await, 403, "device_not_active", "still inactive");
    assert_eq!(activate(code.clone()).await.status, 200);
    assert_api_error(&activate(code).await, 409, "activation_code_used", "reused code");

    let late = TestDevice::new();
    late.register(&app).await;
    let bound = call(
        &app,
        &token,
        "POST",
        "/manage/v1/bindings",
        Some(json!({"user_id": "dave", "device_id": late.id()})),
    )
    .await;
    app.clock.advance_secs(24 * 3600);
    let fresh = manager(&app).await;
    let code = bound.body["activation_code"].as_str().unwrap().to_owned();
    let expired = call(
        &app,
        &fresh,
        "POST",
        "/manage/v1/bindings/activate",
        Some(json!({"activation_code": code})),
    )
    .await;
    assert_api_error(&expired, 410, "activation_code_expired", "expired code");
    assert_api_error(&late.inbox(&app).await, 403, "device_not_active", "still inactive");
}

#[tokio::test]
async fn the_management_api_needs_a_management_token() {
    let app = spawn_app().await;
    let plain = app.client(SigningAlg::ES256).await;
    let res = app
        .http
        .post(app.url("/token"))
        .basic_auth(&plain.client_id, Some(plain.secret()))
        .form(&[("grant_type", "client_credentials"), ("scope", "trustid:manage")])
        .send()
        .await
        .unwrap();
    Answer::from(res)
        .await
        .assert_oauth_error(400, "unauthorized_client", "not granted management");
    let token = manager(&app).await;
    let mut m = ClientMetadata::poll("RP Server 2");
    m.management = true;
    let other = app.register(m).await;
    let res = app
        .http
        .post(app.url("/token"))
        .basic_auth(&other.client_id, Some(other.secret()))
        .form(&[("grant_type", "client_credentials"), ("scope", "openid")])
        .send()
        .await
        .unwrap();
    Answer::from(res)
        .await
        .assert_oauth_error(400, "invalid_scope", "only trustid:manage");

    let path = "/manage/v1/users/alice/devices";
    let none = Answer::from(app.http.get(app.url(path)).send().await.unwrap()).await;
    assert_api_error(&none, 401, "invalid_token", "no token");
    assert!(none.header("www-authenticate").unwrap().starts_with("Bearer"));
    assert_api_error(
        &call(&app, "made-up", "GET", path, None).await,
        401,
        "invalid_token",
        "unknown token",
    );
    app.user("alice", &[]).await;
    assert_eq!(call(&app, &token, "GET", path, None).await.status, 200);
    app.clock.advance_secs(3600);
    assert_api_error(
        &call(&app, &token, "GET", path, None).await,
        401,
        "invalid_token",
        "expired token",
    );
}

async fn register_user(app: &TestApp, token: &str, user: &str) -> Answer {
    let body = json!({
        "objectType": "AdaptiveRegisterUserInput",
        "userID": user,
        "staticPassword": "correct horse battery",
        "relationshipRef": "crm-7",
        "clientIP": "192.0.2.7",
        "sessionID": "s-1",
        "cddc": {"browserCDDC": {"fingerprintRaw": "ua=test", "fingerprintHash": "abc123"}},
    });
    let answer = call(app, token, "POST", "/manage/v1/users/register", Some(body)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer
}

async fn check_status(app: &TestApp, token: &str, body: Value) -> String {
    let answer = call(app, token, "POST", "/manage/v1/registrations/check-status", Some(body)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["activationStatus"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn seed_001_register_activate_and_check_status_asynchronously() {
    let app = spawn_app().await;
    let token = manager(&app).await;
    let registered = register_user(&app, &token, "erin").await;
    let password = registered.body["activationPassword"].as_str().unwrap();
    assert_eq!(
        registered.body["expiresAt"].as_i64().unwrap() - app.clock_now(),
        600,
        "ten minutes"
    );
    assert!(
        registered.body["qrPayload"]
            .as_str()
            .unwrap()
            .contains(&format!("activation_password={password}"))
    );
    let qr = app
        .http
        .get(registered.body["qrUrl"].as_str().unwrap())
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    assert!(qr.text().await.unwrap().starts_with("<?xml"));

    assert_eq!(check_status(&app, &token, json!({"login": "erin"})).await, "pending");
    let device = TestDevice::new();
    device.register(&app).await;
    let activated = device_activate(&app, &device, json!({"activation_password": password})).await;
    assert_eq!(activated.status, 200, "{}", activated.body);
    assert_eq!(check_status(&app, &token, json!({"login": "erin"})).await, "activated");
    assert_eq!(
        check_status(&app, &token, json!({"login": "erin"})).await,
        "unknown",
        "reported once"
    );
    assert_eq!(check_status(&app, &token, json!({"login": "nobody"})).await, "unknown");
    let again = device_activate(&app, &TestDevice::new(), json!({"activation_password": password})).await;
    assert_eq!(again.status, 401, "an unregistered device cannot activate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_001_check_status_waits_for_the_activation_or_times_out() {
    let app = spawn_app().await;
    let token = manager(&app).await;
    let registered = register_user(&app, &token, "frank").await;
    let password = registered.body["activationPassword"].as_str().unwrap().to_owned();
    assert_eq!(
        check_status(&app, &token, json!({"login": "frank", "timeoutSeconds": 1})).await,
        "timeout"
    );

    let device = TestDevice::new();
    device.register(&app).await;
    let waiter = check_status(&app, &token, json!({"login": "frank", "timeoutSeconds": 30}));
    let activation = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        device_activate(&app, &device, json!({"activation_password": password})).await
    };
    let (status, activated) = tokio::join!(waiter, activation);
    assert_eq!(activated.status, 200);
    assert_eq!(status, "activated", "woken by the activation, long before 30 s");
    assert_eq!(
        check_status(&app, &token, json!({"login": "frank", "timeoutSeconds": 1})).await,
        "unknown"
    );
}

#[tokio::test]
async fn seed_001_an_expired_registration_is_unknown_and_cannot_activate() {
    let app = spawn_app().await;
    let token = manager(&app).await;
    let registered = register_user(&app, &token, "gina").await;
    let password = registered.body["activationPassword"].as_str().unwrap();
    app.clock.advance_secs(601);
    assert_eq!(check_status(&app, &token, json!({"login": "gina"})).await, "unknown");
    let device = TestDevice::new();
    device.register(&app).await;
    assert_api_error(
        &device_activate(&app, &device, json!({"activation_password": password})).await,
        410,
        "activation_password_expired",
        "expired password",
    );
    let bad = [
        (json!({"userID": "gina"}), 409, "user_exists", "registered already"),
        (
            json!({"objectType": "Other", "userID": "hank"}),
            400,
            "invalid_request",
            "wrong objectType",
        ),
        (
            json!({"userID": "hank", "staticPassword": "short"}),
            400,
            "invalid_request",
            "short static password",
        ),
        (json!({"login": "hank"}), 400, "invalid_request", "unknown member"),
    ];
    for (body, status, error, why) in bad {
        assert_api_error(
            &call(&app, &token, "POST", "/manage/v1/users/register", Some(body)).await,
            status,
            error,
            why,
        );
    }
    assert_api_error(
        &call(
            &app,
            &token,
            "POST",
            "/manage/v1/registrations/check-status",
            Some(json!({"login": "gina", "timeoutSeconds": 0})),
        )
        .await,
        400,
        "invalid_request",
        "timeoutSeconds 0",
    );
}

#[tokio::test]
async fn seed_002_a_registration_token_adds_one_device() {
    let app = spawn_app().await;
    let token = manager(&app).await;
    app.user_with_device("alice").await;
    let issued = call(&app, &token, "POST", "/manage/v1/users/alice/registration-tokens", None).await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    let reg_token = issued.body["registration_token"].as_str().unwrap();
    let device = TestDevice::new();
    device.register(&app).await;
    assert_eq!(
        device_activate(&app, &device, json!({"registration_token": reg_token}))
            .await
            .status,
        200
    );
    assert_eq!(device.inbox(&app).await.status, 200);
    let another = TestDevice::new();
    another.register(&app).await;
    assert_api_error(
        &device_activate(&app, &another, json!({"registration_token": reg_token})).await,
        409,
        "registration_token_used",
        "single use",
    );
    assert!(
        app.metrics()
            .await
            .contains("trustid_replays_refused_total{kind=\"activation_credential\"} 1"),
        "counted"
    );
    let late = call(&app, &token, "POST", "/manage/v1/users/alice/registration-tokens", None).await;
    app.clock.advance_secs(301);
    assert_api_error(
        &device_activate(
            &app,
            &another,
            json!({"registration_token": late.body["registration_token"]}),
        )
        .await,
        410,
        "registration_token_expired",
        "short-lived",
    );
    assert_api_error(
        &device_activate(
            &app,
            &another,
            json!({"registration_token": "x", "activation_code": "y"}),
        )
        .await,
        400,
        "invalid_request",
        "two credentials",
    );
    assert_api_error(
        &call(
            &app,
            &token,
            "POST",
            "/manage/v1/users/nobody/registration-tokens",
            None,
        )
        .await,
        404,
        "not_found",
        "unknown user",
    );
}

async fn notified(app: &TestApp, mode: DeliveryMode, endpoint: &Receiver) -> ClientCredentials {
    let mut m = ClientMetadata::poll("Notified");
    m.backchannel_token_delivery_mode = mode;
    m.backchannel_client_notification_endpoint = Some(endpoint.url("/cb"));
    app.register(m).await
}

#[tokio::test]
async fn unregister_ends_open_requests_and_keeps_the_audit_trail() {
    let app = spawn_app().await;
    let token = manager(&app).await;
    let poll = app.client(SigningAlg::ES256).await;
    let pings = Receiver::start(vec![]).await;
    let pushes = Receiver::start(vec![]).await;
    let ping = notified(&app, DeliveryMode::Ping, &pings).await;
    let push = notified(&app, DeliveryMode::Push, &pushes).await;
    let device = app.user_with_device("ivy").await;
    let polled = app.start(&poll, "ivy", "Log in").await;
    for client in [&ping, &push] {
        let ack = app
            .backchannel(
                client,
                &[
                    ("scope", "openid"),
                    ("login_hint", "ivy"),
                    ("client_notification_token", "tok"),
                ],
            )
            .await;
        assert_eq!(ack.status, 200);
    }
    let body = json!({"objectType": "AdaptiveUnregisterUserInput", "clientIP": "192.0.2.9", "sessionID": "s-2"});
    let removed = call(&app, &token, "POST", "/manage/v1/users/ivy/unregister", Some(body)).await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(removed.body["removed"]["devices"], 1);
    assert_eq!(removed.body["removed"]["transactions"], 3);
    app.poll(&poll, &polled)
        .await
        .assert_oauth_error(400, "access_denied", "ended for a poll client");
    assert!(pings.wait_for(1).await[0].body["auth_req_id"].is_string(), "pinged");
    assert_eq!(pushes.wait_for(1).await[0].body["error"], "transaction_failed");
    assert_api_error(
        &device.inbox(&app).await,
        403,
        "device_not_active",
        "the device is removed",
    );
    app.backchannel(&poll, &[("scope", "openid"), ("login_hint", "ivy")])
        .await
        .assert_oauth_error(403, "access_denied", "an unregistered user has no device");
    let trail = app.store().audit_of("user:ivy").await.unwrap();
    assert!(trail.iter().any(|(_, _, action)| action == "user.unregistered"));
    assert_api_error(
        &call(&app, &token, "POST", "/manage/v1/users/ivy/unregister", None).await,
        404,
        "not_found",
        "twice",
    );
    register_user(&app, &token, "ivy").await;
}

#[tokio::test]
async fn devices_can_be_preferred_removed_and_users_locked() {
    let app = spawn_app().await;
    let token = manager(&app).await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("jack").await;
    let second = app.device_for("jack").await;
    let path = format!("/manage/v1/users/jack/devices/{}/preferred", second.id());
    assert_eq!(call(&app, &token, "POST", &path, None).await.status, 204);
    let listed = call(&app, &token, "GET", "/manage/v1/users/jack/devices", None).await;
    assert_eq!(
        listed.body["devices"][0]["device_id"],
        Value::from(second.id()),
        "the preferred device first"
    );
    assert_eq!(listed.body["devices"][0]["preferred"], true);
    assert_eq!(
        call(
            &app,
            &token,
            "DELETE",
            &format!("/manage/v1/users/jack/devices/{}", second.id()),
            None
        )
        .await
        .status,
        204
    );
    assert_api_error(&second.inbox(&app).await, 403, "device_not_active", "removed");
    assert_api_error(
        &call(
            &app,
            &token,
            "DELETE",
            &format!("/manage/v1/users/jack/devices/{}", second.id()),
            None,
        )
        .await,
        404,
        "not_found",
        "removed twice",
    );
    let locked = call(&app, &token, "POST", "/manage/v1/users/jack/lock", None).await;
    assert_eq!(locked.body["status"], "locked");
    app.backchannel(&client, &[("scope", "openid"), ("login_hint", "jack")])
        .await
        .assert_oauth_error(403, "access_denied", "locked");
    call(&app, &token, "POST", "/manage/v1/users/jack/unlock", None).await;
    assert_eq!(
        app.backchannel(&client, &[("scope", "openid"), ("login_hint", "jack")])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn seed_003_provisioning_a_new_user_completes_when_a_device_activates() {
    let app = spawn_app().await;
    let token = manager(&app).await;
    let client = app.client(SigningAlg::ES256).await;
    let message = r#"{"action_context":"provisioning","appId":"wallet","bindingMessage":"Enrol in Wallet"}"#;
    let ack = app
        .backchannel(
            &client,
            &[
                ("scope", "openid"),
                ("login_hint", "kate"),
                ("binding_message", message),
            ],
        )
        .await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    let auth_req_id = ack.body["auth_req_id"].as_str().unwrap();
    app.poll(&client, auth_req_id)
        .await
        .assert_oauth_error(400, "authorization_pending", "no device yet");
    let device = bind_and_activate(&app, &token, "kate").await;
    app.clock.advance_secs(5);
    let tokens = app.poll(&client, auth_req_id).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let claims = jwt_payload(tokens.body["id_token"].as_str().unwrap());
    assert_eq!(claims["trustid.transaction_type"], "provisioning");
    assert_eq!(claims["trustid.deviceid"], Value::from(device.id()));
    let auth = r#"{"action_context":"authentication","appId":"wallet","bindingMessage":"Log in"}"#;
    let ack = app
        .backchannel(
            &client,
            &[("scope", "openid"), ("login_hint", "kate"), ("binding_message", auth)],
        )
        .await;
    assert_eq!(ack.status, 200, "associated with the app: {}", ack.body);
}

#[tokio::test]
async fn seed_003_user_status_locked_creates_the_user_locked() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let message =
        r#"{"action_context":"provisioning","appId":"wallet","bindingMessage":"Enrol","userStatus":"locked"}"#;
    let ack = app
        .backchannel(
            &client,
            &[("scope", "openid"), ("login_hint", "leo"), ("binding_message", message)],
        )
        .await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    let user = app.store().user("leo").await.unwrap().unwrap();
    assert_eq!(user.status.as_str(), "locked");
    app.backchannel(&client, &[("scope", "openid"), ("login_hint", "leo")])
        .await
        .assert_oauth_error(403, "access_denied", "a locked user cannot authenticate");
}

#[tokio::test]
async fn failed_attempts_lock_the_device_and_the_user_and_a_success_resets_the_device() {
    let app = spawn_app_with(|s| {
        s.device_lockout_threshold = 2;
        s.user_lockout_threshold = 3;
    })
    .await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("mia").await;
    app.start(&client, "mia", "Log in").await;
    let forge = |item: &Value| {
        let mut item = item.clone();
        item["binding_message"] = Value::from("something else");
        item
    };
    let item = device.only_item(&app).await;
    let jws = device.decision_jws(&forge(&item), "approve", &app);
    device
        .send_decision(&app, item["transaction_id"].as_str().unwrap(), &jws)
        .await;
    // A success resets the device's counter.
    assert_eq!(device.decide(&app, "approve").await.status, 200);
    assert_eq!(
        app.store().device(&device.id()).await.unwrap().unwrap().failed_attempts,
        0
    );
    app.start(&client, "mia", "Log in").await;
    let item = device.only_item(&app).await;
    for _ in 0..2 {
        let jws = device.decision_jws(&forge(&item), "approve", &app);
        device
            .send_decision(&app, item["transaction_id"].as_str().unwrap(), &jws)
            .await;
    }
    assert_api_error(
        &device.inbox(&app).await,
        403,
        "device_not_active",
        "locked after 2 failures",
    );
    let user = app.store().user("mia").await.unwrap().unwrap();
    assert_eq!(
        (user.status.as_str(), user.failed_attempts),
        ("locked", 3),
        "the third failure locks the user"
    );
    app.backchannel(&client, &[("scope", "openid"), ("login_hint", "mia")])
        .await
        .assert_oauth_error(403, "access_denied", "locked user");
    // Each lockout is in the audit trail.
    let device_trail = app.store().audit_of(&format!("device:{}", device.id())).await.unwrap();
    assert!(
        device_trail.iter().any(|(_, _, action)| action == "device.locked_out"),
        "{device_trail:?}"
    );
    let user_trail = app.store().audit_of("user:mia").await.unwrap();
    assert!(
        user_trail.iter().any(|(_, _, action)| action == "user.locked_out"),
        "{user_trail:?}"
    );
}

#[tokio::test]
async fn a_denial_as_fraud_and_wrong_user_codes_count_as_failed_attempts() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("ned").await;
    app.start(&client, "ned", "Log in").await;
    let item = device.only_item(&app).await;
    let payload = json!({
        "txn": item["transaction_id"], "nonce": item["nonce"], "decision": "deny", "reason": "fraud",
        "bm_hash": sha256_b64(item["binding_message"].as_str().unwrap()), "iat": app.clock_now(),
    });
    let jws = sign_jws(
        &device.auth_key,
        &json!({"typ": "trustid-decision+jwt", "alg": "ES256"}),
        &payload,
    );
    assert_eq!(
        device
            .send_decision(&app, item["transaction_id"].as_str().unwrap(), &jws)
            .await
            .status,
        200
    );
    let user = app.store().user("ned").await.unwrap().unwrap();
    assert_eq!(user.failed_attempts, 1, "fraud counts");

    let mut m = ClientMetadata::poll("Code Bank");
    m.backchannel_user_code_parameter = true;
    let coded = app.register(m).await;
    trustid::engine::admin::create_user(
        app.store(),
        trustid::engine::admin::NewUser {
            id: "ola".into(),
            user_code: Some("2468".into()),
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();
    app.backchannel(
        &coded,
        &[("scope", "openid"), ("login_hint", "ola"), ("user_code", "0000")],
    )
    .await
    .assert_oauth_error(400, "invalid_user_code", "wrong code");
    assert_eq!(app.store().user("ola").await.unwrap().unwrap().failed_attempts, 1);
}

#[tokio::test]
async fn seed_003_an_existing_user_takes_user_status_only_when_approved() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("pat").await;
    let message = r#"{"action_context":"provisioning","appId":"bank","bindingMessage":"Enrol","userStatus":"locked"}"#;
    let ack = app
        .backchannel(
            &client,
            &[("scope", "openid"), ("login_hint", "pat"), ("binding_message", message)],
        )
        .await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    let status = |app: &TestApp| {
        let store = app.state.store.clone();
        async move { store.user("pat").await.unwrap().unwrap().status.as_str().to_owned() }
    };
    assert_eq!(status(&app).await, "active", "a request alone changes nothing");
    device.decide(&app, "deny").await;
    assert_eq!(status(&app).await, "active", "nor does a denial");
    // An ordinary request in between: on SQLite the user is now kept in memory.
    app.start(&client, "pat", "Log in").await;
    device.decide(&app, "deny").await;
    app.backchannel(
        &client,
        &[("scope", "openid"), ("login_hint", "pat"), ("binding_message", message)],
    )
    .await;
    device.decide(&app, "approve").await;
    assert_eq!(status(&app).await, "locked", "the approval applies userStatus");
    app.backchannel(&client, &[("scope", "openid"), ("login_hint", "pat")])
        .await
        .assert_oauth_error(403, "access_denied", "the next request sees the user locked");
}

#[tokio::test]
async fn a_user_locked_through_another_instance_on_the_same_database_is_refused_here_too() {
    let app = spawn_app().await;
    let token = manager(&app).await;
    let client = app.client(SigningAlg::ES256).await;
    let _device = app.user_with_device("rory").await;
    // This instance has read rory (on SQLite it now keeps him in memory).
    app.start(&client, "rory", "Log in").await;
    let other = app.second_instance().await;
    let locked = call(&other, &token, "POST", "/manage/v1/users/rory/lock", None).await;
    assert!(locked.status < 300, "{}", locked.body);
    // SQLite: seen through the user epoch, checked every 100 ms; far more is allowed here.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = app
            .backchannel(&client, &[("scope", "openid"), ("login_hint", "rory")])
            .await;
        if answer.status != 200 {
            answer.assert_oauth_error(403, "access_denied", "locked through the other instance");
            assert_eq!(answer.body["error_description"], "the user is locked");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the lock was never seen here");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_locked_user_can_neither_approve_open_requests_nor_get_registration_tokens() {
    let app = spawn_app().await;
    let token = manager(&app).await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("quinn").await;
    let auth_req_id = app.start(&client, "quinn", "Log in").await;
    let item = device.only_item(&app).await;
    call(&app, &token, "POST", "/manage/v1/users/quinn/lock", None).await;
    let jws = device.decision_jws(&item, "approve", &app);
    let answer = device
        .send_decision(&app, item["transaction_id"].as_str().unwrap(), &jws)
        .await;
    assert_api_error(&answer, 403, "user_locked", "locked after the request was made");
    app.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "authorization_pending", "nothing was approved");
    assert_api_error(
        &call(&app, &token, "POST", "/manage/v1/users/quinn/registration-tokens", None).await,
        403,
        "user_locked",
        "no new devices for a locked user",
    );
}

#[tokio::test]
async fn an_activation_code_only_activates_its_own_device() {
    let app = spawn_app().await;
    let token = manager(&app).await;
    let device = TestDevice::new();
    device.register(&app).await;
    let other = TestDevice::new();
    other.register(&app).await;
    let bound = call(
        &app,
        &token,
        "POST",
        "/manage/v1/bindings",
        Some(json!({"user_id": "rita", "device_id": device.id()})),
    )
    .await;
    let code = bound.body["activation_code"].as_str().unwrap();
    let answer = device_activate(&app, &other, json!({"activation_code": code})).await;
    assert_api_error(&answer, 403, "wrong_device", "a code for another device");
    assert_api_error(
        &other.inbox(&app).await,
        403,
        "device_not_active",
        "nothing was activated",
    );
    assert_eq!(
        device_activate(&app, &device, json!({"activation_code": code}))
            .await
            .status,
        200,
        "the code is unspent"
    );
}
