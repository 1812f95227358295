//! JWTs signed by others with keys from a JWK Set: client assertions
//! (RFC 7523), signed authentication requests (CIBA §7.1.1) and
//! `login_hint_token`s. Only asymmetric algorithms are accepted.

use josekit::jwk::Jwk;
use josekit::jws::{ES256, JwsVerifier, PS256, RS256};
use serde_json::{Map, Value};

use crate::domain::client::SigningAlg;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("alg `{0}` is not accepted here")]
    AlgNotAllowed(String),
    /// No key in the set matches the header: a stale cached set may be refreshed.
    #[error("no key in the registered key set matches the JWT header")]
    NoKey,
    #[error("the signature does not verify")]
    BadSignature,
}

/// A JWT whose signature verified.
#[derive(Debug, Clone)]
pub struct Verified {
    pub alg: SigningAlg,
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}

fn b64_json(part: &str) -> Option<Map<String, Value>> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The header of a compact JWS, unverified.
pub fn peek_header(jwt: &str) -> Result<Map<String, Value>, JwtError> {
    let mut parts = jwt.split('.');
    let header = parts.next().and_then(b64_json).ok_or(JwtError::Malformed)?;
    if parts.count() != 2 {
        return Err(JwtError::Malformed);
    }
    Ok(header)
}

/// The claims of a compact JWS, unverified (to learn who claims to have signed it).
pub fn peek_claims(jwt: &str) -> Result<Map<String, Value>, JwtError> {
    jwt.split('.').nth(1).and_then(b64_json).ok_or(JwtError::Malformed)
}

fn verifier(alg: SigningAlg, jwk: &Jwk) -> Option<Box<dyn JwsVerifier>> {
    Some(match alg {
        SigningAlg::ES256 => Box::new(ES256.verifier_from_jwk(jwk).ok()?),
        SigningAlg::RS256 => Box::new(RS256.verifier_from_jwk(jwk).ok()?),
        SigningAlg::PS256 => Box::new(PS256.verifier_from_jwk(jwk).ok()?),
    })
}

/// Verifies `jwt` with a key of `jwks` and an algorithm of `allowed`.
pub fn verify(jwt: &str, jwks: &Value, allowed: &[SigningAlg]) -> Result<Verified, JwtError> {
    let header = peek_header(jwt)?;
    let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("none");
    let alg = alg_name
        .parse::<SigningAlg>()
        .ok()
        .filter(|a| allowed.contains(a))
        .ok_or_else(|| JwtError::AlgNotAllowed(alg_name.to_owned()))?;
    let kty = if alg == SigningAlg::ES256 { "EC" } else { "RSA" };
    let kid = header.get("kid").and_then(Value::as_str);
    let candidates: Vec<Jwk> = jwks
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|k| k.as_object().cloned())
        .filter(|k| k.get("kty").and_then(Value::as_str) == Some(kty))
        .filter(|k| kid.is_none() || k.get("kid").and_then(Value::as_str) == kid)
        .filter_map(|k| Jwk::from_map(k).ok())
        .collect();
    if candidates.is_empty() {
        return Err(JwtError::NoKey);
    }
    for jwk in &candidates {
        let Some(v) = verifier(alg, jwk) else { continue };
        if let Ok((payload, _)) = josekit::jws::deserialize_compact(jwt, v.as_ref()) {
            let claims = match serde_json::from_slice(&payload) {
                Ok(Value::Object(map)) => map,
                _ => return Err(JwtError::Malformed),
            };
            return Ok(Verified { alg, header, claims });
        }
    }
    Err(JwtError::BadSignature)
}

/// `aud` as a string or an array of strings contains `expected`.
pub fn audience_contains(claims: &Map<String, Value>, expected: &[&str]) -> bool {
    match claims.get("aud") {
        Some(Value::String(aud)) => expected.contains(&aud.as_str()),
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(|a| expected.contains(&a)),
        _ => false,
    }
}

/// Larger NumericDates are refused as malformed (about the year 36,800), so
/// arithmetic on times can never overflow.
const MAX_NUMERIC_DATE: f64 = (1u64 << 40) as f64;

/// A NumericDate claim (seconds), if present, a number, and within range.
pub fn numeric(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    claims
        .get(name)
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite() && v.abs() <= MAX_NUMERIC_DATE)
        .map(|v| v as i64)
}
