//! trustid's own signing keys, one per algorithm (ES256 on P-256, RS256 and
//! PS256 on RSA-2048 keys of their own), as PKCS#8 PEM files (mode 0600) in
//! the keys directory, generated there on first start. Each key's `kid` is
//! its RFC 7638 thumbprint.
//!
//! Rotation works across instances that share the directory: `trustid keys
//! rotate` adds `<alg>-<not_before>.pem` files; every instance reloads the
//! directory, publishes every key in the JWKS at once, and signs with the
//! newest key whose `not_before` has passed (so relying parties can fetch a
//! new key before it is used). `trustid keys retire` removes an old one.
//! `<alg>.pem` (the first key) counts as `not_before` 0.
//!
//! The SAML signing key (`saml_keys.rs`) lives in the same directory and
//! follows the same rotation; it is loaded with the JWT keys but never
//! consulted when a JWT is signed.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::{ES256, JwsHeader, JwsSigner, JwsVerifier, PS256, RS256};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::key_file::{write_first, write_new};
use super::saml_keys::{SAML_ALG, SamlKeys};
use crate::domain::client::SigningAlg;

fn file_prefix(alg: SigningAlg) -> &'static str {
    match alg {
        SigningAlg::ES256 => "es256",
        SigningAlg::RS256 => "rs256",
        SigningAlg::PS256 => "ps256",
    }
}

/// The `typ` of trustid's general-purpose JWTs (ID tokens).
const GENERIC_JWT: &str = "JWT";
/// One key file, as `trustid keys list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    pub alg: &'static str,
    pub kid: String,
    pub not_before: i64,
    /// Whether this instance signs with it now.
    pub signing: bool,
    #[serde(skip)]
    pub path: PathBuf,
}

impl std::fmt::Display for KeyInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let signing = if self.signing { " (signing)" } else { "" };
        write!(f, "{} {} not_before={}{signing}", self.alg, self.kid, self.not_before)
    }
}

/// The signing keys and their public JWKS.
pub struct SigningKeys {
    signers: HashMap<&'static str, (Box<dyn JwsSigner>, String)>,
    verifiers: Vec<(String, Box<dyn JwsVerifier>)>,
    jwks: Value,
    files: Vec<KeyInfo>,
    /// `None` only between a quick first start and [`KeyRing::complete`].
    saml: Option<SamlKeys>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKeys").field("files", &self.files).finish()
    }
}

fn generate_pem(alg: SigningAlg) -> anyhow::Result<Vec<u8>> {
    Ok(match alg {
        SigningAlg::ES256 => ES256.generate_key_pair()?.to_pem_private_key(),
        // A key of its own per RSA algorithm: one key, one algorithm.
        SigningAlg::RS256 | SigningAlg::PS256 => RS256.generate_key_pair(2048)?.to_pem_private_key(),
    })
}

/// `(alg, not_before)` of a key file name, if it is one.
fn parse_name(name: &str) -> Option<(SigningAlg, i64)> {
    let stem = name.strip_suffix(".pem")?;
    SigningAlg::ALL.into_iter().find_map(|alg| {
        let prefix = file_prefix(alg);
        if stem == prefix {
            return Some((alg, 0));
        }
        let ts = stem.strip_prefix(prefix)?.strip_prefix('-')?;
        ts.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| ts.parse().ok())
            .flatten()
            .map(|t| (alg, t))
    })
}

struct Loaded {
    alg: SigningAlg,
    kid: String,
    not_before: i64,
    public: Jwk,
    signer: Box<dyn JwsSigner>,
    verifier: Box<dyn JwsVerifier>,
    path: PathBuf,
}

