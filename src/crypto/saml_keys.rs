//! trustid's SAML signing keys: RSA-2048 keys, each with a self-signed X.509
//! certificate (SAML service providers pin the certificate from the IdP
//! metadata; no CA is involved). One PEM file per key in the keys directory
//! (mode 0600, the private key then its certificate, written in one go so a
//! key never exists without its certificate): `saml.pem` first, then
//! `saml-<not_before>.pem` per rotation.
//!
//! The rotation rules are the JWT keys' (`keys.rs`): every instance signs
//! with the newest key whose `not_before` has passed, and publishes that
//! certificate and every newer one in its metadata at once, so service
//! providers can fetch the next certificate before it signs. A key older than
//! the signing one is no longer published and can be retired.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use sha2::{Digest, Sha256};

use super::xmldsig::XmlSigner;

const PREFIX: &str = "saml";
/// How `trustid keys list` names a SAML key's algorithm.
pub const SAML_ALG: &str = "SAML-RS256";
/// Self-signed certificates are trusted by pinning, not by their dates; ten
/// years keeps SPs that do check dates from refusing a key still in use.
const CERT_DAYS: u32 = 3650;

/// One SAML key file, as `trustid keys list` shows it.
#[derive(Debug, Clone)]
pub struct SamlKeyFile {
    /// Base64url SHA-256 of the certificate's DER (an `x5t#S256`).
    pub kid: String,
    pub not_before: i64,
    pub signing: bool,
    pub path: PathBuf,
}

/// The key that signs SAML messages now, and the certificates to publish.
pub struct SamlKeys {
    signer: XmlSigner,
    signing_kid: String,
    published: Vec<String>,
    files: Vec<SamlKeyFile>,
}

impl std::fmt::Debug for SamlKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlKeys").field("files", &self.files).finish()
    }
}

impl SamlKeys {
    /// Signs XML (and Redirect-binding query strings) with the current key.
    pub fn signer(&self) -> &XmlSigner {
        &self.signer
    }

    /// The kid of the current signing key.
    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    /// The certificates for `KeyDescriptor use="signing"`, base64 DER: the
    /// current one first, then every next one.
    pub fn published_certs(&self) -> &[String] {
        &self.published
    }

    /// Every SAML key file, oldest first.
    pub fn files(&self) -> &[SamlKeyFile] {
        &self.files
    }

    /// Loads the SAML keys in `dir` as of `now`. With `generate`, a first key
    /// is made when there is none (an RSA key: hundreds of milliseconds);
    /// without, `Ok(None)` says there is none yet.
    pub fn load(dir: &Path, now: i64, generate: bool) -> anyhow::Result<Option<Self>> {
        let mut found = scan(dir)?;
        if found.is_empty() {
            if !generate {
                return Ok(None);
            }
            let path = dir.join(format!("{PREFIX}.pem"));
            super::key_file::write_first(&path, &generate_pem(now)?)?;
            found.push((path, 0));
        }
        // Oldest first, as the JWT keys.
        found.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        let signing = found
            .iter()
            .rposition(|(_, nb)| *nb <= now)
            .context("no SAML signing key whose time has come")?;
        let mut files = Vec::new();
        let mut published = Vec::new();
        let mut signer = None;
        for (i, (path, nb)) in found.iter().enumerate() {
            let (key, cert) = read_pem(path)?;
            let der = cert.to_der()?;
            if i >= signing {
                published.push(STANDARD.encode(&der));
            }
            if i == signing {
                signer = Some(XmlSigner::new(key, &der).with_context(|| format!("{} cannot sign", path.display()))?);
            }
            files.push(SamlKeyFile {
                kid: URL_SAFE_NO_PAD.encode(Sha256::digest(&der)),
                not_before: *nb,
                signing: i == signing,
                path: path.clone(),
            });
        }
        Ok(Some(Self {
            signer: signer.context("no SAML signing key")?,
            signing_kid: files[signing].kid.clone(),
            published,
            files,
        }))
    }

    /// Adds the next SAML key, used from `not_before` on; its certificate is
    /// published at once.
    pub fn rotate(dir: &Path, now: i64, not_before: i64) -> anyhow::Result<()> {
        let path = dir.join(format!("{PREFIX}-{not_before}.pem"));
        super::key_file::write_new(&path, &generate_pem(now)?)
    }
}

/// `not_before` of a SAML key file name, if it is one.
fn parse_name(name: &str) -> Option<i64> {
    let stem = name.strip_suffix(".pem")?.strip_prefix(PREFIX)?;
    if stem.is_empty() {
        return Some(0);
    }
    let ts = stem.strip_prefix('-')?;
    ts.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| ts.parse().ok())
        .flatten()
}

fn scan(dir: &Path) -> anyhow::Result<Vec<(PathBuf, i64)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read keys dir {}", dir.display()))? {
        let path = entry?.path();
        if let Some(nb) = path.file_name().and_then(|n| n.to_str()).and_then(parse_name) {
            found.push((path, nb));
        }
    }
    Ok(found)
}

