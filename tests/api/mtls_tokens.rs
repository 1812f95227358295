//! Certificate-bound tokens (RFC 8705 §3) behind a proxy that passes the
//! client certificate (see `mtls.rs`): access and management tokens bound
//! to the certificate the client presented when it got them, shown at
//! `/introspect` as `cnf.x5t#S256`, and refused with another certificate or
//! none at `/userinfo` and the management API; a client that registered
//! bound tokens must present its certificate at the token endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::x509::X509;
use serde_json::json;

use crate::common::{Answer, CIBA_GRANT};
use crate::mtls::{
    ClientPki, HEADER, certificate, get_bearer, header_value, mtls_app, p256, post, thumbprint, tls_client,
};
use trustid::domain::client::{AuthMethod, ClientMetadata};

#[tokio::test]
async fn a_tls_client_auth_client_gets_bound_tokens_that_only_its_certificate_can_use() {
    let dir = tempfile::tempdir().unwrap();
    let pki = ClientPki::new(dir.path());
    let app = mtls_app(dir.path()).await;
    let client = app.register(tls_client("rp.example.com", true)).await;
    assert!(client.client_secret.is_none(), "no secret for a certificate client");
    let id = client.client_id.as_str();
    let (own, _) = pki.issue("Bank RP", "rp.example.com");
    let (sibling, _) = pki.issue("Other RP", "other.example.com");
    let device = app.user_with_device("alice").await;

    let request = [
        ("client_id", id),
        ("scope", "openid"),
        ("login_hint", "alice"),
        ("binding_message", "Pay 10"),
    ];
    let ack = post(&app, "/bc-authorize", Some(&own), &request).await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    let auth_req_id = ack.body["auth_req_id"].as_str().unwrap();
    assert_eq!(device.decide(&app, "approve").await.status, 200);

    let redeem = [
        ("client_id", id),
        ("grant_type", CIBA_GRANT),
        ("auth_req_id", auth_req_id),
    ];
    // Without the certificate the client does not authenticate (the
    // approval stays redeemable).
    let bare = post(&app, "/token", None, &redeem).await;
    bare.assert_oauth_error(401, "invalid_client", "no certificate, no tls_client_auth");
    let tokens = post(&app, "/token", Some(&own), &redeem).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(tokens.body["token_type"], "Bearer");
    let access = tokens.body["access_token"].as_str().unwrap();

    let introspected = post(&app, "/introspect", Some(&own), &[("client_id", id), ("token", access)]).await;
    assert_eq!(introspected.body["active"], true, "{}", introspected.body);
    assert_eq!(introspected.body["cnf"]["x5t#S256"], thumbprint(&own));

    let user = get_bearer(&app, "/userinfo", access, Some(&own)).await;
    assert_eq!(user.status, 200, "{}", user.body);
    assert_eq!(user.body["sub"], "alice");
    for (cert, why) in [
        (Some(&sibling), "another certificate of the same CA"),
        (None, "no certificate"),
    ] {
        let refused = get_bearer(&app, "/userinfo", access, cert).await;
        assert_eq!(refused.status, 401, "{why}: {}", refused.body);
        assert_eq!(refused.body["error"], "invalid_token", "{why}");
        let challenge = refused.header("www-authenticate").unwrap_or_default();
        assert!(challenge.contains("invalid_token"), "{why}: {challenge}");
    }
}

#[tokio::test]
async fn a_self_signed_certificate_in_the_clients_jwks_authenticates_and_binds_management_tokens() {
    let dir = tempfile::tempdir().unwrap();
    ClientPki::new(dir.path());
    let app = mtls_app(dir.path()).await;
    let key = p256();
    let own = certificate("Self-signed RP", "", &key, None);
    let jwk = json!({"kty": "EC", "crv": "P-256", "use": "sig", "x5c": [STANDARD.encode(own.to_der().unwrap())]});
    let metadata = ClientMetadata {
        token_endpoint_auth_method: AuthMethod::SelfSignedTlsClientAuth,
        jwks: Some(json!({"keys": [jwk]})),
        tls_client_certificate_bound_access_tokens: true,
        management: true,
        ..ClientMetadata::poll("Self-signed bank")
    };
    let client = app.register(metadata).await;
    let id = client.client_id.as_str();
    let grant = [
        ("client_id", id),
        ("grant_type", "client_credentials"),
        ("scope", "trustid:manage"),
    ];
    let other = certificate("Self-signed RP", "", &p256(), None);
    let refused = post(&app, "/token", Some(&other), &grant).await;
    refused.assert_oauth_error(401, "invalid_client", "a certificate the JWKS lacks");
    assert!(refused.body["error_description"].as_str().unwrap().contains("x5c"));

    let granted = post(&app, "/token", Some(&own), &grant).await;
    assert_eq!(granted.status, 200, "{}", granted.body);
    let token = granted.body["access_token"].as_str().unwrap();
    app.user("dave", &[]).await;
    let path = "/manage/v1/users/dave/devices";
    assert_eq!(get_bearer(&app, path, token, Some(&own)).await.status, 200);
    for (cert, why) in [(Some(&other), "another certificate"), (None, "no certificate")] {
        let refused = get_bearer(&app, path, token, cert).await;
        assert_eq!(refused.status, 401, "{why}: {}", refused.body);
        assert_eq!(refused.body["error"], "invalid_token", "{why}");
    }
}

