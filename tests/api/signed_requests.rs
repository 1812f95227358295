//! Signed authentication requests (CIBA §7.1.1) and `private_key_jwt`
//! (RFC 7523): every defect the conformance suite sends is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use serde_json::{Value, json};
use trustid::clock::Clock;
use trustid::domain::client::{AuthMethod, ClientMetadata, SigningAlg};
use trustid::engine::admin::ClientCredentials;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A private_key_jwt client that signs its requests with ES256.
async fn signing_client(app: &TestApp, key: &ClientKey, fapi: bool) -> ClientCredentials {
    let mut m = ClientMetadata::poll("Signing Bank");
    m.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
    m.backchannel_authentication_request_signing_alg = Some(SigningAlg::ES256);
    m.jwks = Some(key.jwks());
    m.fapi_ciba = fapi;
    app.register(m).await
}

fn request_claims(app: &TestApp, client_id: &str) -> Value {
    let now = app.clock.now();
    json!({
        "iss": client_id, "aud": app.base, "iat": now, "nbf": now, "exp": now + 300, "jti": new_jti(),
        "scope": "openid", "login_hint": "alice", "binding_message": "1234",
    })
}

/// POSTs to `path` authenticated with a fresh client assertion.
async fn post_with_assertion(
    app: &TestApp,
    key: &ClientKey,
    client_id: &str,
    path: &str,
    form: &[(&str, &str)],
) -> Answer {
    let assertion = key.assertion(client_id, &app.url(path), app.clock.now());
    let mut form = form.to_vec();
    form.extend([
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion.as_str()),
    ]);
    Answer::from(app.http.post(app.url(path)).form(&form).send().await.unwrap()).await
}

async fn send_request(app: &TestApp, key: &ClientKey, client_id: &str, request: &str) -> Answer {
    post_with_assertion(app, key, client_id, "/bc-authorize", &[("request", request)]).await
}

#[tokio::test]
async fn a_signed_request_starts_a_transaction() {
    let app = spawn_app().await;
    let key = ClientKey::new("k1");
    let client = signing_client(&app, &key, false).await;
    let device = app.user_with_device("alice").await;
    let mut claims = request_claims(&app, &client.client_id);
    claims["requested_expiry"] = json!("30");
    claims["request_context"] = json!({"ip": "192.0.2.1"});
    let request = key.sign_typed(&claims, Some("OautH-auThZ-REQ+jWt"));
    let ack = send_request(&app, &key, &client.client_id, &request).await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    assert_eq!(ack.body["expires_in"], 30, "requested_expiry as a JSON string");
    assert_eq!(device.only_item(&app).await["binding_message"], "1234");
    let mut numeric = request_claims(&app, &client.client_id);
    numeric["requested_expiry"] = json!(10);
    let ack = send_request(&app, &key, &client.client_id, &key.sign(&numeric)).await;
    assert_eq!(ack.body["expires_in"], 10, "requested_expiry as a JSON number");
}

