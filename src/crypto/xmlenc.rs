//! XML Encryption of one element for one recipient (SAML's
//! `EncryptedAssertion`), over bergshamra's XML-Enc: a fresh AES-256-GCM key
//! per element encrypts its bytes, and RSA-OAEP carries that key to the
//! holder of the recipient's certificate.
//!
//! RSA-OAEP is `rsa-oaep-mgf1p` with its default SHA-1 digest: the transport
//! every SAML SP (xmlsec1 1.2 included) decrypts; OAEP's security does not
//! rest on SHA-1's collision resistance.

use bergshamra::core::algorithm;
use bergshamra::keys::loader::load_x509_cert_der;
use bergshamra::{EncContext, KeysManager};

/// The XML Encryption namespace.
pub const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";

/// Why an element could not be encrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlEncError {
    #[error("the recipient's certificate is unusable or not RSA")]
    Certificate,
    #[error("encryption failed")]
    Encrypt,
}

/// The certificate whose RSA key receives the content key.
pub struct RecipientCert {
    der: Vec<u8>,
}

impl RecipientCert {
    /// A DER X.509 certificate with an RSA key of at least 2048 bits.
    pub fn from_der(der: &[u8]) -> Result<Self, XmlEncError> {
        let cert = openssl::x509::X509::from_der(der).map_err(|_| XmlEncError::Certificate)?;
        let key = cert.public_key().map_err(|_| XmlEncError::Certificate)?;
        if key.rsa().is_err() || key.bits() < 2048 {
            return Err(XmlEncError::Certificate);
        }
        Ok(Self { der: der.to_vec() })
    }
}

/// `element` (one complete XML element, namespaces declared on it) as an
/// `xenc:EncryptedData` of type Element, to put inside `EncryptedAssertion`.
pub fn encrypt_element(element: &str, to: &RecipientCert) -> Result<String, XmlEncError> {
    let key = load_x509_cert_der(&to.der).map_err(|_| XmlEncError::Certificate)?;
    let mut keys = KeysManager::new();
    keys.add_key(key);
    let template = format!(
        "<xenc:EncryptedData xmlns:xenc=\"{XENC_NS}\" Type=\"{XENC_NS}Element\">\
         <xenc:EncryptionMethod Algorithm=\"{gcm}\"/>\
         <ds:KeyInfo xmlns:ds=\"{ds}\"><xenc:EncryptedKey>\
         <xenc:EncryptionMethod Algorithm=\"{oaep}\"/>\
         <xenc:CipherData><xenc:CipherValue></xenc:CipherValue></xenc:CipherData>\
         </xenc:EncryptedKey></ds:KeyInfo>\
         <xenc:CipherData><xenc:CipherValue></xenc:CipherValue></xenc:CipherData>\
         </xenc:EncryptedData>",
        gcm = algorithm::AES256_GCM,
        oaep = algorithm::RSA_OAEP,
        ds = super::xmldsig::DSIG_NS,
    );
    bergshamra::encrypt(&EncContext::new(keys), &template, element.as_bytes()).map_err(|_| XmlEncError::Encrypt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::pkey::PKey;

    fn recipient() -> (Vec<u8>, Vec<u8>) {
        let pem = crate::crypto::saml_keys::generate_pem(0).unwrap();
        let cert = openssl::x509::X509::from_pem(&pem).unwrap().to_der().unwrap();
        (pem, cert)
    }

    #[test]
    fn the_recipients_key_decrypts_the_element_and_the_wire_shows_none_of_it() {
        let (pem, cert) = recipient();
        let element = r#"<a:Secret xmlns:a="urn:x">Pay 10 EUR &amp; more</a:Secret>"#;
        let encrypted = encrypt_element(element, &RecipientCert::from_der(&cert).unwrap()).unwrap();
        assert!(!encrypted.contains("Pay 10"), "{encrypted}");
        assert!(encrypted.contains(algorithm::AES256_GCM) && encrypted.contains(algorithm::RSA_OAEP));
        let key = PKey::private_key_from_pem(&pem)
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap();
        let mut keys = KeysManager::new();
        keys.add_key(bergshamra::keys::loader::load_rsa_private_pem(&key).unwrap());
        // The decrypted document is the element in place of EncryptedData.
        let plain = bergshamra::decrypt(&EncContext::new(keys), &encrypted).unwrap();
        assert_eq!(
            plain.trim().trim_start_matches("<?xml version=\"1.0\"?>").trim(),
            element
        );
    }

    #[test]
    fn another_key_cannot_decrypt() {
        let (_, cert) = recipient();
        let (other_pem, _) = recipient();
        let encrypted = encrypt_element("<x/>", &RecipientCert::from_der(&cert).unwrap()).unwrap();
        let key = PKey::private_key_from_pem(&other_pem)
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap();
        let mut keys = KeysManager::new();
        keys.add_key(bergshamra::keys::loader::load_rsa_private_pem(&key).unwrap());
        assert!(bergshamra::decrypt(&EncContext::new(keys), &encrypted).is_err());
    }

    #[test]
    fn unusable_certificates_are_refused() {
        let ec = PKey::from_ec_key(
            openssl::ec::EcKey::generate(
                &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        let mut builder = openssl::x509::X509::builder().unwrap();
        builder.set_pubkey(&ec).unwrap();
        builder.sign(&ec, openssl::hash::MessageDigest::sha256()).unwrap();
        let ec_cert = builder.build().to_der().unwrap();
        for (der, why) in [
            (b"not a certificate".to_vec(), "garbage"),
            (ec_cert, "an EC key cannot receive RSA-OAEP"),
        ] {
            assert_eq!(
                RecipientCert::from_der(&der).err(),
                Some(XmlEncError::Certificate),
                "{why}"
            );
        }
    }
}
