//! The spine end to end: a relying party built on the `openidconnect` crate
//! discovers trustid, starts a CIBA request, the user's device approves with
//! a real P-256 signature, and the RP polls, verifies the ID token and reads
//! the `trustid.*` claims back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGenderClaim, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, ClientId, ClientSecret, EmptyExtraTokenFields, IdTokenFields,
    IdTokenVerifier, IssuerUrl, Nonce, OAuth2TokenResponse, ProviderMetadata, StandardTokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trustid::domain::client::SigningAlg;

#[derive(Clone, Debug, Deserialize, Serialize)]
struct CibaMetadata {
    backchannel_authentication_endpoint: String,
    backchannel_token_delivery_modes_supported: Vec<String>,
    backchannel_user_code_parameter_supported: Option<bool>,
}
impl AdditionalProviderMetadata for CibaMetadata {}

type CibaProviderMetadata = ProviderMetadata<
    CibaMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

#[derive(Clone, Debug, Deserialize, Serialize)]
struct TrustIdClaims {
    #[serde(rename = "trust.authentication_method")]
    method: String,
    #[serde(rename = "trust.authentication_status")]
    status: String,
    #[serde(rename = "trustid.binding_message")]
    binding_message: String,
    #[serde(rename = "trustid.deviceid")]
    device_id: String,
    #[serde(rename = "trustid.device_failed_attempt")]
    device_failed_attempt: i64,
    #[serde(rename = "trustid.transaction_id")]
    transaction_id: String,
    #[serde(rename = "trustid.transaction_start_time")]
    start: i64,
    #[serde(rename = "trustid.transaction_end_time")]
    end: i64,
    #[serde(rename = "trustid.transaction_type")]
    transaction_type: String,
    #[serde(rename = "trustid.userid")]
    user_id: String,
    #[serde(rename = "trustid.user_failed_attempts")]
    user_failed_attempts: i64,
}
impl AdditionalClaims for TrustIdClaims {}

type CibaTokenResponse = StandardTokenResponse<
    IdTokenFields<
        TrustIdClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

async fn relying_party_completes_the_poll_flow(alg: SigningAlg) {
    let app = spawn_app().await;
    let client = app.client(alg).await;
    let device = app.user_with_device("alice").await;

    // Discovery and JWKS, as a certified-style RP library reads them.
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata = CibaProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    let ciba = metadata.additional_metadata();
    assert_eq!(ciba.backchannel_authentication_endpoint, app.url("/bc-authorize"));
    assert_eq!(
        ciba.backchannel_token_delivery_modes_supported,
        vec!["poll", "ping", "push"]
    );

    // The backchannel request, with the seed-003 JSON binding message.
    let message = r#"{"action_context":"authentication","bindingMessage":"Pay 10 EUR to ACME"}"#;
    let ack = app
        .backchannel(
            &client,
            &[
                ("scope", "openid email"),
                ("login_hint", "alice@example.com"),
                ("binding_message", message),
                ("acr_values", "urn:trustid:acr:device-signature"),
            ],
        )
        .await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    assert_eq!(ack.header("cache-control"), Some("no-store"));
    let auth_req_id = ack.body["auth_req_id"].as_str().unwrap().to_owned();
    assert!(auth_req_id.len() >= 22);
    assert!(
        auth_req_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
    );
    assert_eq!(ack.body["expires_in"], 300);
    assert_eq!(ack.body["interval"], 5);

    let pending = app.poll(&client, &auth_req_id).await;
    pending.assert_oauth_error(400, "authorization_pending", "before the user decides");

    // The phone shows the text and signs its approval.
    let item = device.only_item(&app).await;
    assert_eq!(item["binding_message"], "Pay 10 EUR to ACME");
    assert_eq!(item["client_name"], "Test Bank");
    let decided = device.decide(&app, "approve").await;
    assert_eq!(
        (decided.status, &decided.body["status"]),
        (200, &Value::from("approved")),
        "{}",
        decided.body
    );
    assert_eq!(
        device.inbox(&app).await.body["transactions"].as_array().unwrap().len(),
        0
    );

    app.clock.advance_secs(5);
    let tokens = app.poll(&client, &auth_req_id).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    assert_eq!(tokens.body["token_type"], "Bearer");
    assert!(tokens.body["expires_in"].as_i64().unwrap() > 0);
    let response: CibaTokenResponse = serde_json::from_value(tokens.body.clone()).unwrap();

    // The ID token verifies: signature against the JWKS, iss, aud, exp, no nonce.
    let verifier = IdTokenVerifier::new_confidential_client(
        ClientId::new(client.client_id.to_string()),
        ClientSecret::new(client.secret().to_owned()),
        metadata.issuer().clone(),
        metadata.jwks().clone(),
    )
    .set_allowed_algs([
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    ]);
    let id_token = response.extra_fields().id_token().expect("id_token");
    let no_nonce = |n: Option<&Nonce>| {
        if n.is_none() {
            Ok(())
        } else {
            Err("CIBA ID tokens carry no nonce".to_owned())
        }
    };
    let claims = id_token.claims(&verifier, no_nonce).expect("ID token verifies");
    assert_eq!(claims.subject().as_str(), "alice");
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("urn:trustid:acr:device-signature")
    );
    assert!(claims.auth_time().is_some());
    assert_eq!(claims.email().map(|e| e.as_str()), Some("alice@example.com"));
    let header_alg = common::jwt_header_alg(&id_token.to_string());
    assert_eq!(header_alg, alg.as_str());

    let evidence = claims.additional_claims();
    assert_eq!(evidence.method, "device_signature");
    assert_eq!(evidence.status, "approved");
    assert_eq!(evidence.binding_message, "Pay 10 EUR to ACME");
    assert_eq!(evidence.device_id, device.id());
    assert_eq!(evidence.transaction_id, item["transaction_id"].as_str().unwrap());
    assert_eq!(evidence.transaction_type, "authentication");
    assert_eq!(evidence.user_id, "alice");
    assert_eq!((evidence.device_failed_attempt, evidence.user_failed_attempts), (0, 0));
    assert!(evidence.end >= evidence.start);

    // The same user claims from userinfo with the access token.
    let userinfo = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(response.access_token().secret())
        .send()
        .await
        .unwrap();
    let userinfo = Answer::from(userinfo).await;
    assert_eq!(userinfo.status, 200, "{}", userinfo.body);
    let raw = jwt_payload(&id_token.to_string());
    for (name, value) in userinfo.body.as_object().unwrap() {
        assert_eq!(&raw[name], value, "userinfo {name} matches the ID token");
    }
    assert_eq!(userinfo.body["trustid.deviceid"], Value::from(device.id()));
}

