//! The executive level (issue 22, seed 000 §4): a device registers its
//! user's driver's licence by a salted hash of the barcode, a relying
//! party's verification service (a real HTTP server here) sees the parsed
//! fields once, an executive request needs the document at approval, and
//! the fields never reach the database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use crate::common::receiver::{Receiver, Reply};
use crate::common::{Answer, TestApp, TestDevice, jwt_payload, sha256_b64, sign_jws, spawn_app};
use crate::lifecycle::call;
use trustid::domain::client::ClientMetadata;
use trustid::domain::identity_document::{EXECUTIVE_ACR, document_hash};

pub(crate) const BARCODE: &[u8] = b"@\nANSI 636014040002DL00410278ZC03190008DLDAQD1234562\nDCSDOE\nDACJOHN";

pub(crate) async fn documents(app: &TestApp, device: &TestDevice) -> Answer {
    let path = "/device/v1/identity-documents";
    let res = app
        .http
        .get(app.url(path))
        .header("DPoP", device.proof(app, "GET", path))
        .send()
        .await
        .unwrap();
    Answer::from(res).await
}

pub(crate) async fn register_document(app: &TestApp, device: &TestDevice, body: Value) -> Answer {
    let path = "/device/v1/identity-documents";
    let res = app
        .http
        .post(app.url(path))
        .header("DPoP", device.proof(app, "POST", path))
        .json(&body)
        .send()
        .await
        .unwrap();
    Answer::from(res).await
}

/// The hash `device`'s user would register for `barcode`.
pub(crate) async fn hash_for(app: &TestApp, device: &TestDevice, barcode: &[u8]) -> String {
    let listed = documents(app, device).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    document_hash(listed.body["salt"].as_str().unwrap(), barcode)
}

/// Approves the single inbox item presenting `document_hash`.
async fn approve_with(app: &TestApp, device: &TestDevice, document_hash: Option<&str>) -> Answer {
    let item = device.only_item(app).await;
    assert_eq!(item["document_required"], "driver_license", "{item}");
    let mut payload = json!({"txn": item["transaction_id"], "nonce": item["nonce"], "decision": "approve",
        "bm_hash": sha256_b64(item["binding_message"].as_str().unwrap()), "iat": app.clock_now()});
    if let Some(hash) = document_hash {
        payload["document_hash"] = json!(hash);
    }
    let jws = sign_jws(
        &device.auth_key,
        &json!({"typ": "trustid-decision+jwt", "alg": "ES256"}),
        &payload,
    );
    device
        .send_decision(app, item["transaction_id"].as_str().unwrap(), &jws)
        .await
}

#[tokio::test]
async fn a_verified_document_approves_an_executive_request_and_the_id_token_says_so() {
    let app = spawn_app().await;
    let service = Receiver::start(vec![Reply {
        body: r#"{"status": "verified"}"#,
        ..Reply::status(200)
    }])
    .await;
    let (manager, token) = app
        .manager(ClientMetadata {
            identity_verification_uri: Some(service.url("/verify")),
            ..ClientMetadata::poll("Bank with a verifier")
        })
        .await;
    let device = app.user_with_device("alice").await;
    let hash = hash_for(&app, &device, BARCODE).await;
    let fields = json!({"DCS": "DOE", "DAC": "JOHN", "DAQ": "D1234562", "DBB": "19700101"});
    let registered = register_document(
        &app,
        &device,
        json!({"type": "driver_license", "hash": hash,
        "parsed_fields": fields, "client_id": manager.client_id}),
    )
    .await;
    assert_eq!(
        (registered.status, registered.body["status"].as_str()),
        (201, Some("verified")),
        "{}",
        registered.body
    );
    let sent = service.wait_for(1).await;
    assert_eq!(
        sent[0].body["parsed_fields"], fields,
        "the fields went to the service once"
    );
    assert_eq!(sent[0].body["user_id"], "alice");
    let status = call(&app, &token, "GET", "/manage/v1/users/alice/identity-documents", None).await;
    assert_eq!(status.body["documents"][0]["status"], "verified", "{}", status.body);
    assert!(
        status.body["documents"][0].get("hash").is_none(),
        "the hash stays inside"
    );

    let client = app.client(trustid::domain::client::SigningAlg::ES256).await;
    let ack = app
        .backchannel(
            &client,
            &[
                ("scope", "openid"),
                ("login_hint", "alice"),
                ("acr_values", EXECUTIVE_ACR),
            ],
        )
        .await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    assert_eq!(approve_with(&app, &device, Some(&hash)).await.status, 200);
    let tokens = app.poll(&client, ack.body["auth_req_id"].as_str().unwrap()).await;
    assert_eq!(
        jwt_payload(tokens.body["id_token"].as_str().unwrap())["acr"],
        EXECUTIVE_ACR
    );

    // No field value anywhere in the database.
    let text = database_text(&app).await;
    assert!(text.contains("alice"), "the dump holds the database's rows");
    for value in ["D1234562", "19700101"] {
        assert!(!text.contains(value), "{value} is in the database");
    }
}

