//! A bench phone: a device key that signs proofs, an auth key that signs
//! decisions, in the format of `trustid::crypto::device_jws` (real P-256).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct Device {
    device_key: SigningKey,
    auth_key: SigningKey,
    device_jwk: Value,
    /// RFC 7638 thumbprint of the device key: the id trustid gives the device.
    pub id: String,
}

fn random_key() -> SigningKey {
    loop {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return key;
        }
    }
}

fn coordinates(key: &SigningKey) -> (String, String) {
    let point = key.verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    (
        URL_SAFE_NO_PAD.encode(&bytes[1..33]),
        URL_SAFE_NO_PAD.encode(&bytes[33..65]),
    )
}

pub fn public_jwk(key: &SigningKey) -> Value {
    let (x, y) = coordinates(key);
    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y})
}

/// A compact ES256 JWS.
pub fn sign_jws(key: &SigningKey, header: &Value, payload: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let sig: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

pub fn sha256_b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// 16 random bytes, base64url.
pub fn random_b64() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl Device {
    pub fn new() -> Self {
        let device_key = random_key();
        let (x, y) = coordinates(&device_key);
        let id = sha256_b64(&format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#));
        Self {
            device_jwk: public_jwk(&device_key),
            device_key,
            auth_key: random_key(),
            id,
        }
    }

    pub fn auth_jwk(&self) -> Value {
        public_jwk(&self.auth_key)
    }

    /// The `DPoP` header for `method` on `htu` (issuer + path).
    pub fn proof(&self, method: &str, htu: &str) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.device_jwk});
        let payload = json!({"htm": method, "htu": htu, "iat": now_s(), "jti": random_b64()});
        sign_jws(&self.device_key, &header, &payload)
    }

    /// A decision over an inbox item, signed with the auth key; `number` is
    /// what the user typed when the request matches numbers.
    pub fn decision(&self, txn: &str, nonce: &str, decision: &str, shown: &str, number: Option<&str>) -> String {
        let mut payload = json!({
            "txn": txn,
            "nonce": nonce,
            "decision": decision,
            "bm_hash": sha256_b64(shown),
            "iat": now_s(),
        });
        if let Some(n) = number {
            payload["number"] = json!(n);
        }
        sign_jws(
            &self.auth_key,
            &json!({"typ": "trustid-decision+jwt", "alg": "ES256"}),
            &payload,
        )
    }
}
