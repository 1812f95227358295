//! Logins over time and outside the usual path: IdP-initiated, pruned when
//! expired, capped per user, and the SP's own client that never signs in.

use serde_json::json;

use super::refusals::{assert_inbox_empty, assert_refusal_page, get};
use super::*;

/// IdP-initiated login is off unless the SP allows it.
#[tokio::test]
async fn idp_initiated_login_needs_the_sps_consent() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    let url = format!("{}?sp={}", sso.app.url("/saml/sso"), SP_ENTITY);
    assert_refusal_page(&get(&sso, &url).await, 400, "does not take sign-ins started at trustid");
}

/// An SP allowing it gets an unsolicited Response pysaml2 accepts, with
/// the default RelayState.
#[tokio::test]
async fn idp_initiated_login_ends_in_an_unsolicited_response() {
    let Some(sso) = Sso::new(|s, _| {
        s.idp_initiated = true;
        s.default_relay_state = Some("/home".into());
    })
    .await
    else {
        return;
    };
    let device = sso.app.user_with_device("alice").await;
    let url = format!("{}?sp={}", sso.app.url("/saml/sso"), SP_ENTITY);
    let page = get(&sso, &url).await;
    assert_eq!(page.status, 200, "{}", page.html);
    let res = sso
        .app
        .http
        .post(page.form_action())
        .header("cookie", page.cookie.clone().unwrap())
        .form(&[("who", "alice")])
        .send()
        .await
        .unwrap();
    let wait_url = Page::from(res).await.location.unwrap();
    let cookie = page.cookie.unwrap();
    super::flows::approve(&sso, &device, &wait_url, &cookie).await;
    let post = wait_page(&sso, &wait_url, &cookie).await;
    assert_eq!(post.field("RelayState").as_deref(), Some("/home"));
    let xml = decoded(&post.field("SAMLResponse").unwrap());
    assert!(!xml.contains("InResponseTo"), "{xml}");
    let parsed = sso
        .parse(
            &post.field("SAMLResponse").unwrap(),
            None,
            trustid::domain::saml_sp::SignedParts::Response,
        )
        .unwrap();
    assert_eq!(parsed["attributes"]["TRUSTID.USERID"], json!(["alice"]));
}

/// Expired logins and old request IDs are forgotten; a replay of a
/// forgotten ID is stale by then: a page, and nothing starts.
#[tokio::test]
async fn expired_logins_and_request_ids_are_pruned() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    let device = sso.app.user_with_device("alice").await;
    let out = sso.authn("redirect", false);
    let page = Page::from(sso.send(&out).await).await;
    let cookie = page.cookie.clone().unwrap();
    sso.app.clock.advance_secs(3600);
    assert!(trustid::engine::saml_login::prune(&sso.app.state).await >= 2);
    let action = page.form_action();
    let res = sso
        .app
        .http
        .post(action)
        .header("cookie", cookie)
        .form(&[("who", "alice")]);
    assert_refusal_page(
        &Page::from(res.send().await.unwrap()).await,
        404,
        "unknown to this browser",
    );
    assert_refusal_page(&Page::from(sso.send(&out).await).await, 400, "too old");
    assert_inbox_empty(&sso, &device).await;
}

/// The client a SAML SP's transactions belong to cannot authenticate.
#[tokio::test]
async fn the_sps_own_client_has_no_credentials() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    let device = sso.app.user_with_device("alice").await;
    let (cookie, wait_url) = start_login(&sso, &sso.authn("redirect", false), "alice").await;
    let client_id = sso
        .app
        .store()
        .transaction(device.only_item(&sso.app).await["transaction_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap()
        .client_id;
    assert!(client_id.starts_with("saml:"), "{client_id}");
    for secret in ["", "x", "guess"] {
        let res = sso
            .app
            .http
            .post(sso.app.url("/token"))
            .basic_auth(client_id.as_str(), Some(secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "trustid:manage")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    assert_eq!(wait_page(&sso, &wait_url, &cookie).await.status, 200);
}

/// The per-user cap applies to SAML logins as to CIBA requests: past it,
/// a page that says so, and no push.
#[tokio::test]
async fn a_flooded_user_gets_a_page_not_a_push() {
    let app = crate::common::spawn_app_with(|s| s.user_requests_per_minute = 1).await;
    let Some(sso) = Sso::on(app, ACS, |_, _| {}).await else {
        return;
    };
    let device = sso.app.user_with_device("alice").await;
    start_login(&sso, &sso.authn("redirect", false), "alice").await;
    let page = Page::from(sso.send(&sso.authn("redirect", false)).await).await;
    let res = sso
        .app
        .http
        .post(page.form_action())
        .header("cookie", page.cookie.unwrap())
        .form(&[("who", "alice")])
        .send()
        .await
        .unwrap();
    assert_refusal_page(&Page::from(res).await, 429, "sent to this user");
    let inbox = device.inbox(&sso.app).await;
    assert_eq!(inbox.body["transactions"].as_array().unwrap().len(), 1);
}