#[tokio::test]
async fn a_secret_client_with_bound_tokens_must_present_a_certificate_at_the_token_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let pki = ClientPki::new(dir.path());
    let app = mtls_app(dir.path()).await;
    let metadata = ClientMetadata {
        tls_client_certificate_bound_access_tokens: true,
        management: true,
        ..ClientMetadata::poll("Secret bank, bound tokens")
    };
    let client = app.register(metadata).await;
    let grant = [("grant_type", "client_credentials"), ("scope", "trustid:manage")];
    let send = |cert: Option<&X509>| {
        let mut req = app
            .http
            .post(app.url("/token"))
            .basic_auth(&client.client_id, Some(client.secret()))
            .form(&grant);
        if let Some(cert) = cert {
            req = req.header(HEADER, header_value(cert));
        }
        req.send()
    };
    let refused = Answer::from(send(None).await.unwrap()).await;
    refused.assert_oauth_error(400, "invalid_request", "bound tokens without a certificate");
    let (own, _) = pki.issue("Bank RP", "rp.example.com");
    let granted = Answer::from(send(Some(&own)).await.unwrap()).await;
    assert_eq!(granted.status, 200, "{}", granted.body);
    let token = granted.body["access_token"].as_str().unwrap();
    app.user("erin", &[]).await;
    let path = "/manage/v1/users/erin/devices";
    assert_eq!(get_bearer(&app, path, token, Some(&own)).await.status, 200);
    assert_eq!(get_bearer(&app, path, token, None).await.status, 401);
}

#[tokio::test]
async fn a_bound_redemption_needs_the_certificate_and_a_refresh_binds_to_the_one_presented() {
    let dir = tempfile::tempdir().unwrap();
    let pki = ClientPki::new(dir.path());
    let app = mtls_app(dir.path()).await;
    let metadata = ClientMetadata {
        tls_client_certificate_bound_access_tokens: true,
        ..ClientMetadata::poll("Secret bank, bound tokens")
    };
    let client = app.register(metadata).await;
    let device = app.user_with_device("gus").await;
    let ack = app
        .backchannel(&client, &[("scope", "openid offline_access"), ("login_hint", "gus")])
        .await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    assert_eq!(device.decide(&app, "approve").await.status, 200);
    let auth_req_id = ack.body["auth_req_id"].as_str().unwrap();
    let send = |path: &str, cert: Option<&X509>, form: Vec<(&'static str, String)>| {
        let mut req = app
            .http
            .post(app.url(path))
            .basic_auth(&client.client_id, Some(client.secret()))
            .form(&form);
        if let Some(cert) = cert {
            req = req.header(HEADER, header_value(cert));
        }
        req.send()
    };
    let redeem = || {
        vec![
            ("grant_type", CIBA_GRANT.to_owned()),
            ("auth_req_id", auth_req_id.to_owned()),
        ]
    };
    let refused = Answer::from(send("/token", None, redeem()).await.unwrap()).await;
    refused.assert_oauth_error(400, "invalid_request", "a bound redemption without a certificate");
    let (first, _) = pki.issue("Bank RP", "rp.example.com");
    let (second, _) = pki.issue("Bank RP", "rp.example.com");
    let tokens = Answer::from(send("/token", Some(&first), redeem()).await.unwrap()).await;
    assert_eq!(tokens.status, 200, "the approval was still redeemable: {}", tokens.body);
    let refresh_token = tokens.body["refresh_token"].as_str().unwrap().to_owned();

    let refresh = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", refresh_token),
    ];
    let refreshed = Answer::from(send("/token", Some(&second), refresh).await.unwrap()).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let access = refreshed.body["access_token"].as_str().unwrap();
    let introspect = vec![("token", access.to_owned())];
    let introspected = Answer::from(send("/introspect", None, introspect).await.unwrap()).await;
    assert_eq!(
        introspected.body["cnf"]["x5t#S256"],
        thumbprint(&second),
        "bound to the refresh's certificate"
    );
    assert_eq!(get_bearer(&app, "/userinfo", access, Some(&first)).await.status, 401);
    assert_eq!(get_bearer(&app, "/userinfo", access, Some(&second)).await.status, 200);
}