#[tokio::test]
async fn device_routing_inside_a_signed_request_takes_effect() {
    let app = spawn_app_without_worker(|_| {}).await;
    let key = ClientKey::new("k1");
    let mut m = ClientMetadata::poll("Signing Bank");
    m.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
    m.backchannel_authentication_request_signing_alg = Some(SigningAlg::ES256);
    m.jwks = Some(key.jwks());
    m.push_relay_uri = Some("http://127.0.0.1:9/push".into());
    let client = app.register(m).await;
    let a = app.user_with_device("alice").await;
    let b = app.device_for("alice").await;
    for (device, token) in [(&a, "relay-a"), (&b, "relay-b")] {
        let set = common::push::set_channel(&app, device, &json!({"channel": "webhook", "token": token})).await;
        assert_eq!(set.status, 200, "{}", set.body);
    }
    assert!(app.store().set_preferred_device("alice", &b.id()).await.unwrap());
    for (routing, owed) in [("preferred", vec![b.id()]), ("all", vec![a.id(), b.id()])] {
        let mut claims = request_claims(&app, &client.client_id);
        claims["device_routing"] = json!(routing);
        claims["binding_message"] = json!(routing);
        let ack = send_request(&app, &key, &client.client_id, &key.sign(&claims)).await;
        assert_eq!(ack.status, 200, "{}", ack.body);
        let inbox = b.inbox(&app).await;
        let txn = inbox.body["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["binding_message"] == routing)
            .unwrap()["transaction_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut devices: Vec<String> = app
            .store()
            .device_pushes_of(&txn)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.device_id.into_string())
            .collect();
        devices.sort();
        let mut owed = owed;
        owed.sort();
        assert_eq!(devices, owed, "device_routing={routing} in the request object");
    }
}

#[tokio::test]
async fn every_request_object_defect_is_invalid_request() {
    let app = spawn_app().await;
    let key = ClientKey::new("k1");
    let client = signing_client(&app, &key, true).await;
    let other_key = ClientKey::new("k2");
    let other = signing_client(&app, &other_key, false).await;
    let device = app.user_with_device("alice").await;
    let now = app.clock.now();
    let id = client.client_id.as_str();
    type Edit<'a> = Box<dyn Fn(&mut Value) + 'a>;
    let edits: Vec<(Edit, &str)> = vec![
        (
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("aud"))),
            "S5 missing aud",
        ),
        (
            Box::new(|c| c["aud"] = json!("https://www.other1.example.com/")),
            "S5 bad aud",
        ),
        (
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("iss"))),
            "S6 missing iss",
        ),
        (Box::new(move |c| c["exp"] = json!(now - 600)), "S7 expired exp"),
        (
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("exp"))),
            "S7 missing exp",
        ),
        (
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("iat"))),
            "S8 missing iat",
        ),
        (
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("nbf"))),
            "S9 missing nbf",
        ),
        (
            Box::new(move |c| c["nbf"] = json!(now + 600)),
            "S9 nbf 10 minutes ahead",
        ),
        (
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("jti"))),
            "S10 missing jti",
        ),
        (
            Box::new(|c| c["exp"] = json!(now + 70 * 60)),
            "S11 exp 70 minutes ahead (FAPI)",
        ),
        (
            Box::new(|c| c["nbf"] = json!(now - 70 * 60)),
            "S11 nbf 70 minutes ago (FAPI)",
        ),
        (
            Box::new(|c| c["client_id"] = json!("someone-else")),
            "S13 client_id of another client",
        ),
        (
            Box::new(|c| c["requested_expiry"] = json!(1.5)),
            "B12 fractional expiry",
        ),
        (Box::new(move |c| c["login_hint"] = json!(42)), "a non-string parameter"),
        (
            Box::new(|c| c["device_routing"] = json!("sideways")),
            "device_routing is read from the request object",
        ),
    ];
    for (edit, why) in edits {
        let mut claims = request_claims(&app, id);
        edit(&mut claims);
        let answer = send_request(&app, &key, id, &key.sign(&claims)).await;
        answer.assert_oauth_error(400, "invalid_request", why);
    }
    let mut bad_iss = request_claims(&app, id);
    bad_iss["iss"] = json!(other.client_id);
    send_request(&app, &key, id, &key.sign(&bad_iss))
        .await
        .assert_oauth_error(400, "invalid_request", "S6 iss of another client");

    let claims = request_claims(&app, id);
    let signed_by_other = other_key.sign(&claims);
    send_request(&app, &key, id, &signed_by_other).await.assert_oauth_error(
        400,
        "invalid_request",
        "S4 signed with another client's key",
    );
    let good = key.sign(&claims);
    let (input, sig) = good.rsplit_once('.').unwrap();
    let flipped = format!("{input}.{}{}", &sig[..10], if &sig[10..11] == "A" { "B" } else { "A" }) + &sig[11..];
    send_request(&app, &key, id, &flipped)
        .await
        .assert_oauth_error(400, "invalid_request", "S4 corrupted signature");
    let unsigned = format!(
        "{}.{}.",
        base64url(&json!({"alg": "none"}).to_string()),
        base64url(&request_claims(&app, id).to_string())
    );
    send_request(&app, &key, id, &unsigned)
        .await
        .assert_oauth_error(400, "invalid_request", "S3 alg none");
    let hs256 = format!(
        "{}.{}.c2ln",
        base64url(&json!({"alg": "HS256"}).to_string()),
        base64url("{}")
    );
    send_request(&app, &key, id, &hs256)
        .await
        .assert_oauth_error(400, "invalid_request", "S3 HS256");

    let replayed = key.sign(&request_claims(&app, id));
    assert_eq!(send_request(&app, &key, id, &replayed).await.status, 200);
    send_request(&app, &key, id, &replayed)
        .await
        .assert_oauth_error(400, "invalid_request", "S10 jti replayed");
    assert!(
        app.metrics()
            .await
            .contains("trustid_replays_refused_total{kind=\"request_object\"} 1"),
        "counted"
    );

    for (param, value, why) in [
        ("login_hint", "alice", "S2 parameter outside the JWT"),
        ("device_routing", "all", "device_routing outside the JWT"),
    ] {
        let request = key.sign(&request_claims(&app, id));
        post_with_assertion(
            &app,
            &key,
            id,
            "/bc-authorize",
            &[("request", &request), (param, value)],
        )
        .await
        .assert_oauth_error(400, "invalid_request", why);
    }
    let unsigned_form = post_with_assertion(
        &app,
        &key,
        id,
        "/bc-authorize",
        &[("scope", "openid"), ("login_hint", "alice")],
    )
    .await;
    unsigned_form.assert_oauth_error(400, "invalid_request", "FAPI requires a signed request");
    let mut no_message = request_claims(&app, id);
    no_message.as_object_mut().unwrap().remove("binding_message");
    send_request(&app, &key, id, &key.sign(&no_message))
        .await
        .assert_oauth_error(400, "invalid_request", "FAPI requires binding_message");

    // Only the one request that was meant to succeed reached the device.
    let inbox = device.inbox(&app).await;
    assert_eq!(inbox.body["transactions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_client_without_a_registered_alg_cannot_send_request_objects() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("alice").await;
    let key = ClientKey::new("k1");
    let request = key.sign(&request_claims(&app, &client.client_id));
    app.backchannel(&client, &[("request", &request)])
        .await
        .assert_oauth_error(
            400,
            "invalid_request",
            "no backchannel_authentication_request_signing_alg",
        );
    app.backchannel(
        &client,
        &[("scope", "openid"), ("login_hint", "alice"), ("request_uri", "urn:x")],
    )
    .await
    .assert_oauth_error(400, "invalid_request", "request_uri");
}

fn base64url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test]
async fn private_key_jwt_accepts_all_three_audiences_at_both_endpoints() {
    let app = spawn_app().await;
    let key = ClientKey::new("k1");
    let client = signing_client(&app, &key, false).await;
    app.user_with_device("alice").await;
    let id = client.client_id.as_str();
    let audiences = [app.base.clone(), app.url("/token"), app.url("/bc-authorize")];
    for aud in &audiences {
        let assertion = key.assertion(id, aud, app.clock.now());
        let form = [
            ("scope", "openid"),
            ("login_hint", "alice"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.as_str()),
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
        assert_eq!(ack.status, 200, "B4 aud {aud}: {}", ack.body);
        let auth_req_id = ack.body["auth_req_id"].as_str().unwrap();
        for token_aud in &audiences {
            let assertion = key.assertion(id, token_aud, app.clock.now());
            let form = [
                ("grant_type", CIBA_GRANT),
                ("auth_req_id", auth_req_id),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", assertion.as_str()),
            ];
            let poll = Answer::from(app.http.post(app.url("/token")).form(&form).send().await.unwrap()).await;
            assert!(
                ["authorization_pending", "slow_down"].contains(&poll.error()),
                "T1 aud {token_aud}: {}",
                poll.body
            );
        }
    }
}

#[tokio::test]
async fn bad_client_assertions_are_invalid_client() {
    let app = spawn_app().await;
    let key = ClientKey::new("k1");
    let client = signing_client(&app, &key, false).await;
    let secret_client = app.client(SigningAlg::ES256).await;
    app.user_with_device("alice").await;
    let id = client.client_id.as_str();
    let now = app.clock.now();
    let aud = app.url("/token");
    let base = json!({"iss": id, "sub": id, "aud": aud, "iat": now, "exp": now + 60});
    type Edit<'a> = Box<dyn Fn(&mut Value) + 'a>;
    let edits: Vec<(Edit, &str)> = vec![
        (
            Box::new(|c| c["aud"] = json!("https://elsewhere.example.com/token")),
            "B4 wrong aud",
        ),
        (Box::new(move |c| c["sub"] = json!("someone")), "sub differs from iss"),
        (Box::new(move |c| c["exp"] = json!(now - 600)), "expired"),
        (Box::new(move |c| c["exp"] = json!(now + 7200)), "lives too long"),
        (
            Box::new(move |c| drop(c.as_object_mut().unwrap().remove("exp"))),
            "no exp",
        ),
        (
            Box::new(move |c| drop(c.as_object_mut().unwrap().remove("jti"))),
            "no jti",
        ),
        (Box::new(move |c| c["iss"] = json!("nobody")), "unknown client"),
    ];
    for (edit, why) in edits {
        let mut claims = base.clone();
        claims["jti"] = json!(new_jti());
        edit(&mut claims);
        let form = [
            ("grant_type", CIBA_GRANT),
            ("auth_req_id", "x"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &key.sign(&claims)),
        ];
        let answer = Answer::from(app.http.post(app.url("/token")).form(&form).send().await.unwrap()).await;
        answer.assert_oauth_error(401, "invalid_client", why);
    }
    let other_key = ClientKey::new("k1");
    let forged = other_key.assertion(id, &aud, now);
    let replay = key.assertion(id, &aud, now);
    let secret_assertion = key.assertion(&secret_client.client_id, &aud, now);
    let cases: Vec<FormCase> = vec![
        (
            vec![("client_assertion_type", JWT_BEARER), ("client_assertion", &forged)],
            401,
            "invalid_client",
            "signed by another key",
        ),
        (
            vec![("client_assertion_type", "urn:other"), ("client_assertion", &replay)],
            401,
            "invalid_client",
            "wrong assertion type",
        ),
        (
            vec![("client_assertion_type", JWT_BEARER), ("client_assertion", "not-a-jwt")],
            401,
            "invalid_client",
            "not a JWT",
        ),
        (
            vec![
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &secret_assertion),
            ],
            401,
            "invalid_client",
            "a client_secret client using an assertion",
        ),
        (
            vec![
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &replay),
                ("client_id", "someone-else"),
            ],
            401,
            "invalid_client",
            "client_id differs from the assertion",
        ),
    ];
    for (extra, status, error, why) in cases {
        let mut form = vec![("grant_type", CIBA_GRANT), ("auth_req_id", "x")];
        form.extend(extra);
        let answer = Answer::from(app.http.post(app.url("/token")).form(&form).send().await.unwrap()).await;
        answer.assert_oauth_error(status, error, why);
    }
    let form = [
        ("grant_type", CIBA_GRANT),
        ("auth_req_id", "x"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", replay.as_str()),
    ];
    let first = Answer::from(app.http.post(app.url("/token")).form(&form).send().await.unwrap()).await;
    first.assert_oauth_error(400, "invalid_grant", "authenticated, unknown auth_req_id");
    let second = Answer::from(app.http.post(app.url("/token")).form(&form).send().await.unwrap()).await;
    second.assert_oauth_error(401, "invalid_client", "assertion jti replayed");
    assert!(
        app.metrics()
            .await
            .contains("trustid_replays_refused_total{kind=\"client_assertion\"} 1"),
        "counted"
    );
}

