//! The device side: registration with proof of possession, the inbox, and
//! signed decisions, including every way a decision can be refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use serde_json::{Value, json};
use trustid::clock::Clock;
use trustid::domain::client::SigningAlg;
use trustid::engine::admin;

/// A user `alice` with a bound device and one pending transaction.
async fn pending(app: &TestApp) -> (trustid::engine::admin::ClientCredentials, TestDevice, String) {
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    let auth_req_id = app.start(&client, "alice", "Pay 10 EUR").await;
    (client, device, auth_req_id)
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

/// The transaction is still pending: the RP's poll says so.
async fn still_pending(app: &TestApp, client: &trustid::engine::admin::ClientCredentials, auth_req_id: &str) {
    app.clock.advance_secs(10);
    app.poll(client, auth_req_id).await.assert_oauth_error(
        400,
        "authorization_pending",
        "a refused decision changes nothing",
    );
}

async fn failed_attempts(app: &TestApp, device: &TestDevice, user: &str) -> (i64, i64) {
    let d = app.store().device(&device.id()).await.unwrap().unwrap();
    let u = app.store().user(user).await.unwrap().unwrap();
    (d.failed_attempts, u.failed_attempts)
}

#[tokio::test]
async fn a_forged_signature_is_refused_and_counted() {
    let app = spawn_app().await;
    let (client, device, auth_req_id) = pending(&app).await;
    let item = device.only_item(&app).await;
    let jws = device.decision_jws(&item, "approve", &app);
    // Flip one bit of the signature.
    let (input, sig) = jws.rsplit_once('.').unwrap();
    let mut sig = sig.to_owned().into_bytes();
    sig[5] = if sig[5] == b'A' { b'B' } else { b'A' };
    let forged = format!("{input}.{}", String::from_utf8(sig).unwrap());
    let answer = device
        .send_decision(&app, item["transaction_id"].as_str().unwrap(), &forged)
        .await;
    assert_api_error(&answer, 400, "invalid_signature", "forged signature");
    assert_eq!(failed_attempts(&app, &device, "alice").await, (1, 1));
    still_pending(&app, &client, &auth_req_id).await;
}

#[tokio::test]
async fn a_decision_signed_with_the_wrong_key_is_refused() {
    let app = spawn_app().await;
    let (client, device, auth_req_id) = pending(&app).await;
    let item = device.only_item(&app).await;
    // Signed with the device key instead of the auth key.
    let impostor = TestDevice {
        device_key: random_key(),
        auth_key: device.device_key.clone(),
    };
    let jws = impostor.decision_jws(&item, "approve", &app);
    let answer = device
        .send_decision(&app, item["transaction_id"].as_str().unwrap(), &jws)
        .await;
    assert_api_error(&answer, 400, "invalid_signature", "wrong key");
    still_pending(&app, &client, &auth_req_id).await;

    // The refused attempt is reported once the transaction completes.
    let good = device.decision_jws(&item, "approve", &app);
    assert_eq!(
        device
            .send_decision(&app, item["transaction_id"].as_str().unwrap(), &good)
            .await
            .status,
        200
    );
    app.clock.advance_secs(10);
    let tokens = app.poll(&client, &auth_req_id).await;
    let claims = jwt_payload(tokens.body["id_token"].as_str().unwrap());
    assert_eq!(claims["trustid.device_for_failed_attempt"], Value::from(device.id()));
    assert_eq!(claims["trustid.device_failed_attempt"], 1);
    assert_eq!(claims["trustid.userid_for_failed_attempt"], "alice");
    assert_eq!(claims["trustid.user_failed_attempts"], 1);
}

#[tokio::test]
async fn a_replayed_nonce_is_refused() {
    let app = spawn_app().await;
    let (client, device, auth_req_id) = pending(&app).await;
    let item = device.only_item(&app).await;
    let jws = device.decision_jws(&item, "deny", &app);
    let txn = item["transaction_id"].as_str().unwrap();
    assert_eq!(device.send_decision(&app, txn, &jws).await.status, 200);
    // The captured decision sent again.
    let replay = device.send_decision(&app, txn, &jws).await;
    assert_api_error(&replay, 409, "nonce_replayed", "replayed decision");
    assert!(
        app.metrics()
            .await
            .contains("trustid_replays_refused_total{kind=\"decision_nonce\"} 1"),
        "counted"
    );
    assert_eq!(failed_attempts(&app, &device, "alice").await, (1, 1));
    app.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "access_denied", "the first decision stands");
}

