//! The HTTP-Redirect binding (SAML Bindings §3.4): `SAMLRequest` is raw
//! DEFLATE, base64, URL-encoded in the query; a signature, when there is
//! one, covers the query's own bytes `SAMLRequest=…&RelayState=…&SigAlg=…`
//! exactly as received (§3.4.4.1), never a re-encoding of them.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::read::DeflateDecoder;

use super::error::RequestError;
use super::signature::{QuerySignature, SigAlg};
use super::xml::MAX_XML;

/// The longest query string read; a Redirect request is a URL.
pub const MAX_QUERY: usize = 128 * 1024;
/// RelayState is opaque to trustid and returned unchanged. SAML Bindings
/// §3.4.3 says 80 bytes; SPs that send a return URL exceed that, so the cap
/// is looser.
pub const MAX_RELAY_STATE: usize = 1024;

/// A request received over the Redirect binding, inflated, not yet parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectRequest {
    /// The inflated XML (at most [`MAX_XML`] bytes), for
    /// [`super::parse_authn_request`] or [`super::parse_logout_request`].
    pub xml: String,
    pub relay_state: Option<String>,
    /// Present when the query carries `SigAlg` and `Signature`; the caller
    /// verifies it with the SP's registered certificate.
    pub signature: Option<QuerySignature>,
}

/// The raw (still URL-encoded) values of the parameters trustid reads.
#[derive(Default)]
struct RawParams<'q> {
    request: Option<&'q str>,
    relay_state: Option<&'q str>,
    sig_alg: Option<&'q str>,
    signature: Option<&'q str>,
}

/// Reads a Redirect-binding request from the raw query string (without `?`).
/// Other parameters are ignored, and are not part of what a signature covers.
pub fn parse_redirect(query: &str) -> Result<RedirectRequest, RequestError> {
    if query.len() > MAX_QUERY {
        return Err(RequestError::TooLarge {
            what: "query string",
            limit: MAX_QUERY,
        });
    }
    let mut raw = RawParams::default();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (slot, name) = match key {
            "SAMLRequest" => (&mut raw.request, "SAMLRequest"),
            "RelayState" => (&mut raw.relay_state, "RelayState"),
            "SigAlg" => (&mut raw.sig_alg, "SigAlg"),
            "Signature" => (&mut raw.signature, "Signature"),
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(RequestError::DuplicateParameter(name));
        }
    }
    let request = raw.request.ok_or(RequestError::MissingParameter("SAMLRequest"))?;
    let relay_state = raw
        .relay_state
        .map(|r| decode_text(r, "RelayState", MAX_RELAY_STATE))
        .transpose()?;
    let signature = match (raw.sig_alg, raw.signature) {
        (None, None) => None,
        (Some(alg), Some(sig)) => {
            let mut signed = format!("SAMLRequest={request}");
            if let Some(relay) = raw.relay_state {
                signed.push_str("&RelayState=");
                signed.push_str(relay);
            }
            signed.push_str("&SigAlg=");
            signed.push_str(alg);
            let alg = SigAlg::from_uri(&decode_text(alg, "SigAlg", 256)?)?;
            let value = base64_bytes(&url_decode(sig, "Signature")?, "Signature")?;
            Some(QuerySignature::new(alg, value, signed))
        }
        _ => return Err(RequestError::SignatureIncomplete),
    };
    let deflated = base64_bytes(&url_decode(request, "SAMLRequest")?, "SAMLRequest")?;
    Ok(RedirectRequest {
        xml: inflate(&deflated)?,
        relay_state,
        signature,
    })
}

/// Raw DEFLATE (RFC 1951, no zlib header) into at most [`MAX_XML`] bytes of
/// UTF-8: reading stops one byte past the cap, so a deflate bomb costs
/// that much and no more.
pub fn inflate(deflated: &[u8]) -> Result<String, RequestError> {
    let mut out = Vec::new();
    DeflateDecoder::new(deflated)
        .take(MAX_XML as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| RequestError::BadDeflate)?;
    if out.len() > MAX_XML {
        return Err(RequestError::TooLarge {
            what: "inflated SAMLRequest",
            limit: MAX_XML,
        });
    }
    String::from_utf8(out).map_err(|_| RequestError::NotUtf8)
}

/// Base64 (standard alphabet, padding as sent), line breaks tolerated.
pub(super) fn base64_bytes(text: &[u8], what: &'static str) -> Result<Vec<u8>, RequestError> {
    let compact: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).map_err(|_| RequestError::BadBase64(what))
}

/// Form URL decoding (`+` is a space, `%XX` a byte); a stray `%` is refused.
fn url_decode(raw: &str, what: &'static str) -> Result<Vec<u8>, RequestError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let pair = bytes.get(i + 1..i + 3).ok_or(RequestError::BadEncoding(what))?;
                let digit = |b: u8| (b as char).to_digit(16).ok_or(RequestError::BadEncoding(what));
                out.push((digit(pair[0])? * 16 + digit(pair[1])?) as u8);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Ok(out)
}

/// A decoded text parameter of at most `limit` bytes, no control characters.
fn decode_text(raw: &str, what: &'static str, limit: usize) -> Result<String, RequestError> {
    let bytes = url_decode(raw, what)?;
    if bytes.len() > limit {
        return Err(RequestError::TooLarge { what, limit });
    }
    let text = String::from_utf8(bytes).map_err(|_| RequestError::BadEncoding(what))?;
    printable(text, what)
}

/// `text` when it holds no control character (it is echoed into a form).
pub(super) fn printable(text: String, what: &'static str) -> Result<String, RequestError> {
    if text.chars().any(char::is_control) {
        return Err(RequestError::BadEncoding(what));
    }
    Ok(text)
}
