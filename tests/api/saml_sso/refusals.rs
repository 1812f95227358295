//! Requests trustid refuses: with an HTML page when the sender or the ACS is
//! unproven (nothing is sent anywhere), with a failure Response to the
//! registered ACS otherwise. None starts a transaction.

use std::io::Write;

use flate2::Compression;
use flate2::write::DeflateEncoder;
use serde_json::json;
use trustid::domain::saml_cert::{CertUse, SpCertificate};

use super::flows::assert_failure;
use super::*;
use crate::common::TestDevice;

/// An AuthnRequest written by hand, for what pysaml2 will not send.
fn request_xml(sso: &Sso, id: &str, issuer: &str, extra: &str, issue_instant: i64) -> String {
    let instant = time::OffsetDateTime::from_unix_timestamp(issue_instant)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{dest}" {extra}><saml:Issuer>{issuer}</saml:Issuer></samlp:AuthnRequest>"#,
        dest = sso.app.url("/saml/sso"),
    )
}

/// The Redirect-binding URL carrying `xml`, unsigned.
fn redirect_url(sso: &Sso, xml: &str) -> String {
    let mut deflate = DeflateEncoder::new(Vec::new(), Compression::default());
    deflate.write_all(xml.as_bytes()).unwrap();
    let b64 = STANDARD.encode(deflate.finish().unwrap());
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLRequest", &b64)
        .finish();
    format!("{}?{query}", sso.app.url("/saml/sso"))
}

pub(super) async fn get(sso: &Sso, url: &str) -> Page {
    Page::from(sso.app.http.get(url).send().await.unwrap()).await
}

/// A refusal page: the status, HTML, and no Response in it.
pub(super) fn assert_refusal_page(page: &Page, status: u16, says: &str) {
    assert_eq!(page.status, status, "{}", page.html);
    assert!(page.html.contains(says), "expected `{says}` in {}", page.html);
    assert!(page.field("SAMLResponse").is_none());
    assert!(page.cookie.is_none(), "no login was begun");
}

pub(super) async fn assert_inbox_empty(sso: &Sso, device: &TestDevice) {
    assert_eq!(device.inbox(&sso.app).await.body["transactions"], json!([]));
}

#[tokio::test]
async fn requests_from_unknown_sps_or_for_unregistered_acs_get_a_page() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    let now = sso.app.clock_now();
    let unknown = request_xml(&sso, "_u1", "https://stranger.example", "", now);
    assert_refusal_page(&get(&sso, &redirect_url(&sso, &unknown)).await, 400, "not registered");

    let elsewhere = r#"AssertionConsumerServiceURL="https://evil.example/acs""#;
    let xml = request_xml(&sso, "_u2", SP_ENTITY, elsewhere, now);
    assert_refusal_page(&get(&sso, &redirect_url(&sso, &xml)).await, 400, "did not register");

    let xml = request_xml(&sso, "_u3", SP_ENTITY, r#"AssertionConsumerServiceIndex="7""#, now);
    assert_refusal_page(&get(&sso, &redirect_url(&sso, &xml)).await, 400, "did not register");
}

#[tokio::test]
async fn malformed_requests_get_a_page() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    let now = sso.app.clock_now();
    let doctype = format!(
        "<!DOCTYPE x [<!ENTITY e \"boom\">]>{}",
        request_xml(&sso, "_d1", SP_ENTITY, "", now)
    );
    assert_refusal_page(&get(&sso, &redirect_url(&sso, &doctype)).await, 400, "DOCTYPE");

    // Inflates past the cap: a small query that would expand to megabytes.
    let bomb = format!(
        "{}{}",
        request_xml(&sso, "_d2", SP_ENTITY, "", now),
        " ".repeat(4 << 20)
    );
    assert_refusal_page(&get(&sso, &redirect_url(&sso, &bomb)).await, 400, "larger than");

    let url = format!("{}?SAMLRequest=%%%", sso.app.url("/saml/sso"));
    assert_refusal_page(&get(&sso, &url).await, 400, "Sign-in refused");
    let none = get(&sso, &sso.app.url("/saml/sso")).await;
    assert_refusal_page(&none, 400, "SAMLRequest");
    let posted = sso
        .app
        .http
        .post(sso.app.url("/saml/sso"))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_refusal_page(&Page::from(posted).await, 400, "SAMLRequest");
}

