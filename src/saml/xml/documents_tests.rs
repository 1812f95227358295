//! The documents' shape, read back with a namespace-aware parser, and their
//! signatures checked with trustid's verifier (the real SPs' checks are in
//! `tests/api/saml_xml.rs`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bergshamra::xml::uppsala::{self, Document, NodeId};
use serde_json::json;

use super::assertion::{AUTHN_CONTEXT_CLASS, AssertionFacts, SamlAttribute, attributes};
use super::logout::logout_response_redirect;
use super::name_id::{NameId, NameIdFormat};
use super::response::success;
use super::status::{Failure, StatusFacts, SubStatus, TopStatus, failure};
use super::*;
use crate::crypto::saml_keys::SamlKeys;
use crate::crypto::xmldsig::{DSIG_NS, TrustedCert, verify};
use crate::domain::claims::Evidence;
use crate::domain::saml_sp::SignedParts;

fn keys() -> &'static (SamlKeys, tempfile::TempDir) {
    static KEYS: std::sync::OnceLock<(SamlKeys, tempfile::TempDir)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        (SamlKeys::load(dir.path(), 0, true).unwrap().unwrap(), dir)
    })
}

fn trusted() -> TrustedCert {
    TrustedCert::from_der(&STANDARD.decode(&keys().0.published_certs()[0]).unwrap()).unwrap()
}

const ATTRS: &[SamlAttribute] = &[];

fn facts<'a>(attrs: &'a [SamlAttribute], request: Option<&'a str>, format: NameIdFormat) -> AssertionFacts<'a> {
    AssertionFacts {
        idp_entity_id: "https://idp.example/saml",
        sp_entity_id: "https://sp.example",
        recipient: Some("https://sp.example/acs?x=1&y=2"),
        in_response_to: request,
        name_id: NameId { format, value: "v<1>" },
        issue_instant: 1_000,
        lifetime: 300,
        authn_instant: 990,
        session_index: "_s1",
        attributes: attrs,
    }
}

fn one(doc: &Document<'_>, ns: &str, local: &str) -> NodeId {
    let found = doc.get_elements_by_tag_name_ns(ns, local);
    assert_eq!(found.len(), 1, "{local}");
    found[0]
}

fn attr<'d>(doc: &'d Document<'_>, node: NodeId, name: &str) -> Option<&'d str> {
    doc.element(node).unwrap().get_attribute(name)
}

/// The local names of `node`'s element children, in order.
fn children(doc: &Document<'_>, node: NodeId) -> Vec<String> {
    doc.children(node)
        .into_iter()
        .filter_map(|c| doc.element(c).map(|e| e.name.local_name.to_string()))
        .collect()
}

