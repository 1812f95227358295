//! The device signing format. This file owns it; `openapi.yaml` describes it.
//!
//! **Device proof** (HTTP header `DPoP`, shaped like an RFC 9449 proof so SDKs
//! can use DPoP libraries): a compact JWS signed with the *device key*.
//! Header `{"typ":"dpop+jwt","alg":"ES256","jwk":<device key, public>}`,
//! payload `{"htm":<method>,"htu":<URL without query>,"iat":<seconds>,"jti":<unique>}`.
//! The device is named by the RFC 7638 thumbprint of that key; a `jti` is
//! accepted once.
//!
//! **Decision**: a compact JWS signed with the *auth key* (which a phone can
//! guard with biometrics or a PIN). Header `{"typ":"trustid-decision+jwt","alg":"ES256"}`,
//! payload `{"txn":<transaction id>,"nonce":<challenge from the inbox>,
//! "decision":"approve"|"deny","bm_hash":<base64url SHA-256 of the exact text
//! shown>,"iat":<seconds>,"reason"?:"fraud","number"?:<typed>,
//! "document_hash"?:<hash>}`; a denial with `reason: fraud` says the user did
//! not start this request and counts as a failed attempt; `number` is the
//! number the user typed when the client uses number matching (needed to
//! approve); `document_hash` is the salted hash of the identity document
//! the user scanned (needed to approve at the executive level). What you see is what you sign (PSD2 dynamic linking).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::p256_jwk::P256Jwk;
use crate::domain::transaction::Decision;

pub const PROOF_TYP: &str = "dpop+jwt";
pub const DECISION_TYP: &str = "trustid-decision+jwt";

/// Why a device JWS was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("malformed JWS: {0}")]
    Malformed(&'static str),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("{0}")]
    Claims(String),
}

struct Compact<'a> {
    header: Value,
    payload: Vec<u8>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

fn split(token: &str) -> Result<Compact<'_>, JwsError> {
    let mut parts = token.splitn(4, '.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwsError::Malformed("expected three dot-separated parts"));
    };
    let b64 = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwsError::Malformed("a part is not base64url"))
    };
    let header: Value = serde_json::from_slice(&b64(h)?).map_err(|_| JwsError::Malformed("the header is not JSON"))?;
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err(JwsError::Malformed("alg must be ES256"));
    }
    Ok(Compact {
        header,
        payload: b64(p)?,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature: b64(s)?,
    })
}

fn check_typ(header: &Value, expected: &str) -> Result<(), JwsError> {
    match header.get("typ").and_then(Value::as_str) {
        Some(t) if t.eq_ignore_ascii_case(expected) => Ok(()),
        _ => Err(JwsError::Malformed(if expected == PROOF_TYP {
            "typ must be dpop+jwt"
        } else {
            "typ must be trustid-decision+jwt"
        })),
    }
}

fn fresh(iat: i64, now: i64, skew: i64) -> Result<(), JwsError> {
    // abs_diff: an `iat` near i64::MIN must be refused, not overflow.
    if iat.abs_diff(now) > skew.unsigned_abs() {
        return Err(JwsError::Claims(format!(
            "iat is more than {skew} seconds away from the server's time"
        )));
    }
    Ok(())
}

/// A verified device proof.
#[derive(Debug, Clone)]
pub struct DeviceProof {
    pub key: P256Jwk,
    /// RFC 7638 thumbprint of the device key: the device id.
    pub device_id: String,
    pub jti: String,
    pub iat: i64,
}

#[derive(Deserialize)]
struct ProofClaims {
    htm: String,
    htu: String,
    iat: i64,
    jti: String,
}

/// Verifies a device proof for `method` on `url` (scheme, host and path).
pub fn verify_proof(token: &str, method: &str, url: &str, now: i64, skew: i64) -> Result<DeviceProof, JwsError> {
    let c = split(token)?;
    check_typ(&c.header, PROOF_TYP)?;
    let jwk = c
        .header
        .get("jwk")
        .ok_or(JwsError::Malformed("the header needs the device key as jwk"))?;
    let key = P256Jwk::from_value(jwk).map_err(|e| JwsError::Claims(e.0.to_owned()))?;
    if !key.verify_es256(c.signing_input.as_bytes(), &c.signature) {
        return Err(JwsError::BadSignature);
    }
    let claims: ProofClaims = serde_json::from_slice(&c.payload)
        .map_err(|_| JwsError::Malformed("the payload needs htm, htu, iat and jti"))?;
    if !claims.htm.eq_ignore_ascii_case(method) {
        return Err(JwsError::Claims(format!("htm must be {method}")));
    }
    if claims.htu != url {
        return Err(JwsError::Claims(format!("htu must be {url}")));
    }
    fresh(claims.iat, now, skew)?;
    if !(16..=128).contains(&claims.jti.len()) || claims.jti.chars().any(char::is_control) {
        return Err(JwsError::Claims("jti must be 16 to 128 printable characters".into()));
    }
    Ok(DeviceProof {
        device_id: key.thumbprint(),
        key,
        jti: claims.jti,
        iat: claims.iat,
    })
}

/// A decision whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDecision {
    pub txn: String,
    pub nonce: String,
    pub decision: Decision,
    pub bm_hash: String,
    pub iat: i64,
    /// `"fraud"` on a denial: the user did not start this; counts as a failed attempt.
    pub reason: Option<String>,
    /// The number the user typed, for clients with number matching.
    pub number: Option<String>,
    /// The scanned identity document's salted hash (executive level).
    pub document_hash: Option<String>,
}

#[derive(Deserialize)]
struct DecisionClaims {
    txn: String,
    nonce: String,
    decision: String,
    bm_hash: String,
    iat: i64,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    document_hash: Option<String>,
}

/// Splits a decision JWS without checking its signature, so a malformed
/// request can be told apart from a forged one.
pub fn check_decision_shape(token: &str) -> Result<(), JwsError> {
    let c = split(token)?;
    check_typ(&c.header, DECISION_TYP)
}

/// Verifies a decision signed with `auth_key`, then reads its claims.
pub fn verify_decision(token: &str, auth_key: &P256Jwk, now: i64, skew: i64) -> Result<SignedDecision, JwsError> {
    let c = split(token)?;
    check_typ(&c.header, DECISION_TYP)?;
    if !auth_key.verify_es256(c.signing_input.as_bytes(), &c.signature) {
        return Err(JwsError::BadSignature);
    }
    let claims: DecisionClaims = serde_json::from_slice(&c.payload)
        .map_err(|_| JwsError::Malformed("the payload needs txn, nonce, decision, bm_hash and iat"))?;
    let printable = |s: &str| !s.is_empty() && s.len() <= 256 && !s.chars().any(char::is_control);
    if !printable(&claims.txn) || !printable(&claims.nonce) {
        return Err(JwsError::Claims("txn and nonce must be printable".into()));
    }
    let decision = claims
        .decision
        .parse()
        .map_err(|_| JwsError::Claims("decision must be approve or deny".into()))?;
    fresh(claims.iat, now, skew)?;
    Ok(SignedDecision {
        txn: claims.txn,
        nonce: claims.nonce,
        decision,
        bm_hash: claims.bm_hash,
        iat: claims.iat,
        reason: claims.reason,
        number: claims.number,
        document_hash: claims.document_hash,
    })
}

/// base64url SHA-256 of the exact text a device showed.
pub fn bm_hash(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}
