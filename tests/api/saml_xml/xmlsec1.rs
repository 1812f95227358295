//! `xmlsec1 --verify`, as SPs run it, on trustid's signatures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn xmlsec1_verifies_the_response_and_the_assertion_signatures_and_refuses_a_tamper() {
    if xmlsec1().is_none() {
        return;
    }
    let idp = Idp::new();
    let both = idp.response(SignedParts::Both, false);
    let assertion_id = both.assertion_id.clone().unwrap();
    let ok = xmlsec_verify(&idp, &both.xml, RESPONSE_ID_ATTR, None);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let ok = xmlsec_verify(&idp, &both.xml, ASSERTION_ID_ATTR, Some(&assertion_id));
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let bad = tamper(&both.xml);
    assert_ne!(bad, both.xml);
    assert!(!xmlsec_verify(&idp, &bad, RESPONSE_ID_ATTR, None).status.success());
    assert!(
        !xmlsec_verify(&idp, &bad, ASSERTION_ID_ATTR, Some(&assertion_id))
            .status
            .success()
    );
}

#[test]
fn xmlsec1_verifies_the_failure_and_logout_responses() {
    if xmlsec1().is_none() {
        return;
    }
    let idp = Idp::new();
    let head = status_head();
    let denied = Failure {
        top: TopStatus::Responder,
        second: SubStatus::AuthnFailed,
        message: Some(NASTY),
    };
    let failed = failure(&head, &denied, idp.keys.signer()).unwrap();
    assert!(!failed.xml.contains("Assertion"), "a failure carries no assertion");
    assert!(failed.xml.contains("urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"));
    let ok = xmlsec_verify(&idp, &failed.xml, RESPONSE_ID_ATTR, None);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let out = logout::logout_response_post(&head, idp.keys.signer()).unwrap();
    let ok = xmlsec_verify(
        &idp,
        &out.xml,
        "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse",
        None,
    );
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(
        !xmlsec_verify(
            &idp,
            &tamper(&failed.xml.replace("AuthnFailed", "AuthnFailee")),
            RESPONSE_ID_ATTR,
            None
        )
        .status
        .success()
    );
}
