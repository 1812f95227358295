//! `POST /manage/v1/saml/assertions`: the signed Assertion of a client's
//! approved CIBA transaction, with what one SP may receive.

use serde_json::{Value, json};
use trustid::domain::client::ClientMetadata;

use super::*;
use crate::common::Answer;

const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion";

async fn export(sso: &Sso, token: &str, body: &Value) -> Answer {
    let res = sso
        .app
        .http
        .post(sso.app.url("/manage/v1/saml/assertions"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    Answer::from(res).await
}

#[tokio::test]
async fn an_approved_transaction_exports_a_signed_assertion_for_an_sp() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    let app = &sso.app;
    let device = app.user_with_device("alice").await;
    let (client, token) = app.manager(ClientMetadata::poll("bank")).await;
    let (other, other_token) = app.manager(ClientMetadata::poll("shop")).await;
    // The SP names no exporter yet: not found for anyone.
    let unlisted = export(&sso, &token, &json!({"transaction_id": "x", "sp": SP_ENTITY})).await;
    assert_eq!(
        (unlisted.status, unlisted.error()),
        (404, "not_found"),
        "{}",
        unlisted.body
    );
    let mut settings = app.store().saml_sp(SP_ENTITY).await.unwrap().unwrap().settings;
    settings.exporters = vec![client.client_id.to_string(), other.client_id.to_string()];
    settings.attributes = Some(vec![trustid::domain::claims::Evidence::TransactionId]);
    app.store().remove_saml_sp(SP_ENTITY).await.unwrap();
    trustid::engine::saml_sps::add_saml_sp(app.store(), settings, true, app.clock_now())
        .await
        .unwrap();
    app.start(&client, "alice", "Pay 10 EUR & more").await;
    let txn = device.only_item(app).await["transaction_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"transaction_id": txn, "sp": SP_ENTITY});

    let pending = export(&sso, &token, &body).await;
    assert_eq!(
        (pending.status, pending.error()),
        (409, "not_approved"),
        "{}",
        pending.body
    );

    device.decide(app, "approve").await;
    let ok = export(&sso, &token, &body).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.header("cache-control"), Some("no-store"));
    let xml = ok.body["assertion"].as_str().unwrap();
    assert!(sso.xmlsec1_verifies(xml, ASSERTION).await, "{xml}");
    assert!(
        xml.contains(&format!("<saml:Audience>{SP_ENTITY}</saml:Audience>")),
        "{xml}"
    );
    assert!(xml.contains("TRUSTID.TRANSACTION_ID"), "{xml}");
    assert!(!xml.contains("TRUSTID.USERID"), "only the allow-list: {xml}");
    assert!(
        xml.contains("cm:sender-vouches"),
        "not a Web SSO bearer assertion: {xml}"
    );
    assert!(!xml.contains("SubjectConfirmationData"), "{xml}");
    assert!(!sso.xmlsec1_verifies(&xml.replacen(&txn, "x", 1), ASSERTION).await);

    // Another client's transaction is not found; neither is an unknown SP.
    let foreign = export(&sso, &other_token, &body).await;
    assert_eq!((foreign.status, foreign.error()), (404, "not_found"));
    let unknown = export(&sso, &token, &json!({"transaction_id": txn, "sp": "https://nobody"})).await;
    assert_eq!((unknown.status, unknown.error()), (404, "not_found"));
    let bad = export(&sso, &token, &json!({"transaction_id": txn})).await;
    assert_eq!((bad.status, bad.error()), (400, "invalid_request"));
    let anonymous = app
        .http
        .post(app.url("/manage/v1/saml/assertions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_denied_transaction_exports_nothing() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    let app = &sso.app;
    let device = app.user_with_device("bob").await;
    let (client, token) = app.manager(ClientMetadata::poll("bank")).await;
    app.start(&client, "bob", "Sign in").await;
    let txn = device.only_item(app).await["transaction_id"]
        .as_str()
        .unwrap()
        .to_owned();
    device.decide(app, "deny").await;
    let denied = export(&sso, &token, &json!({"transaction_id": txn, "sp": SP_ENTITY})).await;
    assert_eq!((denied.status, denied.error()), (409, "not_approved"));
}
