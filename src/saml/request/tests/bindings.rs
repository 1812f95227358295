//! The Redirect and POST bindings: decoding, caps, and the query signature
//! checked with real keys (RSA and ECDSA through OpenSSL).

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;

use super::*;
use crate::domain::saml_cert::tests::{ec_key, rsa_key, self_signed_pem};
use crate::domain::saml_cert::{CertUse, SpCertificate};
use crate::saml::request::*;

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// A signed Redirect query: `SAMLRequest`, `RelayState`, `SigAlg` in that
/// order, signed over their encoded form, then `Signature`.
fn signed_query(key: &PKey<Private>, digest: MessageDigest, alg: &str, relay: Option<&str>) -> String {
    let mut signed = format!("SAMLRequest={}", redirect_param(&authn("", "")));
    if let Some(relay) = relay {
        signed.push_str(&format!("&RelayState={}", url_encode(relay.as_bytes())));
    }
    signed.push_str(&format!("&SigAlg={}", url_encode(alg.as_bytes())));
    let mut signer = Signer::new(digest, key).unwrap();
    let sig = signer.sign_oneshot_to_vec(signed.as_bytes()).unwrap();
    format!("{signed}&Signature={}", url_encode(STANDARD.encode(sig).as_bytes()))
}

fn cert(key: &PKey<Private>) -> SpCertificate {
    SpCertificate::parse(&self_signed_pem(key), CertUse::Signing).unwrap()
}

#[test]
fn an_unsigned_redirect_request_inflates_to_its_xml() {
    let xml = authn("", "");
    let query = format!(
        "foo=1&SAMLRequest={}&RelayState=%2Fhome%3Fa%3Db+c",
        redirect_param(&xml)
    );
    let r = parse_redirect(&query).unwrap();
    assert_eq!(r.xml, xml);
    assert_eq!(r.relay_state.as_deref(), Some("/home?a=b c"));
    assert!(r.signature.is_none());
    assert_eq!(parse_authn_request(&r.xml).unwrap().id.as_str(), "_a1b2c3");
}

#[test]
fn redirect_signatures_verify_over_the_bytes_received() {
    let rsa = rsa_key(2048);
    for (digest, alg) in [
        (MessageDigest::sha256(), RSA_SHA256),
        (
            MessageDigest::sha512(),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        ),
    ] {
        let query = signed_query(&rsa, digest, alg, Some("/a b/é"));
        let sig = parse_redirect(&query).unwrap().signature.unwrap();
        sig.verify(&cert(&rsa)).unwrap();
        assert!(query.starts_with(std::str::from_utf8(sig.signed_bytes()).unwrap()));
        let other = rsa_key(2048);
        assert_eq!(
            sig.verify(&cert(&other)),
            Err(RequestError::BadSignature),
            "another SP's key"
        );
    }
    // ECDSA: OpenSSL signs DER; XML-DSig's r || s is read too.
    let ec = ec_key();
    let query = signed_query(
        &ec,
        MessageDigest::sha256(),
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        None,
    );
    let sig = parse_redirect(&query).unwrap().signature.unwrap();
    sig.verify(&cert(&ec)).unwrap();
    let der = STANDARD
        .decode(url_decode_std(query.rsplit_once("Signature=").unwrap().1))
        .unwrap();
    let parsed = openssl::ecdsa::EcdsaSig::from_der(&der).unwrap();
    let mut raw = parsed.r().to_vec_padded(32).unwrap();
    raw.extend(parsed.s().to_vec_padded(32).unwrap());
    let (head, _) = query.rsplit_once("&Signature=").unwrap();
    let raw_query = format!("{head}&Signature={}", url_encode(STANDARD.encode(&raw).as_bytes()));
    parse_redirect(&raw_query)
        .unwrap()
        .signature
        .unwrap()
        .verify(&cert(&ec))
        .unwrap();
    assert_eq!(sig.verify(&cert(&rsa)), Err(RequestError::KeyMismatch("ECDSA")));
    let rsa_sig = parse_redirect(&signed_query(&rsa, MessageDigest::sha256(), RSA_SHA256, None))
        .unwrap()
        .signature
        .unwrap();
    assert_eq!(rsa_sig.verify(&cert(&ec)), Err(RequestError::KeyMismatch("RSA")));
}

fn url_decode_std(s: &str) -> String {
    form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned()
}

