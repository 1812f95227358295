//! The signature of a Redirect-binding request (SAML Bindings §3.4.4.1):
//! over the query's bytes as received, checked through OpenSSL with the
//! certificate the SP registered, never a key the request brings.

use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Public};
use openssl::sign::Verifier;

use super::error::RequestError;
use crate::domain::saml_cert::SpCertificate;

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
/// The largest signature value read (RSA-8192 is 1 KiB).
const MAX_SIGNATURE: usize = 2048;

/// The signature algorithms taken; SHA-1 ones are refused by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigAlg {
    RsaSha256,
    RsaSha512,
    EcdsaSha256,
}

impl SigAlg {
    pub fn from_uri(uri: &str) -> Result<Self, RequestError> {
        match uri {
            RSA_SHA256 => Ok(SigAlg::RsaSha256),
            RSA_SHA512 => Ok(SigAlg::RsaSha512),
            ECDSA_SHA256 => Ok(SigAlg::EcdsaSha256),
            other if other.to_ascii_lowercase().contains("sha1") => {
                Err(RequestError::Sha1Refused(other.chars().take(128).collect()))
            }
            other => Err(RequestError::UnsupportedSigAlg(other.chars().take(128).collect())),
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            SigAlg::RsaSha256 => RSA_SHA256,
            SigAlg::RsaSha512 => RSA_SHA512,
            SigAlg::EcdsaSha256 => ECDSA_SHA256,
        }
    }

    fn digest(self) -> MessageDigest {
        match self {
            SigAlg::RsaSha512 => MessageDigest::sha512(),
            SigAlg::RsaSha256 | SigAlg::EcdsaSha256 => MessageDigest::sha256(),
        }
    }
}

/// A query signature and the exact bytes it covers.
#[derive(Clone, PartialEq, Eq)]
pub struct QuerySignature {
    pub alg: SigAlg,
    value: Vec<u8>,
    signed: String,
}

impl QuerySignature {
    pub(super) fn new(alg: SigAlg, value: Vec<u8>, signed: String) -> Self {
        Self { alg, value, signed }
    }

    /// `SAMLRequest=…[&RelayState=…]&SigAlg=…`, the raw query text signed.
    pub fn signed_bytes(&self) -> &[u8] {
        self.signed.as_bytes()
    }

    /// Checks the signature with `cert`'s key; the key type must be the
    /// algorithm's. An ECDSA value is read as XML-DSig's `r || s`, or DER.
    pub fn verify(&self, cert: &SpCertificate) -> Result<(), RequestError> {
        if self.value.is_empty() || self.value.len() > MAX_SIGNATURE {
            return Err(RequestError::BadSignature);
        }
        let key = cert.public_key().map_err(|_| RequestError::KeyMismatch("any"))?;
        let value = match (self.alg, key.id()) {
            (SigAlg::RsaSha256 | SigAlg::RsaSha512, Id::RSA) => self.value.clone(),
            (SigAlg::EcdsaSha256, Id::EC) => ecdsa_der(&key, &self.value)?,
            (SigAlg::EcdsaSha256, _) => return Err(RequestError::KeyMismatch("ECDSA")),
            _ => return Err(RequestError::KeyMismatch("RSA")),
        };
        let mut verifier = Verifier::new(self.alg.digest(), &key).map_err(|_| RequestError::BadSignature)?;
        match verifier.verify_oneshot(&value, self.signed.as_bytes()) {
            Ok(true) => Ok(()),
            _ => Err(RequestError::BadSignature),
        }
    }
}

/// An ECDSA signature as DER: `r || s` of the curve's size (XML-DSig 1.1
/// §6.4.3) is converted, anything else is taken as DER already.
fn ecdsa_der(key: &PKey<Public>, value: &[u8]) -> Result<Vec<u8>, RequestError> {
    let bad = |_| RequestError::BadSignature;
    let ec = key.ec_key().map_err(bad)?;
    let field = usize::try_from(ec.group().degree().div_ceil(8)).map_err(|_| RequestError::BadSignature)?;
    if value.len() != 2 * field {
        return Ok(value.to_vec());
    }
    let (r, s) = value.split_at(field);
    let sig =
        EcdsaSig::from_private_components(BigNum::from_slice(r).map_err(bad)?, BigNum::from_slice(s).map_err(bad)?)
            .map_err(bad)?;
    sig.to_der().map_err(bad)
}

/// Signatures are not logged: debug output names only the algorithm.
impl std::fmt::Debug for QuerySignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QuerySignature({:?}, {} bytes)", self.alg, self.value.len())
    }
}