#[test]
fn a_success_response_says_who_for_whom_until_when_and_how() {
    let attrs = attributes(&[(Evidence::BindingMessage, json!("a & <b>"))]).unwrap();
    let built = success(
        &facts(&attrs, Some("_req"), NameIdFormat::Persistent),
        SignedParts::Response,
        keys().0.signer(),
        None,
    )
    .unwrap();
    let doc = uppsala::parse(&built.xml).unwrap();
    let root = doc.document_element().unwrap();
    assert_eq!(children(&doc, root), ["Issuer", "Signature", "Status", "Assertion"]);
    assert_eq!(attr(&doc, root, "Destination"), Some("https://sp.example/acs?x=1&y=2"));
    assert_eq!(attr(&doc, root, "InResponseTo"), Some("_req"));
    assert_eq!(attr(&doc, root, "IssueInstant"), Some("1970-01-01T00:16:40Z"));
    let assertion = one(&doc, ASSERTION_NS, "Assertion");
    assert_eq!(
        children(&doc, assertion),
        [
            "Issuer",
            "Subject",
            "Conditions",
            "AuthnStatement",
            "AttributeStatement"
        ]
    );
    let name_id = one(&doc, ASSERTION_NS, "NameID");
    assert_eq!(doc.text_content_deep(name_id), "v<1>");
    assert_eq!(attr(&doc, name_id, "Format"), Some(NameIdFormat::Persistent.urn()));
    assert_eq!(attr(&doc, name_id, "SPNameQualifier"), Some("https://sp.example"));
    assert_eq!(attr(&doc, name_id, "NameQualifier"), Some("https://idp.example/saml"));
    let data = one(&doc, ASSERTION_NS, "SubjectConfirmationData");
    assert_eq!(attr(&doc, data, "Recipient"), Some("https://sp.example/acs?x=1&y=2"));
    assert_eq!(attr(&doc, data, "InResponseTo"), Some("_req"));
    assert_eq!(attr(&doc, data, "NotOnOrAfter"), Some("1970-01-01T00:21:40Z"));
    let conditions = one(&doc, ASSERTION_NS, "Conditions");
    assert_eq!(attr(&doc, conditions, "NotBefore"), Some("1970-01-01T00:16:40Z"));
    assert_eq!(attr(&doc, conditions, "NotOnOrAfter"), Some("1970-01-01T00:21:40Z"));
    assert_eq!(
        doc.text_content_deep(one(&doc, ASSERTION_NS, "Audience")),
        "https://sp.example"
    );
    let statement = one(&doc, ASSERTION_NS, "AuthnStatement");
    assert_eq!(attr(&doc, statement, "AuthnInstant"), Some("1970-01-01T00:16:30Z"));
    assert_eq!(attr(&doc, statement, "SessionIndex"), Some("_s1"));
    assert_eq!(
        doc.text_content_deep(one(&doc, ASSERTION_NS, "AuthnContextClassRef")),
        AUTHN_CONTEXT_CLASS
    );
    let attribute = one(&doc, ASSERTION_NS, "Attribute");
    assert_eq!(attr(&doc, attribute, "Name"), Some("TRUST.BINDING_MESSAGE"));
    assert_eq!(attr(&doc, attribute, "NameFormat"), Some(assertion::ATTRNAME_BASIC));
    let value = one(&doc, ASSERTION_NS, "AttributeValue");
    assert_eq!(doc.text_content_deep(value), "a & <b>");
    let raw = &built.xml[built.xml.find("<saml:AttributeValue").unwrap()..];
    let open_tag = &raw[..raw.find('>').unwrap()];
    for decl in [
        r#"xmlns:xs="http://www.w3.org/2001/XMLSchema""#,
        r#"xmlns:xsi="#,
        r#"xsi:type="xs:string""#,
    ] {
        assert!(open_tag.contains(decl), "{open_tag}");
    }
    assert_eq!(verify(&built.xml, &trusted()).unwrap().id, built.id);
    assert!(built.assertion_id.is_some());
}

#[test]
fn an_idp_initiated_response_answers_no_request_and_global_formats_have_no_qualifiers() {
    for format in [NameIdFormat::EmailAddress, NameIdFormat::Unspecified] {
        let built = success(
            &facts(ATTRS, None, format),
            SignedParts::Response,
            keys().0.signer(),
            None,
        )
        .unwrap();
        assert!(!built.xml.contains("InResponseTo"), "{}", built.xml);
        assert!(!built.xml.contains("NameQualifier"), "{}", built.xml);
        assert!(!built.xml.contains("AttributeStatement"), "no attributes, no statement");
    }
}

#[test]
fn signing_follows_the_sps_choice() {
    let f = facts(ATTRS, Some("_req"), NameIdFormat::Transient);
    for (signed, outer, inner) in [
        (SignedParts::Response, true, false),
        (SignedParts::Assertion, false, true),
        (SignedParts::Both, true, true),
    ] {
        let built = success(&f, signed, keys().0.signer(), None).unwrap();
        let doc = uppsala::parse(&built.xml).unwrap();
        let root = doc.document_element().unwrap();
        let assertion = one(&doc, ASSERTION_NS, "Assertion");
        assert_eq!(
            children(&doc, root).contains(&"Signature".to_owned()),
            outer,
            "{signed:?}"
        );
        assert_eq!(
            children(&doc, assertion)[..2] == ["Issuer", "Signature"],
            inner,
            "{signed:?}"
        );
        assert_eq!(
            doc.get_elements_by_tag_name_ns(DSIG_NS, "Signature").len(),
            usize::from(outer) + usize::from(inner)
        );
        if inner {
            let start = built.xml.find("<saml:Assertion").unwrap();
            let end = built.xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
            let signed_assertion = verify(&built.xml[start..end], &trusted()).unwrap();
            assert_eq!(Some(signed_assertion.id), built.assertion_id);
        }
    }
}

