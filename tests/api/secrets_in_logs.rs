//! No secret reaches the log, even at `trace`: the main flows run with every
//! event of every crate recorded (CIBA poll, ping and push, refresh and
//! revocation, management calls, device registration and activation by
//! code, password and registration token), and then no client secret,
//! token, `auth_req_id`, signature, activation code or password,
//! registration token or notification token may appear in what was logged.
//!
//! The runtime is single-threaded and the recorder is this thread's
//! default, so the server's tasks (and the delivery worker) log into it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use trustid::domain::client::{ClientMetadata, DeliveryMode, SigningAlg};

use crate::common::receiver::{Receiver, Reply};
use crate::common::*;
use crate::lifecycle::{call, device_activate};

const NOTIFICATION_TOKEN: &str = "notification-token-a7b9c4d2e8f1-0123456789";

#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<Vec<u8>>>);

impl Write for Recorded {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The signature part of a compact JWS.
fn signature(jws: &str) -> String {
    jws.rsplit('.').next().unwrap().to_owned()
}

async fn form(app: &TestApp, id: &str, secret: &str, path: &str, form: &[(&str, &str)]) -> Answer {
    let res = app
        .http
        .post(app.url(path))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    Answer::from(res).await
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_the_log_at_trace_level() {
    let recorded = Recorded::default();
    let writer = recorded.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // While one dispatcher is registered, tracing-core computes a callsite's
    // interest (and the global max level) with the default of whichever
    // thread first hits it: another test's thread, with no subscriber, would
    // cache "never" for everyone (this test then saw a handful of lines). A
    // second dispatcher, kept for the life of the test binary, makes it ask
    // every registered one.
    static SECOND: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    SECOND.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
    let _recording = tracing::subscriber::set_default(subscriber);
    // Other tests' threads may have cached "not interested" for callsites
    // before this recorder existed: ask every callsite again.
    tracing::callsite::rebuild_interest_cache();
    let mut secrets: Vec<(String, &str)> = Vec::new();

    let app = spawn_app().await;
    let (manager, token) = app.manager(ClientMetadata::poll("RP Server")).await;
    secrets.push((manager.secret().to_owned(), "management client secret"));
    secrets.push((token.clone(), "management access token"));

    // CIBA poll with refresh and revocation; the decision's signature.
    let client = app.client(SigningAlg::ES256).await;
    secrets.push((client.secret().to_owned(), "client secret"));
    let (id, secret) = (client.client_id.to_string(), client.secret().to_owned());
    let alice = app.user_with_device("alice").await;
    let ack = app
        .backchannel(&client, &[("scope", "openid offline_access"), ("login_hint", "alice")])
        .await;
    let auth_req_id = ack.body["auth_req_id"].as_str().unwrap().to_owned();
    secrets.push((auth_req_id.clone(), "auth_req_id"));
    let item = alice.only_item(&app).await;
    let jws = alice.decision_jws(&item, "approve", &app);
    secrets.push((signature(&jws), "decision signature"));
    secrets.push((item["nonce"].as_str().unwrap().to_owned(), "challenge nonce"));
    assert_eq!(
        alice
            .send_decision(&app, item["transaction_id"].as_str().unwrap(), &jws)
            .await
            .status,
        200
    );
    let tokens = app.poll(&client, &auth_req_id).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    for (member, what) in [("access_token", "access token"), ("refresh_token", "refresh token")] {
        secrets.push((tokens.body[member].as_str().unwrap().to_owned(), what));
    }
    secrets.push((
        signature(tokens.body["id_token"].as_str().unwrap()),
        "ID token signature",
    ));
    let access = tokens.body["access_token"].as_str().unwrap();
    assert_eq!(
        app.http
            .get(app.url("/userinfo"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let refresh = tokens.body["refresh_token"].as_str().unwrap();
    let refreshed = form(
        &app,
        &id,
        &secret,
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let rotated = refreshed.body["refresh_token"].as_str().unwrap().to_owned();
    secrets.push((rotated.clone(), "rotated refresh token"));
    secrets.push((
        refreshed.body["access_token"].as_str().unwrap().to_owned(),
        "refreshed access token",
    ));
    assert_eq!(
        form(&app, &id, &secret, "/revoke", &[("token", &rotated)]).await.status,
        200
    );

    // Ping and push clients: the notification token and the pushed tokens.
    for mode in [DeliveryMode::Ping, DeliveryMode::Push] {
        let endpoint = Receiver::start(vec![]).await;
        let mut metadata = ClientMetadata::poll("Notified");
        metadata.backchannel_token_delivery_mode = mode;
        metadata.backchannel_client_notification_endpoint = Some(endpoint.url("/cb"));
        let notified = app.register(metadata).await;
        secrets.push((notified.secret().to_owned(), "notified client secret"));
        let ack = app
            .backchannel(
                &notified,
                &[
                    ("scope", "openid"),
                    ("login_hint", "alice"),
                    ("client_notification_token", NOTIFICATION_TOKEN),
                ],
            )
            .await;
        secrets.push((ack.body["auth_req_id"].as_str().unwrap().to_owned(), "auth_req_id"));
        alice.decide(&app, "approve").await;
        let got = endpoint.wait_for(1).await;
        if mode == DeliveryMode::Push {
            secrets.push((
                got[0].body["access_token"].as_str().unwrap().to_owned(),
                "pushed access token",
            ));
        }
    }
    secrets.push((NOTIFICATION_TOKEN.to_owned(), "notification token"));

    // Activation by code (seed 000), by password (seed 001), by registration token (seed 002).
    let device = TestDevice::new();
    assert_eq!(device.register(&app).await.status, 201);
    let bound = call(
        &app,
        &token,
        "POST",
        "/manage/v1/bindings",
        Some(json!({"user_id": "bob", "device_id": device.id()})),
    )
    .await;
    let code = bound.body["activation_code"].as_str().unwrap().to_owned();
    secrets.push((code.clone(), "activation code"));
    let activated = call(
        &app,
        &token,
        "POST",
        "/manage/v1/bindings/activate",
        Some(json!({"activation_code": code})),
    )
    .await;
    assert_eq!(activated.status, 200, "{}", activated.body);
    let register =
        json!({"objectType": "AdaptiveRegisterUserInput", "userID": "erin", "staticPassword": "correct horse battery"});
    let registered = call(&app, &token, "POST", "/manage/v1/users/register", Some(register)).await;
    let password = registered.body["activationPassword"].as_str().unwrap().to_owned();
    secrets.push((password.clone(), "activation password"));
    secrets.push(("correct horse battery".into(), "static password"));
    let qr = app
        .http
        .get(registered.body["qrUrl"].as_str().unwrap())
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(qr.status(), 200);
    let phone = TestDevice::new();
    phone.register(&app).await;
    assert_eq!(
        device_activate(&app, &phone, json!({"activation_password": password}))
            .await
            .status,
        200
    );
    let issued = call(&app, &token, "POST", "/manage/v1/users/alice/registration-tokens", None).await;
    let registration_token = issued.body["registration_token"].as_str().unwrap().to_owned();
    secrets.push((registration_token.clone(), "registration token"));
    let third = TestDevice::new();
    third.register(&app).await;
    assert_eq!(
        device_activate(&app, &third, json!({"registration_token": registration_token}))
            .await
            .status,
        200
    );

    // An identity document's parsed fields go to the verification service, never to a log.
    let service = Receiver::start(vec![Reply {
        body: r#"{"status": "rejected"}"#,
        ..Reply::status(200)
    }])
    .await;
    let (verifier, _) = app
        .manager(ClientMetadata {
            identity_verification_uri: Some(service.url("/verify")),
            ..ClientMetadata::poll("Verifying bank")
        })
        .await;
    let hash = crate::executive::hash_for(&app, &alice, crate::executive::BARCODE).await;
    let fields = json!({"DAQ": "D7531598", "DCS": "PRIVATEFAMILYNAME", "DBB": "19811224"});
    let registered = crate::executive::register_document(
        &app,
        &alice,
        json!({"type": "driver_license", "hash": hash, "parsed_fields": fields, "client_id": verifier.client_id}),
    )
    .await;
    assert_eq!(registered.body["status"], "rejected", "{}", registered.body);
    for value in ["D7531598", "PRIVATEFAMILYNAME", "19811224"] {
        secrets.push((value.to_owned(), "a parsed identity document field"));
    }

    let log = String::from_utf8_lossy(&recorded.0.lock().unwrap()).into_owned();
    assert!(
        log.lines().count() > 100,
        "the recorder saw the flows: {} lines",
        log.lines().count()
    );
    let leaked: Vec<&str> = secrets
        .iter()
        .filter(|(s, _)| log.contains(s.as_str()))
        .map(|(_, what)| *what)
        .collect();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| secrets.iter().any(|(s, _)| l.contains(s.as_str())))
        .take(3)
        .collect();
    assert!(leaked.is_empty(), "logged: {leaked:?} in {lines:#?}");
}