#[test]
fn a_tampered_or_reencoded_query_fails_its_signature() {
    let rsa = rsa_key(2048);
    let query = signed_query(&rsa, MessageDigest::sha256(), RSA_SHA256, Some("/home"));
    let tampered = [
        query.replace("RelayState=%2Fhome", "RelayState=%2Fhomf"),
        // The same value encoded otherwise (lower-case hex): not the bytes signed.
        query.replace("RelayState=%2Fhome", "RelayState=%2fhome"),
        // RelayState dropped: the signed text changes.
        query.replace("&RelayState=%2Fhome", ""),
    ];
    for q in tampered {
        let sig = parse_redirect(&q).unwrap().signature.unwrap();
        assert_eq!(sig.verify(&cert(&rsa)), Err(RequestError::BadSignature), "{q}");
    }
    let pos = query.find("Signature=").unwrap() + "Signature=".len();
    let mut flipped = query.clone();
    let c = if &query[pos..=pos] == "A" { "B" } else { "A" };
    flipped.replace_range(pos..=pos, c);
    let sig = parse_redirect(&flipped).unwrap().signature.unwrap();
    assert_eq!(
        sig.verify(&cert(&rsa)),
        Err(RequestError::BadSignature),
        "one flipped signature byte"
    );
}

type Check = fn(&RequestError) -> bool;

#[test]
fn redirect_requests_are_refused_with_a_typed_error() {
    use RequestError as E;
    let ok = redirect_param(&authn("", ""));
    let bomb = url_encode(STANDARD.encode(deflate(&vec![b' '; 10 * 1024 * 1024])).as_bytes());
    let not_utf8 = url_encode(STANDARD.encode(deflate(&[0xff, 0xfe, 0x00])).as_bytes());
    let sha1 = url_encode(b"http://www.w3.org/2000/09/xmldsig#rsa-sha1");
    let cases: Vec<(String, Check, &str)> = vec![
        (
            "RelayState=x".into(),
            |e| matches!(e, E::MissingParameter("SAMLRequest")),
            "no request",
        ),
        (
            format!("SAMLRequest={ok}&SAMLRequest={ok}"),
            |e| matches!(e, E::DuplicateParameter("SAMLRequest")),
            "two requests",
        ),
        (
            format!("SAMLRequest={ok}&RelayState=a&RelayState=b"),
            |e| matches!(e, E::DuplicateParameter("RelayState")),
            "two relay states",
        ),
        (
            "SAMLRequest=".to_owned() + &"A".repeat(128 * 1024),
            |e| matches!(e, E::TooLarge { .. }),
            "huge query",
        ),
        (
            "SAMLRequest=%zz".into(),
            |e| matches!(e, E::BadEncoding("SAMLRequest")),
            "bad percent",
        ),
        (
            "SAMLRequest=%4".into(),
            |e| matches!(e, E::BadEncoding("SAMLRequest")),
            "cut percent",
        ),
        (
            "SAMLRequest=%+1".into(),
            |e| matches!(e, E::BadEncoding("SAMLRequest")),
            "sign in percent",
        ),
        (
            "SAMLRequest=not*base64".into(),
            |e| matches!(e, E::BadBase64("SAMLRequest")),
            "not base64",
        ),
        (
            "SAMLRequest=aGVsbG8gd29ybGQ%3D".into(),
            |e| matches!(e, E::BadDeflate),
            "not deflate",
        ),
        (
            format!("SAMLRequest={bomb}"),
            |e| matches!(e, E::TooLarge { .. }),
            "deflate bomb",
        ),
        (
            format!("SAMLRequest={not_utf8}"),
            |e| matches!(e, E::NotUtf8),
            "not UTF-8",
        ),
        (
            format!("SAMLRequest={ok}&RelayState={}", "a".repeat(1025)),
            |e| matches!(e, E::TooLarge { .. }),
            "long relay state",
        ),
        (
            format!("SAMLRequest={ok}&RelayState=%0A"),
            |e| matches!(e, E::BadEncoding("RelayState")),
            "control character",
        ),
        (
            format!("SAMLRequest={ok}&RelayState=%FF"),
            |e| matches!(e, E::BadEncoding("RelayState")),
            "relay state not UTF-8",
        ),
        (
            format!("SAMLRequest={ok}&SigAlg={sha1}"),
            |e| matches!(e, E::SignatureIncomplete),
            "SigAlg alone",
        ),
        (
            format!("SAMLRequest={ok}&Signature=AAAA"),
            |e| matches!(e, E::SignatureIncomplete),
            "Signature alone",
        ),
        (
            format!("SAMLRequest={ok}&SigAlg={sha1}&Signature=AAAA"),
            |e| matches!(e, E::Sha1Refused(_)),
            "RSA-SHA1",
        ),
        (
            format!("SAMLRequest={ok}&SigAlg=urn%3Anone&Signature=AAAA"),
            |e| matches!(e, E::UnsupportedSigAlg(_)),
            "unknown alg",
        ),
        (
            format!(
                "SAMLRequest={ok}&SigAlg={}&Signature=***",
                url_encode(RSA_SHA256.as_bytes())
            ),
            |e| matches!(e, E::BadBase64("Signature")),
            "signature not base64",
        ),
    ];
    for (query, check, why) in cases {
        let err = parse_redirect(&query).expect_err(why);
        assert!(check(&err), "{why}: {err:?}");
        assert_eq!(err.reply(), Reply::Page, "{why}");
    }
}