fn read_pem(path: &Path) -> anyhow::Result<(PKey<Private>, X509)> {
    let pem = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let bad = || {
        format!(
            "{} is not a SAML key (RSA private key, then its certificate)",
            path.display()
        )
    };
    // Each reader takes the first block of its own kind in the file.
    let key = PKey::private_key_from_pem(&pem).with_context(bad)?;
    let cert = X509::from_pem(&pem).with_context(bad)?;
    anyhow::ensure!(key.rsa().is_ok(), "{}", bad());
    anyhow::ensure!(
        cert.public_key()?.public_eq(&key),
        "{}: the certificate is not the key's",
        path.display()
    );
    Ok((key, cert))
}

/// A new RSA-2048 key and its self-signed certificate, as one PEM text.
pub fn generate_pem(now: i64) -> anyhow::Result<Vec<u8>> {
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let cert = self_signed(&key, now)?;
    let mut pem = key.private_key_to_pem_pkcs8()?;
    pem.extend_from_slice(&cert.to_pem()?);
    Ok(pem)
}

fn self_signed(key: &PKey<Private>, now: i64) -> anyhow::Result<X509> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "trustid SAML signing")?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    // RFC 5280 §4.1.2.2: positive, at most 20 octets; random, so two keys
    // made in the same second never share a serial.
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let mut builder = X509::builder()?;
    builder.set_version(2)?;
    let serial = Asn1Integer::from_bn(&serial)?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(key)?;
    let (from, until) = (
        Asn1Time::from_unix(now)?,
        Asn1Time::from_unix(now + i64::from(CERT_DAYS) * 86_400)?,
    );
    builder.set_not_before(&from)?;
    builder.set_not_after(&until)?;
    builder.sign(key, MessageDigest::sha256())?;
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_key_is_generated_once_with_a_certificate_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        assert!(SamlKeys::load(dir.path(), 100, false).unwrap().is_none());
        let first = SamlKeys::load(dir.path(), 100, true).unwrap().unwrap();
        let again = SamlKeys::load(dir.path(), 100, true).unwrap().unwrap();
        assert_eq!(first.published_certs(), again.published_certs());
        assert_eq!(first.published_certs().len(), 1);
        let (key, cert) = read_pem(&dir.path().join("saml.pem")).unwrap();
        assert_eq!(key.bits(), 2048);
        assert!(cert.verify(&key).unwrap(), "self-signed");
        assert_eq!(STANDARD.encode(cert.to_der().unwrap()), first.published_certs()[0]);
    }

    #[test]
    fn a_rotated_key_is_published_before_it_signs_and_the_old_one_drops_out() {
        let dir = tempfile::tempdir().unwrap();
        let first = SamlKeys::load(dir.path(), 100, true).unwrap().unwrap();
        SamlKeys::rotate(dir.path(), 100, 200).unwrap();
        let before = SamlKeys::load(dir.path(), 150, true).unwrap().unwrap();
        assert_eq!(before.signing_kid(), first.signing_kid(), "the next key waits");
        assert_eq!(before.published_certs().len(), 2, "current and next");
        assert_eq!(before.published_certs()[0], first.published_certs()[0]);
        let after = SamlKeys::load(dir.path(), 200, true).unwrap().unwrap();
        assert_ne!(after.signing_kid(), first.signing_kid());
        assert_eq!(after.published_certs(), &before.published_certs()[1..]);
        assert_eq!(after.files().len(), 2);
        assert!(!after.files()[0].signing && after.files()[1].signing);
    }

    #[test]
    fn a_file_whose_certificate_is_not_its_keys_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = generate_pem(0).unwrap();
        let b = generate_pem(0).unwrap();
        let text = String::from_utf8(a).unwrap();
        let key_only = &text[..text.find("-----BEGIN CERTIFICATE").unwrap()];
        let other = String::from_utf8(b).unwrap();
        let cert_b = &other[other.find("-----BEGIN CERTIFICATE").unwrap()..];
        fs::write(dir.path().join("saml.pem"), format!("{key_only}{cert_b}")).unwrap();
        let err = SamlKeys::load(dir.path(), 0, true).unwrap_err().to_string();
        assert!(err.contains("not the key's"), "{err}");
        fs::write(dir.path().join("saml.pem"), key_only).unwrap();
        assert!(
            SamlKeys::load(dir.path(), 0, true).is_err(),
            "a key without its certificate"
        );
    }

    #[test]
    fn a_directory_with_only_a_future_key_cannot_sign() {
        let dir = tempfile::tempdir().unwrap();
        SamlKeys::rotate(dir.path(), 0, 500).unwrap();
        let err = SamlKeys::load(dir.path(), 100, true).unwrap_err().to_string();
        assert!(err.contains("no SAML signing key whose time has come"), "{err}");
    }

    #[test]
    fn only_saml_key_names_are_read() {
        assert_eq!(parse_name("saml.pem"), Some(0));
        assert_eq!(parse_name("saml-1700000000.pem"), Some(1_700_000_000));
        for name in [
            "saml-.pem",
            "saml-1x.pem",
            "samlx.pem",
            "rs256.pem",
            "saml.pem.bak",
            "saml--1.pem",
        ] {
            assert_eq!(parse_name(name), None, "{name}");
        }
    }
}
