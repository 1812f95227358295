//! The HTTP-Redirect binding's encoding (SAML-bindings §3.4.4): DEFLATE,
//! base64, URL-encoding, and a signature over the query bytes
//! `SAMLResponse=…&RelayState=…&SigAlg=…` exactly as sent.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::DeflateEncoder;

use super::SamlXmlError;
use crate::crypto::xmldsig::XmlSigner;

pub const SIG_ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// Which parameter carries the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    Request,
    Response,
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The signed query string (without `?`) carrying `xml`.
pub fn redirect_query(
    message: Message,
    xml: &str,
    relay_state: Option<&str>,
    signer: &XmlSigner,
) -> Result<String, SamlXmlError> {
    let mut deflate = DeflateEncoder::new(Vec::new(), Compression::default());
    deflate.write_all(xml.as_bytes()).map_err(|_| SamlXmlError::Deflate)?;
    let raw = deflate.finish().map_err(|_| SamlXmlError::Deflate)?;
    let name = match message {
        Message::Request => "SAMLRequest",
        Message::Response => "SAMLResponse",
    };
    let mut query = format!("{name}={}", encode(&STANDARD.encode(raw)));
    if let Some(relay) = relay_state {
        query.push_str(&format!("&RelayState={}", encode(relay)));
    }
    query.push_str(&format!("&SigAlg={}", encode(SIG_ALG_RSA_SHA256)));
    let signature = signer.sign_bytes(query.as_bytes())?;
    query.push_str(&format!("&Signature={}", encode(&STANDARD.encode(signature))));
    Ok(query)
}
