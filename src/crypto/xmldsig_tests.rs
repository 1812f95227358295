//! Signing and verification with real keys: the good case, and each way a
//! document can try to pass with a signature that is not the one it needs.

use super::*;
use crate::crypto::saml_keys::generate_pem;

struct Pair {
    signer: XmlSigner,
    cert: TrustedCert,
    der: Vec<u8>,
}

fn pair() -> Pair {
    let pem = generate_pem(0).unwrap();
    let key = PKey::private_key_from_pem(&pem).unwrap();
    let der = openssl::x509::X509::from_pem(&pem).unwrap().to_der().unwrap();
    Pair {
        signer: XmlSigner::new(key, &der).unwrap(),
        cert: TrustedCert::from_der(&der).unwrap(),
        der,
    }
}

const REQUEST: &str = concat!(
    r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" "#,
    r#"xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0">"#,
    r#"<saml:Issuer>https://sp.example</saml:Issuer>"#,
    r#"<samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>"#
);

fn signed(p: &Pair) -> String {
    sign(REQUEST, "_a1", &p.signer).unwrap()
}

/// The `ds:Signature` element of a signed document, as text.
fn signature_of(xml: &str) -> &str {
    let start = xml.find("<ds:Signature").unwrap();
    let end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    &xml[start..end]
}

#[test]
fn a_signed_element_verifies_and_names_itself() {
    let p = pair();
    let xml = signed(&p);
    let issuer_end = xml.find("</saml:Issuer>").unwrap();
    assert!(
        xml[issuer_end..]
            .trim_start_matches("</saml:Issuer>")
            .starts_with("<ds:Signature"),
        "the signature follows the Issuer: {xml}"
    );
    assert!(xml.contains("<ds:X509Certificate>"), "KeyInfo carries the certificate");
    assert_eq!(
        verify(&xml, &p.cert).unwrap(),
        SignedElement {
            id: "_a1".into(),
            name: "AuthnRequest".into()
        }
    );
}

#[test]
fn a_one_byte_tamper_is_refused() {
    let p = pair();
    let xml = signed(&p).replace("https://sp.example", "https://sp.examplf");
    assert_eq!(verify(&xml, &p.cert), Err(XmlDsigError::BadSignature));
}

#[test]
fn a_signature_by_a_key_whose_certificate_is_only_in_key_info_is_refused() {
    let (trusted, attacker) = (pair(), pair());
    let xml = signed(&attacker);
    assert!(
        verify(&xml, &attacker.cert).is_ok(),
        "the forgery is a good signature by its own key"
    );
    assert_eq!(verify(&xml, &trusted.cert), Err(XmlDsigError::BadSignature));
}

#[test]
fn wrapped_documents_are_refused() {
    let p = pair();
    let good = signed(&p);
    let sig = signature_of(&good);
    let inner = good.clone();
    let evil_open = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_evil" Version="2.0"><saml:Issuer>https://evil.example</saml:Issuer>"#;
    let cases = [
        (
            // The signed request hidden in Extensions; the evil one unsigned.
            format!("{evil_open}<samlp:Extensions>{inner}</samlp:Extensions></samlp:AuthnRequest>"),
            XmlDsigError::Unsigned,
            "the document element carries no signature of its own",
        ),
        (
            // The signature moved up to the evil element, still naming the hidden one.
            format!(
                "{evil_open}{sig}<samlp:Extensions>{}</samlp:Extensions></samlp:AuthnRequest>",
                inner.replace(sig, "")
            ),
            XmlDsigError::Profile("the Reference must name the signed element's ID"),
            "the signature covers another element",
        ),
        (
            // The evil element takes the signed one's ID.
            format!(
                "{}{sig}<samlp:Extensions>{}</samlp:Extensions></samlp:AuthnRequest>",
                evil_open.replace("_evil", "_a1"),
                inner.replace(sig, "")
            ),
            XmlDsigError::DuplicateId,
            "two elements with one ID",
        ),
    ];
    for (xml, expected, why) in cases {
        assert_eq!(verify(&xml, &p.cert), Err(expected), "{why}: {xml}");
    }
}

#[test]
fn duplicate_ids_are_refused_when_verifying_and_signing() {
    let p = pair();
    let xml = signed(&p).replace(
        "<samlp:NameIDPolicy AllowCreate=\"true\"/>",
        "<samlp:Extensions><x ID=\"_a1\"/></samlp:Extensions><samlp:NameIDPolicy AllowCreate=\"true\"/>",
    );
    assert_eq!(verify(&xml, &p.cert), Err(XmlDsigError::DuplicateId));
    let twice = REQUEST.replace(
        "<samlp:NameIDPolicy",
        "<samlp:Extensions><x ID=\"_a1\"/></samlp:Extensions><samlp:NameIDPolicy",
    );
    assert_eq!(sign(&twice, "_a1", &p.signer), Err(XmlDsigError::DuplicateId));
}

