//! A SAML request as it reached `/saml/sso` or `/saml/slo`, over either
//! binding, and the check of its signature with the SP's registered
//! certificate (never a key the message carries).

use crate::crypto::xmldsig::{self, TrustedCert};
use crate::domain::saml_cert::SpCertificate;
use crate::saml::request::{QuerySignature, RequestError, parse_post, parse_redirect};

/// Which binding carried the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Redirect,
    Post,
}

/// The decoded message, not yet parsed.
pub struct Inbound {
    pub binding: Binding,
    pub xml: String,
    pub relay_state: Option<String>,
    /// Redirect only: the signature over the raw query.
    pub query_signature: Option<QuerySignature>,
}

impl Inbound {
    pub fn from_query(raw_query: &str) -> Result<Self, RequestError> {
        let r = parse_redirect(raw_query)?;
        Ok(Self {
            binding: Binding::Redirect,
            xml: r.xml,
            relay_state: r.relay_state,
            query_signature: r.signature,
        })
    }

    pub fn from_form(body: &[u8]) -> Result<Self, RequestError> {
        let p = parse_post(body)?;
        Ok(Self {
            binding: Binding::Post,
            xml: p.xml,
            relay_state: p.relay_state,
            query_signature: None,
        })
    }

    /// Checks the message's signature with `cert`. `covers_root` says
    /// whether the element a verified XML signature covers is the root the
    /// parser read (signature wrapping is refused there).
    pub fn verify(&self, cert: &SpCertificate, covers_root: impl Fn(&str) -> bool) -> Result<(), RequestError> {
        match self.binding {
            // SAML Bindings §3.4.4.1: the query is signed, not the XML.
            Binding::Redirect => match &self.query_signature {
                Some(sig) => sig.verify(cert),
                None => Err(RequestError::Unsigned),
            },
            Binding::Post => {
                let trusted = TrustedCert::from_der(cert.der()).map_err(|_| RequestError::KeyMismatch("any"))?;
                let signed = xmldsig::verify(&self.xml, &trusted).map_err(|e| match e {
                    xmldsig::XmlDsigError::Unsigned => RequestError::Unsigned,
                    _ => RequestError::BadSignature,
                })?;
                if covers_root(&signed.id) {
                    Ok(())
                } else {
                    Err(RequestError::BadSignature)
                }
            }
        }
    }
}
