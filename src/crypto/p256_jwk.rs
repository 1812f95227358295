//! P-256 public keys as JWKs (RFC 7517), their RFC 7638 thumbprints, and ES256
//! signature checks. p256 0.14 has no JWK support, so the few lines live here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A validated P-256 public key.
#[derive(Debug, Clone)]
pub struct P256Jwk {
    x: String,
    y: String,
    key: VerifyingKey,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JwkError(pub &'static str);

impl P256Jwk {
    /// Parses a public JWK; refuses private parts, other curves and points
    /// that are not on the curve.
    pub fn from_value(v: &Value) -> Result<Self, JwkError> {
        let obj = v.as_object().ok_or(JwkError("a JWK must be a JSON object"))?;
        let field = |name: &'static str| obj.get(name).and_then(Value::as_str);
        if field("kty") != Some("EC") || field("crv") != Some("P-256") {
            return Err(JwkError("the key must be an EC JWK on curve P-256"));
        }
        if obj.contains_key("d") {
            return Err(JwkError("the JWK contains a private key; send only the public key"));
        }
        let (Some(x), Some(y)) = (field("x"), field("y")) else {
            return Err(JwkError("the JWK needs x and y"));
        };
        let coord = |s: &str| {
            URL_SAFE_NO_PAD
                .decode(s)
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or(JwkError("x and y must be 32-byte base64url values"))
        };
        let mut sec1 = Vec::with_capacity(65);
        sec1.push(0x04);
        sec1.extend(coord(x)?);
        sec1.extend(coord(y)?);
        let key = VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| JwkError("the point is not on curve P-256"))?;
        Ok(Self {
            x: x.to_owned(),
            y: y.to_owned(),
            key,
        })
    }

    pub fn from_json(text: &str) -> Result<Self, JwkError> {
        let v: Value = serde_json::from_str(text).map_err(|_| JwkError("stored JWK is not JSON"))?;
        Self::from_value(&v)
    }

    /// The canonical public JWK, as stored and echoed.
    pub fn to_value(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y})
    }

    /// RFC 7638 thumbprint: SHA-256 over the required members in lexical order.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#, self.x, self.y);
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// Checks an ES256 signature (raw `r || s`, RFC 7518 §3.4) over `input`.
    pub fn verify_es256(&self, input: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature)
            .map(|sig| self.key.verify(input, &sig).is_ok())
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7517 Appendix A.1's P-256 key.
    const X: &str = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
    const Y: &str = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";

    #[test]
    fn parses_the_rfc7517_example_key() {
        let jwk = P256Jwk::from_value(&json!({"kty":"EC","crv":"P-256","x":X,"y":Y})).unwrap();
        assert_eq!(jwk.to_value()["x"], X);
        assert_eq!(jwk.thumbprint().len(), 43);
    }

    #[test]
    fn refuses_bad_keys() {
        let cases = [
            (json!("nope"), "not an object"),
            (json!({"kty":"RSA","n":"x","e":"AQAB"}), "RSA"),
            (json!({"kty":"EC","crv":"P-384","x":X,"y":Y}), "other curve"),
            (json!({"kty":"EC","crv":"P-256","x":X}), "no y"),
            (json!({"kty":"EC","crv":"P-256","x":X,"y":X}), "point not on curve"),
            (json!({"kty":"EC","crv":"P-256","x":"AAAA","y":Y}), "short x"),
            (
                json!({"kty":"EC","crv":"P-256","x":X,"y":Y,"d":"secret"}),
                "private key",
            ),
        ];
        for (v, why) in cases {
            assert!(P256Jwk::from_value(&v).is_err(), "{why}");
        }
    }
}