/// IsPassive cannot be honoured: every login needs the device; a wrong
/// Destination or another NameID format is refused. Each answers the
/// registered ACS once its ID is recorded. A stale IssueInstant is unproven:
/// a page.
#[tokio::test]
async fn passive_misaddressed_and_stale_requests_are_refused() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    let device = sso.app.user_with_device("alice").await;
    let now = sso.app.clock_now();
    let passive = request_xml(&sso, "_p1", SP_ENTITY, r#"IsPassive="true""#, now);
    let page = get(&sso, &redirect_url(&sso, &passive)).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert_eq!(page.form_action(), ACS);
    assert_failure(&decoded(&page.field("SAMLResponse").unwrap()), "_p1", "NoPassive");

    let elsewhere = request_xml(&sso, "_w1", SP_ENTITY, "", now).replace(
        &format!("Destination=\"{}\"", sso.app.url("/saml/sso")),
        "Destination=\"https://other-idp.example/sso\"",
    );
    let xml = decoded(
        &get(&sso, &redirect_url(&sso, &elsewhere))
            .await
            .field("SAMLResponse")
            .unwrap(),
    );
    assert!(
        xml.contains("InResponseTo=\"_w1\"") && xml.contains("status:RequestDenied"),
        "{xml}"
    );

    let transient = request_xml(&sso, "_n1", SP_ENTITY, "", now).replace(
        "</saml:Issuer>",
        "</saml:Issuer><samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\"/>",
    );
    let xml = decoded(
        &get(&sso, &redirect_url(&sso, &transient))
            .await
            .field("SAMLResponse")
            .unwrap(),
    );
    assert!(
        xml.contains("InResponseTo=\"_n1\"") && xml.contains("status:InvalidNameIDPolicy"),
        "{xml}"
    );

    let stale = request_xml(&sso, "_s1", SP_ENTITY, "", now - 3600);
    assert_refusal_page(&get(&sso, &redirect_url(&sso, &stale)).await, 400, "too old");
    assert_inbox_empty(&sso, &device).await;
}

/// A Subject naming the user by e-mail skips the form: the user's device
/// is pushed at once and the browser goes to the wait page.
#[tokio::test]
async fn a_subject_names_the_user_without_the_form() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    let device = sso.app.user_with_device("alice").await;
    let now = sso.app.clock_now();
    let subject = |id: &str, who: &str| {
        request_xml(&sso, id, SP_ENTITY, "", now).replace(
            "</saml:Issuer>",
            &format!(
                "</saml:Issuer><saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\">{who}</saml:NameID></saml:Subject>"
            ),
        )
    };
    let page = get(&sso, &redirect_url(&sso, &subject("_a1", "alice@example.com"))).await;
    assert_eq!(page.status, 303, "{}", page.html);
    assert!(page.location.unwrap().contains("/saml/wait/"));
    assert!(page.cookie.is_some());
    assert_eq!(device.only_item(&sso.app).await["transaction_type"], "saml");

    let nobody = get(&sso, &redirect_url(&sso, &subject("_a2", "nobody@example.com"))).await;
    let xml = decoded(&nobody.field("SAMLResponse").unwrap());
    assert!(
        xml.contains("InResponseTo=\"_a2\"") && xml.contains("status:UnknownPrincipal"),
        "{xml}"
    );
}

/// An AuthnRequest ID is answered once: a replay begins nothing.
#[tokio::test]
async fn a_replayed_request_starts_nothing() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    let device = sso.app.user_with_device("alice").await;
    let out = sso.authn("redirect", false);
    let first = Page::from(sso.send(&out).await).await;
    assert_eq!(first.status, 200);
    let replay = Page::from(sso.send(&out).await).await;
    assert_refusal_page(&replay, 400, "answered already");
    assert_inbox_empty(&sso, &device).await;
}

#[tokio::test]
async fn an_sp_with_a_certificate_must_sign_with_it() {
    let other = {
        let pem = trustid::crypto::saml_keys::generate_pem(0).unwrap();
        let pem = String::from_utf8(pem).unwrap();
        SpCertificate::parse(&pem[pem.find("-----BEGIN CERTIFICATE").unwrap()..], CertUse::Signing).unwrap()
    };
    // Registered with its own certificate: unsigned and tampered requests fail.
    let Some(sso) = Sso::new(|s, cert| s.signing_cert = Some(cert.clone())).await else {
        return;
    };
    for binding in ["redirect", "post"] {
        let unsigned = Page::from(sso.send(&sso.authn(binding, false)).await).await;
        assert_refusal_page(&unsigned, 400, "not signed");
    }
    let mut out = sso.authn("redirect", true);
    let at = out.url.find("Signature=").unwrap() + "Signature=".len();
    let flipped = if &out.url[at..=at] == "A" { "B" } else { "A" };
    out.url.replace_range(at..=at, flipped);
    assert_refusal_page(&Page::from(sso.send(&out).await).await, 400, "does not verify");

    let mut out = sso.authn("post", true);
    let form = out.form.as_mut().unwrap();
    let request = form.iter_mut().find(|(k, _)| k == "SAMLRequest").unwrap();
    let xml = decoded(&request.1).replace("Version=\"2.0\"", "Version=\"2.0\" ForceAuthn=\"true\"");
    request.1 = STANDARD.encode(xml);
    assert_refusal_page(&Page::from(sso.send(&out).await).await, 400, "does not verify");

    // Registered with another certificate: the key pysaml2 puts in KeyInfo
    // signs, and counts for nothing.
    let Some(sso) = Sso::new(|s, _| s.signing_cert = Some(other.clone())).await else {
        return;
    };
    for binding in ["redirect", "post"] {
        let page = Page::from(sso.send(&sso.authn(binding, true)).await).await;
        assert_refusal_page(&page, 400, "does not verify");
    }
}

