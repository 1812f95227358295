//! trustid's own signing keys: one ES256 (P-256) and one RS256 (RSA-2048)
//! key, read from the keys directory or generated there on first start
//! (PKCS#8 PEM, mode 0600). Each key's `kid` is its RFC 7638 thumbprint.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::alg::ecdsa::EcdsaJwsSigner;
use josekit::jws::alg::rsassa::RsassaJwsSigner;
use josekit::jws::alg::rsassa_pss::RsassaPssJwsSigner;
use josekit::jws::{ES256, JwsHeader, JwsSigner, JwsVerifier, PS256, RS256};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::domain::client::SigningAlg;

const ES256_FILE: &str = "es256.pem";
const RS256_FILE: &str = "rs256.pem";
const PS256_FILE: &str = "ps256.pem";

/// The signing keys and their public JWKS.
pub struct SigningKeys {
    es256: (EcdsaJwsSigner, String),
    rs256: (RsassaJwsSigner, String),
    ps256: (RsassaPssJwsSigner, String),
    verifiers: Vec<(String, Box<dyn JwsVerifier>)>,
    jwks: Value,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKeys")
            .field("es256_kid", &self.es256.1)
            .field("rs256_kid", &self.rs256.1)
            .field("ps256_kid", &self.ps256.1)
            .finish()
    }
}

impl SigningKeys {
    /// Loads the keys from `dir`, generating any that are missing.
    pub fn load_or_generate(dir: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create keys dir {}", dir.display()))?;
        let es_pem = read_or_create(&dir.join(ES256_FILE), || {
            Ok(ES256.generate_key_pair()?.to_pem_private_key())
        })?;
        let rs_pem = read_or_create(&dir.join(RS256_FILE), || {
            Ok(RS256.generate_key_pair(2048)?.to_pem_private_key())
        })?;
        // A key of its own for PS256: one key, one algorithm.
        let ps_pem = read_or_create(&dir.join(PS256_FILE), || {
            Ok(RS256.generate_key_pair(2048)?.to_pem_private_key())
        })?;
        Self::from_pem(&es_pem, &rs_pem, &ps_pem)
    }

    fn from_pem(es_pem: &[u8], rs_pem: &[u8], ps_pem: &[u8]) -> anyhow::Result<Self> {
        let es_public = EcKeyPair::from_pem(es_pem, Some(EcCurve::P256))
            .context("es256.pem is not a P-256 private key")?
            .to_jwk_public_key();
        let rs_public = RsaKeyPair::from_pem(rs_pem)
            .context("rs256.pem is not an RSA private key")?
            .to_jwk_public_key();
        let ps_pair = RsaKeyPair::from_pem(ps_pem).context("ps256.pem is not an RSA private key")?;
        let ps_public = ps_pair.to_jwk_public_key();
        let es_kid = thumbprint(&es_public, &["crv", "kty", "x", "y"]);
        let rs_kid = thumbprint(&rs_public, &["e", "kty", "n"]);
        let ps_kid = thumbprint(&ps_public, &["e", "kty", "n"]);
        let mut es_signer = ES256.signer_from_pem(es_pem)?;
        es_signer.set_key_id(es_kid.clone());
        let mut rs_signer = RS256.signer_from_pem(rs_pem)?;
        rs_signer.set_key_id(rs_kid.clone());
        let mut ps_signer = PS256.signer_from_jwk(&ps_pair.to_jwk_key_pair())?;
        ps_signer.set_key_id(ps_kid.clone());
        let verifiers: Vec<(String, Box<dyn JwsVerifier>)> = vec![
            (es_kid.clone(), Box::new(ES256.verifier_from_jwk(&es_public)?)),
            (rs_kid.clone(), Box::new(RS256.verifier_from_jwk(&rs_public)?)),
            (ps_kid.clone(), Box::new(PS256.verifier_from_jwk(&ps_public)?)),
        ];
        let jwks = json!({"keys": [
            public_jwk(&es_public, &es_kid, "ES256"),
            public_jwk(&rs_public, &rs_kid, "RS256"),
            public_jwk(&ps_public, &ps_kid, "PS256"),
        ]});
        Ok(Self {
            es256: (es_signer, es_kid),
            rs256: (rs_signer, rs_kid),
            ps256: (ps_signer, ps_kid),
            verifiers,
            jwks,
        })
    }

    /// The JWK Set served at `/jwks`.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// Signs `payload` as a JWT with the key for `alg`.
    pub fn sign_jwt(&self, alg: SigningAlg, payload: &Value) -> anyhow::Result<String> {
        let (signer, kid): (&dyn JwsSigner, &str) = match alg {
            SigningAlg::ES256 => (&self.es256.0, &self.es256.1),
            SigningAlg::RS256 => (&self.rs256.0, &self.rs256.1),
            SigningAlg::PS256 => (&self.ps256.0, &self.ps256.1),
        };
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        header.set_key_id(kid);
        let bytes = serde_json::to_vec(payload)?;
        Ok(josekit::jws::serialize_compact(&bytes, &header, signer)?)
    }
}

impl SigningKeys {
    /// Verifies a JWT trustid signed itself (an `id_token_hint`) and returns
    /// its claims; the claims' meaning is the caller's to check.
    pub fn verify_own(&self, jwt: &str) -> Option<serde_json::Map<String, Value>> {
        let header = josekit::jwt::decode_header(jwt).ok()?;
        let kid = header.claim("kid")?.as_str()?.to_owned();
        let (_, verifier) = self.verifiers.iter().find(|(k, _)| *k == kid)?;
        let (payload, _) = josekit::jws::deserialize_compact(jwt, verifier.as_ref()).ok()?;
        match serde_json::from_slice(&payload).ok()? {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }
}

fn read_or_create(path: &Path, generate: impl FnOnce() -> anyhow::Result<Vec<u8>>) -> anyhow::Result<Vec<u8>> {
    if path.exists() {
        return fs::read(path).with_context(|| format!("cannot read {}", path.display()));
    }
    let pem = generate()?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(&pem)?;
    tracing::info!(path = %path.display(), "generated signing key");
    Ok(pem)
}

fn public_jwk(jwk: &Jwk, kid: &str, alg: &str) -> Value {
    let mut map = jwk.as_ref().clone();
    map.insert("kid".into(), json!(kid));
    map.insert("use".into(), json!("sig"));
    map.insert("alg".into(), json!(alg));
    Value::Object(map)
}

/// RFC 7638: SHA-256 over the required members, in lexical order, no spaces.
fn thumbprint(jwk: &Jwk, members: &[&str]) -> String {
    let mut canonical = serde_json::Map::new();
    for m in members {
        if let Some(v) = jwk.parameter(m) {
            canonical.insert((*m).to_owned(), v.clone());
        }
    }
    // serde_json's map is ordered by key, which is RFC 7638's order.
    let text = Value::Object(canonical).to_string();
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_thumbprint_of_the_rfc_example_key() {
        // RFC 7638 §3.1's RSA key and its published thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let jwk = Jwk::from_bytes(format!(
            r#"{{"kty":"RSA","n":"{n}","e":"AQAB","alg":"RS256","kid":"2011-04-29"}}"#
        ))
        .unwrap();
        assert_eq!(
            thumbprint(&jwk, &["e", "kty", "n"]),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn keys_are_generated_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let first = SigningKeys::load_or_generate(dir.path()).unwrap();
        let again = SigningKeys::load_or_generate(dir.path()).unwrap();
        assert_eq!(first.jwks(), again.jwks());
        let keys = first.jwks()["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 3);
        assert!(keys.iter().all(|k| k.get("d").is_none() && k["kid"].is_string()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(ES256_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