#[test]
fn a_failure_response_carries_both_status_levels_and_no_assertion() {
    let head = StatusFacts {
        idp_entity_id: "https://idp.example/saml",
        destination: "https://sp.example/acs",
        in_response_to: Some("_req"),
        issue_instant: 1_000,
    };
    let denied = Failure {
        top: TopStatus::Requester,
        second: SubStatus::NoPassive,
        message: Some("needs <approval>"),
    };
    let built = failure(&head, &denied, keys().0.signer()).unwrap();
    let doc = uppsala::parse(&built.xml).unwrap();
    let codes = doc.get_elements_by_tag_name_ns(PROTOCOL_NS, "StatusCode");
    let values: Vec<_> = codes.iter().map(|&c| attr(&doc, c, "Value").unwrap()).collect();
    assert_eq!(
        values,
        [
            "urn:oasis:names:tc:SAML:2.0:status:Requester",
            "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
        ]
    );
    assert_eq!(
        doc.text_content_deep(one(&doc, PROTOCOL_NS, "StatusMessage")),
        "needs <approval>"
    );
    assert!(doc.get_elements_by_tag_name_ns(ASSERTION_NS, "Assertion").is_empty());
    assert_eq!(built.assertion_id, None);
    assert_eq!(verify(&built.xml, &trusted()).unwrap().name, "Response");
}

#[test]
fn a_redirect_logout_response_is_deflated_and_its_query_signed() {
    let head = StatusFacts {
        idp_entity_id: "https://idp.example/saml",
        destination: "https://sp.example/slo",
        in_response_to: Some("_logout1"),
        issue_instant: 1_000,
    };
    let (built, query) = logout_response_redirect(&head, Some("state & more"), keys().0.signer()).unwrap();
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["SAMLResponse", "RelayState", "SigAlg", "Signature"]);
    assert_eq!(params[1].1, "state & more");
    let deflated = STANDARD.decode(&params[0].1).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut flate2::read::DeflateDecoder::new(&deflated[..]), &mut xml).unwrap();
    assert_eq!(xml, built.xml);
    assert!(
        xml.starts_with("<samlp:LogoutResponse")
            && xml.contains("status:Success")
            && xml.contains("InResponseTo=\"_logout1\"")
    );
    let signed_part = &query[..query.find("&Signature=").unwrap()];
    let der = STANDARD.decode(&keys().0.published_certs()[0]).unwrap();
    let public = openssl::x509::X509::from_der(&der).unwrap().public_key().unwrap();
    let mut verifier = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &public).unwrap();
    verifier.update(signed_part.as_bytes()).unwrap();
    assert!(verifier.verify(&STANDARD.decode(&params[3].1).unwrap()).unwrap());
}

#[test]
fn evidence_becomes_attributes_named_by_the_claim_table() {
    let evidence = [
        (Evidence::TransactionStartTime, json!(1_796_000_000)),
        (Evidence::UserFailedAttempts, json!(3)),
        (Evidence::DeviceId, json!("dev-1")),
        (Evidence::TransactionEndTime, json!(null)),
    ];
    let got = attributes(&evidence).unwrap();
    let pairs: Vec<(&str, &str)> = got.iter().map(|a| (a.name, a.value.as_str())).collect();
    assert_eq!(
        pairs,
        [
            ("TRUSTID.TRANSACTION_START_TIME", "2026-11-30T00:53:20Z"),
            ("TRUSTID.USER_FAILED_ATTEMPTS", "3"),
            ("TRUSTID.DEVICEID", "dev-1"),
        ]
    );
    for bad in [json!(1.5), json!(i64::MAX)] {
        assert_eq!(
            attributes(&[(Evidence::TransactionEndTime, bad)]),
            Err(SamlXmlError::Instant)
        );
    }
}