#[tokio::test]
async fn fapi_clients_may_not_sign_with_rs256() {
    let app = spawn_app().await;
    let rsa = josekit::jwk::alg::rsa::RsaKeyPair::generate(2048).unwrap();
    let mut jwk = josekit::jwk::KeyPair::to_jwk_public_key(&rsa);
    jwk.set_key_id("rsa");
    let mut m = ClientMetadata::poll("FAPI Bank");
    m.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
    m.backchannel_authentication_request_signing_alg = Some(SigningAlg::PS256);
    m.id_token_signed_response_alg = SigningAlg::PS256;
    m.jwks = Some(json!({"keys": [serde_json::to_value(jwk.as_ref()).unwrap()]}));
    m.fapi_ciba = true;
    let client = app.register(m).await;
    let id = client.client_id.as_str();
    let now = app.clock.now();
    let mut header = josekit::jws::JwsHeader::new();
    header.set_key_id("rsa");
    let signer = josekit::jws::RS256.signer_from_jwk(&rsa.to_jwk_key_pair()).unwrap();
    let claims = json!({"iss": id, "sub": id, "aud": app.base, "exp": now + 60, "jti": new_jti()});
    let rs256 = josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer).unwrap();
    let form = [
        ("grant_type", CIBA_GRANT),
        ("auth_req_id", "x"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", rs256.as_str()),
    ];
    let answer = Answer::from(app.http.post(app.url("/token")).form(&form).send().await.unwrap()).await;
    answer.assert_oauth_error(401, "invalid_client", "T16 RS256 assertion from a FAPI client");
    let ps_signer = josekit::jws::PS256.signer_from_jwk(&rsa.to_jwk_key_pair()).unwrap();
    let claims = json!({"iss": id, "sub": id, "aud": app.base, "exp": now + 60, "jti": new_jti()});
    let ps256 = josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &ps_signer).unwrap();
    let form = [
        ("grant_type", CIBA_GRANT),
        ("auth_req_id", "x"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", ps256.as_str()),
    ];
    let answer = Answer::from(app.http.post(app.url("/token")).form(&form).send().await.unwrap()).await;
    answer.assert_oauth_error(400, "invalid_grant", "PS256 authenticates");
}

