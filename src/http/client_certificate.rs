//! The TLS client certificate a request came with (RFC 8705), when `mtls`
//! is on: from trustid's own handshake, or, from a proxy in `mtls_proxies`,
//! from `mtls_certificate_header` (RFC 9440 or nginx's escaped PEM). The
//! header from anyone else is ignored: it would let a caller claim any
//! certificate.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::crypto::client_cert::CertificateChain;
use crate::engine::AppState;

/// The chain of a connection's TLS handshake; the accept loop puts it on
/// each of that connection's requests.
#[derive(Debug, Clone)]
pub struct TlsPeer(pub Arc<CertificateChain>);

/// The certificate the request presents, if any.
pub struct PresentedCertificate(pub Option<Arc<CertificateChain>>);

impl PresentedCertificate {
    pub fn chain(&self) -> Option<&CertificateChain> {
        self.0.as_deref()
    }

    /// RFC 8705 §3: a token bound to `thumbprint` is honoured only when
    /// the request presents that certificate; an unbound one always.
    pub fn honours(&self, thumbprint: Option<&str>) -> bool {
        thumbprint.is_none_or(|bound| self.chain().is_some_and(|c| c.thumbprint() == bound))
    }
}

impl FromRequestParts<AppState> for PresentedCertificate {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let mtls = &state.server.mtls;
        if !mtls.support.certificates {
            return Ok(Self(None));
        }
        if let Some(header) = &mtls.header {
            let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
            if peer.is_some_and(|ip| mtls.proxies.trusts(ip)) {
                return Ok(Self(from_header(&parts.headers, header).map(Arc::new)));
            }
        }
        Ok(Self(parts.extensions.get::<TlsPeer>().map(|peer| peer.0.clone())))
    }
}

/// The chain a proxy passed: `header` holds the client's certificate,
/// `<header>-chain` (RFC 9440 §2.3) its intermediates. What does not
/// decode, an intermediate included, counts as no certificate.
fn from_header(headers: &HeaderMap, header: &str) -> Option<CertificateChain> {
    let leaf = decode(headers.get(header)?.to_str().ok()?)?;
    let mut chain = vec![leaf];
    let intermediates = headers.get_all(format!("{header}-chain"));
    for value in intermediates.iter().filter_map(|v| v.to_str().ok()) {
        for member in value.split(',') {
            chain.push(decode(member.trim())?);
        }
    }
    CertificateChain::new(chain)
}

/// RFC 9440 byte sequence (`:base64:`) or URL-encoded PEM, to DER.
fn decode(value: &str) -> Option<Vec<u8>> {
    let value = value.trim();
    if let Some(b64) = value.strip_prefix(':').and_then(|v| v.strip_suffix(':')) {
        return STANDARD.decode(b64).ok().filter(|der| !der.is_empty());
    }
    let pem = String::from_utf8(percent_decoded(value)?).ok()?;
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    STANDARD.decode(body).ok().filter(|der| !der.is_empty())
}

/// `%XX` decoded; `+` stays itself (it is base64's, not a space).
fn percent_decoded(value: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len());
    let mut bytes = value.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            b => out.push(b),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_header_forms_decode_to_the_same_der() {
        // Bytes whose base64 holds a `+`.
        let der = b"\xfb\xef\xbe\x30".to_vec();
        let b64 = STANDARD.encode(&der);
        assert_eq!(decode(&format!(":{b64}:")), Some(der.clone()));
        let pem = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
        let escaped: String = form_urlencoded::byte_serialize(pem.as_bytes()).collect();
        assert_eq!(decode(&escaped), Some(der.clone()));
        // A proxy that leaves base64's `+` as it is.
        let raw_plus = format!("-----BEGIN%20CERTIFICATE-----%0A{b64}%0A-----END%20CERTIFICATE-----");
        assert_eq!(decode(&raw_plus), Some(der));
        for bad in [
            "",
            "::",
            ":not base64:",
            "-----BEGIN CERTIFICATE-----",
            "garbage",
            "%zz",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_chain_header_adds_intermediates_and_one_bad_entry_drops_the_certificate() {
        let (leaf, intermediate) = (b"leaf".to_vec(), b"intermediate".to_vec());
        let mut headers = HeaderMap::new();
        headers.insert("client-cert", format!(":{}:", STANDARD.encode(&leaf)).parse().unwrap());
        let chain = from_header(&headers, "client-cert").unwrap();
        assert_eq!(chain.leaf(), leaf.as_slice());
        let with_chain = |value: String| {
            let mut headers = headers.clone();
            headers.insert("client-cert-chain", value.parse().unwrap());
            from_header(&headers, "client-cert")
        };
        let both = with_chain(format!(
            ":{}:, :{}:",
            STANDARD.encode(&intermediate),
            STANDARD.encode(b"root")
        ));
        let both = both.unwrap();
        assert_ne!(both, chain, "the intermediates are part of the chain");
        assert_eq!(both.thumbprint(), chain.thumbprint(), "the leaf stays first");
        assert!(with_chain(format!(":{}:, :bad!:", STANDARD.encode(&intermediate))).is_none());
        assert!(from_header(&HeaderMap::new(), "client-cert").is_none());
    }
}