#[tokio::test]
async fn relying_party_completes_the_poll_flow_with_an_es256_client() {
    relying_party_completes_the_poll_flow(SigningAlg::ES256).await;
}

#[tokio::test]
async fn relying_party_completes_the_poll_flow_with_an_rs256_client() {
    relying_party_completes_the_poll_flow(SigningAlg::RS256).await;
}

#[tokio::test]
async fn denial_is_reported_as_access_denied_with_no_tokens() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("bob").await;
    let auth_req_id = app.start(&client, "bob", "Log in to Test Bank").await;
    let denied = device.decide(&app, "deny").await;
    assert_eq!((denied.status, denied.body["status"].as_str()), (200, Some("denied")));
    app.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "access_denied", "after a denial");
}

#[tokio::test]
async fn provisioning_approval_associates_the_user_with_the_app() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("carol").await;
    let auth_message = r#"{"action_context":"authentication","appId":"wallet","bindingMessage":"Log in"}"#;
    let before = app
        .backchannel(
            &client,
            &[
                ("scope", "openid"),
                ("login_hint", "carol"),
                ("binding_message", auth_message),
            ],
        )
        .await;
    before.assert_oauth_error(403, "access_denied", "not yet associated with the app");

    let provisioning = r#"{"action_context":"provisioning","appId":"wallet","bindingMessage":"Enrol in Wallet"}"#;
    let auth_req_id = app.start(&client, "carol", provisioning).await;
    assert_eq!(device.decide(&app, "approve").await.status, 200);
    let tokens = app.poll(&client, &auth_req_id).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let claims = jwt_payload(tokens.body["id_token"].as_str().unwrap());
    assert_eq!(claims["trustid.transaction_type"], "provisioning");
    assert_eq!(claims["trustid.deviceid"], Value::from(device.id()));

    let after = app
        .backchannel(
            &client,
            &[
                ("scope", "openid"),
                ("login_hint", "carol"),
                ("binding_message", auth_message),
            ],
        )
        .await;
    assert_eq!(after.status, 200, "{}", after.body);
}

#[tokio::test]
async fn userinfo_refuses_missing_unknown_and_revoked_tokens() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("dave").await;
    let auth_req_id = app.start(&client, "dave", "Log in").await;
    device.decide(&app, "approve").await;
    let tokens = app.poll(&client, &auth_req_id).await;
    let access_token = tokens.body["access_token"].as_str().unwrap().to_owned();

    let none = Answer::from(app.http.get(app.url("/userinfo")).send().await.unwrap()).await;
    none.assert_oauth_error(401, "invalid_token", "no token");
    assert_eq!(none.header("www-authenticate"), Some(r#"Bearer realm="trustid""#));
    let wrong = Answer::from(
        app.http
            .get(app.url("/userinfo"))
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap(),
    )
    .await;
    wrong.assert_oauth_error(401, "invalid_token", "unknown token");

    // Redeeming the auth_req_id again revokes what the first redemption issued.
    app.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "invalid_grant", "second redemption");
    let revoked = Answer::from(
        app.http
            .post(app.url("/userinfo"))
            .bearer_auth(&access_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    revoked.assert_oauth_error(401, "invalid_token", "revoked token");
}

#[tokio::test]
async fn userinfo_refuses_an_expired_access_token() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("erin").await;
    let auth_req_id = app.start(&client, "erin", "Log in").await;
    device.decide(&app, "approve").await;
    let tokens = app.poll(&client, &auth_req_id).await;
    let access_token = tokens.body["access_token"].as_str().unwrap();
    let ok = Answer::from(
        app.http
            .get(app.url("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ok.status, 200);
    app.clock.advance_secs(3600);
    let expired = Answer::from(
        app.http
            .get(app.url("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    expired.assert_oauth_error(401, "invalid_token", "expired token");
}