#[test]
fn documents_outside_the_profile_are_refused() {
    let p = pair();
    let good = signed(&p);
    let cases: Vec<(String, XmlDsigError, &str)> = vec![
        (REQUEST.to_owned(), XmlDsigError::Unsigned, "no signature"),
        (
            format!("<!DOCTYPE x [<!ENTITY e \"x\">]>{good}"),
            XmlDsigError::Doctype,
            "a DOCTYPE",
        ),
        (good[..good.len() - 3].to_owned(), XmlDsigError::Malformed, "cut short"),
        (
            format!("{good}{}", " ".repeat(MAX_VERIFY_BYTES)),
            XmlDsigError::TooLarge,
            "oversized",
        ),
        (
            good.replace(algorithm::RSA_SHA256, algorithm::RSA_SHA1),
            XmlDsigError::Profile("signature algorithm not allowed"),
            "RSA-SHA1",
        ),
        (
            good.replace(
                &format!("<ds:CanonicalizationMethod Algorithm=\"{}\"", algorithm::EXC_C14N),
                &format!("<ds:CanonicalizationMethod Algorithm=\"{}\"", algorithm::C14N),
            ),
            XmlDsigError::Profile("canonicalization must be exclusive C14N"),
            "inclusive C14N",
        ),
        (
            good.replace(
                &format!("<ds:DigestMethod Algorithm=\"{}\"", algorithm::SHA256),
                &format!("<ds:DigestMethod Algorithm=\"{}\"", algorithm::SHA1),
            ),
            XmlDsigError::Profile("digest algorithm not allowed"),
            "a SHA-1 digest",
        ),
        (
            good.replace(
                "</ds:Transforms>",
                "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"/></ds:Transforms>",
            ),
            XmlDsigError::Profile("only the enveloped and exclusive C14N transforms are allowed"),
            "an XPath transform",
        ),
        (
            good.replace("URI=\"#_a1\"", "URI=\"\""),
            XmlDsigError::Profile("the Reference must name the signed element's ID"),
            "a whole-document reference",
        ),
        (
            good.replace("</ds:SignedInfo>", "<ds:Reference URI=\"#_a1\"/></ds:SignedInfo>"),
            XmlDsigError::Profile("exactly one Reference is allowed"),
            "two references",
        ),
        (
            good.replace("</ds:Signature>", "<ds:Object/></ds:Signature>"),
            XmlDsigError::Profile("ds:Object is not allowed"),
            "an Object",
        ),
        (
            good.replace("</ds:Signature>", &("</ds:Signature>".to_owned() + &sig_again(&good))),
            XmlDsigError::Profile("more than one signature on the element"),
            "two signatures",
        ),
    ];
    for (xml, expected, why) in cases {
        assert_eq!(verify(&xml, &p.cert), Err(expected), "{why}");
    }
}

fn sig_again(xml: &str) -> String {
    signature_of(xml).to_owned()
}

#[test]
fn unusable_keys_and_certificates_are_refused() {
    let ec = PKey::from_ec_key(
        openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        XmlSigner::new(ec, b"").err(),
        Some(XmlDsigError::Key),
        "an EC key cannot sign RSA-SHA256"
    );
    assert_eq!(
        TrustedCert::from_der(b"not a certificate").err(),
        Some(XmlDsigError::Key)
    );
}

#[test]
fn signing_needs_the_id_and_an_issuer_to_follow() {
    let p = pair();
    assert_eq!(sign(REQUEST, "_nope", &p.signer), Err(XmlDsigError::NoSuchId));
    let no_issuer = REQUEST.replace("<saml:Issuer>https://sp.example</saml:Issuer>", "");
    assert_eq!(sign(&no_issuer, "_a1", &p.signer), Err(XmlDsigError::NoIssuer));
}

#[test]
fn an_inner_signature_keeps_verifying_after_the_outer_one_is_added() {
    // What "sign the Assertion, then the Response" relies on.
    let p = pair();
    let inner = signed(&p);
    let outer = format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1"><saml:Issuer>https://idp.example</saml:Issuer>{inner}</samlp:Response>"#
    );
    let both = sign(&outer, "_r1", &p.signer).unwrap();
    assert_eq!(verify(&both, &p.cert).unwrap().id, "_r1");
    let start = both.find("<samlp:AuthnRequest").unwrap();
    let end = both.find("</samlp:AuthnRequest>").unwrap() + "</samlp:AuthnRequest>".len();
    assert_eq!(verify(&both[start..end], &p.cert).unwrap().id, "_a1");
}

#[test]
fn the_redirect_binding_signature_verifies_with_the_certificate() {
    let p = pair();
    let data = b"SAMLResponse=x&SigAlg=y";
    let sig = p.signer.sign_bytes(data).unwrap();
    let public = openssl::x509::X509::from_der(&p.der).unwrap().public_key().unwrap();
    let check = |data: &[u8]| {
        let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), &public).unwrap();
        v.update(data).unwrap();
        v.verify(&sig).unwrap()
    };
    assert!(check(data));
    assert!(!check(b"SAMLResponse=y&SigAlg=y"));
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn verify_returns_an_error_on_any_input(s in ".{0,300}") {
            let p = super::pair_cached();
            let _ = verify(&s, &p.cert);
            let _ = sign(&s, "_a1", &p.signer);
        }

        #[test]
        fn verify_returns_an_error_on_any_mutation_of_a_signed_document(at in 0usize..2000, byte in any::<u8>()) {
            let p = super::pair_cached();
            let mut xml = super::signed(p).into_bytes();
            let at = at % xml.len();
            xml[at] = byte;
            if let Ok(text) = String::from_utf8(xml) {
                let _ = verify(&text, &p.cert);
            }
        }
    }
}

fn pair_cached() -> &'static Pair {
    static PAIR: std::sync::OnceLock<Pair> = std::sync::OnceLock::new();
    PAIR.get_or_init(pair)
}