#[tokio::test]
async fn keys_come_from_jwks_uri_and_are_refetched_on_an_unknown_kid() {
    let app = spawn_app().await;
    let first = ClientKey::new("2026-01");
    let second = ClientKey::new("2026-02");
    // A tiny JWKS server whose answer the test can change.
    let jwks = std::sync::Arc::new(std::sync::Mutex::new(first.jwks()));
    let served = jwks.clone();
    let app_router = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let served = served.clone();
            async move { axum::Json(served.lock().unwrap().clone()) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_url = format!("http://{}/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app_router).await.unwrap() });

    let mut m = ClientMetadata::poll("Rotating Bank");
    m.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
    m.jwks_uri = Some(jwks_url);
    let client = app.register(m).await;
    let id = client.client_id.as_str();
    let poll = |key: &ClientKey| {
        let assertion = key.assertion(id, &app.url("/token"), app.clock.now());
        let form = vec![
            ("grant_type", CIBA_GRANT.to_owned()),
            ("auth_req_id", "x".to_owned()),
            ("client_assertion_type", JWT_BEARER.to_owned()),
            ("client_assertion", assertion),
        ];
        app.http.post(app.url("/token")).form(&form).send()
    };
    let ok = Answer::from(poll(&first).await.unwrap()).await;
    ok.assert_oauth_error(400, "invalid_grant", "authenticated with the fetched key");
    // The client rotates to a new key; trustid's cached set lacks its kid.
    *jwks.lock().unwrap() = second.jwks();
    app.clock.advance_secs(11);
    let rotated = Answer::from(poll(&second).await.unwrap()).await;
    rotated.assert_oauth_error(400, "invalid_grant", "refetched on an unknown kid");
    let retired = Answer::from(poll(&first).await.unwrap()).await;
    retired.assert_oauth_error(401, "invalid_client", "the retired key no longer works");
}
