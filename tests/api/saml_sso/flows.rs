//! Logins that end in a Response pysaml2 accepts, and the ones that end in
//! a failure Response it reads as one.

use serde_json::json;
use trustid::domain::claims::TABLE;
use trustid::domain::saml_cert::{CertUse, SpCertificate};
use trustid::domain::saml_sp::{NameIdFormat, SignedParts};

use super::*;
use crate::common::{Answer, TestDevice};

/// Every binding, signed and not: the device approves, pysaml2 accepts the
/// Response and reads every attribute with the transaction's values.
#[tokio::test]
async fn both_bindings_signed_or_not_end_in_a_response_pysaml2_accepts() {
    for (binding, sign) in [("redirect", false), ("redirect", true), ("post", false), ("post", true)] {
        let Some(sso) = Sso::new(|s, cert| {
            if sign {
                s.signing_cert = Some(cert.clone());
            }
        })
        .await
        else {
            return;
        };
        let device = sso.app.user_with_device("alice").await;
        let out = sso.authn(binding, sign);
        let (cookie, wait_url) = start_login(&sso, &out, "alice@example.com").await;

        let pending = wait_page(&sso, &wait_url, &cookie).await;
        assert_eq!(pending.status, 200);
        assert!(pending.html.contains("Check your phone"), "{}", pending.html);
        assert!(pending.html.contains("http-equiv=\"refresh\""), "works without scripts");
        let item = device.only_item(&sso.app).await;
        assert_eq!(item["transaction_type"], "saml");
        assert_eq!(item["binding_message"], "Sign in to Intranet & <Portal>");
        let refused = device.decide(&sso.app, "approve").await;
        assert_eq!(
            refused.status, 400,
            "without the number the browser shows: {}",
            refused.body
        );
        let decided = approve(&sso, &device, &wait_url, &cookie).await;
        assert_eq!(decided.status, 200, "{}", decided.body);

        let post = wait_page(&sso, &wait_url, &cookie).await;
        assert_eq!(post.status, 200, "{}", post.html);
        assert_eq!(post.form_action(), ACS);
        assert_eq!(
            post.field("RelayState").as_deref(),
            Some("rs-1"),
            "RelayState comes back unchanged"
        );
        let csp = post.csp.clone().unwrap();
        assert!(csp.contains(&format!("form-action {ACS};")), "{csp}");
        let response = post.field("SAMLResponse").unwrap();
        let response_id = "urn:oasis:names:tc:SAML:2.0:protocol:Response";
        assert!(sso.xmlsec1_verifies(&decoded(&response), response_id).await);
        let parsed = sso
            .parse(&response, Some(&out.request_id), SignedParts::Response)
            .unwrap_or_else(|e| panic!("{binding} signed={sign}: {e}"));

        let txn = sso
            .app
            .store()
            .transaction(item["transaction_id"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
        let attrs = &parsed["attributes"];
        // Every attribute is the evidence the ID token would carry, from the one table.
        let user = sso.app.store().user("alice").await.unwrap().unwrap();
        let evidence = trustid::domain::claims::evidence(&trustid::domain::claims::Sources {
            transaction: &txn,
            scope: "openid",
            user: &user,
        });
        let expected = trustid::saml::xml::assertion::attributes(&evidence).unwrap();
        assert_eq!(attrs.as_object().unwrap().len(), expected.len(), "{attrs}");
        for a in &expected {
            assert_eq!(attrs[a.name], json!([a.value]), "{}", a.name);
        }
        assert_eq!(attrs["TRUSTID.USERID"], json!(["alice"]));
        assert_eq!(attrs["TRUSTID.TRANSACTION_ID"], json!([txn.id.as_str()]));
        assert_eq!(attrs["TRUSTID.TRANSACTION_TYPE"], json!(["saml"]));
        assert_eq!(attrs["TRUST.AUTHENTICATION_STATUS"], json!(["approved"]));
        assert_eq!(
            attrs["TRUST.BINDING_MESSAGE"],
            json!(["Sign in to Intranet & <Portal>"])
        );
        assert_eq!(attrs["TRUSTID.DEVICEID"], json!([device.id()]));
        // The approval without the number counted as this device's failed attempt.
        assert_eq!(attrs["TRUSTID.DEVICEID_FAILED_ATTEMPT"], json!(["1"]));
        assert_eq!(attrs["TRUSTID.DEVICEID_FOR_FAILED_ATTEMPT"], json!([device.id()]));
        let iso = |t: i64| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .unwrap()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        assert_eq!(attrs["TRUSTID.TRANSACTION_START_TIME"], json!([iso(txn.created_at)]));
        assert_eq!(
            attrs["TRUSTID.TRANSACTION_END_TIME"],
            json!([iso(txn.decided_at.unwrap())])
        );
        assert_eq!(parsed["name_id_format"], NameIdFormat::Persistent.urn());
        assert_ne!(parsed["name_id"], "alice", "a persistent NameID is not the user id");

        // One Response per AuthnRequest: the page does not answer twice.
        let again = wait_page(&sso, &wait_url, &cookie).await;
        assert_eq!(again.status, 409);
        assert!(again.field("SAMLResponse").is_none());
    }
}

/// The persistent NameID is the same on every login of one user at one SP.
#[tokio::test]
async fn the_persistent_name_id_is_stable_per_user() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    let device = sso.app.user_with_device("bob").await;
    let mut names = Vec::new();
    for _ in 0..2 {
        let out = sso.authn("redirect", false);
        let (cookie, wait_url) = start_login(&sso, &out, "bob").await;
        approve(&sso, &device, &wait_url, &cookie).await;
        let post = wait_page(&sso, &wait_url, &cookie).await;
        let parsed = sso
            .parse(
                &post.field("SAMLResponse").unwrap(),
                Some(&out.request_id),
                SignedParts::Response,
            )
            .unwrap();
        names.push(parsed["name_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(names[0], names[1]);
}

/// An SP with an encryption certificate receives an EncryptedAssertion that
/// pysaml2 decrypts; the SP's allow-list and signing choice are applied.
#[tokio::test]
async fn encrypted_assertions_and_the_allow_list_reach_pysaml2() {
    let Some(sso) = Sso::new(|s, cert| {
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            cert.to_base64()
        );
        s.encryption_cert = Some(SpCertificate::parse(&pem, CertUse::Encryption).unwrap());
        s.sign = SignedParts::Both;
        s.name_id_format = NameIdFormat::EmailAddress;
        s.attributes = Some(vec![TABLE[0].0, TABLE[9].0]);
    })
    .await
    else {
        return;
    };
    let device = sso.app.user_with_device("carol").await;
    let out = sso.authn("post", false);
    let (cookie, wait_url) = start_login(&sso, &out, "carol").await;
    approve(&sso, &device, &wait_url, &cookie).await;
    let post = wait_page(&sso, &wait_url, &cookie).await;
    let response = post.field("SAMLResponse").unwrap();
    assert!(decoded(&response).contains("EncryptedAssertion"));
    let response_id = "urn:oasis:names:tc:SAML:2.0:protocol:Response";
    assert!(sso.xmlsec1_verifies(&decoded(&response), response_id).await);
    let parsed = sso.parse(&response, Some(&out.request_id), SignedParts::Both).unwrap();
    assert_eq!(parsed["name_id"], "carol@example.com");
    let names: Vec<&String> = parsed["attributes"].as_object().unwrap().keys().collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(parsed["attributes"][TABLE[0].2].is_array());
    assert!(parsed["attributes"][TABLE[9].2].is_array());

    // One changed byte of the ciphertext: refused.
    let xml = decoded(&response);
    let at = xml
        .find("<xenc:CipherValue>")
        .or_else(|| xml.find("CipherValue>"))
        .unwrap()
        + 40;
    let mut bytes = xml.into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = STANDARD.encode(&bytes);
    assert!(sso.parse(&tampered, Some(&out.request_id), SignedParts::Both).is_err());
}

/// One changed byte in the Response and pysaml2 refuses it.
#[tokio::test]
async fn pysaml2_refuses_a_tampered_response() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    let device = sso.app.user_with_device("dave").await;
    let out = sso.authn("redirect", false);
    let (cookie, wait_url) = start_login(&sso, &out, "dave").await;
    approve(&sso, &device, &wait_url, &cookie).await;
    let post = wait_page(&sso, &wait_url, &cookie).await;
    let xml = decoded(&post.field("SAMLResponse").unwrap());
    let tampered = xml.replacen(">dave<", ">dav3<", 1);
    assert_ne!(tampered, xml);
    let err = sso
        .parse(&STANDARD.encode(tampered), Some(&out.request_id), SignedParts::Response)
        .unwrap_err();
    assert!(err.contains("refused"), "{err}");
}

/// A denial on the device is a failure Response: RequestDenied, InResponseTo
/// and Destination set, no Assertion.
#[tokio::test]
async fn a_denial_is_a_failure_response_without_assertion() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    let device = sso.app.user_with_device("erin").await;
    let out = sso.authn("post", false);
    let (cookie, wait_url) = start_login(&sso, &out, "erin").await;
    device.decide(&sso.app, "deny").await;
    let post = wait_page(&sso, &wait_url, &cookie).await;
    let xml = decoded(&post.field("SAMLResponse").unwrap());
    assert_failure(&xml, &out.request_id, "RequestDenied");
    assert!(
        sso.parse(&STANDARD.encode(&xml), Some(&out.request_id), SignedParts::Response)
            .is_err()
    );
}

/// A request the user never answers ends, once expired, in AuthnFailed.
#[tokio::test]
async fn an_expired_login_is_a_failure_response() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    sso.app.user_with_device("frank").await;
    let out = sso.authn("redirect", false);
    let (cookie, wait_url) = start_login(&sso, &out, "frank").await;
    sso.app.clock.advance_secs(3600);
    let post = wait_page(&sso, &wait_url, &cookie).await;
    assert_failure(
        &decoded(&post.field("SAMLResponse").unwrap()),
        &out.request_id,
        "AuthnFailed",
    );
}

