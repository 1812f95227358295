//! An X.509 certificate a SAML service provider registered: the key its
//! AuthnRequests are verified with, or the key assertions are encrypted to.
//! Kept as DER; written as base64 DER (the form SAML metadata carries).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::pkey::{Id, PKey, Public};
use openssl::x509::X509;
use serde::{Deserialize, Serialize};

/// RSA keys below this size are refused: trustid verifies and encrypts with
/// RSA-SHA256 / RSA-OAEP only at strengths current guidance accepts.
pub const MIN_RSA_BITS: u32 = 2048;

/// What the certificate is registered for: an SP signs with RSA or ECDSA
/// keys; assertions are encrypted with RSA-OAEP key transport only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertUse {
    Signing,
    Encryption,
}

/// A parsed X.509 certificate, its DER bytes kept exactly.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SpCertificate {
    der: Vec<u8>,
}

impl SpCertificate {
    /// A PEM certificate (`-----BEGIN CERTIFICATE-----`) or bare base64 DER
    /// (whitespace allowed, as in `ds:X509Certificate`), holding a key fit
    /// for `usage`.
    pub fn parse(text: &str, usage: CertUse) -> Result<Self, String> {
        let cert = Self::parse_any(text)?;
        let key = cert.public_key()?;
        let fit = match (key.id(), usage) {
            (Id::RSA, _) => key.bits() >= MIN_RSA_BITS,
            (Id::EC, CertUse::Signing) => true,
            _ => false,
        };
        if !fit {
            return Err(match usage {
                CertUse::Signing => format!("must hold an RSA key of at least {MIN_RSA_BITS} bits or an EC key"),
                CertUse::Encryption => format!("must hold an RSA key of at least {MIN_RSA_BITS} bits"),
            });
        }
        Ok(cert)
    }

    /// Any well-formed certificate, whatever its key (stored values).
    fn parse_any(text: &str) -> Result<Self, String> {
        let body = strip_pem(text.trim())?;
        let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = STANDARD
            .decode(b64.as_bytes())
            .map_err(|_| "is neither a PEM certificate nor base64 DER".to_owned())?;
        X509::from_der(&der).map_err(|_| "is not an X.509 certificate".to_owned())?;
        Ok(Self { der })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The base64 DER, as `ds:X509Certificate` and the stored row carry it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.der)
    }

    /// The certificate as PEM, 64 base64 characters a line.
    pub fn to_pem(&self) -> String {
        let b64 = self.to_base64();
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }

    /// The certificate's public key.
    pub fn public_key(&self) -> Result<PKey<Public>, String> {
        X509::from_der(&self.der)
            .and_then(|c| c.public_key())
            .map_err(|_| "has no usable public key".to_owned())
    }
}

/// The base64 between PEM armor lines, or the text itself when unarmored.
fn strip_pem(text: &str) -> Result<&str, String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    if !text.starts_with("-----") {
        return Ok(text);
    }
    let rest = text
        .strip_prefix(BEGIN)
        .ok_or_else(|| "PEM must hold a CERTIFICATE".to_owned())?;
    let (body, after) = rest
        .split_once(END)
        .ok_or_else(|| "PEM certificate has no END line".to_owned())?;
    if !after.trim().is_empty() {
        return Err("give one certificate per file".into());
    }
    Ok(body)
}

impl TryFrom<String> for SpCertificate {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::parse_any(&value)
    }
}

impl From<SpCertificate> for String {
    fn from(c: SpCertificate) -> String {
        c.to_base64()
    }
}

/// Certificates are public, but long: debug output names only their size.
impl fmt::Debug for SpCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpCertificate({} bytes)", self.der.len())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::Private;
    use openssl::rsa::Rsa;
    use openssl::x509::X509NameBuilder;

    /// A self-signed certificate over `key`, as PEM.
    pub(crate) fn self_signed_pem(key: &PKey<Private>) -> String {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "sp.example.com").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap()).unwrap();
        b.sign(key, MessageDigest::sha256()).unwrap();
        String::from_utf8(b.build().to_pem().unwrap()).unwrap()
    }

    pub(crate) fn rsa_key(bits: u32) -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
    }

    pub(crate) fn ec_key() -> PKey<Private> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    }

    #[test]
    fn pem_and_bare_base64_der_give_the_same_certificate() {
        let pem = self_signed_pem(&rsa_key(2048));
        let from_pem = SpCertificate::parse(&pem, CertUse::Encryption).unwrap();
        let bare: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .join("\n  ");
        let from_b64 = SpCertificate::parse(&bare, CertUse::Signing).unwrap();
        assert_eq!(from_pem, from_b64);
        let stored: String = from_pem.clone().into();
        assert_eq!(SpCertificate::try_from(stored).unwrap(), from_pem);
        assert_eq!(from_pem.to_pem(), pem, "written as openssl writes it");
    }

    #[test]
    fn unfit_or_malformed_certificates_are_refused() {
        let ec = self_signed_pem(&ec_key());
        assert!(SpCertificate::parse(&ec, CertUse::Signing).is_ok());
        let small = self_signed_pem(&rsa_key(1024));
        let cases: [(&str, CertUse, &str, &str); 6] = [
            (&ec, CertUse::Encryption, "RSA key", "EC cannot take RSA-OAEP"),
            (&small, CertUse::Signing, "at least 2048", "RSA-1024"),
            ("not base64 !", CertUse::Signing, "neither a PEM", "garbage"),
            ("aGVsbG8=", CertUse::Signing, "not an X.509", "base64 of no certificate"),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
                CertUse::Signing,
                "CERTIFICATE",
                "a key, not a certificate",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA",
                CertUse::Signing,
                "END line",
                "cut PEM",
            ),
        ];
        for (text, usage, expected, why) in cases {
            let err = SpCertificate::parse(text, usage).unwrap_err();
            assert!(err.contains(expected), "{why}: {err}");
        }
        let two = format!("{ec}{ec}");
        assert!(
            SpCertificate::parse(&two, CertUse::Signing)
                .unwrap_err()
                .contains("one certificate")
        );
    }
}