#[tokio::test]
async fn a_nonce_issued_for_another_transaction_is_refused() {
    let app = spawn_app().await;
    let (client, device, auth_req_id) = pending(&app).await;
    app.start(&client, "alice", "Second request").await;
    let inbox = device.inbox(&app).await;
    let items = inbox.body["transactions"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let mut mixed = items[0].clone();
    mixed["nonce"] = items[1]["nonce"].clone();
    let jws = device.decision_jws(&mixed, "approve", &app);
    let answer = device
        .send_decision(&app, items[0]["transaction_id"].as_str().unwrap(), &jws)
        .await;
    assert_api_error(&answer, 400, "invalid_nonce", "nonce of another transaction");
    still_pending(&app, &client, &auth_req_id).await;
}

#[tokio::test]
async fn a_tampered_message_hash_is_refused() {
    let app = spawn_app().await;
    let (client, device, auth_req_id) = pending(&app).await;
    let mut item = device.only_item(&app).await;
    // The device signs a text other than the one trustid asked it to show.
    item["binding_message"] = Value::from("Pay 1000 EUR");
    let jws = device.decision_jws(&item, "approve", &app);
    let answer = device
        .send_decision(&app, item["transaction_id"].as_str().unwrap(), &jws)
        .await;
    assert_api_error(&answer, 400, "message_mismatch", "tampered hash");
    assert_eq!(failed_attempts(&app, &device, "alice").await, (1, 1));
    still_pending(&app, &client, &auth_req_id).await;
}

#[tokio::test]
async fn a_decision_on_an_expired_transaction_is_refused() {
    let app = spawn_app_with(|s| s.challenge_ttl = 3600).await;
    let (client, device, auth_req_id) = pending(&app).await;
    let item = device.only_item(&app).await;
    app.clock.advance_secs(301);
    let jws = device.decision_jws(&item, "approve", &app);
    let answer = device
        .send_decision(&app, item["transaction_id"].as_str().unwrap(), &jws)
        .await;
    assert_api_error(&answer, 410, "transaction_expired", "expired transaction");
    assert_eq!(failed_attempts(&app, &device, "alice").await, (0, 0));
    app.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "expired_token", "expired");
}

#[tokio::test]
async fn a_decision_after_the_challenge_expired_is_refused() {
    let app = spawn_app_with(|s| s.challenge_ttl = 60).await;
    let (client, device, auth_req_id) = pending(&app).await;
    let item = device.only_item(&app).await;
    app.clock.advance_secs(61);
    let jws = device.decision_jws(&item, "approve", &app);
    let answer = device
        .send_decision(&app, item["transaction_id"].as_str().unwrap(), &jws)
        .await;
    assert_api_error(&answer, 400, "nonce_expired", "stale challenge");
    still_pending(&app, &client, &auth_req_id).await;
    // A fresh challenge from the inbox works.
    assert_eq!(device.decide(&app, "approve").await.status, 200);
}

#[tokio::test]
async fn a_second_decision_on_a_decided_transaction_is_refused() {
    let app = spawn_app().await;
    let (client, device, auth_req_id) = pending(&app).await;
    let second = app.device_for("alice").await;
    let item_for_second = second.only_item(&app).await;
    assert_eq!(device.decide(&app, "approve").await.status, 200);
    let jws = second.decision_jws(&item_for_second, "deny", &app);
    let answer = second
        .send_decision(&app, item_for_second["transaction_id"].as_str().unwrap(), &jws)
        .await;
    assert_api_error(&answer, 409, "already_decided", "second device too late");
    app.clock.advance_secs(10);
    assert_eq!(app.poll(&client, &auth_req_id).await.status, 200);
}

