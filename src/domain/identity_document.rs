//! Seed 000 §4, the executive level: a user's identity document (a
//! driver's licence), known to trustid only by a salted hash the device
//! computes over the raw barcode. The salt is the user's own, so the same
//! document of two users never hashes alike; an executive approval must
//! carry the hash again.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::str_enum::str_enum;

/// The `acr` of an authentication the user confirmed with their document.
pub const EXECUTIVE_ACR: &str = "urn:trustid:acr:executive";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    DriverLicense,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::DriverLicense => "driver_license",
        }
    }
}

str_enum!(DocumentKind, "document type", [DocumentKind::DriverLicense]);

/// What the relying party's verification service said, if it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentStatus {
    Unverified,
    Verified,
    Rejected,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Unverified => "unverified",
            DocumentStatus::Verified => "verified",
            DocumentStatus::Rejected => "rejected",
        }
    }
}

str_enum!(
    DocumentStatus,
    "document status",
    [
        DocumentStatus::Unverified,
        DocumentStatus::Verified,
        DocumentStatus::Rejected
    ]
);

/// A user's registered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityDocument {
    pub user_id: String,
    pub kind: DocumentKind,
    /// [`document_hash`] of the barcode with the user's salt.
    pub hash: String,
    pub status: DocumentStatus,
    /// The device that registered it.
    pub device_id: String,
    /// The relying party whose verification service gave the status.
    pub client_id: Option<String>,
    pub registered_at: i64,
    pub verified_at: Option<i64>,
}

impl IdentityDocument {
    /// As the device and management APIs show it: never the hash.
    pub fn shown(&self) -> serde_json::Value {
        serde_json::json!({
            "type": self.kind.as_str(),
            "status": self.status.as_str(),
            "verified_by": self.client_id,
            "registered_at": self.registered_at,
            "verified_at": self.verified_at,
        })
    }
}

/// What the device computes: base64url(SHA-256(salt ":" raw barcode)).
pub fn document_hash(salt: &str, barcode: &[u8]) -> String {
    let mut digest = Sha256::new();
    digest.update(salt.as_bytes());
    digest.update(b":");
    digest.update(barcode);
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

/// A hash as the device sends it: base64url of 32 bytes.
pub fn check_hash(hash: &str) -> Result<(), &'static str> {
    match URL_SAFE_NO_PAD.decode(hash) {
        Ok(bytes) if bytes.len() == 32 => Ok(()),
        _ => Err("hash must be base64url (no padding) of a SHA-256 digest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_barcode_hashes_apart_under_two_salts_and_alike_under_one() {
        let barcode = b"@\nANSI 636014040002DL00410278ZC03190008DLDAQD1234562";
        let (a, b) = (document_hash("salt-a", barcode), document_hash("salt-b", barcode));
        assert_ne!(a, b);
        assert_eq!(a, document_hash("salt-a", barcode));
        assert_eq!(check_hash(&a), Ok(()));
        for bad in ["", "short", "not base64!", &URL_SAFE_NO_PAD.encode([0u8; 31])] {
            assert!(check_hash(bad).is_err(), "{bad}");
        }
    }
}
