//! The SAML documents trustid writes as an identity provider (SAML-core,
//! SAML-metadata), as pure functions of typed inputs: no HTTP here.
//!
//! Written with a small writer (`writer.rs`) rather than templates: SAML's
//! optional parts (InResponseTo, qualifiers, signature placement, encrypted
//! or plain assertions) are code either way, and the writer makes escaping
//! structural, with no "safe" escape hatch to misuse. Signatures and
//! encryption come from `crate::crypto` (`xmldsig`, `xmlenc`).

pub mod assertion;
pub mod logout;
pub mod metadata;
pub mod name_id;
pub mod redirect;
pub mod response;
pub mod status;
mod writer;

use rand::RngCore;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::crypto::xmldsig::XmlDsigError;
use crate::crypto::xmlenc::XmlEncError;

pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const XS_NS: &str = "http://www.w3.org/2001/XMLSchema";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Why a document could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlXmlError {
    #[error("an instant is outside the representable range")]
    Instant,
    #[error("signing failed: {0}")]
    Sign(#[from] XmlDsigError),
    #[error("encryption failed: {0}")]
    Encrypt(#[from] XmlEncError),
    #[error("DEFLATE failed")]
    Deflate,
    #[error("a Response needs an Assertion confirmed for the ACS it is posted to")]
    NoRecipient,
}

/// A written document and the IDs a caller records or logs.
#[derive(Debug, Clone)]
pub struct Built {
    pub xml: String,
    /// The document element's ID (the Response's, the LogoutResponse's).
    pub id: String,
    /// The Assertion's ID, when there is one.
    pub assertion_id: Option<String>,
}

/// A fresh SAML ID: `_` and 32 hex digits, 128 random bits. An xs:ID is an
/// NCName, which must not start with a digit, hence the underscore.
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mut id = String::with_capacity(33);
    id.push('_');
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// `YYYY-MM-DDTHH:MM:SSZ`, UTC, no fraction: the form SAML-core §1.3.3
/// asks for and every SP parses.
pub fn instant(unix: i64) -> Result<String, SamlXmlError> {
    let at = OffsetDateTime::from_unix_timestamp(unix).map_err(|_| SamlXmlError::Instant)?;
    at.format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"))
        .map_err(|_| SamlXmlError::Instant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_ncnames_with_128_random_bits() {
        let id = new_id();
        assert_eq!(id.len(), 33);
        assert!(id.starts_with('_') && id[1..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(id, new_id());
    }

    #[test]
    fn instants_are_utc_seconds() {
        assert_eq!(instant(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(instant(1_796_000_000).unwrap(), "2026-11-30T00:53:20Z");
        assert_eq!(instant(i64::MAX), Err(SamlXmlError::Instant));
    }
}

#[cfg(test)]
mod documents_tests;
