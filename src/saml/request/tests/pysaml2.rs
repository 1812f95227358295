//! Requests a real SP library made (`fixtures/make_pysaml2_fixtures.py`,
//! pysaml2 7.5.5): its Redirect signature verifies over the query as sent,
//! its POST request reads with its enveloped signature on the root.

use crate::domain::saml_cert::{CertUse, SpCertificate};
use crate::domain::saml_sp::AcsBinding;
use crate::saml::request::*;

const QUERY: &str = include_str!("fixtures/pysaml2_redirect_query.txt");
const POST_BODY: &str = include_str!("fixtures/pysaml2_post_body.txt");
const CERT: &str = include_str!("fixtures/pysaml2_sp_cert.pem");

fn cert() -> SpCertificate {
    SpCertificate::parse(CERT, CertUse::Signing).unwrap()
}

#[test]
fn a_pysaml2_redirect_request_verifies_and_reads() {
    let r = parse_redirect(QUERY.trim()).unwrap();
    assert_eq!(r.relay_state.as_deref(), Some("/home?x=1 2"));
    let sig = r.signature.unwrap();
    assert_eq!(sig.alg, SigAlg::RsaSha256);
    sig.verify(&cert()).unwrap();
    let authn = parse_authn_request(&r.xml).unwrap();
    assert_eq!(authn.issuer.as_str(), "https://sp.example.com/metadata");
    assert_eq!(authn.acs, AcsChoice::Url("https://sp.example.com/acs".into()));
    assert_eq!(authn.protocol_binding, Some(AcsBinding::HttpPost));
    assert!(!authn.signed, "the Redirect binding signs the query, not the XML");
}

#[test]
fn a_pysaml2_redirect_request_fails_when_one_byte_changes() {
    let query = QUERY.trim();
    let at = query.find("RelayState=").unwrap() + "RelayState=".len();
    let mut tampered = query.to_owned();
    let replacement = if &query[at..=at] == "x" { "y" } else { "x" };
    tampered.replace_range(at..=at, replacement);
    let sig = parse_redirect(&tampered).unwrap().signature.unwrap();
    assert_eq!(sig.verify(&cert()), Err(RequestError::BadSignature));
}

#[test]
fn a_pysaml2_post_request_reads_with_its_signature_on_the_root() {
    let r = parse_post(POST_BODY.trim().as_bytes()).unwrap();
    assert_eq!(r.relay_state.as_deref(), Some("/home"));
    let authn = parse_authn_request(&r.xml).unwrap();
    assert!(authn.signed);
    assert!(authn.id.as_str().starts_with("id-"));
    let id = authn.id.as_str().to_owned();
    assert!(authn.is_signed_root(&id));
    assert_eq!(authn.destination.as_deref(), Some("https://idp.example.com/saml/sso"));
}
