//! The certificate chain and private key trustid serves https with
//! (`tls_certificate`, `tls_key`; PEM), read and checked: settings
//! validation and every reload go through [`TlsFiles::load`].

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// The settings' chain (end-entity certificate first) and key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// Why a pair cannot be used, with the setting to look at.
#[derive(Debug)]
pub struct PairError {
    pub setting: &'static str,
    pub reason: String,
}

impl std::fmt::Display for PairError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.setting, self.reason)
    }
}

/// The one provider trustid's TLS uses (ring, already in the tree through
/// reqwest and sqlx).
pub fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

impl TlsFiles {
    /// The pair: at least one certificate, a PKCS#8, PKCS#1 or SEC1 key,
    /// and the key is the end-entity certificate's.
    pub fn load(&self) -> Result<CertifiedKey, PairError> {
        let chain = CertificateDer::pem_file_iter(&self.certificate)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| PairError {
                setting: "tls_certificate",
                reason: format!("{}: {e}", self.certificate.display()),
            })?;
        if chain.is_empty() {
            return Err(PairError {
                setting: "tls_certificate",
                reason: format!("{} holds no certificate", self.certificate.display()),
            });
        }
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| PairError {
            setting: "tls_key",
            reason: format!("{}: {e}", self.key.display()),
        })?;
        CertifiedKey::from_der(chain, key, &provider()).map_err(|e| PairError {
            setting: "tls_key",
            reason: format!(
                "{} does not go with {}: {e}",
                self.key.display(),
                self.certificate.display()
            ),
        })
    }

    /// What changes when either file is replaced or rewritten.
    pub fn stamp(&self) -> [Option<(SystemTime, u64)>; 2] {
        let of = |path: &Path| {
            let meta = std::fs::metadata(path).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        };
        [of(&self.certificate), of(&self.key)]
    }
}
