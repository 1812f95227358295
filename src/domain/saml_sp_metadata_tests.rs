#![allow(clippy::unwrap_used)]
use super::*;
use crate::domain::saml_cert::tests::{ec_key, rsa_key, self_signed_pem};

/// Metadata pysaml2 7.5.5 wrote for its SP (saml/request/tests/fixtures).
const PYSAML2: &str = include_str!("../saml/request/tests/fixtures/pysaml2_sp_metadata.xml");
const PYSAML2_CERT: &str = include_str!("../saml/request/tests/fixtures/pysaml2_sp_cert.pem");

fn b64(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// An EntityDescriptor with `sp` inside its SPSSODescriptor and `org` after it.
fn metadata(sp: &str, org: &str) -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="{MD_NS}" xmlns:ds="{DSIG_NS}" xmlns:mdui="{MDUI_NS}" entityID="https://sp.example.com/sp"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{sp}</md:SPSSODescriptor>{org}</md:EntityDescriptor>"#
    )
}

fn post_acs(url: &str, index: u16) -> String {
    format!(r#"<md:AssertionConsumerService Binding="{HTTP_POST_BINDING}" Location="{url}" index="{index}"/>"#)
}

fn key_descriptor(usage: Option<&str>, pem: &str) -> String {
    let usage = usage.map(|u| format!(r#" use="{u}""#)).unwrap_or_default();
    format!(
        "<md:KeyDescriptor{usage}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
        b64(pem)
    )
}

#[test]
fn pysaml2_metadata_gives_entity_name_acs_and_both_certificates() {
    let md = parse_sp_metadata(PYSAML2).unwrap();
    let cert = SpCertificate::parse(PYSAML2_CERT, CertUse::Signing).unwrap();
    assert_eq!(md.entity_id.as_str(), "https://sp.example.com/metadata");
    assert_eq!(md.display_name.as_deref(), Some("Example Portal"), "mdui, in English");
    assert_eq!(md.acs.len(), 1);
    assert_eq!(md.acs[0].url.as_str(), "https://sp.example.com/acs");
    assert_eq!(md.signing_cert.as_ref(), Some(&cert));
    assert_eq!(md.encryption_cert.as_ref(), Some(&cert));
}

#[test]
fn only_http_post_endpoints_are_taken_and_the_organization_names_the_sp() {
    let rsa = self_signed_pem(&rsa_key(2048));
    let sp = format!(
        r#"{}<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example.com/r" index="0"/>{}<md:AssertionConsumerService Binding="{HTTP_POST_BINDING}" Location="https://sp.example.com/b" index="4" isDefault="true"/>"#,
        key_descriptor(None, &rsa),
        post_acs("https://sp.example.com/a", 1),
    );
    let org = r#"<md:Organization><md:OrganizationName xml:lang="en">Org</md:OrganizationName><md:OrganizationDisplayName xml:lang="de">Org GmbH</md:OrganizationDisplayName></md:Organization>"#;
    let md = parse_sp_metadata(&metadata(&sp, org)).unwrap();
    let urls: Vec<(&str, u16, bool)> = md.acs.iter().map(|a| (a.url.as_str(), a.index, a.is_default)).collect();
    assert_eq!(
        urls,
        [
            ("https://sp.example.com/a", 1, false),
            ("https://sp.example.com/b", 4, true)
        ]
    );
    assert_eq!(
        md.display_name.as_deref(),
        Some("Org GmbH"),
        "the display name, in its only language"
    );
    assert!(
        md.signing_cert.is_some() && md.encryption_cert.is_some(),
        "no use: both"
    );
    let without_org = parse_sp_metadata(&metadata(&post_acs("https://sp.example.com/a", 0), "")).unwrap();
    assert_eq!(without_org.display_name, None);
    assert_eq!((without_org.signing_cert, without_org.encryption_cert), (None, None));
}

#[test]
fn an_ec_key_without_use_signs_but_does_not_encrypt() {
    let ec = self_signed_pem(&ec_key());
    let sp = format!(
        "{}{}",
        key_descriptor(None, &ec),
        post_acs("https://sp.example.com/a", 0)
    );
    let md = parse_sp_metadata(&metadata(&sp, "")).unwrap();
    assert!(md.signing_cert.is_some());
    assert!(md.encryption_cert.is_none());
}

#[test]
fn bad_metadata_is_refused_with_a_clear_message() {
    let acs = post_acs("https://sp.example.com/a", 0);
    let ec = self_signed_pem(&ec_key());
    let cases: Vec<(String, &str)> = vec![
        ("<x".into(), "not well-formed"),
        (format!("<!DOCTYPE x>{}", metadata(&acs, "")), "DOCTYPE"),
        ("a".repeat(MAX_METADATA + 1), "larger than"),
        (
            format!(r#"<md:EntitiesDescriptor xmlns:md="{MD_NS}"/>"#),
            "one md:EntityDescriptor",
        ),
        (
            metadata(&acs, "").replace(r#" entityID="https://sp.example.com/sp""#, ""),
            "no entityID",
        ),
        (
            metadata(&acs, "").replace("https://sp.example.com/sp", "has space"),
            "entity ID",
        ),
        (
            metadata(&acs, "").replace("SPSSODescriptor", "IDPSSODescriptor"),
            "no SPSSODescriptor",
        ),
        (
            metadata(&acs, "").replace(
                "</md:EntityDescriptor>",
                r#"<md:SPSSODescriptor protocolSupportEnumeration="x"/></md:EntityDescriptor>"#,
            ),
            "more than one SPSSODescriptor",
        ),
        (metadata("", ""), "no AssertionConsumerService with the HTTP-POST"),
        (
            metadata(&acs.replace("https://sp.example.com/a", "not a url"), ""),
            "not a URL",
        ),
        (metadata(&acs.replace(r#"index="0""#, r#"index="-1""#), ""), "index"),
        (metadata(&acs.replace("/>", r#" isDefault="yes"/>"#), ""), "isDefault"),
        (
            metadata(&acs.replace(r#" Location="https://sp.example.com/a""#, ""), ""),
            "no Location",
        ),
        (
            metadata(&format!("{}{acs}", key_descriptor(Some("encryption"), &ec)), ""),
            "encryption certificate",
        ),
        (
            metadata(
                &format!(
                    "{}{acs}",
                    key_descriptor(
                        Some("signing"),
                        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
                    )
                ),
                "",
            ),
            "signing certificate",
        ),
        (
            metadata(&format!("{}{acs}", key_descriptor(Some("other"), &ec)), ""),
            "neither signing nor encryption",
        ),
    ];
    for (xml, expected) in cases {
        let err = parse_sp_metadata(&xml).unwrap_err();
        assert!(err.contains(expected), "{expected}: {err}");
    }
}
