//! TLS client certificates (RFC 8705): the chain a client presented, its
//! thumbprint for certificate-bound tokens, and the two ways it proves a
//! client: chaining to the operator's CA with the registered subject
//! (`tls_client_auth`), or being one of the client's own JWKS
//! certificates (`self_signed_tls_client_auth`).

use std::net::IpAddr;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::stack::Stack;
use openssl::x509::X509PurposeId;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::{X509, X509StoreContext};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::client::TlsSubject;
use crate::domain::distinguished_name::DistinguishedName;

/// A presented chain, DER, the client's own certificate first; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateChain(Vec<Vec<u8>>);

impl CertificateChain {
    /// `None` for an empty chain (no certificate presented).
    pub fn new(chain: Vec<Vec<u8>>) -> Option<Self> {
        (!chain.is_empty()).then_some(Self(chain))
    }

    pub fn leaf(&self) -> &[u8] {
        &self.0[0]
    }

    /// RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the leaf's DER.
    pub fn thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.leaf()))
    }

    /// `self_signed_tls_client_auth`: the leaf is the first `x5c` entry of
    /// one of the keys in `jwks` (RFC 8705 §2.2).
    pub fn is_in_jwks(&self, jwks: &Value) -> bool {
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        keys.iter().any(|key| {
            key.get("x5c")
                .and_then(|x5c| x5c.get(0))
                .and_then(Value::as_str)
                .and_then(|b64| STANDARD.decode(b64).ok())
                .is_some_and(|der| der == self.leaf())
        })
    }
}

/// The CAs `tls_client_auth` certificates chain to (`mtls_ca`, PEM).
pub struct ClientCa {
    store: X509Store,
}

impl std::fmt::Debug for ClientCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientCa")
    }
}

/// Why a certificate does not prove a `tls_client_auth` client.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the certificate cannot be read")]
    Unreadable,
    #[error("the certificate does not chain to the trusted CA: {0}")]
    Chain(&'static str),
    #[error("the certificate is not the one registered for this client")]
    Subject,
}

impl ClientCa {
    pub fn load(path: &Path) -> Result<Self, String> {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let certificates =
            X509::stack_from_pem(&pem).map_err(|e| format!("{}: not PEM certificates: {e}", path.display()))?;
        if certificates.is_empty() {
            return Err(format!("{} holds no certificate", path.display()));
        }
        let mut builder = X509StoreBuilder::new().map_err(|e| e.to_string())?;
        for certificate in certificates {
            builder.add_cert(certificate).map_err(|e| e.to_string())?;
        }
        // Only certificates issued for TLS clients (or for any purpose).
        builder
            .set_purpose(X509PurposeId::SSL_CLIENT)
            .map_err(|e| e.to_string())?;
        Ok(Self { store: builder.build() })
    }

    /// `tls_client_auth` (RFC 8705 §2.1): the chain verifies to this CA
    /// now, and the leaf carries `subject`.
    pub fn verify(&self, chain: &CertificateChain, subject: TlsSubject<'_>) -> Result<(), Refused> {
        let leaf = X509::from_der(chain.leaf()).map_err(|_| Refused::Unreadable)?;
        let mut untrusted = Stack::new().map_err(|_| Refused::Unreadable)?;
        for der in &chain.0[1..] {
            let intermediate = X509::from_der(der).map_err(|_| Refused::Unreadable)?;
            untrusted.push(intermediate).map_err(|_| Refused::Unreadable)?;
        }
        let mut context = X509StoreContext::new().map_err(|_| Refused::Unreadable)?;
        let verified = context
            .init(&self.store, &leaf, &untrusted, |c| {
                let ok = c.verify_cert()?;
                Ok(ok.then_some(()).ok_or(c.error().error_string()))
            })
            .map_err(|_| Refused::Unreadable)?;
        verified.map_err(Refused::Chain)?;
        match has_subject(&leaf, subject) {
            true => Ok(()),
            false => Err(Refused::Subject),
        }
    }
}

/// The leaf's subject DN, in RFC 4514 order.
pub fn subject_dn(certificate: &X509) -> Option<DistinguishedName> {
    let der = certificate.subject_name().to_der().ok()?;
    super::x509_name::parse(&der)
}

fn has_subject(certificate: &X509, subject: TlsSubject<'_>) -> bool {
    if let TlsSubject::Dn(registered) = subject {
        let presented = subject_dn(certificate);
        return DistinguishedName::parse(registered).is_ok_and(|dn| presented.is_some_and(|p| dn.matches(&p)));
    }
    let names = certificate.subject_alt_names();
    names.iter().flatten().any(|name| match subject {
        TlsSubject::SanDns(want) => name.dnsname().is_some_and(|n| n.eq_ignore_ascii_case(want)),
        TlsSubject::SanUri(want) => name.uri() == Some(want),
        TlsSubject::SanEmail(want) => name.email().is_some_and(|email| same_mailbox(email, want)),
        TlsSubject::SanIp(want) => {
            let presented = match name.ipaddress() {
                Some(&[a, b, c, d]) => Some(IpAddr::from([a, b, c, d])),
                Some(bytes) => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
                None => None,
            };
            presented.is_some_and(|ip| {
                want.parse::<IpAddr>()
                    .is_ok_and(|w| w.to_canonical() == ip.to_canonical())
            })
        }
        TlsSubject::Dn(_) => false,
    })
}

/// The local part exactly, the domain in any case.
fn same_mailbox(a: &str, b: &str) -> bool {
    match (a.rsplit_once('@'), b.rsplit_once('@')) {
        (Some((local_a, domain_a)), Some((local_b, domain_b))) => {
            local_a == local_b && domain_a.eq_ignore_ascii_case(domain_b)
        }
        _ => a == b,
    }
}

#[cfg(test)]
#[path = "client_cert_tests.rs"]
mod tests;