#[test]
fn an_empty_or_oversized_signature_value_does_not_verify() {
    let rsa = rsa_key(2048);
    let alg = url_encode(RSA_SHA256.as_bytes());
    let ok = redirect_param(&authn("", ""));
    for value in [String::new(), url_encode(STANDARD.encode(vec![1u8; 4096]).as_bytes())] {
        let q = format!("SAMLRequest={ok}&SigAlg={alg}&Signature={value}");
        let sig = parse_redirect(&q).unwrap().signature.unwrap();
        assert_eq!(sig.verify(&cert(&rsa)), Err(RequestError::BadSignature));
    }
}

#[test]
fn a_post_request_decodes_its_form_fields() {
    let xml = authn("", "");
    let body = format!(
        "SAMLRequest={}&RelayState=%2Fback+home&other=1",
        url_encode(STANDARD.encode(xml.as_bytes()).as_bytes())
    );
    let r = parse_post(body.as_bytes()).unwrap();
    assert_eq!(r.xml, xml);
    assert_eq!(r.relay_state.as_deref(), Some("/back home"));
    let wrapped = STANDARD
        .encode(xml.as_bytes())
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n");
    let r = parse_post(format!("SAMLRequest={}", url_encode(wrapped.as_bytes())).as_bytes()).unwrap();
    assert_eq!(r.xml, xml, "line-wrapped base64");
}

#[test]
fn post_requests_are_refused_with_a_typed_error() {
    use RequestError as E;
    let ok = url_encode(STANDARD.encode(authn("", "").as_bytes()).as_bytes());
    let big = url_encode(STANDARD.encode(vec![b'a'; 64 * 1024 + 1]).as_bytes());
    let cases: Vec<(String, Check, &str)> = vec![
        (
            "RelayState=x".into(),
            |e| matches!(e, E::MissingParameter("SAMLRequest")),
            "no request",
        ),
        (
            format!("SAMLRequest={ok}&SAMLRequest={ok}"),
            |e| matches!(e, E::DuplicateParameter(_)),
            "two requests",
        ),
        (
            format!("SAMLRequest={ok}&RelayState=1&RelayState=2"),
            |e| matches!(e, E::DuplicateParameter(_)),
            "two relay states",
        ),
        (
            format!("SAMLRequest={}", "A".repeat(256 * 1024)),
            |e| matches!(e, E::TooLarge { .. }),
            "huge body",
        ),
        (
            format!("SAMLRequest={big}"),
            |e| matches!(e, E::TooLarge { .. }),
            "XML over the cap",
        ),
        ("SAMLRequest=%%%".into(), |e| matches!(e, E::BadBase64(_)), "not base64"),
        (
            format!("SAMLRequest={}", url_encode(STANDARD.encode([0xff, 0xfe]).as_bytes())),
            |e| matches!(e, E::NotUtf8),
            "not UTF-8",
        ),
        (
            format!("SAMLRequest={ok}&RelayState={}", "r".repeat(1025)),
            |e| matches!(e, E::TooLarge { .. }),
            "long relay state",
        ),
        (
            format!("SAMLRequest={ok}&RelayState=a%00b"),
            |e| matches!(e, E::BadEncoding(_)),
            "NUL in relay state",
        ),
    ];
    for (body, check, why) in cases {
        let err = parse_post(body.as_bytes()).expect_err(why);
        assert!(check(&err), "{why}: {err:?}");
    }
}
