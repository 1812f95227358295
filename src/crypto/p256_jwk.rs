//! P-256 public keys as JWKs (RFC 7517), their RFC 7638 thumbprints, and ES256
//! signature checks. p256 0.14 has no JWK support, so the few lines live here.
//!
//! Signatures are checked with OpenSSL (linked already: josekit signs the ID
//! tokens with it), several times faster than the pure-Rust `p256`, on the
//! path from approval to the relying party's ping (`bench/README.md`). The
//! devices' own tools (`trustid device`, the bench) sign with `p256`.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::Public;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The public JWK of `key` (RFC 7518 §6.2.1).
pub fn public_jwk(key: &p256::ecdsa::SigningKey) -> Value {
    let point = key.verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&bytes[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&bytes[33..65]),
    })
}

/// A validated P-256 public key.
#[derive(Debug, Clone)]
pub struct P256Jwk {
    x: String,
    y: String,
    key: EcKey<Public>,
}

/// The curve, built once: OpenSSL sets up its tables per group.
fn p256() -> Result<&'static EcGroup, JwkError> {
    static GROUP: OnceLock<Option<EcGroup>> = OnceLock::new();
    GROUP
        .get_or_init(|| EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).ok())
        .as_ref()
        .ok_or(JwkError("OpenSSL does not offer curve P-256"))
}

/// The public key at the uncompressed SEC1 point `sec1`. OpenSSL refuses a
/// point that is not on the curve as it decodes it; P-256 has cofactor 1, so
/// every point on it (but the point at infinity, which an uncompressed
/// encoding cannot name) is a valid public key.
fn public_key(sec1: &[u8]) -> Result<EcKey<Public>, JwkError> {
    let group = p256()?;
    let mut ctx = BigNumContext::new().map_err(|_| JwkError("OpenSSL cannot allocate"))?;
    let point = EcPoint::from_bytes(group, sec1, &mut ctx).map_err(|_| JwkError("the point is not on curve P-256"))?;
    EcKey::from_public_key(group, &point).map_err(|_| JwkError("the point is not on curve P-256"))
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
        let key = public_key(&sec1)?;
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
    /// OpenSSL refuses an `r` or `s` outside `[1, n - 1]`.
    pub fn verify_es256(&self, input: &[u8], signature: &[u8]) -> bool {
        let [r, s] = match signature.len() {
            64 => [&signature[..32], &signature[32..]],
            _ => return false,
        };
        let (Ok(r), Ok(s)) = (BigNum::from_slice(r), BigNum::from_slice(s)) else {
            return false;
        };
        let Ok(sig) = EcdsaSig::from_private_components(r, s) else {
            return false;
        };
        let digest = Sha256::digest(input);
        let valid = sig.verify(&digest, &self.key).unwrap_or(false);
        if !valid {
            // OpenSSL may leave the reason on this thread's error queue, where
            // a later OpenSSL error (josekit's) would show it: drop it.
            let _ = openssl::error::ErrorStack::get();
        }
        valid
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
                // x = p, the field's prime: no coordinate is that large.
                json!({"kty":"EC","crv":"P-256","x":"_____wAAAAEAAAAAAAAAAAAAAAD_______________8","y":Y}),
                "x not below p",
            ),
            (
                json!({"kty":"EC","crv":"P-256","x":X,"y":Y,"d":"secret"}),
                "private key",
            ),
        ];
        for (v, why) in cases {
            assert!(P256Jwk::from_value(&v).is_err(), "{why}");
        }
    }

    /// A key pair from `p256` (as a device signs) and its public JWK, as the
    /// device tool publishes it.
    fn device_key(seed: u8) -> (p256::ecdsa::SigningKey, P256Jwk) {
        let signing = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
        let jwk = P256Jwk::from_value(&public_jwk(&signing)).unwrap();
        (signing, jwk)
    }

    #[test]
    fn checks_es256_signatures_made_by_a_device() {
        use p256::ecdsa::Signature;
        use p256::ecdsa::signature::Signer;
        let (signing, jwk) = device_key(7);
        let input = b"header.payload";
        let sig: Signature = signing.sign(input);
        let raw = sig.to_bytes().to_vec();
        assert!(jwk.verify_es256(input, &raw));

        assert!(!jwk.verify_es256(b"header.payloaD", &raw), "other input");
        let (_, stranger) = device_key(8);
        assert!(!stranger.verify_es256(input, &raw), "other key");
        let mut flipped = raw.clone();
        flipped[40] ^= 1;
        assert!(!jwk.verify_es256(input, &flipped), "changed s");
        assert!(!jwk.verify_es256(input, &raw[..63]), "short");
        assert!(!jwk.verify_es256(input, &[raw.as_slice(), &[0]].concat()), "long");
        // r or s out of [1, n - 1]: zero, and the group order n itself.
        let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        for (r, s) in [
            (&[0u8; 32][..], &raw[32..]),
            (&raw[..32], &[0u8; 32][..]),
            (&n[..], &raw[32..]),
            (&raw[..32], &n[..]),
        ] {
            assert!(!jwk.verify_es256(input, &[r, s].concat()));
        }
        assert!(
            openssl::error::ErrorStack::get().errors().is_empty(),
            "nothing left queued"
        );
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