/// A locked user: no transaction, a failure Response. The answered login
/// starts nothing more, even for another (unlocked) name.
#[tokio::test]
async fn a_locked_user_gets_a_failure_response() {
    let Some(sso) = Sso::new(|_, _| {}).await else { return };
    let device = sso.app.user_with_device("gina").await;
    let admin = trustid::engine::users::Actor::Admin("test".into());
    let locked = trustid::domain::user::UserStatus::Locked;
    trustid::engine::users::set_status(&sso.app.state, &admin, &"gina".into(), locked)
        .await
        .unwrap();
    let out = sso.authn("redirect", false);
    let page = Page::from(sso.send(&out).await).await;
    let name = |who: &'static str| {
        sso.app
            .http
            .post(page.form_action())
            .header("cookie", page.cookie.clone().unwrap())
            .form(&[("who", who)])
            .send()
    };
    let post = Page::from(name("gina").await.unwrap()).await;
    assert_eq!(post.status, 200, "{}", post.html);
    assert_failure(
        &decoded(&post.field("SAMLResponse").unwrap()),
        &out.request_id,
        "AuthnFailed",
    );
    let inbox = device.inbox(&sso.app).await;
    assert_eq!(inbox.body["transactions"], json!([]), "nothing reached the device");

    let other = sso.app.user_with_device("hugo").await;
    let again = Page::from(name("hugo").await.unwrap()).await;
    assert_eq!(again.status, 409, "{}", again.html);
    assert_eq!(other.inbox(&sso.app).await.body["transactions"], json!([]));
}

/// Approves on `device`, typing the number the browser's wait page shows
/// (SAML logins always match numbers).
pub(crate) async fn approve(sso: &Sso, device: &TestDevice, wait_url: &str, cookie: &str) -> Answer {
    let page = wait_page(sso, wait_url, cookie).await;
    let number = page
        .html
        .split("id=\"saml-number\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the wait page shows the number")
        .to_owned();
    let answer = device.approve_typing(&sso.app, &number).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer
}

pub(super) fn assert_failure(xml: &str, request_id: &str, second: &str) {
    assert!(xml.contains(&format!("InResponseTo=\"{request_id}\"")), "{xml}");
    assert!(xml.contains(&format!("Destination=\"{ACS}\"")), "{xml}");
    assert!(xml.contains("urn:oasis:names:tc:SAML:2.0:status:Responder"), "{xml}");
    assert!(
        xml.contains(&format!("urn:oasis:names:tc:SAML:2.0:status:{second}")),
        "{xml}"
    );
    assert!(!xml.contains("Assertion "), "no assertion in a failure: {xml}");
    assert!(!xml.contains(":Assertion"), "no assertion in a failure: {xml}");
}