#[tokio::test]
async fn another_users_device_cannot_decide() {
    let app = spawn_app().await;
    let (client, device, auth_req_id) = pending(&app).await;
    let item = device.only_item(&app).await;
    let mallory = app.user_with_device("mallory").await;
    let jws = mallory.decision_jws(&item, "approve", &app);
    let answer = mallory
        .send_decision(&app, item["transaction_id"].as_str().unwrap(), &jws)
        .await;
    assert_api_error(&answer, 403, "device_not_bound", "another user's device");
    assert_eq!(failed_attempts(&app, &mallory, "mallory").await, (1, 1));
    assert_eq!(
        failed_attempts(&app, &device, "alice").await,
        (0, 0),
        "a stranger cannot move alice's counters"
    );
    assert!(
        mallory.inbox(&app).await.body["transactions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    still_pending(&app, &client, &auth_req_id).await;
}

#[tokio::test]
async fn malformed_decisions_are_refused_without_counting() {
    let app = spawn_app().await;
    let (_client, device, _) = pending(&app).await;
    let item = device.only_item(&app).await;
    let txn = item["transaction_id"].as_str().unwrap();
    let path = format!("/device/v1/transactions/{txn}/decision");
    let stale = {
        let mut payload = item.clone();
        payload["nonce"] = item["nonce"].clone();
        let jws = sign_jws(
            &device.auth_key,
            &json!({"typ": "trustid-decision+jwt", "alg": "ES256"}),
            &json!({"txn": txn, "nonce": item["nonce"], "decision": "approve",
                    "bm_hash": sha256_b64("Pay 10 EUR"), "iat": app.clock.now() - 3600}),
        );
        json!({"decision_jws": jws})
    };
    let maybe = json!({"decision_jws": sign_jws(
        &device.auth_key,
        &json!({"typ": "trustid-decision+jwt", "alg": "ES256"}),
        &json!({"txn": txn, "nonce": item["nonce"], "decision": "maybe", "bm_hash": sha256_b64("Pay 10 EUR"), "iat": app.clock.now()}),
    )});
    let other_txn = json!({"decision_jws": sign_jws(
        &device.auth_key,
        &json!({"typ": "trustid-decision+jwt", "alg": "ES256"}),
        &json!({"txn": "another", "nonce": item["nonce"], "decision": "approve", "bm_hash": sha256_b64("Pay 10 EUR"), "iat": app.clock.now()}),
    )});
    let hs256 = json!({"decision_jws": format!("{}.e30.AAAA", base64_json(&json!({"alg": "HS256"})))});
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (json!({}), 400, "invalid_request", "no decision_jws"),
        (json!({"decision_jws": "a.b"}), 400, "invalid_request", "two parts"),
        (
            json!({"decision_jws": "!!.!!.!!"}),
            400,
            "invalid_request",
            "not base64url",
        ),
        (hs256, 400, "invalid_request", "alg other than ES256"),
        (
            json!({"decision_jws": "x", "extra": 1}),
            400,
            "invalid_request",
            "unknown member",
        ),
        (stale, 400, "invalid_decision", "iat an hour old"),
        (maybe, 400, "invalid_decision", "decision neither approve nor deny"),
        (other_txn, 400, "invalid_decision", "txn does not match the URL"),
    ];
    for (body, status, error, why) in cases {
        let res = app
            .http
            .post(app.url(&path))
            .header("DPoP", device.proof(&app, "POST", &path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_api_error(&Answer::from(res).await, status, error, why);
    }
    assert_eq!(failed_attempts(&app, &device, "alice").await, (0, 0));
    let unknown = device.send_decision(&app, "no-such-transaction", "x.y.z").await;
    assert_api_error(&unknown, 404, "unknown_transaction", "unknown transaction");
}

fn base64_json(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn device_proofs_are_checked() {
    let app = spawn_app().await;
    let device = app.user_with_device("alice").await;
    let good = |app: &TestApp| device.proof(app, "GET", "/device/v1/inbox");
    let reused = good(&app);
    assert_eq!(
        Answer::from(
            app.http
                .get(app.url("/device/v1/inbox"))
                .header("DPoP", &reused)
                .send()
                .await
                .unwrap()
        )
        .await
        .status,
        200
    );
    let jwk = public_jwk(&device.device_key);
    let claims =
        |htm: &str, htu: String, iat: i64| json!({"htm": htm, "htu": htu, "iat": iat, "jti": "0123456789abcdef"});
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
    let now = app.clock.now();
    let inbox = app.url("/device/v1/inbox");
    let signed_by_other = sign_jws(&random_key(), &header, &claims("GET", inbox.clone(), now));
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "no proof"),
        (Some("garbage".into()), "not a JWS"),
        (Some(reused), "jti used before"),
        (Some(signed_by_other), "signature by another key"),
        (
            Some(sign_jws(
                &device.device_key,
                &header,
                &claims("POST", inbox.clone(), now),
            )),
            "wrong htm",
        ),
        (
            Some(sign_jws(
                &device.device_key,
                &header,
                &claims("GET", app.url("/device/v1/devices"), now),
            )),
            "wrong htu",
        ),
        (
            Some(sign_jws(
                &device.device_key,
                &header,
                &claims("GET", inbox.clone(), now - 600),
            )),
            "stale iat",
        ),
        (
            Some(sign_jws(
                &device.device_key,
                &json!({"typ": "JWT", "alg": "ES256", "jwk": jwk}),
                &claims("GET", inbox.clone(), now),
            )),
            "wrong typ",
        ),
        (
            Some(sign_jws(
                &device.device_key,
                &json!({"typ": "dpop+jwt", "alg": "ES256"}),
                &claims("GET", inbox.clone(), now),
            )),
            "no jwk",
        ),
        (
            Some(sign_jws(
                &device.device_key,
                &header,
                &json!({"htm": "GET", "htu": inbox, "iat": now, "jti": "short"}),
            )),
            "jti too short",
        ),
    ];
    for (proof, why) in cases {
        let mut req = app.http.get(app.url("/device/v1/inbox"));
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        let answer = Answer::from(req.send().await.unwrap()).await;
        assert_api_error(&answer, 401, "invalid_proof", why);
        assert!(answer.header("www-authenticate").unwrap().starts_with("DPoP"), "{why}");
    }
    assert!(
        app.metrics()
            .await
            .contains("trustid_replays_refused_total{kind=\"device_proof\"} 1"),
        "the reused jti counted, and only it"
    );
}

#[tokio::test]
async fn registration_needs_a_valid_distinct_auth_key() {
    let app = spawn_app().await;
    let device = TestDevice::new();
    let post = |body: Value| {
        let proof = device.proof(&app, "POST", "/device/v1/devices");
        app.http
            .post(app.url("/device/v1/devices"))
            .header("DPoP", proof)
            .json(&body)
            .send()
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({}), "invalid_request", "no auth_key"),
        (
            json!({"auth_key": {"kty": "RSA", "n": "x", "e": "AQAB"}}),
            "invalid_key",
            "RSA key",
        ),
        (
            json!({"auth_key": public_jwk(&device.device_key)}),
            "invalid_key",
            "same key twice",
        ),
    ];
    for (body, error, why) in cases {
        assert_api_error(&Answer::from(post(body).await.unwrap()).await, 400, error, why);
    }
    assert!(
        app.store().device(&device.id()).await.unwrap().is_none(),
        "nothing was stored"
    );

    let first = device.register(&app).await;
    assert_eq!((first.status, first.body["status"].as_str()), (201, Some("inactive")));
    assert_eq!(first.body["device_id"], Value::from(device.id()));
    assert_eq!(
        device.register(&app).await.status,
        200,
        "registering again is idempotent"
    );
    let other_auth = Answer::from(post(json!({"auth_key": public_jwk(&random_key())})).await.unwrap()).await;
    assert_api_error(
        &other_auth,
        409,
        "device_exists",
        "another auth key for the same device key",
    );
}

#[tokio::test]
async fn an_unbound_device_sees_no_inbox_and_binding_rules_hold() {
    let app = spawn_app().await;
    app.user("alice", &[]).await;
    app.user("bob", &[]).await;
    let device = TestDevice::new();
    device.register(&app).await;
    assert_api_error(&device.inbox(&app).await, 403, "device_not_active", "not bound yet");
    let stranger = TestDevice::new();
    assert_api_error(&stranger.inbox(&app).await, 401, "invalid_proof", "never registered");

    let store = app.store();
    assert!(
        admin::bind_device(store, &"no-such-device".into(), &"alice".into())
            .await
            .is_err()
    );
    assert!(
        admin::bind_device(store, &device.id().into(), &"nobody".into())
            .await
            .is_err()
    );
    admin::bind_device(store, &device.id().into(), &"alice".into())
        .await
        .unwrap();
    assert!(
        admin::bind_device(store, &device.id().into(), &"bob".into())
            .await
            .is_err(),
        "bound to another user"
    );
    assert_eq!(device.inbox(&app).await.status, 200);
}

#[tokio::test]
async fn number_matching_needs_the_number_the_relying_party_shows() {
    let app = spawn_app().await;
    let mut m = trustid::domain::client::ClientMetadata::poll("Matching Bank");
    m.number_matching = true;
    let client = app.register(m).await;
    let device = app.user_with_device("alice").await;
    let ack = app
        .backchannel(&client, &[("scope", "openid"), ("login_hint", "alice")])
        .await;
    let number = ack.body["binding_number"].as_str().unwrap().to_owned();
    assert!(
        (10..=99).contains(&number.parse::<u32>().unwrap()),
        "two digits: {number}"
    );
    let item = device.only_item(&app).await;
    assert_eq!(item["number_matching"], true);
    assert!(item.get("binding_number").is_none(), "the device never sees the number");
    let sign = |typed: Option<&str>| {
        let mut payload = json!({
            "txn": item["transaction_id"], "nonce": item["nonce"], "decision": "approve",
            "bm_hash": sha256_b64(item["binding_message"].as_str().unwrap()), "iat": app.clock.now(),
        });
        if let Some(n) = typed {
            payload["number"] = json!(n);
        }
        sign_jws(
            &device.auth_key,
            &json!({"typ": "trustid-decision+jwt", "alg": "ES256"}),
            &payload,
        )
    };
    let txn = item["transaction_id"].as_str().unwrap();
    let wrong = if number == "10" { "11" } else { "10" };
    for (typed, why) in [(None, "no number"), (Some(wrong), "wrong number")] {
        let answer = device.send_decision(&app, txn, &sign(typed)).await;
        assert_api_error(&answer, 400, "number_mismatch", why);
    }
    assert_eq!(
        failed_attempts(&app, &device, "alice").await,
        (2, 2),
        "blind approvals count"
    );
    assert_eq!(device.send_decision(&app, txn, &sign(Some(&number))).await.status, 200);
    app.clock.advance_secs(5);
    assert_eq!(
        app.poll(&client, ack.body["auth_req_id"].as_str().unwrap())
            .await
            .status,
        200
    );
}