fn load_file(path: &Path, alg: SigningAlg, not_before: i64) -> anyhow::Result<Loaded> {
    let pem = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let bad = || format!("{} is not a {} private key", path.display(), alg.as_str());
    let (public, kid, signer): (Jwk, String, Box<dyn JwsSigner>) = match alg {
        SigningAlg::ES256 => {
            let public = EcKeyPair::from_pem(&pem, Some(EcCurve::P256))
                .with_context(bad)?
                .to_jwk_public_key();
            let kid = thumbprint(&public, &["crv", "kty", "x", "y"]);
            (public, kid, Box::new(ES256.signer_from_pem(&pem)?))
        }
        SigningAlg::RS256 => {
            let public = RsaKeyPair::from_pem(&pem).with_context(bad)?.to_jwk_public_key();
            let kid = thumbprint(&public, &["e", "kty", "n"]);
            (public, kid, Box::new(RS256.signer_from_pem(&pem)?))
        }
        SigningAlg::PS256 => {
            let pair = RsaKeyPair::from_pem(&pem).with_context(bad)?;
            let public = pair.to_jwk_public_key();
            let kid = thumbprint(&public, &["e", "kty", "n"]);
            (public, kid, Box::new(PS256.signer_from_jwk(&pair.to_jwk_key_pair())?))
        }
    };
    // The kid travels in the JWS header that `sign_jwt` builds.
    let verifier: Box<dyn JwsVerifier> = match alg {
        SigningAlg::ES256 => Box::new(ES256.verifier_from_jwk(&public)?),
        SigningAlg::RS256 => Box::new(RS256.verifier_from_jwk(&public)?),
        SigningAlg::PS256 => Box::new(PS256.verifier_from_jwk(&public)?),
    };
    Ok(Loaded {
        alg,
        kid,
        not_before,
        public,
        signer,
        verifier,
        path: path.to_path_buf(),
    })
}