/// Everything the database holds, as text: SQLite's files, or every row
/// of every PostgreSQL table.
async fn database_text(app: &TestApp) -> String {
    let url = &app.settings.database_url;
    if let Some(file) = url.strip_prefix("sqlite://") {
        let mut bytes = std::fs::read(file).unwrap();
        bytes.extend(std::fs::read(format!("{file}-wal")).unwrap_or_default());
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'")
            .fetch_all(&mut db)
            .await
            .unwrap();
    let mut text = String::new();
    for table in tables {
        let rows: Option<String> = sqlx::query_scalar(&format!("SELECT string_agg(t::text, ' ') FROM \"{table}\" t"))
            .fetch_one(&mut db)
            .await
            .unwrap();
        text.push_str(&rows.unwrap_or_default());
    }
    text
}

#[tokio::test]
async fn a_wrong_document_is_refused_and_counted_and_a_user_without_one_cannot_be_asked() {
    let app = spawn_app().await;
    let client = app.client(trustid::domain::client::SigningAlg::ES256).await;
    let request = |user: &'static str| [("scope", "openid"), ("login_hint", user), ("acr_values", EXECUTIVE_ACR)];
    app.user_with_device("nodoc").await;
    let refused = app.backchannel(&client, &request("nodoc")).await;
    refused.assert_oauth_error(403, "access_denied", "no identity document");
    assert!(
        refused.body["error_description"]
            .as_str()
            .unwrap()
            .contains("identity document")
    );

    let device = app.user_with_device("bob").await;
    let hash = hash_for(&app, &device, BARCODE).await;
    let registered = register_document(&app, &device, json!({"type": "driver_license", "hash": hash})).await;
    assert_eq!(
        (registered.status, registered.body["status"].as_str()),
        (201, Some("unverified"))
    );
    let ack = app.backchannel(&client, &request("bob")).await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    let other = hash_for(&app, &device, b"another licence").await;
    for (presented, why) in [(Some(other.as_str()), "another document"), (None, "no document")] {
        let wrong = approve_with(&app, &device, presented).await;
        assert_eq!(
            (wrong.status, wrong.error()),
            (400, "document_mismatch"),
            "{why}: {}",
            wrong.body
        );
    }
    let user = app.store().user("bob").await.unwrap().unwrap();
    assert_eq!(user.failed_attempts, 2, "each mismatch counts as a failed attempt");
    assert_eq!(
        approve_with(&app, &device, Some(&hash)).await.status,
        200,
        "the right one still works"
    );
}

#[tokio::test]
async fn salts_are_per_user_and_bad_registrations_change_nothing() {
    let app = spawn_app().await;
    let (carol, dave) = (app.user_with_device("carol").await, app.user_with_device("dave").await);
    let (a, b) = (
        hash_for(&app, &carol, BARCODE).await,
        hash_for(&app, &dave, BARCODE).await,
    );
    assert_ne!(a, b, "one licence, two users: two hashes");
    assert_eq!(a, hash_for(&app, &carol, BARCODE).await, "a user's salt stays");
    for (body, status, error) in [
        (json!({"type": "passport", "hash": a}), 400, "invalid_request"),
        (
            json!({"type": "driver_license", "hash": "short"}),
            400,
            "invalid_request",
        ),
        (
            json!({"type": "driver_license", "hash": a, "parsed_fields": [1]}),
            400,
            "invalid_request",
        ),
        (
            json!({"type": "driver_license", "hash": a, "extra": 1}),
            400,
            "invalid_request",
        ),
        (
            json!({"type": "driver_license", "hash": a, "client_id": "nobody"}),
            404,
            "not_found",
        ),
    ] {
        let refused = register_document(&app, &carol, body).await;
        assert_eq!((refused.status, refused.error()), (status, error), "{}", refused.body);
    }
    assert_eq!(documents(&app, &carol).await.body["documents"], json!([]));
    let unbound = TestDevice::new();
    unbound.register(&app).await;
    assert_eq!(documents(&app, &unbound).await.status, 403, "a device bound to no user");
    let (_, token) = app.manager(ClientMetadata::poll("Bank")).await;
    let unknown = call(&app, &token, "GET", "/manage/v1/users/nobody/identity-documents", None).await;
    assert_eq!((unknown.status, unknown.error()), (404, "not_found"));
}

#[tokio::test]
async fn a_rule_can_require_the_executive_level_for_an_action() {
    let app = spawn_app().await;
    let (_, token) = app.manager(ClientMetadata::poll("Bank")).await;
    let rule = json!({"name": "large transfers", "outcome": "CHALLENGE_REQUIRED", "executive": true,
        "conditions": [{"type": "custom_data", "field": "amount", "op": "ge", "value": 10000}]});
    assert_eq!(
        call(&app, &token, "POST", "/manage/v1/rules", Some(rule)).await.status,
        201
    );
    let device = app.user_with_device("erin").await;
    let body = json!({"user_id": "erin", "action": "transfer", "custom_data": {"amount": 25000}});
    let refused = call(&app, &token, "POST", "/manage/v1/actions", Some(body.clone())).await;
    assert_eq!(
        (refused.status, refused.error()),
        (409, "no_identity_document"),
        "{}",
        refused.body
    );
    let hash = hash_for(&app, &device, BARCODE).await;
    register_document(&app, &device, json!({"type": "driver_license", "hash": hash})).await;
    let tracked = call(&app, &token, "POST", "/manage/v1/actions", Some(body)).await;
    assert_eq!(tracked.body["state"], "CHALLENGE_REQUIRED", "{}", tracked.body);
    assert_eq!(approve_with(&app, &device, Some(&hash)).await.status, 200);
    let valid = call(
        &app,
        &token,
        "POST",
        "/manage/v1/actions/validate",
        Some(json!({"token": tracked.body["token"]})),
    )
    .await;
    assert_eq!(valid.body["state"], "CHALLENGE_SUCCEEDED", "{}", valid.body);
}
