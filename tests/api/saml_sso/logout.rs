//! Single logout: trustid keeps no session, so a LogoutRequest from a
//! registered SP is answered `Success`, at its logout URL when it has one.

use std::io::Read;

use flate2::read::DeflateDecoder;
use url::Url;

use super::*;

const SLO: &str = "http://127.0.0.1:1/slo";

fn status_of(xml: &str) -> bool {
    xml.contains("LogoutResponse") && xml.contains("urn:oasis:names:tc:SAML:2.0:status:Success")
}

#[tokio::test]
async fn a_logout_request_is_answered_success_over_its_binding() {
    let Some(sso) = Sso::new(|s, cert| {
        s.logout_url = Some(Url::parse(SLO).unwrap());
        s.signing_cert = Some(cert.clone());
    })
    .await
    else {
        return;
    };
    // Redirect: a 303 to the SP's logout URL with a signed query.
    let out = sso.logout("redirect", true, "someone");
    let page = Page::from(sso.send(&out).await).await;
    assert_eq!(page.status, 303, "{}", page.html);
    let location = Url::parse(&page.location.unwrap()).unwrap();
    assert!(location.as_str().starts_with(SLO));
    let params: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let value = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert!(value("Signature").is_some() && value("SigAlg").is_some());
    assert_eq!(value("RelayState").as_deref(), Some("rs-2"));
    let mut xml = String::new();
    DeflateDecoder::new(&STANDARD.decode(value("SAMLResponse").unwrap()).unwrap()[..])
        .read_to_string(&mut xml)
        .unwrap();
    assert!(status_of(&xml), "{xml}");
    assert!(xml.contains(&format!("InResponseTo=\"{}\"", out.request_id)), "{xml}");

    // POST: the form to the logout URL.
    let out = sso.logout("post", true, "someone");
    let page = Page::from(sso.send(&out).await).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert_eq!(page.form_action(), SLO);
    assert!(status_of(&decoded(&page.field("SAMLResponse").unwrap())));

    // Unsigned, from an SP that signs: refused.
    let out = sso.logout("redirect", false, "someone");
    let page = Page::from(sso.send(&out).await).await;
    assert_eq!(page.status, 400, "{}", page.html);
}

#[tokio::test]
async fn without_a_logout_url_the_logout_ends_on_trustids_page() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    let out = sso.logout("redirect", false, "someone");
    let page = Page::from(sso.send(&out).await).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("trustid keeps no session"), "{}", page.html);
    let junk = Page::from(
        sso.app
            .http
            .get(format!("{}?SAMLRequest=AAAA", sso.app.url("/saml/slo")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(junk.status, 400);
}