impl SigningKeys {
    /// Loads the keys from `dir`, generating a first key for any algorithm
    /// that has none; signs with the newest key whose time has come.
    pub fn load_or_generate(dir: &Path) -> anyhow::Result<Self> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Self::load_at(dir, now)
    }

    /// As [`Self::load_or_generate`], choosing signers as of `now`.
    pub fn load_at(dir: &Path, now: i64) -> anyhow::Result<Self> {
        Self::load_generating(dir, now, &SigningAlg::ALL, true)
    }

    /// Loads what is there, generating only a missing ES256 key (milliseconds);
    /// the RSA keys, SAML's included (hundreds of milliseconds each), are left
    /// to [`KeyRing::complete`]. True when some key is still missing.
    ///
    /// [`KeyRing::complete`]: super::key_ring::KeyRing::complete
    pub fn load_quick(dir: &Path, now: i64) -> anyhow::Result<(Self, bool)> {
        let keys = Self::load_generating(dir, now, &[SigningAlg::ES256], false)?;
        let incomplete = keys.signers.len() < SigningAlg::ALL.len() || keys.saml.is_none();
        Ok((keys, incomplete))
    }

    /// Loads the keys in `dir`, first generating a key for each of `generate`
    /// that has none (and a SAML key with `generate_saml`). Every algorithm in
    /// `generate` must end up with a signer.
    fn load_generating(dir: &Path, now: i64, generate: &[SigningAlg], generate_saml: bool) -> anyhow::Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create keys dir {}", dir.display()))?;
        let mut found: Vec<(PathBuf, SigningAlg, i64)> = Vec::new();
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if let Some((alg, nb)) = path.file_name().and_then(|n| n.to_str()).and_then(parse_name) {
                found.push((path, alg, nb));
            }
        }
        for &alg in generate {
            if !found.iter().any(|(_, a, _)| *a == alg) {
                let path = dir.join(format!("{}.pem", file_prefix(alg)));
                write_first(&path, &generate_pem(alg)?)?;
                found.push((path, alg, 0));
            }
        }
        // Oldest first, so the JWKS lists keys in the order they came.
        found.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
        let mut loaded = Vec::new();
        for (path, alg, nb) in &found {
            loaded.push(load_file(path, *alg, *nb)?);
        }
        let mut signing: HashMap<&'static str, usize> = HashMap::new();
        for (i, k) in loaded.iter().enumerate() {
            if k.not_before <= now {
                signing.insert(k.alg.as_str(), i);
            }
        }
        let mut keys = Vec::new();
        let mut files = Vec::new();
        for (i, k) in loaded.iter().enumerate() {
            keys.push(public_jwk(&k.public, &k.kid, k.alg.as_str()));
            files.push(KeyInfo {
                alg: k.alg.as_str(),
                kid: k.kid.clone(),
                not_before: k.not_before,
                signing: signing.get(k.alg.as_str()) == Some(&i),
                path: k.path.clone(),
            });
        }
        let mut signers = HashMap::new();
        let mut verifiers = Vec::new();
        for (i, k) in loaded.into_iter().enumerate() {
            if signing.get(k.alg.as_str()) == Some(&i) {
                signers.insert(k.alg.as_str(), (k.signer, k.kid.clone()));
            }
            verifiers.push((k.kid, k.verifier));
        }
        anyhow::ensure!(
            generate.iter().all(|alg| signers.contains_key(alg.as_str())),
            "every algorithm needs a key whose time has come"
        );
        let saml = SamlKeys::load(dir, now, generate_saml)?;
        for f in saml.iter().flat_map(|s| s.files()) {
            files.push(KeyInfo {
                alg: SAML_ALG,
                kid: f.kid.clone(),
                not_before: f.not_before,
                signing: f.signing,
                path: f.path.clone(),
            });
        }
        Ok(Self {
            signers,
            verifiers,
            jwks: json!({"keys": keys}),
            files,
            saml,
        })
    }

    /// Adds a new key per algorithm, the SAML key included, used from
    /// `not_before` on (`now` dates the new SAML certificate).
    pub fn rotate(dir: &Path, now: i64, not_before: i64) -> anyhow::Result<()> {
        for alg in SigningAlg::ALL {
            let path = dir.join(format!("{}-{not_before}.pem", file_prefix(alg)));
            write_new(&path, &generate_pem(alg)?)?;
        }
        SamlKeys::rotate(dir, now, not_before)
    }

    /// Removes the key `kid`; the key an instance signs with cannot be retired.
    pub fn retire(dir: &Path, kid: &str, now: i64) -> anyhow::Result<()> {
        let keys = Self::load_at(dir, now)?;
        let file = keys
            .files
            .iter()
            .find(|f| f.kid == kid)
            .with_context(|| format!("no key {kid} in {}", dir.display()))?;
        anyhow::ensure!(!file.signing, "key {kid} is the current {} key; rotate first", file.alg);
        fs::remove_file(&file.path).with_context(|| format!("cannot remove {}", file.path.display()))?;
        Ok(())
    }

    /// The key files, oldest first (the JWT keys, then the SAML keys).
    pub fn files(&self) -> &[KeyInfo] {
        &self.files
    }

    /// The SAML signing key and the certificates to publish; `None` only
    /// before the keys are complete ([`super::key_ring::KeyRing::ready`]
    /// waits for them).
    pub fn saml(&self) -> Option<&SamlKeys> {
        self.saml.as_ref()
    }

    /// The JWK Set served at `/jwks`.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// Signs `payload` as a JWT with the current key for `alg`.
    pub fn sign_jwt(&self, alg: SigningAlg, payload: &Value) -> anyhow::Result<String> {
        self.sign_typed_jwt(alg, GENERIC_JWT, payload)
    }

    /// Signs `payload` with an explicit `typ` (RFC 8725 §3.11), so a JWT
    /// made for one purpose (a push relay notification) cannot pass for
    /// another (an ID token) with a verifier that checks the type.
    pub fn sign_typed_jwt(&self, alg: SigningAlg, typ: &str, payload: &Value) -> anyhow::Result<String> {
        let (signer, kid) = self
            .signers
            .get(alg.as_str())
            .context("no signing key for this algorithm")?;
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_key_id(kid);
        let bytes = serde_json::to_vec(payload)?;
        Ok(josekit::jws::serialize_compact(&bytes, &header, signer.as_ref())?)
    }

    /// Verifies a JWT trustid signed itself (an `id_token_hint`), with any
    /// key still published, and returns its claims.
    pub fn verify_own(&self, jwt: &str) -> Option<serde_json::Map<String, Value>> {
        let header = josekit::jwt::decode_header(jwt).ok()?;
        // Only trustid's plain JWTs (ID tokens): never an explicitly typed one
        // such as a push relay notification.
        if header.claim("typ")?.as_str()? != GENERIC_JWT {
            return None;
        }
        let kid = header.claim("kid")?.as_str()?.to_owned();
        let (_, verifier) = self.verifiers.iter().find(|(k, _)| *k == kid)?;
        let (payload, _) = josekit::jws::deserialize_compact(jwt, verifier.as_ref()).ok()?;
        match serde_json::from_slice(&payload).ok()? {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }
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
#[path = "keys_tests.rs"]
mod tests;