/// A signature over another element than the request trustid reads (XML
/// signature wrapping) does not count.
#[tokio::test]
async fn a_wrapped_signature_does_not_count() {
    let Some(sso) = Sso::new(|s, cert| s.signing_cert = Some(cert.clone())).await else {
        return;
    };
    let mut out = sso.authn("post", true);
    let form = out.form.as_mut().unwrap();
    let request = form.iter_mut().find(|(k, _)| k == "SAMLRequest").unwrap();
    let signed = decoded(&request.1);
    let signed = signed.trim_start_matches(|c| c != '<');
    let signed = match signed.strip_prefix("<?xml") {
        Some(rest) => &rest[rest.find("?>").unwrap() + 2..],
        None => signed,
    };
    // The signed request moves into Extensions of a new root with its own ID.
    let now = sso.app.clock_now();
    let evil = request_xml(&sso, "_wrapper", SP_ENTITY, "", now).replace(
        "</saml:Issuer>",
        &format!("</saml:Issuer><samlp:Extensions>{signed}</samlp:Extensions>"),
    );
    request.1 = STANDARD.encode(&evil);
    let page = Page::from(sso.send(&out).await).await;
    assert_refusal_page(&page, 400, "not signed");

    // The same, the new root borrowing the signed request's ID.
    let id_at = signed.find(" ID=\"").unwrap() + 5;
    let signed_id = &signed[id_at..id_at + signed[id_at..].find('"').unwrap()];
    let borrowed = evil.replace("ID=\"_wrapper\"", &format!("ID=\"{signed_id}\""));
    let form = out.form.as_mut().unwrap();
    form.iter_mut().find(|(k, _)| k == "SAMLRequest").unwrap().1 = STANDARD.encode(borrowed);
    let page = Page::from(sso.send(&out).await).await;
    assert_refusal_page(&page, 400, "carry the ID");
}

/// The wait page and the form belong to the browser that began the login.
#[tokio::test]
async fn another_browser_cannot_wait_on_a_login() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    sso.app.user_with_device("alice").await;
    let out = sso.authn("redirect", false);
    let (cookie, wait_url) = start_login(&sso, &out, "alice").await;
    let stranger = Page::from(sso.app.http.get(&wait_url).send().await.unwrap()).await;
    assert_refusal_page(&stranger, 404, "unknown to this browser");
    let form = wait_url.replace("/saml/wait/", "/saml/login/");
    let posted = sso.app.http.post(&form).form(&[("who", "alice")]).send().await.unwrap();
    assert_refusal_page(&Page::from(posted).await, 404, "unknown to this browser");
    let (name, _) = cookie.split_once('=').unwrap();
    let forged = format!("{name}=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let wrong = wait_page(&sso, &wait_url, &forged).await;
    assert_refusal_page(&wrong, 404, "unknown to this browser");
    let state = sso.app.http.get(format!("{wait_url}/state")).send().await.unwrap();
    assert_eq!(state.status(), 404);
}

/// The who-are-you form: an unknown name is asked again, and tells nothing
/// about whether the user exists; an empty one too.
#[tokio::test]
async fn the_form_asks_again_for_an_unknown_or_empty_name() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    sso.app.user("nodevice", &[]).await;
    let out = sso.authn("redirect", false);
    let page = Page::from(sso.send(&out).await).await;
    let cookie = page.cookie.clone().unwrap();
    let mut said = Vec::new();
    for who in ["nobody@example.com", "nodevice", ""] {
        let res = sso
            .app
            .http
            .post(page.form_action())
            .header("cookie", &cookie)
            .form(&[("who", who)])
            .send()
            .await
            .unwrap();
        let again = Page::from(res).await;
        assert_eq!(again.status, 400, "{}", again.html);
        assert!(again.html.contains("<form"), "{}", again.html);
        said.push(again.html);
    }
    assert_eq!(said[0], said[1], "unknown and deviceless users look the same");
}
