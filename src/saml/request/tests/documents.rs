//! AuthnRequest and LogoutRequest documents: what is read, what is refused.

use super::*;
use crate::domain::saml_sp::{AcsBinding, NameIdFormat};
use crate::saml::request::*;

#[test]
fn an_authn_request_is_read_with_every_field() {
    let xml = authn(
        r#"Destination="https://idp.example.com/saml/sso" AssertionConsumerServiceURL="https://sp.example.com/acs" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" IsPassive="false" ForceAuthn="1""#,
        r#"<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@example.com</saml:NameID></saml:Subject><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" AllowCreate="true"/>"#,
    );
    let r = parse_authn_request(&xml).unwrap();
    assert_eq!(r.id.as_str(), "_a1b2c3");
    assert_eq!(r.issue_instant.unix_timestamp(), 1_796_576_400);
    assert_eq!(r.issuer.as_str(), "https://sp.example.com/metadata");
    assert_eq!(r.destination.as_deref(), Some("https://idp.example.com/saml/sso"));
    assert_eq!(r.acs, AcsChoice::Url("https://sp.example.com/acs".into()));
    assert_eq!(r.protocol_binding, Some(AcsBinding::HttpPost));
    assert!(!r.is_passive && r.force_authn);
    assert_eq!(
        r.name_id_policy,
        Some(NameIdPolicy {
            format: Some(NameIdFormat::Persistent),
            allow_create: true
        })
    );
    let subject = r.subject.unwrap();
    assert_eq!(subject.value, "alice@example.com");
    assert!(subject.format.unwrap().ends_with("emailAddress"));
    assert!(!r.signed);
}

