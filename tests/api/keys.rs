//! Signing-key rotation across two instances sharing one keys directory:
//! a new key is published before it signs, old tokens keep verifying until
//! their key is retired.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use serde_json::Value;
use trustid::crypto::keys::SigningKeys;
use trustid::domain::client::SigningAlg;

fn header_kid(jwt: &str) -> String {
    use base64::Engine;
    let part = jwt.split('.').next().unwrap();
    let header: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let jwks = app.jwks().await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn id_token(app: &TestApp, client: &trustid::engine::admin::ClientCredentials, device: &TestDevice) -> String {
    let auth_req_id = app.start(client, "alice", "Log in").await;
    device.decide(app, "approve").await;
    app.clock.advance_secs(5);
    let tokens = app.poll(client, &auth_req_id).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    tokens.body["id_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_rotation_is_published_first_used_later_and_retired_last_on_every_instance() {
    let a = spawn_app().await;
    let b = a.second_instance().await;
    let client = a.client(SigningAlg::ES256).await;
    let device = a.user_with_device("alice").await;
    let first = id_token(&a, &client, &device).await;
    let old_kid = header_kid(&first);
    let dir = a.settings.keys_dir.clone();

    SigningKeys::rotate(&dir, a.clock_now(), a.clock_now() + 600).unwrap();
    for app in [&a, &b] {
        app.state.keys.reload(app.clock_now());
    }
    let published = jwks_kids(&b).await;
    assert_eq!(published.len(), 6, "three new keys beside the three old ones");
    assert_eq!(
        header_kid(&id_token(&a, &client, &device).await),
        old_kid,
        "not used before its time"
    );

    a.clock.advance_secs(600);
    for app in [&a, &b] {
        app.state.keys.reload(app.clock_now());
    }
    let rotated = id_token(&b, &client, &device).await;
    let new_kid = header_kid(&rotated);
    assert_ne!(new_kid, old_kid, "the new key signs now");
    assert!(jwks_kids(&a).await.contains(&new_kid), "and both instances publish it");

    // A token signed with the old key still works as an id_token_hint.
    let hint = a
        .backchannel(&client, &[("scope", "openid"), ("id_token_hint", &first)])
        .await;
    assert_eq!(hint.status, 200, "{}", hint.body);

    assert!(
        SigningKeys::retire(&dir, &new_kid, a.clock_now()).is_err(),
        "the signing key cannot be retired"
    );
    SigningKeys::retire(&dir, &old_kid, a.clock_now()).unwrap();
    for app in [&a, &b] {
        app.state.keys.reload(app.clock_now());
    }
    assert!(!jwks_kids(&b).await.contains(&old_kid), "retired keys leave the JWKS");
    a.backchannel(&client, &[("scope", "openid"), ("id_token_hint", &first)])
        .await
        .assert_oauth_error(400, "unknown_user_id", "its tokens stop verifying");
}

/// `(signing kid, published certificates)` of an instance's SAML key.
fn saml_keys(app: &TestApp) -> (String, Vec<String>) {
    let keys = app.state.keys.get();
    let saml = keys.saml().expect("the SAML key exists once the keys are complete");
    (saml.signing_kid().to_owned(), saml.published_certs().to_vec())
}

#[tokio::test]
async fn the_saml_key_rotates_with_the_jwt_keys_published_first_and_retired_last() {
    let a = spawn_app().await;
    let b = a.second_instance().await;
    let dir = a.settings.keys_dir.clone();
    let (old_kid, old_certs) = saml_keys(&a);
    assert_eq!(
        saml_keys(&b),
        (old_kid.clone(), old_certs.clone()),
        "one key for every instance"
    );
    assert_eq!(old_certs.len(), 1);

    SigningKeys::rotate(&dir, a.clock_now(), a.clock_now() + 600).unwrap();
    for app in [&a, &b] {
        app.state.keys.reload(app.clock_now());
    }
    let (kid, certs) = saml_keys(&b);
    assert_eq!(kid, old_kid, "the next SAML key does not sign before its time");
    assert_eq!(
        certs.len(),
        2,
        "but its certificate is published beside the current one"
    );
    assert_eq!(certs[0], old_certs[0]);
    let listed: Vec<_> = SigningKeys::load_at(&dir, a.clock_now()).unwrap().files().to_vec();
    assert_eq!(
        listed.iter().filter(|f| f.alg == "SAML-RS256").count(),
        2,
        "keys list shows both"
    );

    a.clock.advance_secs(600);
    for app in [&a, &b] {
        app.state.keys.reload(app.clock_now());
    }
    let (new_kid, new_certs) = saml_keys(&a);
    assert_ne!(new_kid, old_kid, "the new SAML key signs now");
    assert_eq!(new_certs, certs[1..], "the old certificate is no longer published");
    assert_eq!(saml_keys(&b).0, new_kid);

    assert!(
        SigningKeys::retire(&dir, &new_kid, a.clock_now()).is_err(),
        "the signing SAML key cannot be retired"
    );
    SigningKeys::retire(&dir, &old_kid, a.clock_now()).unwrap();
    a.state.keys.reload(a.clock_now());
    let after = SigningKeys::load_at(&dir, a.clock_now()).unwrap();
    assert!(after.files().iter().all(|f| f.kid != old_kid), "retired");
    assert_eq!(saml_keys(&a).0, new_kid);
}
