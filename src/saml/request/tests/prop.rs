//! Property tests: the parsers answer any input with a value or an error,
//! never a panic: arbitrary text, arbitrary base64 and arbitrary DEFLATE
//! streams, and valid documents with bytes spliced in.

use proptest::prelude::*;

use super::*;
use crate::saml::request::*;

/// Bounded so the file runs in seconds in a debug build.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Both document parsers over `text`; a success must be a request that
/// could have been read (its ID is an NCName the parser accepts again).
fn parse_both(text: &str) {
    if let Ok(r) = parse_authn_request(text) {
        assert!(RequestId::parse(r.id.as_str()).is_ok());
    }
    if let Ok(r) = parse_logout_request(text) {
        assert!(RequestId::parse(r.id.as_str()).is_ok());
    }
}

/// A valid document with `insert` spliced in at `at` (a char boundary).
fn spliced(doc: &str, at: usize, insert: &str) -> String {
    let at = (0..=at.min(doc.len()))
        .rev()
        .find(|i| doc.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}{insert}{}", &doc[..at], &doc[at..])
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn document_parsers_never_panic_on_arbitrary_text(text in "\\PC{0,400}") {
        parse_both(&text);
    }

    #[test]
    fn document_parsers_never_panic_on_mutated_requests(
        at in 0usize..700,
        insert in proptest::sample::select(vec![
            "<", ">", "\"", "&", "&amp;", "&#0;", "<!DOCTYPE a>", "<!--", "<![CDATA[", "]]>",
            "<saml:Issuer>x</saml:Issuer>", " ID=\"_a1b2c3\"", "xmlns:saml=\"urn:x\"", "\u{0}", "é",
            "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/>",
        ]),
        logout_doc in any::<bool>(),
    ) {
        let doc = if logout_doc { logout("<saml:NameID>a</saml:NameID>") } else { authn("IsPassive=\"true\"", "") };
        parse_both(&spliced(&doc, at, insert));
    }

    #[test]
    fn redirect_parser_never_panics_on_arbitrary_queries(query in "[A-Za-z%=&+0-9/]{0,300}") {
        let _ = parse_redirect(&query);
        let _ = parse_redirect(&format!("SAMLRequest={query}"));
    }

    #[test]
    fn redirect_parser_never_panics_on_arbitrary_base64(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let query = format!("SAMLRequest={}", url_encode(STANDARD.encode(&bytes).as_bytes()));
        if let Ok(r) = parse_redirect(&query) {
            parse_both(&r.xml);
        }
    }

    #[test]
    fn redirect_parser_never_panics_on_arbitrary_deflate(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let query = format!("SAMLRequest={}", url_encode(STANDARD.encode(deflate(&bytes)).as_bytes()));
        match parse_redirect(&query) {
            Ok(r) => {
                prop_assert_eq!(r.xml.as_bytes(), &bytes[..]);
                parse_both(&r.xml);
            }
            Err(e) => prop_assert_eq!(e, RequestError::NotUtf8),
        }
    }

    #[test]
    fn redirect_signature_checks_never_panic(
        alg in proptest::sample::select(vec![
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        ]),
        sig in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let query = format!(
            "SAMLRequest={}&SigAlg={}&Signature={}",
            redirect_param(&authn("", "")),
            url_encode(alg.as_bytes()),
            url_encode(STANDARD.encode(&sig).as_bytes())
        );
        let signature = parse_redirect(&query).unwrap().signature.unwrap();
        for cert in certs() {
            prop_assert!(signature.verify(cert).is_err());
        }
    }

    #[test]
    fn post_parser_never_panics_on_arbitrary_bodies(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_post(&body);
        let field = format!("SAMLRequest={}", url_encode(STANDARD.encode(&body).as_bytes()));
        if let Ok(r) = parse_post(field.as_bytes()) {
            parse_both(&r.xml);
        }
    }
}

/// One RSA and one EC certificate, made once for every case.
fn certs() -> &'static [crate::domain::saml_cert::SpCertificate] {
    use crate::domain::saml_cert::tests::{ec_key, rsa_key, self_signed_pem};
    use crate::domain::saml_cert::{CertUse, SpCertificate};
    static CERTS: std::sync::OnceLock<Vec<SpCertificate>> = std::sync::OnceLock::new();
    CERTS.get_or_init(|| {
        [rsa_key(2048), ec_key()]
            .iter()
            .map(|k| SpCertificate::parse(&self_signed_pem(k), CertUse::Signing).unwrap())
            .collect()
    })
}