#[test]
fn a_minimal_authn_request_takes_the_defaults() {
    let r = parse_authn_request(&authn(r#"AssertionConsumerServiceIndex=" 3 ""#, "")).unwrap();
    assert_eq!(r.acs, AcsChoice::Index(3));
    assert!(!r.is_passive && !r.force_authn);
    assert_eq!((r.name_id_policy, r.subject, r.protocol_binding), (None, None, None));
    let r = parse_authn_request(&authn(
        "",
        "<samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\"/>",
    ))
    .unwrap();
    assert_eq!(r.acs, AcsChoice::Default);
    assert_eq!(r.name_id_policy.unwrap().format, None, "unspecified: any format");
}

#[test]
fn the_signed_root_is_the_parsed_one_only() {
    let sig = r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature>"#;
    let r = parse_authn_request(&authn("", sig)).unwrap();
    assert!(r.signed);
    assert!(r.is_signed_root("_a1b2c3"));
    assert!(
        !r.is_signed_root("_other"),
        "a signature over another element does not count"
    );
    let unsigned = parse_authn_request(&authn("", "")).unwrap();
    assert!(!unsigned.is_signed_root("_a1b2c3"), "no signature, nothing signed");
}

#[test]
fn issuer_text_is_joined_across_comments() {
    let xml = authn("", "").replace(
        "<saml:Issuer>https://sp.example.com/metadata</saml:Issuer>",
        "<saml:Issuer>https://sp.example.com<!-- x -->.evil.example</saml:Issuer>",
    );
    assert_eq!(
        parse_authn_request(&xml).unwrap().issuer.as_str(),
        "https://sp.example.com.evil.example"
    );
}

type Check = fn(&RequestError) -> bool;

/// `(document, refusal, reply, why)` for every refusal of the XML readers.
#[test]
fn authn_requests_are_refused_with_a_typed_error_and_reply() {
    use RequestError as E;
    let page = Reply::Page;
    let unsupported = Reply::Status(TopStatus::Requester, SubStatus::RequestUnsupported);
    let base = authn("", "");
    let cases: Vec<(String, Check, Reply, &str)> = vec![
        ("<a".into(), |e| matches!(e, E::Xml(_)), page, "not XML"),
        (
            format!("<!DOCTYPE x>{base}"),
            |e| matches!(e, E::Doctype),
            page,
            "empty DOCTYPE",
        ),
        (
            format!(r#"<!DOCTYPE x [<!ENTITY e "boom">]>{base}"#),
            |e| matches!(e, E::Doctype),
            page,
            "DTD with an entity",
        ),
        (
            "x".repeat(64 * 1024 + 1),
            |e| matches!(e, E::TooLarge { .. }),
            page,
            "oversized",
        ),
        (
            format!("<r>{}</r>", "<a/>".repeat(5000)),
            |e| matches!(e, E::Xml(_)),
            page,
            "too many nodes",
        ),
        (
            base.replace("samlp:AuthnRequest", "samlp:Response"),
            |e| matches!(e, E::UnexpectedRequest(_)),
            page,
            "a Response",
        ),
        (
            base.replace(PROTOCOL, "urn:evil"),
            |e| matches!(e, E::UnexpectedRequest(_)),
            page,
            "wrong namespace",
        ),
        (
            base.replace(r#"ID="_a1b2c3""#, ""),
            |e| matches!(e, E::MissingAttribute { attribute: "ID", .. }),
            page,
            "no ID",
        ),
        (
            base.replace(r#"ID="_a1b2c3""#, r#"ID="1abc""#),
            |e| matches!(e, E::BadId),
            page,
            "ID not an NCName",
        ),
        (
            authn(
                "",
                r#"<saml:Subject><saml:NameID ID="_a1b2c3">x</saml:NameID></saml:Subject>"#,
            ),
            |e| matches!(e, E::DuplicateId(_)),
            page,
            "a second element with the root's ID",
        ),
        (
            base.replace("<saml:Issuer>https://sp.example.com/metadata</saml:Issuer>", ""),
            |e| matches!(e, E::MissingIssuer),
            page,
            "no Issuer",
        ),
        (
            authn("", "<saml:Issuer>https://other.example.com</saml:Issuer>"),
            |e| matches!(e, E::DuplicateElement("Issuer")),
            page,
            "two Issuers",
        ),
        (
            base.replace(
                "<saml:Issuer>",
                r#"<saml:Issuer Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">"#,
            ),
            |e| matches!(e, E::BadIssuer(_)),
            page,
            "Issuer not an entity",
        ),
        (
            base.replace("https://sp.example.com/metadata</saml:Issuer>", "   </saml:Issuer>"),
            |e| matches!(e, E::Empty("Issuer")),
            page,
            "empty Issuer",
        ),
        (
            base.replace(
                "https://sp.example.com/metadata</saml:Issuer>",
                "<b>x</b></saml:Issuer>",
            ),
            |e| matches!(e, E::Xml(_)),
            page,
            "markup in Issuer",
        ),
        (
            base.replace(r#"Version="2.0""#, r#"Version="1.1""#),
            |e| matches!(e, E::Version(_)),
            Reply::Status(TopStatus::VersionMismatch, SubStatus::RequestVersionTooLow),
            "SAML 1.1",
        ),
        (
            base.replace(r#"Version="2.0""#, r#"Version="3.0""#),
            |e| matches!(e, E::Version(_)),
            Reply::Status(TopStatus::VersionMismatch, SubStatus::RequestVersionTooHigh),
            "SAML 3",
        ),
        (
            base.replace(r#"Version="2.0""#, r#"Version="10.0""#),
            |e| matches!(e, E::Version(_)),
            Reply::Status(TopStatus::VersionMismatch, SubStatus::RequestVersionTooHigh),
            "SAML 10 (not lexically below 2)",
        ),
        (
            base.replace(r#"Version="2.0""#, ""),
            |e| {
                matches!(
                    e,
                    E::MissingAttribute {
                        attribute: "Version",
                        ..
                    }
                )
            },
            page,
            "no Version",
        ),
        (
            base.replace("2026-12-06T17:00:00Z", "2026-12-06T17:00:00+01:00"),
            |e| matches!(e, E::BadInstant { .. }),
            unsupported,
            "not UTC",
        ),
        (
            base.replace("2026-12-06T17:00:00Z", "yesterday"),
            |e| matches!(e, E::BadInstant { .. }),
            unsupported,
            "not a date",
        ),
        (
            authn(r#"IsPassive="yes""#, ""),
            |e| matches!(e, E::BadBoolean { .. }),
            unsupported,
            "IsPassive not boolean",
        ),
        (
            authn(r#"ForceAuthn="""#, ""),
            |e| matches!(e, E::BadBoolean { .. }),
            unsupported,
            "ForceAuthn empty",
        ),
        (
            authn(r#"AssertionConsumerServiceIndex="70000""#, ""),
            |e| matches!(e, E::BadAcsIndex),
            unsupported,
            "index out of range",
        ),
        (
            authn(
                r#"AssertionConsumerServiceURL="https://sp.example.com/acs" AssertionConsumerServiceIndex="1""#,
                "",
            ),
            |e| matches!(e, E::AcsUrlAndIndex),
            page,
            "URL and index",
        ),
        (
            authn(
                r#"ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect""#,
                "",
            ),
            |e| matches!(e, E::UnsupportedBinding(_)),
            Reply::Status(TopStatus::Requester, SubStatus::UnsupportedBinding),
            "Redirect for the Response",
        ),
        (
            authn(
                "",
                r#"<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:encrypted"/>"#,
            ),
            |e| matches!(e, E::UnsupportedNameIdFormat(_)),
            Reply::Status(TopStatus::Requester, SubStatus::InvalidNameIdPolicy),
            "encrypted NameID",
        ),
        (
            authn("", r#"<samlp:NameIDPolicy AllowCreate="maybe"/>"#),
            |e| matches!(e, E::BadBoolean { .. }),
            unsupported,
            "AllowCreate not boolean",
        ),
        (
            authn("", "<samlp:NameIDPolicy/><samlp:NameIDPolicy/>"),
            |e| matches!(e, E::DuplicateElement("NameIDPolicy")),
            page,
            "two policies",
        ),
        (
            authn("", "<saml:Subject><saml:EncryptedID/></saml:Subject>"),
            |e| matches!(e, E::UnsupportedSubject("EncryptedID")),
            unsupported,
            "encrypted subject",
        ),
        (
            authn("", "<saml:Subject><saml:BaseID/></saml:Subject>"),
            |e| matches!(e, E::UnsupportedSubject("BaseID")),
            unsupported,
            "base ID subject",
        ),
        (
            authn("", "<saml:Subject><saml:NameID> </saml:NameID></saml:Subject>"),
            |e| matches!(e, E::Empty("NameID")),
            unsupported,
            "empty NameID",
        ),
    ];
    for (xml, check, reply, why) in cases {
        let refused = parse_authn_request(&xml).expect_err(why);
        assert!(check(&refused.error), "{why}: {:?}", refused.error);
        assert_eq!(refused.reply(), reply, "{why}: {:?}", refused.error);
        assert!(!refused.error.to_string().is_empty());
    }
}

#[test]
fn a_status_reply_names_the_requester_it_goes_to() {
    let refused = parse_authn_request(&authn(r#"IsPassive="yes""#, "")).unwrap_err();
    let requester = refused.requester.unwrap();
    assert_eq!(requester.id.as_str(), "_a1b2c3");
    assert_eq!(requester.issuer.as_str(), "https://sp.example.com/metadata");
    let early = parse_authn_request("<a").unwrap_err();
    assert_eq!(early.requester, None);
}

#[test]
fn a_logout_request_is_read() {
    let r = parse_logout_request(&logout(
        r#"<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient">_t1</saml:NameID><samlp:SessionIndex>s1</samlp:SessionIndex><samlp:SessionIndex>s2</samlp:SessionIndex>"#,
    ))
    .unwrap();
    assert_eq!(r.id.as_str(), "_l1");
    assert_eq!(r.issuer.as_str(), "https://sp.example.com/metadata");
    assert_eq!(r.name_id.value, "_t1");
    assert_eq!(r.session_indexes, ["s1", "s2"]);
    assert_eq!(r.destination.as_deref(), Some("https://idp.example.com/saml/slo"));
    assert_eq!(r.issue_instant.unix_timestamp(), 1_796_576_400);
    assert!(!r.signed && r.not_on_or_after.is_none());
}

#[test]
fn logout_requests_are_refused_with_a_typed_error() {
    use RequestError as E;
    let many = "<samlp:SessionIndex>s</samlp:SessionIndex>".repeat(33);
    let cases: Vec<(String, Check, &str)> = vec![
        (logout(""), |e| matches!(e, E::Empty("NameID")), "no NameID"),
        (
            logout("<saml:EncryptedID/>"),
            |e| matches!(e, E::UnsupportedSubject("EncryptedID")),
            "encrypted",
        ),
        (
            logout("<saml:NameID>a</saml:NameID><saml:NameID>b</saml:NameID>"),
            |e| matches!(e, E::DuplicateElement("NameID")),
            "two NameIDs",
        ),
        (
            logout(&format!("<saml:NameID>a</saml:NameID>{many}")),
            |e| matches!(e, E::TooMany { .. }),
            "33 indexes",
        ),
        (
            logout("<saml:NameID>a</saml:NameID>").replace("Destination=", r#"NotOnOrAfter="soon" Destination="#),
            |e| matches!(e, E::BadInstant { .. }),
            "NotOnOrAfter",
        ),
        (
            authn("", ""),
            |e| matches!(e, E::UnexpectedRequest(_)),
            "an AuthnRequest at the logout endpoint",
        ),
    ];
    for (xml, check, why) in cases {
        let refused = parse_logout_request(&xml).expect_err(why);
        assert!(check(&refused.error), "{why}: {:?}", refused.error);
    }
    assert!(matches!(
        parse_authn_request(&logout("<saml:NameID>a</saml:NameID>"))
            .unwrap_err()
            .error,
        E::UnexpectedRequest(_)
    ));
}
