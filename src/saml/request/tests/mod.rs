//! Unit tests of the request parsers: fixed documents, real signatures made
//! with OpenSSL, a Redirect request signed by pysaml2, property tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bindings;
mod documents;
mod prop;
mod pysaml2;

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::DeflateEncoder;

pub(super) const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub(super) const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// An AuthnRequest with `attrs` on the root and `body` after the Issuer.
pub(super) fn authn(attrs: &str, body: &str) -> String {
    format!(
        r#"<samlp:AuthnRequest xmlns:samlp="{PROTOCOL}" xmlns:saml="{ASSERTION}" ID="_a1b2c3" Version="2.0" IssueInstant="2026-12-06T17:00:00Z" {attrs}><saml:Issuer>https://sp.example.com/metadata</saml:Issuer>{body}</samlp:AuthnRequest>"#
    )
}

pub(super) fn logout(body: &str) -> String {
    format!(
        r#"<samlp:LogoutRequest xmlns:samlp="{PROTOCOL}" xmlns:saml="{ASSERTION}" ID="_l1" Version="2.0" IssueInstant="2026-12-06T17:00:00Z" Destination="https://idp.example.com/saml/slo"><saml:Issuer>https://sp.example.com/metadata</saml:Issuer>{body}</samlp:LogoutRequest>"#
    )
}

pub(super) fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// URL-encoding as pysaml2 (`urlencode`) does it.
pub(super) fn url_encode(bytes: &[u8]) -> String {
    form_urlencoded::byte_serialize(bytes).collect()
}

/// `SAMLRequest=` of `xml` as the Redirect binding encodes it.
pub(super) fn redirect_param(xml: &str) -> String {
    url_encode(STANDARD.encode(deflate(xml.as_bytes())).as_bytes())
}
